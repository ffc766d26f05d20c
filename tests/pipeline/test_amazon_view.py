"""Amazon's view of a listing sets ``live``: getListingsItem's summaries and issues, read from the
sandbox into a SQLite warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.changes import ListingKey
from listings_pipeline.to_amazon import amazon_view
from listings_pipeline.warehouse import db, lifecycle
from spapi import listings
from tests.fixtures.sandbox import SELLER, US, Sandbox, connection_json, new_client
from tests.sandbox.conftest import SUPPRESSION, luggage_attributes

pytestmark = [pytest.mark.integration]

H1 = "1" * 64
CONN_ID = "spapi_amazon_view"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = db.sqlite_url(tmp_path / "warehouse.db")
    db.upgrade(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def key(sku: str) -> ListingKey:
    return {"seller_id": SELLER, "marketplace_id": US, "sku": sku}


def on_amazon(sandbox: Sandbox, sku: str, **attributes: Any) -> None:
    body = {
        "productType": "LUGGAGE",
        "requirements": "LISTING",
        "attributes": luggage_attributes(**attributes),
    }
    with new_client(sandbox) as client:
        assert client.call(listings.put_listings_item(SELLER, sku, US, body)).accepted


def accepted(engine: Engine, *skus: str, at: datetime | None = None) -> None:
    with db.session_scope(engine) as s:
        from listings_pipeline.warehouse.records import ensure_seller

        ensure_seller(s, SELLER)
        for sku in skus:
            for status in ("ready", "submitted", "accepted"):
                lifecycle.transition(s, SELLER, US, sku, status, "setup", payload_hash=H1, at=at)


def listing(engine: Engine, sku: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text("select * from v_listing_status where sku = :sku"), {"sku": sku}).one()


def observe(sandbox: Sandbox, engine: Engine, *skus: str) -> amazon_view.Recorded:
    with new_client(sandbox) as client:
        return amazon_view.observe(
            client, engine, [key(s) for s in skus], run_id="run-1", issue_locale="en_US"
        )


def attach(sandbox: Sandbox, sku: str, *issues: dict[str, Any]) -> None:
    sandbox.admin(
        "POST",
        f"/listings/{SELLER}/{sku}/issues",
        params={"marketplaceId": US},
        json={"issues": list(issues)},
    )


def test_accepted_goes_live_when_amazon_shows_it_and_back_when_it_does_not(
    sandbox: Sandbox, engine: Engine
) -> None:
    on_amazon(sandbox, "SHOWN")
    out_of_stock = [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]
    on_amazon(sandbox, "NO-STOCK", fulfillment_availability=out_of_stock)
    accepted(engine, "SHOWN", "NO-STOCK", "NOT-YET")  # NOT-YET: Amazon is still processing it (404)

    recorded = observe(sandbox, engine, "SHOWN", "NO-STOCK", "NOT-YET")
    assert recorded == amazon_view.Recorded(read=3, went_live=2, shown_no_more=0)
    shown, no_stock, not_yet = (listing(engine, s) for s in ("SHOWN", "NO-STOCK", "NOT-YET"))
    assert (shown.status, shown.buyable, shown.discoverable, shown.in_sync) == ("live", 1, 1, 1)
    assert shown.asin and shown.amazon_checked_at is not None
    assert (no_stock.status, no_stock.buyable, no_stock.discoverable) == ("live", 0, 1)
    assert (not_yet.status, not_yet.buyable, not_yet.discoverable) == ("accepted", 0, 0)

    # Amazon suppresses it: back to accepted, with Amazon's issue as the listing's current one
    attach(sandbox, "SHOWN", SUPPRESSION)
    assert observe(sandbox, engine, "SHOWN") == amazon_view.Recorded(read=1, went_live=0, shown_no_more=1)
    shown = listing(engine, "SHOWN")
    assert (shown.status, shown.buyable, shown.discoverable) == ("accepted", 0, 0)
    assert (shown.issue_count, shown.error_count) == (1, 1)

    # fixed on Amazon's side: live again, and a reading without issues ends the old batch
    on_amazon(sandbox, "SHOWN")
    observe(sandbox, engine, "SHOWN")
    shown = listing(engine, "SHOWN")
    assert (shown.status, shown.issue_count, shown.error_count) == ("live", 0, 0)
    with engine.connect() as conn:
        events = conn.execute(
            sa.text(
                "select e.to_status, e.cause, e.run_id from listing_events e join listings l on l.id = e.listing_id"
                " where l.sku = 'SHOWN' order by e.id"
            )
        ).all()
    assert [tuple(e) for e in events][-3:] == [
        ("live", amazon_view.CAUSE, "run-1"),
        ("accepted", amazon_view.CAUSE, "run-1"),
        ("live", amazon_view.CAUSE, "run-1"),
    ]


def test_only_accepted_and_live_follow_the_reading(sandbox: Sandbox, engine: Engine) -> None:
    on_amazon(sandbox, "RESENDING")
    accepted(engine, "RESENDING")
    with db.session_scope(engine) as s:
        lifecycle.transition(s, SELLER, US, "RESENDING", "ready", "plan", payload_hash="2" * 64)
    observe(sandbox, engine, "RESENDING", "UNKNOWN")
    resending = listing(engine, "RESENDING")
    # the pipeline is sending a new payload: its outcome decides; Amazon still shows the old one
    assert (resending.status, resending.buyable, resending.discoverable) == ("ready", 1, 1)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from listings where sku = 'UNKNOWN'")).scalar() == 0


def test_a_throttle_ends_the_reading_and_fails_nothing(sandbox: Sandbox, engine: Engine) -> None:
    for sku in ("T-1", "T-2", "T-3"):
        on_amazon(sandbox, sku)
    accepted(engine, "T-1", "T-2", "T-3")
    sandbox.faults({"kind": "throttle", "operation": "getListingsItem"})
    with new_client(sandbox, max_attempts=2) as client:
        recorded = amazon_view.observe(
            client, engine, [key("T-1"), key("T-2"), key("T-3")], run_id="r", issue_locale=None
        )
    assert recorded == amazon_view.Recorded()
    assert sandbox.calls()["byOperation"]["getListingsItem"]["total"] == 2  # one key's tries, no more
    assert {listing(engine, s).status for s in ("T-1", "T-2", "T-3")} == {"accepted"}


def test_the_bulk_path_reads_the_least_recently_read_first(
    sandbox: Sandbox, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    for sku in ("OLD", "NEW", "NEVER"):
        on_amazon(sandbox, sku)
    accepted(engine, "OLD", "NEW", "NEVER", at=t0)
    with db.session_scope(engine) as s:
        lifecycle.transition(s, SELLER, US, "OLD", "live", "setup", amazon_checked_at=t0 + timedelta(hours=1))
        lifecycle.transition(s, SELLER, US, "NEW", "live", "setup", amazon_checked_at=t0 + timedelta(hours=2))
        # accepted again after its last reading: it is read before any listing read since
        lifecycle.transition(s, SELLER, US, "NEW", "ready", "plan")
        lifecycle.transition(s, SELLER, US, "NEW", "submitted", "feed:2")
        lifecycle.transition(s, SELLER, US, "NEW", "accepted", "feed:2", at=t0 + timedelta(hours=3))
        lifecycle.transition(s, SELLER, US, "GONE", "ready", "plan")
        order = amazon_view.least_recently_read(s, SELLER, US, 10)
        assert [k["sku"] for k in order] == ["NEVER", "NEW", "OLD"]
        assert amazon_view.least_recently_read(s, SELLER, US, 0) == []

    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(sandbox.url))
    recorded = amazon_view.observe_branch(
        CONN_ID, engine, SELLER, US, limit=2, run_id="run-2", issue_locale="en_US"
    )
    assert recorded.read == 2
    with engine.connect() as conn:
        read = (
            conn.execute(sa.text("select sku from api_calls where operation = 'getListingsItem' order by id"))
            .scalars()
            .all()
        )
    assert read == ["NEVER", "NEW"]
    assert {s: listing(engine, s).status for s in ("NEVER", "NEW", "OLD")} == {
        "NEVER": "live",
        "NEW": "live",
        "OLD": "live",
    }
