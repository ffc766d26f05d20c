"""Drift in the warehouse on SQLite and PostgreSQL: what reconcile.record keeps across checks, what an
operator's decision writes, and ``v_drift`` row by row (:mod:`tests.warehouse.drift_data`, by hand)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.forms.drift import DriftRequest
from listings_pipeline.from_amazon.drift_actions import resolve
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import transition

from . import drift_data as data
from .drift_data import DE, OTHER, SELLER, UK, US


def _view(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT seller_id, marketplace_id, sku, kind, ours, amazon, difference, state, is_open, "
                "resolved_by, found_by_run, listing_status FROM v_drift ORDER BY seller_id, marketplace_id, sku, kind"
            )
        )
        return [
            (
                r.seller_id,
                r.marketplace_id,
                r.sku,
                r.kind,
                r.ours,
                r.amazon,
                None if r.difference is None else float(r.difference),
                r.state,
                int(r.is_open),
                r.resolved_by,
                r.found_by_run,
                r.listing_status,
            )
            for r in rows
        ]


def test_v_drift_row_by_row(warehouse_engine: Engine) -> None:
    data.fill(warehouse_engine, datetime.now(UTC))
    assert _view(warehouse_engine) == [
        (SELLER, DE, "DRIFT-Q9", "quantity", "3", "0", -3.0, "open", 1, None, "rc2", None),
        (SELLER, US, "DRIFT-M1", "missing_on_amazon", "live", None, None, "gone", 0, "listings_reconcile:rc2", "rc1", None),
        (SELLER, US, "DRIFT-P1", "price", "10.00", "12.50", 2.5, "accepted_amazon", 0, "alice", "rc1", "live"),
        (SELLER, US, "DRIFT-P2", "price", "20.00", "18.00", -2.0, "open", 1, None, "rc2", None),
        (SELLER, US, "DRIFT-Q1", "inactive", "Active", "Inactive", None, "gone", 0, "listings_reconcile:rc2", "rc1", None),
        (SELLER, US, "DRIFT-Q1", "quantity", "5", "2", -3.0, "open", 1, None, "rc1", None),
        (SELLER, US, "DRIFT-U1", "unknown_to_catalog", None, "Active", None, "open", 1, None, "rc1", None),
        (OTHER, UK, "DRIFT-U9", "unknown_to_catalog", None, "Active", None, "open", 1, None, "rc2", None),
    ]  # fmt: skip


def test_a_check_updates_open_drift_and_counts_what_it_did(warehouse_engine: Engine) -> None:
    data.fill(warehouse_engine, datetime.now(UTC))
    with warehouse_engine.connect() as conn:
        checks = conn.execute(
            sa.text(
                "SELECT run_id, marketplace_id, found, opened, gone FROM drift_checks "
                "WHERE seller_id = :s ORDER BY run_id, marketplace_id"
            ),
            {"s": SELLER},
        ).all()
        q1 = conn.execute(
            sa.text(
                "SELECT d.last_check_id = c.id AS seen_last, d.check_id <> c.id AS found_earlier FROM listing_drift d "
                "JOIN drift_checks c ON c.run_id = 'rc2' AND c.marketplace_id = d.marketplace_id "
                "WHERE d.sku = 'DRIFT-Q1' AND d.kind = 'quantity'"
            )
        ).one()
    # rc1 US: 5 seen, all new. rc2 US: 4 seen (P1, P2, Q1 quantity, U1), 1 new (P2), 2 gone.
    assert [tuple(c) for c in checks] == [("rc1", US, 5, 5, 0), ("rc2", DE, 1, 1, 0), ("rc2", US, 4, 1, 2)]
    assert (bool(q1.seen_last), bool(q1.found_earlier)) == (True, True)  # one row, carried over


def test_accepting_amazons_value_writes_it_with_the_old_one_and_who(warehouse_engine: Engine) -> None:
    data.fill(warehouse_engine, datetime.now(UTC))
    with warehouse_engine.connect() as conn:
        price = conn.scalar(sa.text("SELECT our_price FROM offers WHERE sku = 'DRIFT-P1'"))
        currency = conn.scalar(sa.text("SELECT currency FROM offers WHERE sku = 'DRIFT-P1'"))
        event = conn.execute(
            sa.text(
                "SELECT e.from_status, e.to_status, e.cause, e.actor, e.dag_id, e.run_id, e.changes "
                "FROM listing_events e JOIN listings l ON l.id = e.listing_id "
                "WHERE l.sku = 'DRIFT-P1' AND e.cause = 'reconcile:accept_amazon'"
            )
        ).one()
    assert (Decimal(str(price)), currency) == (Decimal("12.50"), "USD")  # the marketplace's currency
    changes = event.changes if isinstance(event.changes, dict) else json.loads(event.changes)  # SQLite: text
    assert tuple(event)[:6] == (
        "live",
        "live",
        "reconcile:accept_amazon",
        "alice",
        "drift_resolve",
        "manual__resolve",
    )
    assert changes == {"currency": {"old": None, "new": "USD"}, "our_price": {"old": None, "new": "12.50"}}


def test_accepted_drift_is_not_opened_again_while_amazon_shows_the_same(warehouse_engine: Engine) -> None:
    now = datetime.now(UTC)
    data.fill(warehouse_engine, now)
    with session_scope(warehouse_engine) as session:
        resolve(session, _request("DRIFT-U1", "accept_amazon"), "manual__ack")
    seen_again = [data.d("DRIFT-U1", "unknown_to_catalog", None, "Active")]
    found = data._check(warehouse_engine, SELLER, US, "rc3", now, seen_again)
    assert (found["found"], found["opened"]) == (0, 0)
    changed = [data.d("DRIFT-U1", "unknown_to_catalog", None, "Inactive")]  # Amazon's side moved: a new row
    assert data._check(warehouse_engine, SELLER, US, "rc4", now, changed)["opened"] == 1


def _request(sku: str, action: str, kinds: list[str] | None = None) -> DriftRequest:
    return {
        "seller_id": SELLER,
        "marketplace_id": US,
        "skus": [sku],
        "kinds": kinds or [],
        "action": action,  # type: ignore[typeddict-item]
        "note": None,
        "config_path": "/etc/pipeline.yaml",
    }


def test_resubmit_requeues_what_can_be_sent_and_skips_the_rest(warehouse_engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(warehouse_engine) as session:
        transition(session, SELLER, US, "DRIFT-Q1", "live", "seed")
    data.fill(warehouse_engine, now)
    with session_scope(warehouse_engine) as session:
        q1 = resolve(session, _request("DRIFT-Q1", "resubmit"), "manual__re", user="bob")
        u1 = resolve(session, _request("DRIFT-U1", "resubmit"), "manual__re")
        nothing = resolve(session, _request("DRIFT-M1", "resubmit"), "manual__re")  # gone already
    assert [(r["sku"], r["kinds"], r["outcome"]) for r in q1["results"]] == [
        ("DRIFT-Q1", ["quantity"], "resubmitted")
    ]
    assert q1["feed_syncs"] == [
        {"sellers": [SELLER], "skus": ["DRIFT-Q1"], "config_path": "/etc/pipeline.yaml"}
    ]
    assert [(r["outcome"], r["detail"]) for r in u1["results"]] == [
        ("skipped", "Amazon's listing is not in the catalog: nothing of ours to send")
    ]
    assert u1["feed_syncs"] == []
    assert [(r["outcome"], r["detail"]) for r in nothing["results"]] == [("skipped", "no open drift")]
    with warehouse_engine.connect() as conn:
        status = conn.scalar(sa.text("SELECT status FROM listings WHERE sku = 'DRIFT-Q1'"))
        states = conn.execute(
            sa.text(
                "SELECT sku, state, resolved_by FROM listing_drift WHERE sku IN ('DRIFT-Q1', 'DRIFT-U1') ORDER BY sku, kind"
            )
        ).all()
    assert status == "ready"
    assert [tuple(s) for s in states] == [
        ("DRIFT-Q1", "gone", "listings_reconcile:rc2"),
        ("DRIFT-Q1", "resubmitted", "bob"),
        ("DRIFT-U1", "open", None),
    ]


def test_the_warehouse_view_a_report_is_compared_with(warehouse_engine: Engine) -> None:
    from listings_pipeline.from_amazon.reconcile import our_listings
    from listings_pipeline.warehouse.models import Inventory, Offer

    offer = {"currency": "USD", "marketplace_id": US, "our_price": [{"schedule": [{"value_with_tax": 19.5}]}]}
    payload = {
        "sku": "FROM-PAYLOAD",
        "attributes": {
            "purchasable_offer": [offer],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
        },
    }
    fba_payload = {"attributes": {"fulfillment_availability": [{"fulfillment_channel_code": "AMAZON_NA"}]}}
    now = datetime.now(UTC)
    with session_scope(warehouse_engine) as s:
        transition(s, SELLER, US, "FROM-PAYLOAD", "live", "seed", payload=payload)
        transition(s, SELLER, US, "FROM-OFFERS", "live", "seed", payload=payload)
        transition(s, SELLER, US, "FROM-OFFERS", "accepted", "amazon:getListingsItem")  # no longer shown
        transition(s, SELLER, US, "FBA", "live", "seed", payload=fba_payload)
        transition(s, SELLER, US, "GONE", "ready", "plan")
        transition(s, SELLER, DE, "OTHER-MARKET", "live", "seed")
        s.add(
            Offer(
                seller_id=SELLER,
                marketplace_id=US,
                sku="FROM-OFFERS",
                currency="USD",
                our_price=Decimal("21"),
            )
        )
        s.add(
            Inventory(
                seller_id=SELLER,
                marketplace_id=US,
                sku="FROM-OFFERS",
                fulfillment_channel_code="DEFAULT",
                quantity=2,
            )
        )
        s.add(
            Inventory(
                seller_id=SELLER,
                marketplace_id=US,
                sku="FBA",
                fulfillment_channel_code="AMAZON_NA",
                quantity=0,
                fulfillable_quantity=0,
                read_at=now,
            )
        )
    with session_scope(warehouse_engine) as s:
        got = sorted(our_listings(s, SELLER, US), key=lambda o: o["sku"])
    assert [
        (o["sku"], o["status"], o["on_amazon"], o["price"], o["quantity"], o["fba_fulfillable"]) for o in got
    ] == [
        ("FBA", "live", True, None, None, 0),  # Amazon's FBA figures, no merchant stock of ours
        ("FROM-OFFERS", "accepted", True, Decimal("21.00"), 2, None),  # offers and inventory win
        ("FROM-PAYLOAD", "live", True, Decimal("19.50"), 7, None),  # the payload Amazon accepted
        ("GONE", "ready", False, None, None, None),  # never accepted: not expected on Amazon
    ]
