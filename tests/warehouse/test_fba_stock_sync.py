"""FBA stock from the live sandbox into a real warehouse (SQLite and PostgreSQL): every page, changes
only from the latest read's start, a full read when asked or due, and the figures' history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.from_amazon import fba_stock
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.records import ensure_seller
from spapi.errors import InvalidRequestError
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client

pytestmark = [pytest.mark.integration]

STOCK = f"/fba/{SELLER}/{US}"


@pytest.fixture
def engine(warehouse_engine: Engine) -> Engine:
    with session_scope(warehouse_engine) as session:
        ensure_seller(session, SELLER, region="na")
    return warehouse_engine


@pytest.fixture
def amazon(sandbox: Sandbox) -> Sandbox:
    """The sandbox with none of its demo FBA stock for the seller's US marketplace."""
    sandbox.admin("DELETE", STOCK)
    return sandbox


def stock(sandbox: Sandbox, *items: dict[str, Any]) -> None:
    sandbox.admin("POST", STOCK, json={"items": list(items)})


def read(
    sandbox: Sandbox, engine: Engine, *, full: bool = False, clock: Callable[[], datetime] | None = None
) -> fba_stock.StockRead:
    with new_client(sandbox) as client:
        kwargs: dict[str, Any] = {"clock": clock} if clock else {}
        return fba_stock.read_stock(client, engine, SELLER, US, "na", full=full, run_id="r", **kwargs)


def rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql)))


def inventory(engine: Engine) -> dict[str, Any]:
    found = rows(engine, "SELECT * FROM inventory WHERE fulfillment_channel_code = 'AMAZON_NA' ORDER BY sku")
    return {r.sku: r for r in found}


def test_a_first_read_is_full_and_keeps_every_figure(amazon: Sandbox, engine: Engine) -> None:
    stock(
        amazon,
        {
            "sellerSku": "FBA-1",
            "fulfillableQuantity": 10,
            "inboundWorkingQuantity": 1,
            "inboundShippedQuantity": 2,
            "inboundReceivingQuantity": 3,
            "pendingCustomerOrderQuantity": 4,
            "fcProcessingQuantity": 1,
            "customerDamagedQuantity": 2,
            "researchingQuantityInMidTerm": 1,
        },
        {"sellerSku": "FBA-2", "fulfillableQuantity": 0},
    )
    result = read(amazon, engine)

    assert (result["full"], result["pages"], result["summaries"], result["changed"]) == (True, 1, 2, 2)
    one = inventory(engine)["FBA-1"]
    assert (one.quantity, one.fulfillable_quantity, one.total_quantity) == (10, 10, 24)
    assert (one.inbound_working_quantity, one.inbound_shipped_quantity, one.inbound_receiving_quantity) == (
        1,
        2,
        3,
    )
    assert (one.reserved_quantity, one.unfulfillable_quantity, one.researching_quantity) == (5, 2, 1)
    assert one.read_at is not None and one.amazon_updated_at is not None and one.catalog_hash is None
    [run] = rows(engine, "SELECT * FROM fba_stock_reads")
    assert (run.changes_since, run.pages, run.summaries, run.changed, run.run_id) == (None, 1, 2, 2, "r")
    first = {r.sku: r.changes for r in rows(engine, "SELECT sku, changes FROM fba_stock_changes")}
    changes = (
        first["FBA-1"] if isinstance(first["FBA-1"], dict) else json.loads(first["FBA-1"])
    )  # SQLite: text
    assert changes["fulfillable_quantity"] == {"old": None, "new": 10}


def test_the_next_read_asks_only_for_changes_since_the_last_start(amazon: Sandbox, engine: Engine) -> None:
    stock(amazon, *({"sellerSku": f"FBA-{i}", "fulfillableQuantity": 5} for i in range(3)))
    first = read(amazon, engine)
    stock(amazon, {"sellerSku": "FBA-0", "fulfillableQuantity": 0, "pendingCustomerOrderQuantity": 5})
    stock(amazon, {"sellerSku": "FBA-1", "inboundShippedQuantity": 30})  # Amazon does not see this one

    second = read(amazon, engine)

    [started] = rows(engine, "SELECT started_at FROM fba_stock_reads WHERE changes_since IS NULL")
    assert second["full"] is False and second["changes_since"] is not None
    assert (second["summaries"], second["changed"]) == (1, 1) and first["summaries"] == 3
    [since] = rows(engine, "SELECT changes_since FROM fba_stock_reads WHERE changes_since IS NOT NULL")
    assert since[0] == started[0]
    now = inventory(engine)
    assert (now["FBA-0"].quantity, now["FBA-0"].reserved_quantity) == (0, 5)
    assert now["FBA-1"].inbound_shipped_quantity == 0  # not seen until a full read

    third = read(amazon, engine, full=True)
    assert third["full"] is True and third["changed"] == 1
    assert inventory(engine)["FBA-1"].inbound_shipped_quantity == 30
    history = rows(engine, "SELECT sku FROM fba_stock_changes ORDER BY id")
    assert [h.sku for h in history] == ["FBA-0", "FBA-1", "FBA-2", "FBA-0", "FBA-1"]


def test_every_page_is_read(amazon: Sandbox, engine: Engine) -> None:
    stock(amazon, *({"sellerSku": f"P-{i:03d}", "fulfillableQuantity": i} for i in range(120)))
    result = read(amazon, engine)
    assert (result["pages"], result["summaries"], result["changed"]) == (3, 120, 120)
    assert len(inventory(engine)) == 120 and inventory(engine)["P-119"].quantity == 119


def test_a_full_read_is_due_a_day_after_the_last(amazon: Sandbox, engine: Engine) -> None:
    stock(amazon, {"sellerSku": "FBA-1", "fulfillableQuantity": 1})
    read(amazon, engine)
    assert read(amazon, engine)["full"] is False
    later = datetime.now(UTC) + fba_stock.FULL_READ_EVERY + timedelta(minutes=1)
    assert read(amazon, engine, clock=lambda: later)["full"] is True


def test_a_failed_read_records_nothing_and_the_next_starts_where_the_last_did(
    amazon: Sandbox, engine: Engine
) -> None:
    stock(amazon, {"sellerSku": "FBA-1", "fulfillableQuantity": 1})
    read(amazon, engine)
    stock(amazon, {"sellerSku": "FBA-1", "fulfillableQuantity": 7})
    amazon.faults({"kind": "error", "status": 400, "operation": "getInventorySummaries", "count": 1})
    with pytest.raises(InvalidRequestError):
        read(amazon, engine)
    assert len(rows(engine, "SELECT id FROM fba_stock_reads")) == 1
    assert inventory(engine)["FBA-1"].quantity == 1
    assert read(amazon, engine)["changed"] == 1 and inventory(engine)["FBA-1"].quantity == 7


def test_merchant_stock_of_the_same_sku_is_left_alone(amazon: Sandbox, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO inventory (seller_id, marketplace_id, sku, fulfillment_channel_code, quantity) "
                "VALUES (:s, :m, 'BOTH', 'DEFAULT', 3)"
            ),
            {"s": SELLER, "m": US},
        )
    stock(amazon, {"sellerSku": "BOTH", "fulfillableQuantity": 9})
    read(amazon, engine)
    found = rows(engine, "SELECT fulfillment_channel_code, quantity FROM inventory ORDER BY 1")
    assert [tuple(r) for r in found] == [("AMAZON_NA", 9), ("DEFAULT", 3)]


def test_a_sku_listed_twice_in_one_read_is_one_row_with_its_last_figures(engine: Engine) -> None:
    """Stock can move between two pages of one read: Amazon may then list a SKU twice."""
    from listings_pipeline.warehouse.models import FbaStockRead
    from tests.warehouse.fba_stock_data import summary

    now = datetime.now(UTC)
    read = FbaStockRead(
        seller_id=SELLER, marketplace_id=US, started_at=now, finished_at=now, pages=2, summaries=2
    )
    with session_scope(engine) as session:
        changed = fba_stock.record(
            session, SELLER, US, "AMAZON_NA", [summary("TWICE", 3), summary("TWICE", 2, reserved=1)], read
        )
    assert changed == 2
    assert (inventory(engine)["TWICE"].quantity, inventory(engine)["TWICE"].reserved_quantity) == (2, 1)
