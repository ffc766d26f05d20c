"""seller_performance end to end: ``dag.test()`` against the live sandbox (its demo sellers' seeded
account health and sales, sandbox/sellers.example.yaml) with the PostgreSQL warehouse. Both reports
are requested and waited for by the DAG's own deferrable task, loaded by its own load task, and the
outcome is the one its note says.

The warehouse starts with the US account's health of the day before yesterday, as that day's run
left it: already past the late shipment target. So the first run finds that breach known (green, only
counted); Canada's cancellations, pushed past their target on Amazon's side, are news (red); and a
run for an earlier day loads that day's sales beside the others while Amazon's current account health
stays filed under yesterday."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from tests.dags.conftest import REPO, Warehouse, run_note, task_states, write_pipeline_config  # noqa: E402
from tests.fixtures.sandbox import SELLER, US, Sandbox  # noqa: E402

CA = "A2EUQ1WTGCTBG2"
# the US seed's SKUs: units a day, sessions a day, price; and its weekday factors, Monday first
US_SKUS = {
    "TT-01-CABIN-GRY": (6, 120, 129.99),
    "TT-01-CABIN-GRN": (3, 70, 129.99),
    "TT-01-M-GRY": (2, 55, 159.99),
}
US_FACTORS = (1.0, 0.9, 0.9, 1.0, 1.1, 1.4, 1.3)
# sellers.example.yaml's US account health: 26 late of 500 seller-fulfilled orders, a policy violation
US_HEALTH = {
    "mfnOrders": 500,
    "afnOrders": 900,
    "mfnDefects": 3,
    "afnDefects": 2,
    "lateShipments": 26,
    "cancellations": 4,
    "validTrackingShipments": 490,
    "onTimeDeliveries": 470,
    "violations": {"listingPolicyViolations": 1},
}


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """The sandbox ``sandbox_connections`` points at, ending reports in a fraction of a second."""
    return start_sandbox(report_queue_seconds=0.05, report_processing_seconds=0.1)


def run(config: Path, **conf: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "seller_performance.py")).get_dag("seller_performance")
    assert dag is not None
    return dag.test(run_conf={"config_path": str(config), **conf})


def earlier_run(warehouse: Warehouse, day: date, tmp_path: Path) -> None:
    """The US account's health as the run of ``day`` loaded it (the loader, fed the sandbox's document)."""
    from listings_pipeline.from_amazon.performance_reports import ACCOUNT_HEALTH
    from listings_pipeline.from_amazon.seller_performance import load_report
    from listings_pipeline.warehouse.db import session_scope
    from listings_pipeline.warehouse.records import ensure_seller
    from tests.warehouse.seller_performance_data import StubClient, health_document

    with session_scope(warehouse.engine) as session:
        ensure_seller(session, SELLER)
    done = {
        "branch": {
            "seller_id": SELLER,
            "marketplace_id": US,
            "spapi_conn_id": "spapi_sandbox_na",
            "region": "na",
        },
        "day": day.isoformat(),
        "report_type": ACCOUNT_HEALTH,
        "report_id": "earlier",
        "processing_status": "DONE",
        "report_document_id": "doc",
    }
    result = load_report(
        StubClient(health_document(US_HEALTH, day)), warehouse.engine, done, var_dir=tmp_path
    )  # type: ignore[arg-type]
    assert result["status"] == "loaded" and len(result["in_breach"]) == 2


def test_seller_performance_day_by_day(
    tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None
) -> None:
    config = write_pipeline_config(
        tmp_path,
        REPO / "include" / "sample_catalog" / "catalog.csv",
        **{"feed_poll_seconds: 5": "feed_poll_seconds: 0.2"},
    )
    today = datetime.now(UTC).date()
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    earlier_run(pg_warehouse, before, tmp_path)

    first = run(config)  # the day before the run, as a scheduled run loads it

    # the US breaches are known from the day before: counted, not news, so the run is green
    assert first.state == "success", task_states(first)
    note = run_note(first) or ""
    assert note.startswith("Run outcome: OK, nothing new. 2 account health metric(s) still past target.")
    assert f"{SELLER}/{US} lateShipmentRate 5.2% (target < 4%)" in note
    loads = pg_warehouse.rows(
        "select report_type, status, day from seller_report_loads where report_id <> 'earlier'"
    )
    assert (
        len(loads) == 6 and {r.status for r in loads} == {"loaded"} and {r.day for r in loads} == {yesterday}
    )
    health = pg_warehouse.rows(
        "select marketplace_id, metric, rate, defects, trend, previous_report_date from v_account_health "
        "where report_date = :d and needs_attention = 1 order by seller_id, marketplace_id, metric",
        d=yesterday,
    )
    assert [tuple(r) for r in health] == [
        (US, "lateShipmentRate", 0.052, 26, "same", before),
        (US, "listingPolicyViolations", None, 1, "same", before),
    ]
    assert pg_warehouse.scalar("select count(*) from account_health_metrics") == 4 * 18
    (us_day,) = pg_warehouse.rows(
        "select * from v_sales_traffic_daily where seller_id = :s and marketplace_id = :m", s=SELLER, m=US
    )
    factor = US_FACTORS[yesterday.weekday()]
    units = {sku: round(u * factor) for sku, (u, _, _) in US_SKUS.items()}
    assert (us_day.day, us_day.units, us_day.currency) == (yesterday, sum(units.values()), "USD")
    assert float(us_day.sales) == pytest.approx(sum(n * US_SKUS[s][2] for s, n in units.items()), abs=0.011)
    assert us_day.sessions == sum(round(s * factor) for _, s, _ in US_SKUS.values())
    per_sku = pg_warehouse.rows(
        "select sku, units_ordered, buy_box_percentage from sales_traffic_by_asin "
        "where seller_id = :s and marketplace_id = :m order by sku",
        s=SELLER,
        m=US,
    )
    assert [(r.sku, r.units_ordered) for r in per_sku] == sorted(units.items())
    assert {r.sku: r.buy_box_percentage for r in per_sku}["TT-01-M-GRY"] == 72.0
    assert pg_warehouse.scalar("select count(*) from api_calls where operation = 'getReportDocument'") == 6

    # Amazon's view of Canada turns: 9 of 120 orders cancelled (7.5 %, target below 2.5 %)
    seed = sandbox_connections.admin("GET", f"/seller-performance/{SELLER}/{CA}")
    seed["accountHealth"]["cancellations"] = 9
    sandbox_connections.admin("POST", f"/seller-performance/{SELLER}/{CA}", json=seed)
    second = run(config)

    # news: the run ends red at its outcome, after everything was recorded
    assert second.state == "failed"
    states = task_states(second)
    assert states["request_report"] == {"success"} and states["load"] == {"success"}
    assert states["outcome"] == {"failed"}
    note = run_note(second) or ""
    assert note.startswith("Run outcome: needs attention. 1 new account health problem(s)")
    assert f"- {SELLER}/{CA}: preFulfillmentCancellationRate 7.5% (target < 2.5%)" in note

    # an earlier day: its sales beside yesterday's; the account health snapshot again under yesterday
    third = run(config, day=before.isoformat())
    assert third.state == "failed"  # Canada is still news: yesterday has no earlier report of it
    days = pg_warehouse.rows("select day, count(*) as n from sales_traffic_daily group by day order by day")
    assert [(r.day, r.n) for r in days] == [(before, 3), (yesterday, 3)]
    health_days = pg_warehouse.rows(
        "select report_date, count(*) as n from account_health group by 1 order by 1"
    )
    assert [(r.report_date, r.n) for r in health_days] == [(before, 1), (yesterday, 3)]
    assert pg_warehouse.scalar("select count(*) from account_health_metrics") == 4 * 18
