"""fba_inventory_sync end to end: ``dag.test()`` against the live sandbox (its demo sellers' seeded FBA
stock), with the PostgreSQL warehouse. The first run reads everything, the next only what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from tests.dags.conftest import REPO, Warehouse, write_pipeline_config  # noqa: E402
from tests.fixtures.sandbox import SELLER, US, Sandbox  # noqa: E402

CA, DE, EU_SELLER = "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", "A3SANDBOXEU0003"


def run(config: Path, **conf: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "fba_inventory_sync.py")).get_dag("fba_inventory_sync")
    assert dag is not None
    return dag.test(run_conf={"config_path": str(config), **conf})


def test_a_full_read_then_only_the_changes(
    tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None
) -> None:
    config = write_pipeline_config(tmp_path, REPO / "include" / "sample_catalog" / "catalog.csv")

    first = run(config)

    assert first.state == "success"
    reads = pg_warehouse.rows(
        "select seller_id, marketplace_id, changes_since, summaries, changed, run_id from fba_stock_reads"
    )
    got = sorted((r.seller_id, r.marketplace_id, r.changes_since, r.summaries, r.changed) for r in reads)
    # sandbox/sellers.example.yaml: 5 US and 3 CA SKUs for the NA seller, 3 DE SKUs for the EU seller
    assert got == [(SELLER, CA, None, 3, 3), (SELLER, US, None, 5, 5), (EU_SELLER, DE, None, 3, 3)]
    assert {r.run_id for r in reads} == {first.run_id}
    grey = pg_warehouse.rows(
        "select * from v_fba_stock where marketplace_id = :m and sku = 'TT-01-CABIN-GRY'", m=US
    )[0]
    assert (grey.fulfillable, grey.reserved, grey.stock_status, grey.fulfillment_channel_code) == (
        42,
        4,
        "in_stock",
        "AMAZON_NA",
    )
    de = pg_warehouse.rows("select fulfillment_channel_code from inventory where marketplace_id = :m", m=DE)
    assert {r.fulfillment_channel_code for r in de} == {"AMAZON_EU"}
    calls = pg_warehouse.scalar("select count(*) from api_calls where operation = 'getInventorySummaries'")
    assert calls == 3

    sandbox_connections.admin(
        "POST",
        f"/fba/{SELLER}/{US}",
        json={"items": [{"sellerSku": "TT-01-CABIN-GRY", "fulfillableQuantity": 0}]},
    )
    second = run(config, sellers=[SELLER])

    assert second.state == "success"
    later = pg_warehouse.rows(
        "select marketplace_id, summaries, changed from fba_stock_reads where run_id = :r and changes_since is not null",
        r=second.run_id,
    )
    assert sorted(tuple(r) for r in later) == [(CA, 0, 0), (US, 1, 1)]
    grey = pg_warehouse.rows(
        "select * from v_fba_stock where marketplace_id = :m and sku = 'TT-01-CABIN-GRY'", m=US
    )[0]
    assert (grey.fulfillable, grey.stock_status) == (0, "out_of_stock")
