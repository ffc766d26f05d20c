"""Drift as three reconciliations and an operator leave it, written by the pipeline's own writers
(:func:`listings_pipeline.from_amazon.reconcile.record`, :func:`listings_pipeline.from_amazon.drift_actions.resolve`),
for the view, analyst-query and status-page tests, with each answer worked out by hand.

``A1SELLER`` in the US, two checks:

- two days ago (``rc1``): DRIFT-P1 price 10.00 on our side, 12.50 on Amazon's; DRIFT-Q1 quantity 5 /
  2 and inactive; DRIFT-U1 on Amazon only; DRIFT-M1 missing on Amazon;
- yesterday (``rc2``): DRIFT-P1 and DRIFT-Q1's quantity and DRIFT-U1 again (their rows are updated,
  not added), DRIFT-Q1 active again and DRIFT-M1 back (both ``gone``), DRIFT-P2 new: price 20.00 / 18.00.

Then an operator accepted Amazon's price for DRIFT-P1 (``offers`` gets 12.50; the listing an event).
``A1SELLER`` in Germany (``rc2``): DRIFT-Q9 quantity 3 / 0. ``A2OTHER`` in the UK (``rc2``): DRIFT-U9
on Amazon only.

So: open 5 (Q1 quantity, U1, P2, Q9, U9), gone 2 (Q1 inactive, M1), accepted_amazon 1 (P1).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from listings_pipeline.from_amazon.drift import Drift
from listings_pipeline.from_amazon.drift_actions import resolve
from listings_pipeline.from_amazon.reconcile import record
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import transition
from listings_pipeline.warehouse.models import DriftCheck
from listings_pipeline.warehouse.records import ensure_seller

SELLER, OTHER = "A1SELLER", "A2OTHER"
US, DE, UK = "ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1F83G8C2ARO7P"


def d(sku: str, kind: str, ours: str | None, amazon: str | None) -> Drift:
    field = {"price": "price", "quantity": "quantity", "inactive": "status"}.get(kind, "listing")
    return {"sku": sku, "kind": kind, "field": field, "ours": ours, "amazon": amazon}  # type: ignore[typeddict-item]


def _check(engine: Engine, seller: str, market: str, run_id: str, at: datetime, drifts: list[Drift]) -> Any:
    with session_scope(engine) as session:
        check = DriftCheck(
            seller_id=seller,
            marketplace_id=market,
            report_id=f"R-{run_id}-{market}",
            report_status="DONE",
            checked_at=at,
            amazon_rows=10,
            our_listings=10,
            run_id=run_id,
            dag_id="listings_reconcile",
        )
        return record(session, check, drifts, resolved_by=f"listings_reconcile:{run_id}")


def fill(engine: Engine, now: datetime, *, listing: bool = True) -> None:
    """``listing``: DRIFT-P1 is a live listing (the accepted price gets an event); the analyst
    questions leave it out, so that their listing counts stay their own."""
    with session_scope(engine) as session:
        ensure_seller(session, SELLER)
        ensure_seller(session, OTHER)
        if listing:
            transition(session, SELLER, US, "DRIFT-P1", "live", "seed")
    _check(
        engine,
        SELLER,
        US,
        "rc1",
        now - timedelta(days=2),
        [
            d("DRIFT-M1", "missing_on_amazon", "live", None),
            d("DRIFT-P1", "price", "10.00", "12.50"),
            d("DRIFT-Q1", "quantity", "5", "2"),
            d("DRIFT-Q1", "inactive", "Active", "Inactive"),
            d("DRIFT-U1", "unknown_to_catalog", None, "Active"),
        ],
    )
    second = [
        d("DRIFT-P1", "price", "10.00", "12.50"),
        d("DRIFT-P2", "price", "20.00", "18.00"),
        d("DRIFT-Q1", "quantity", "5", "2"),
        d("DRIFT-U1", "unknown_to_catalog", None, "Active"),
    ]
    _check(engine, SELLER, US, "rc2", now - timedelta(days=1), second)
    _check(engine, SELLER, DE, "rc2", now - timedelta(days=1), [d("DRIFT-Q9", "quantity", "3", "0")])
    _check(
        engine,
        OTHER,
        UK,
        "rc2",
        now - timedelta(days=1),
        [d("DRIFT-U9", "unknown_to_catalog", None, "Active")],
    )
    with session_scope(engine) as session:
        resolve(
            session,
            {
                "seller_id": SELLER,
                "marketplace_id": US,
                "skus": ["DRIFT-P1"],
                "kinds": [],
                "action": "accept_amazon",
                "note": "repriced in Seller Central",
                "config_path": None,
            },
            "manual__resolve",
            user="alice",
            dag_id="drift_resolve",
        )


def open_by_kind(rows: list[dict[str, Any]]) -> None:
    """docs/analysts.md "Which listings drifted from what Amazon shows?": open drift per seller,
    marketplace and kind, with Amazon's value minus ours added up (price and quantity only)."""
    got = [
        (
            r["seller_id"],
            r["marketplace_id"],
            r["kind"],
            int(r["open_rows"]),
            None if r["net_difference"] is None else float(r["net_difference"]),
        )
        for r in rows
    ]
    # DE Q9: 0 - 3. US P2: 18.00 - 20.00 (P1 was accepted, so it is not open). US Q1: 2 - 5 (its
    # inactive row is gone). U1 and U9 have no value of ours to subtract from.
    assert got == [
        (SELLER, DE, "quantity", 1, -3.0),
        (SELLER, US, "price", 1, -2.0),
        (SELLER, US, "quantity", 1, -3.0),
        (SELLER, US, "unknown_to_catalog", 1, None),
        (OTHER, UK, "unknown_to_catalog", 1, None),
    ]


def how_resolved(rows: list[dict[str, Any]]) -> None:
    """docs/analysts.md "How was drift resolved?": rows per state and who closed them."""
    got = [(r["state"], r["resolved_by"], int(r["rows"])) for r in rows]
    # P1 accepted by alice; Q1's inactive row and M1 gone, closed by the check that no longer saw them.
    assert got == [
        ("accepted_amazon", "alice", 1),
        ("gone", "listings_reconcile:rc2", 2),
        ("open", None, 5),
    ]
