"""seller_performance end to end: ``dag.test()`` against the live sandbox (its demo sellers' seeded
account health and sales, sandbox/sellers.example.yaml) with the PostgreSQL warehouse. Both reports
are requested and waited for by the DAG's own deferrable task, loaded by its own load task, and the
outcome is the one its note says: the US account's late shipment rate is past Amazon's target, news
on the first day loaded and only counted on the next."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from tests.dags.conftest import REPO, Warehouse, run_note, task_states, write_pipeline_config  # noqa: E402
from tests.fixtures.sandbox import SELLER, US, Sandbox  # noqa: E402

CA, DE, EU_SELLER = "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", "A3SANDBOXEU0003"
# the US seed's three SKUs: units a day, sessions a day, price; and its weekday factors, Monday first
US_SKUS = {
    "TT-01-CABIN-GRY": (6, 120, 129.99),
    "TT-01-CABIN-GRN": (3, 70, 129.99),
    "TT-01-M-GRY": (2, 55, 159.99),
}
US_FACTORS = (1.0, 0.9, 0.9, 1.0, 1.1, 1.4, 1.3)


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """The sandbox ``sandbox_connections`` points at, ending reports in a fraction of a second."""
    return start_sandbox(report_queue_seconds=0.05, report_processing_seconds=0.1)


def run(config: Path, **conf: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "seller_performance.py")).get_dag("seller_performance")
    assert dag is not None
    return dag.test(run_conf={"config_path": str(config), **conf})


def test_two_days_of_seller_performance(
    tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None
) -> None:
    config = write_pipeline_config(
        tmp_path,
        REPO / "include" / "sample_catalog" / "catalog.csv",
        **{"feed_poll_seconds: 5": "feed_poll_seconds: 0.2"},
    )
    today = datetime.now(UTC).date()
    first_day, second_day = today - timedelta(days=2), today - timedelta(days=1)

    first = run(config, day=first_day.isoformat())

    # everything recorded, then the outcome says the US account needs attention
    assert first.state == "failed"
    states = task_states(first)
    assert states["request_report"] == {"success"} and states["load"] == {"success"}
    assert states["outcome"] == {"failed"}
    note = run_note(first) or ""
    assert note.startswith("Run outcome: needs attention. 2 new account health problem(s)")
    assert f"- {SELLER}/{US}: lateShipmentRate 5.2% (target < 4%)" in note
    assert f"- {SELLER}/{US}: listingPolicyViolations 1 (target = 0)" in note
    loads = pg_warehouse.rows(
        "select seller_id, marketplace_id, report_type, status, day from seller_report_loads"
    )
    assert (
        len(loads) == 6 and {r.status for r in loads} == {"loaded"} and {r.day for r in loads} == {first_day}
    )
    health = pg_warehouse.rows(
        "select seller_id, marketplace_id, metric, rate, defects, needs_attention, trend from v_account_health "
        "where report_date = :d and needs_attention = 1 order by seller_id, marketplace_id, metric",
        d=first_day,
    )
    # sellers.example.yaml: 26 late of 500 US orders; one listing policy violation
    assert [(r.seller_id, r.marketplace_id, r.metric, r.rate, r.defects, r.trend) for r in health] == [
        (SELLER, US, "lateShipmentRate", 0.052, 26, None),
        (SELLER, US, "listingPolicyViolations", None, 1, None),
    ]
    assert pg_warehouse.scalar("select count(*) from account_health_metrics") == 3 * 18
    (us_day,) = pg_warehouse.rows(
        "select * from v_sales_traffic_daily where seller_id = :s and marketplace_id = :m", s=SELLER, m=US
    )
    factor = US_FACTORS[first_day.weekday()]
    units = {sku: round(u * factor) for sku, (u, _, _) in US_SKUS.items()}
    assert (us_day.day, us_day.units, us_day.currency) == (first_day, sum(units.values()), "USD")
    assert float(us_day.sales) == pytest.approx(sum(n * US_SKUS[s][2] for s, n in units.items()), abs=0.011)
    assert us_day.sessions == sum(round(s * factor) for _, s, _ in US_SKUS.values())
    per_sku = pg_warehouse.rows(
        "select sku, child_asin, units_ordered, buy_box_percentage from sales_traffic_by_asin "
        "where seller_id = :s and marketplace_id = :m order by sku",
        s=SELLER,
        m=US,
    )
    assert [(r.sku, r.units_ordered) for r in per_sku] == sorted(units.items())
    assert {r.sku: r.buy_box_percentage for r in per_sku}["TT-01-M-GRY"] == 72.0
    calls = pg_warehouse.scalar("select count(*) from api_calls where operation = 'getReportDocument'")
    assert calls == 6

    second = run(config, day=second_day.isoformat())

    # the same breach a day later: counted, not news, so the run is green
    assert second.state == "success", task_states(second)
    note = run_note(second) or ""
    assert note.startswith("Run outcome: OK, nothing new. 2 account health metric(s) still past target.")
    assert (
        pg_warehouse.scalar("select count(*) from account_health where report_date = :d", d=second_day) == 3
    )

    # the first day loaded again: its rows replaced, the second day's untouched, and news again
    again = run(config, day=first_day.isoformat())
    assert again.state == "failed"
    days = pg_warehouse.rows("select day, count(*) as n from sales_traffic_daily group by day order by day")
    assert [(r.day, r.n) for r in days] == [(first_day, 3), (second_day, 3)]
    assert pg_warehouse.scalar("select count(*) from account_health_metrics") == 2 * 3 * 18
    assert pg_warehouse.scalar("select count(*) from seller_report_loads") == 18
