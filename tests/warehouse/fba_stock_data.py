"""FBA stock for the analyst warehouses: three reads of ``A1SELLER``'s US stock and one of ``A2OTHER``'s,
written the way the FBA sync writes them (``fba_stock.record``), with answers worked out by hand.

``A1SELLER``, US (channel ``AMAZON_NA``):

- full read two days ago: ``LIVE-1`` 10 fulfillable and 2 reserved; ``CHANGED`` none fulfillable,
  4 inbound working and 6 shipped; ``FBA-DAMAGED`` none fulfillable, 3 customer-damaged;
  ``FBA-GONE`` 5 fulfillable;
- changes-only read yesterday: ``LIVE-1`` down to 7 fulfillable, 5 reserved (orders came in);
- full read two hours ago: ``LIVE-1``, ``CHANGED`` and ``FBA-DAMAGED`` as they were; ``FBA-GONE``
  no longer listed (Amazon removed it), so it is not ``listed_by_amazon``.

Beside them, rows the view leaves out: ``LIVE-1``'s merchant stock (``DEFAULT``, 3) and ``LEGACY``, FBA
stock the catalog gave before migration 0007 (``read_at`` NULL).

``A2OTHER``, US: one full read three hours ago, ``OTHER-1`` 4 fulfillable and 1 inbound receiving.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.from_amazon import fba_stock
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import FbaStockRead
from spapi.models.fba_inventory import InventorySummary

SELLER = "A1SELLER"
OTHER = "A2OTHER"
US = "ATVPDKIKX0DER"


def summary(sku: str, fulfillable: int = 0, *, working: int = 0, shipped: int = 0, receiving: int = 0,
            reserved: int = 0, damaged: int = 0) -> InventorySummary:  # fmt: skip
    """A getInventorySummaries summary with details, as the sandbox answers it."""
    return InventorySummary.model_validate(
        {
            "sellerSku": sku,
            "inventoryDetails": {
                "fulfillableQuantity": fulfillable,
                "inboundWorkingQuantity": working,
                "inboundShippedQuantity": shipped,
                "inboundReceivingQuantity": receiving,
                "reservedQuantity": {
                    "totalReservedQuantity": reserved,
                    "pendingCustomerOrderQuantity": reserved,
                },
                "researchingQuantity": {"totalResearchingQuantity": 0},
                "unfulfillableQuantity": {
                    "totalUnfulfillableQuantity": damaged,
                    "customerDamagedQuantity": damaged,
                },
            },
            "totalQuantity": fulfillable + working + shipped + receiving + reserved + damaged,
        }
    )


def _read(
    engine: Engine, seller: str, started: datetime, since: datetime | None, *rows: InventorySummary
) -> None:
    read = FbaStockRead(
        seller_id=seller,
        marketplace_id=US,
        started_at=started,
        finished_at=started + timedelta(seconds=3),
        changes_since=since,
        pages=1,
        summaries=len(rows),
    )
    with session_scope(engine) as session:
        fba_stock.record(session, seller, US, "AMAZON_NA", rows, read)


def fill(engine: Engine, now: datetime) -> None:
    two_days, yesterday, two_hours = (
        now - timedelta(days=2),
        now - timedelta(days=1),
        now - timedelta(hours=2),
    )
    live, changed, damaged = (
        summary("LIVE-1", 7, reserved=5),
        summary("CHANGED", working=4, shipped=6),
        summary("FBA-DAMAGED", damaged=3),
    )
    _read(
        engine,
        SELLER,
        two_days,
        None,
        summary("LIVE-1", 10, reserved=2),
        changed,
        damaged,
        summary("FBA-GONE", 5),
    )
    _read(engine, SELLER, yesterday, two_days, live)
    _read(engine, SELLER, two_hours, None, live, changed, damaged)
    _read(engine, OTHER, now - timedelta(hours=3), None, summary("OTHER-1", 4, receiving=1))
    with engine.begin() as conn:
        for sku, channel, quantity in (("LIVE-1", "DEFAULT", 3), ("LEGACY", "AMAZON_NA", 40)):
            conn.execute(
                sa.text(
                    "INSERT INTO inventory (seller_id, marketplace_id, sku, fulfillment_channel_code, quantity) "
                    "VALUES (:seller, :market, :sku, :channel, :quantity)"
                ),
                {"seller": SELLER, "market": US, "sku": sku, "channel": channel, "quantity": quantity},
            )


# --- the analysts' questions (docs/analysts.md), answered by hand ----------------------------------------


def per_branch(rows: list[dict[str, Any]]) -> None:
    # Listed SKUs only (not FBA-GONE, nor the merchant and pre-0007 rows). A1SELLER: LIVE-1 7
    # fulfillable and 5 reserved since yesterday's changes; CHANGED 4 + 6 inbound; FBA-DAMAGED 3
    # unfulfillable, nothing else: it alone is out of stock (CHANGED has stock on its way). A2OTHER:
    # OTHER-1, 4 fulfillable and 1 inbound.
    got = [
        (r["seller_id"], r["marketplace_id"], int(r["skus"]), int(r["out_of_stock"]), int(r["fulfillable"]),
         int(r["inbound"]), int(r["reserved"]), int(r["unfulfillable"]))
        for r in rows
    ]  # fmt: skip
    assert got == [(SELLER, US, 3, 1, 7, 10, 5, 3), (OTHER, US, 1, 0, 4, 1, 0, 0)]


def cannot_sell(rows: list[dict[str, Any]]) -> None:
    # Nothing fulfillable among the listed SKUs: CHANGED (10 inbound, so 'inbound'; its listing is
    # 'ready' in the analysts' warehouse) first, most inbound first, then FBA-DAMAGED (3 damaged, no
    # listing at all: FBA stock of a SKU the catalog does not have). FBA-GONE had 5 and is no longer
    # listed: left out.
    got = [
        (r["sku"], r["stock_status"], int(r["inbound"]), int(r["unfulfillable"]), r["listing_status"])
        for r in rows
    ]
    assert got == [("CHANGED", "inbound", 10, 0, "ready"), ("FBA-DAMAGED", "out_of_stock", 0, 3, None)]
