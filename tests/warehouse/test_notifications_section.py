"""The status page's Notifications section on SQLite and PostgreSQL: the last day's notifications
by type and outcome within the filter, and every poison message whatever the filter."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from listings_pipeline.from_amazon.notifications import take_in
from listings_pipeline.status_page.notifications import notifications_section
from listings_pipeline.status_page.scope import EVERYWHERE, Scope
from listings_pipeline.warehouse import db

from .conftest import DE, SELLER
from .test_notification_intake import T0, accepted, message, status


def test_counts_and_poison(warehouse_engine: Engine) -> None:
    accepted(warehouse_engine, "BAG-1")
    poison = message("not json")
    take_in(
        warehouse_engine,
        [
            message(status("BAG-1", ["BUYABLE"], T0)),
            message(status("BAG-1", [], T0 - timedelta(minutes=1))),  # older: stale
            message(status("UNKNOWN", ["BUYABLE"], T0)),
            poison,
        ],
        "run-1",
    )
    take_in(warehouse_engine, [poison], "run-2")
    with db.session_scope(warehouse_engine) as session:
        everywhere = notifications_section(session, EVERYWHERE)
        elsewhere = notifications_section(session, Scope(seller_id=SELLER, marketplace_id=DE))
    assert [(c.notification_type, c.outcome, c.count) for c in everywhere.counts] == [
        ("LISTINGS_ITEM_STATUS_CHANGE", "applied", 1),
        ("LISTINGS_ITEM_STATUS_CHANGE", "not_ours", 1),
        ("LISTINGS_ITEM_STATUS_CHANGE", "stale", 1),
    ]
    assert everywhere.received == 3 and everywhere.last_received_at is not None
    assert everywhere.poison_total == 1
    (shown,) = everywhere.poison
    assert (shown.message_id, shown.receives) == (poison["message_id"], 2)
    assert "not JSON" in shown.reason
    assert elsewhere.received == 0 and elsewhere.last_received_at is None
    assert elsewhere.poison_total == 1  # a poison message names no marketplace: always shown
