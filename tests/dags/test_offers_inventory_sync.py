"""offers_inventory_sync end to end: ``dag.test()`` against the live sandbox, with the PostgreSQL
warehouse. A small catalog of seeded LUGGAGE listings: the first run sends their offers through the
Listings Items API, the second sends nothing, and a change set above the threshold goes by feed."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from spapi import listings  # noqa: E402
from tests.dags.conftest import REPO, Warehouse, run_note, write_pipeline_config  # noqa: E402
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client  # noqa: E402
from tests.sandbox.conftest import luggage_attributes  # noqa: E402

SKUS = ("OF-1", "OF-2", "OF-3")
COLUMNS = (
    "sku",
    "marketplace_id",
    "product_type",
    "price",
    "currency",
    "quantity",
    "handling_time",
    "fulfillment_channel",
)


@dataclass
class Sync:
    config_path: Path
    catalog: Path
    warehouse: Warehouse
    sandbox: Sandbox

    def write_catalog(self, rows: list[dict[str, Any]]) -> None:
        with self.catalog.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({"marketplace_id": US, "product_type": "LUGGAGE", "currency": "USD", **row})

    def run(self) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(REPO / "dags" / "offers_inventory_sync.py")).get_dag(
            "offers_inventory_sync"
        )
        assert dag is not None
        run = dag.test(run_conf={"config_path": str(self.config_path)})
        if run.state == "success":
            self.warehouse.assert_rows_add_up(run.run_id)
        return run

    def item(self, sku: str) -> dict[str, Any]:
        with new_client(self.sandbox) as client:
            item = client.call(listings.get_listings_item(SELLER, sku, [US], included_data=["attributes"]))
        return dict(item.attributes or {})

    def writes(self) -> int:
        return int(
            self.warehouse.scalar(
                "select count(*) from api_calls where operation in ('patchListingsItem', 'createFeed')"
            )
        )


def price(attributes: dict[str, Any]) -> Any:
    return attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"]


def summary(sync: Sync, run_id: str) -> tuple[int, ...]:
    """The run's run_summaries row for the seller's US branch (the catalog's rows are all US): extracted,
    quarantined, planned, submitted, accepted, dead_lettered."""
    [row] = sync.warehouse.rows(
        "select extracted, quarantined, planned, submitted, accepted, dead_lettered from run_summaries"
        " where dag_id = 'offers_inventory_sync' and run_id = :run and seller_id = :seller and marketplace_id = :m",
        run=run_id,
        seller=SELLER,
        m=US,
    )
    return tuple(row)


def states(run: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ti in run.get_task_instances():
        out.setdefault(ti.task_id, set()).add(str(ti.state))
    return out


@pytest.fixture
def sync(tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None) -> Sync:
    catalog = tmp_path / "catalog.csv"
    config = write_pipeline_config(
        tmp_path,
        catalog,
        **{"feed_poll_seconds: 5": "feed_poll_seconds: 0.1", "per_sku_threshold: 50": "per_sku_threshold: 3"},
    )
    for sku in SKUS:
        body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes(US)}
        with new_client(sandbox_connections) as client:
            assert client.call(listings.put_listings_item(SELLER, sku, US, body)).accepted
    return Sync(config, catalog, pg_warehouse, sandbox_connections)


def test_small_changes_go_per_sku_then_nothing_then_a_large_set_by_feed(sync: Sync) -> None:
    # run 1: three new SKUs (<= threshold 3) through the Listings Items API; FBA stock is Amazon's
    sync.write_catalog(
        [
            {"sku": "OF-1", "price": "101.5", "quantity": "4", "handling_time": "2"},
            {"sku": "OF-2", "price": "102", "quantity": "9"},
            {"sku": "OF-3", "price": "129.99", "quantity": "80", "fulfillment_channel": "AMAZON_NA"},
            {"sku": "OF-4", "price": "abc", "quantity": "1"},
        ]
    )
    run = sync.run()
    assert run.state == "success", states(run)
    assert price(sync.item("OF-1")) == 101.5 and price(sync.item("OF-2")) == 102
    # the unreadable price is quarantined, not dropped, and the run is summarised
    [bad] = sync.warehouse.rows("select sku, column_name, value, rule, reason, run_id from quarantine")
    assert (bad.sku, bad.column_name, bad.value, bad.rule, bad.run_id) == (
        "OF-4",
        "price",
        "abc",
        "offers.price",
        run.run_id,
    )
    assert "is not a number" in bad.reason
    assert summary(sync, run.run_id) == (4, 1, 3, 3, 3, 0)
    assert sync.item("OF-1")["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 4, "lead_time_to_ship_max_days": 2}
    ]
    offers = {r.sku: r for r in sync.warehouse.rows("select sku, our_price from offers")}
    stock = {
        (r.sku, r.fulfillment_channel_code): r.quantity
        for r in sync.warehouse.rows("select sku, fulfillment_channel_code, quantity from inventory")
    }
    # the catalog's FBA quantity is neither sent nor recorded: fba_inventory_sync reads Amazon's own
    assert ("OF-3", "AMAZON_NA") not in stock and ("OF-3", "DEFAULT") not in stock
    assert "fulfillment_availability" not in sync.item("OF-3") or all(
        entry.get("fulfillment_channel_code") != "AMAZON_NA" or entry.get("quantity") is None
        for entry in sync.item("OF-3")["fulfillment_availability"]
    )
    assert set(offers) == {"OF-1", "OF-2", "OF-3"}
    first_writes = sync.writes()
    assert first_writes == 3  # one patchListingsItem per SKU, no feed
    assert sync.warehouse.scalar("select count(*) from api_calls where operation = 'createFeed'") == 0

    # run 2: the same catalog sends nothing
    run = sync.run()
    assert run.state == "success", states(run)
    assert sync.writes() == first_writes
    assert run_note(run) == (  # OF-4's unreadable price is read, and quarantined, every run
        "Run outcome: OK. Nothing to send.\n\naccepted 0 · invalid 0 · dead-lettered 0 · retry 0\n\n"
        "quarantined catalog rows: 1 (see `quarantine`)"
    )

    # run 3: three changed prices (> threshold 2) go as one JSON_LISTINGS_FEED of PATCH messages
    text = sync.config_path.read_text()
    sync.config_path.write_text(text.replace("per_sku_threshold: 3", "per_sku_threshold: 2"))
    sync.write_catalog(
        [
            {"sku": "OF-1", "price": "91.5", "quantity": "4", "handling_time": "2"},
            {"sku": "OF-2", "price": "92", "quantity": "9"},
            {"sku": "OF-3", "price": "93", "quantity": "80", "fulfillment_channel": "AMAZON_NA"},
        ]
    )
    run = sync.run()
    assert run.state == "success", states(run)
    assert "success" in states(run)["submit_feed"]
    assert [price(sync.item(s)) for s in SKUS] == [91.5, 92, 93]
    assert summary(sync, run.run_id) == (3, 0, 3, 3, 3, 0)
    assert sync.warehouse.scalar("select count(*) from api_calls where operation = 'createFeed'") == 1
    assert {r.sku: float(r.our_price) for r in sync.warehouse.rows("select sku, our_price from offers")} == {
        "OF-1": 91.5,
        "OF-2": 92,
        "OF-3": 93,
    }
    assert sync.warehouse.rows("select * from dead_letters") == []

    # run 4: nothing again
    writes = sync.writes()
    assert sync.run().state == "success"
    assert sync.writes() == writes
