"""``v_fba_stock`` on the FBA reads of :mod:`tests.warehouse.fba_stock_data`, row by row, worked out by
hand, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import transition
from listings_pipeline.warehouse.records import ensure_seller

from . import fba_stock_data as data


def test_one_row_per_sku_read_from_amazon_with_inbound_summed_and_a_stock_status(
    warehouse_engine: Engine,
) -> None:
    now = datetime.now(UTC)
    with session_scope(warehouse_engine) as s:
        ensure_seller(s, data.OTHER, region="na")
        transition(s, data.SELLER, data.US, "CHANGED", "ready", "plan", payload_hash="1" * 64)
    data.fill(warehouse_engine, now)

    with warehouse_engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(sa.text("SELECT * FROM v_fba_stock ORDER BY seller_id, sku"))
        ]

    got = [
        (r["seller_id"], r["sku"], r["fulfillment_channel_code"], r["fulfillable"], r["inbound"], r["reserved"],
         r["unfulfillable"], r["researching"], r["total"], r["stock_status"], int(r["listed_by_amazon"]),
         r["listing_status"])
        for r in rows
    ]  # fmt: skip
    # FBA-GONE: last read two days ago, before the latest full read (two hours ago) began: not listed.
    # LEGACY (read_at NULL) and LIVE-1's DEFAULT row are not FBA stock read from Amazon: left out.
    assert got == [
        (data.SELLER, "CHANGED", "AMAZON_NA", 0, 10, 0, 0, 0, 10, "inbound", 1, "ready"),
        (data.SELLER, "FBA-DAMAGED", "AMAZON_NA", 0, 0, 0, 3, 0, 3, "out_of_stock", 1, None),
        (data.SELLER, "FBA-GONE", "AMAZON_NA", 5, 0, 0, 0, 0, 5, "in_stock", 0, None),
        (data.SELLER, "LIVE-1", "AMAZON_NA", 7, 0, 5, 0, 0, 12, "in_stock", 1, None),
        (data.OTHER, "OTHER-1", "AMAZON_NA", 4, 1, 0, 0, 0, 5, "in_stock", 1, None),
    ]
    changed = next(r for r in rows if r["sku"] == "CHANGED")
    assert (changed["inbound_working"], changed["inbound_shipped"], changed["inbound_receiving"]) == (4, 6, 0)


def test_every_sku_counts_until_a_full_read_exists(warehouse_engine: Engine) -> None:
    """Without a full read there is no list to be missing from: a changes-only read's rows count."""
    now = datetime.now(UTC)
    data._read(
        warehouse_engine, data.SELLER, now - timedelta(hours=1), now - timedelta(days=1), data.summary("A", 1)
    )
    with warehouse_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sku, listed_by_amazon FROM v_fba_stock")).all() == [("A", 1)]
