"""The analyst views give the right figures for small, hand-made data, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, insert

from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import transition
from listings_pipeline.warehouse.models import ApiCall, FeedSubmission, ListingIssue
from listings_pipeline.warehouse.records import ensure_seller
from tests.warehouse.conftest import DE, SELLER, US

pytestmark = pytest.mark.usefixtures("backend")

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
H1, H2 = "1" * 64, "2" * 64


def _rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def _time(value: Any) -> datetime:
    """A timestamp as the view returns it: datetime on PostgreSQL, text on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _issue(sku: str | None, severity: str, observed_at: datetime, **kw: Any) -> dict[str, Any]:
    row = {
        "source": "listings_api",
        "seller_id": SELLER,
        "marketplace_id": US,
        "sku": sku,
        "code": "90220",
        "severity": severity,
        "message": "m",
        "observed_at": observed_at,
    }
    row.update(kw)
    return row


def test_v_listing_status(warehouse_engine: Engine) -> None:
    with session_scope(warehouse_engine) as s:
        transition(s, SELLER, US, "SKU-A", "ready", "validation", at=T0, payload_hash=H1)
        transition(s, SELLER, US, "SKU-A", "submitted", "listings_api:s1", at=T0 + timedelta(minutes=1))
        transition(s, SELLER, US, "SKU-A", "invalid", "listings_api:s1", at=T0 + timedelta(minutes=2))
        transition(s, SELLER, US, "SKU-B", "ready", "validation", at=T0, payload_hash=H1)
        transition(s, SELLER, US, "SKU-B", "submitted", "feed:1", at=T0 + timedelta(minutes=1))
        transition(s, SELLER, US, "SKU-B", "accepted", "feed:1", at=T0 + timedelta(minutes=5), asin="B0X")
        transition(s, SELLER, DE, "SKU-A", "draft", "catalog", at=T0)
        # rejected, then fixed and sent again: Amazon accepted it, its old errors are not current
        transition(s, SELLER, US, "SKU-C", "ready", "plan", at=T0, payload_hash=H1)
        transition(s, SELLER, US, "SKU-C", "submitted", "feed:1", at=T0 + timedelta(minutes=1))
        transition(s, SELLER, US, "SKU-C", "invalid", "feed:1", at=T0 + timedelta(minutes=2))
        transition(s, SELLER, US, "SKU-C", "ready", "plan", at=T0 + timedelta(hours=1), payload_hash=H2)
        transition(s, SELLER, US, "SKU-C", "submitted", "feed:2", at=T0 + timedelta(hours=1))
        transition(s, SELLER, US, "SKU-C", "accepted", "feed:2", at=T0 + timedelta(hours=2))
        # quarantined by the gate (its issues written just before the move), still quarantined
        transition(s, SELLER, DE, "SKU-D", "quarantined", "validation", at=T0 + timedelta(seconds=1))
        s.execute(
            insert(ListingIssue),
            [
                # an older batch for SKU-A: 2 errors and a warning ...
                _issue("SKU-A", "ERROR", T0),
                _issue("SKU-A", "ERROR", T0, code="90244"),
                _issue("SKU-A", "WARNING", T0),
                # ... and the latest: 1 error, 2 warnings, 1 info
                _issue("SKU-A", "ERROR", T0 + timedelta(minutes=2)),
                _issue("SKU-A", "WARNING", T0 + timedelta(minutes=2)),
                _issue("SKU-A", "WARNING", T0 + timedelta(minutes=2), code="18027"),
                _issue("SKU-A", "INFO", T0 + timedelta(minutes=2)),
                # feed-level and other-marketplace issues are not SKU-A's in US
                _issue(None, "ERROR", T0 + timedelta(minutes=9), source="feed", feed_id="1"),
                _issue("SKU-A", "ERROR", T0 + timedelta(minutes=9), marketplace_id=None),
                # SKU-C's rejection, before it was sent again
                _issue("SKU-C", "ERROR", T0 + timedelta(minutes=2), source="feed", feed_id="1"),
                _issue("SKU-C", "WARNING", T0 + timedelta(minutes=2), source="feed", feed_id="1"),
                _issue("SKU-D", "ERROR", T0, source="validation", marketplace_id=DE),
            ],
        )
    rows = {
        (r["marketplace_id"], r["sku"]): r
        for r in _rows(warehouse_engine, "SELECT * FROM v_listing_status WHERE seller_id = :s", s=SELLER)
    }
    assert set(rows) == {(US, "SKU-A"), (US, "SKU-B"), (DE, "SKU-A"), (US, "SKU-C"), (DE, "SKU-D")}
    a = rows[(US, "SKU-A")]
    assert (a["status"], a["issue_count"], a["error_count"], a["warning_count"], a["in_sync"]) == (
        "invalid",
        4,
        1,
        2,
        0,
    )
    assert _time(a["status_since"]) == T0 + timedelta(minutes=2)
    assert _time(a["last_issue_at"]) == T0 + timedelta(minutes=2)
    b = rows[(US, "SKU-B")]
    assert (b["status"], b["asin"], b["in_sync"], b["issue_count"], b["error_count"], b["last_issue_at"]) == (
        "accepted",
        "B0X",
        1,
        0,
        0,
        None,
    )
    assert _time(b["status_since"]) == T0 + timedelta(minutes=5)
    assert (rows[(DE, "SKU-A")]["status"], rows[(DE, "SKU-A")]["issue_count"]) == ("draft", 0)
    c = rows[(US, "SKU-C")]
    assert (c["status"], c["in_sync"], c["issue_count"], c["error_count"], c["warning_count"]) == (
        "accepted",
        1,
        0,
        0,
        0,
    )
    assert _time(c["last_issue_at"]) == T0 + timedelta(minutes=2)  # still says when it last had one
    d = rows[(DE, "SKU-D")]
    assert (d["status"], d["issue_count"], d["error_count"]) == ("quarantined", 1, 1)


def test_v_listing_status_in_sync_only_while_accepted_or_live(warehouse_engine: Engine) -> None:
    """The hashes alone made a listing being re-sent, rejected or dead-lettered count as in sync."""
    with session_scope(warehouse_engine) as s:
        for sku in ("ACC", "REJECTED", "LIVE", "HOTFIXED", "FOUND"):
            transition(s, SELLER, US, sku, "ready", "plan", at=T0, payload_hash=H1)
            transition(s, SELLER, US, sku, "submitted", "feed:1", at=T0)
            transition(s, SELLER, US, sku, "accepted", "feed:1", at=T0)
        # a price hotfix Amazon rejected: the catalog payload is still Amazon's, the listing is not
        transition(s, SELLER, US, "REJECTED", "ready", "listings_api:plan", at=T0)
        transition(s, SELLER, US, "REJECTED", "submitted", "listings_api:submit", at=T0, submitted_hash=H2)
        transition(s, SELLER, US, "REJECTED", "invalid", "listings_api:s2", at=T0)
        transition(s, SELLER, US, "LIVE", "live", "amazon:summaries", at=T0, buyable=True, discoverable=True)
        # a price hotfix Amazon accepted: a patch, so the payload Amazon holds is still the catalog's
        transition(s, SELLER, US, "HOTFIXED", "ready", "listings_api:plan", at=T0)
        transition(s, SELLER, US, "HOTFIXED", "submitted", "listings_api:submit", at=T0, submitted_hash=H2)
        transition(s, SELLER, US, "HOTFIXED", "accepted", "listings_api:s3", at=T0, patch=True)
        # seen on Amazon first: the catalog wants nothing of it
        transition(s, SELLER, DE, "FOUND", "live", "amazon:summaries", at=T0, discoverable=True)
    rows = {
        (r["marketplace_id"], r["sku"]): r
        for r in _rows(warehouse_engine, "SELECT * FROM v_listing_status WHERE seller_id = :s", s=SELLER)
    }
    assert {k: (r["status"], r["in_sync"]) for k, r in rows.items()} == {
        (US, "ACC"): ("accepted", 1),
        (US, "REJECTED"): ("invalid", 0),
        (US, "LIVE"): ("live", 1),
        (US, "HOTFIXED"): ("accepted", 1),
        (US, "FOUND"): ("accepted", 1),
        (DE, "FOUND"): ("live", 0),
    }
    assert {k: (r["buyable"], r["discoverable"]) for k, r in rows.items() if r["status"] == "live"} == {
        (US, "LIVE"): (1, 1),
        (DE, "FOUND"): (0, 1),
    }


def test_v_listing_status_leaves_previews_out_and_a_reading_settles_the_issues(
    warehouse_engine: Engine,
) -> None:
    """A preview stores nothing, so its issues are not the listing's; and Amazon's view read after a
    batch of issues says which it has now: none, unless the reading wrote them itself."""
    read_at = T0 + timedelta(hours=1)
    with session_scope(warehouse_engine) as s:
        for sku in ("PREVIEWED", "FIXED", "SUPPRESSED"):
            transition(s, SELLER, US, sku, "ready", "plan", at=T0, payload_hash=H1)
            transition(s, SELLER, US, sku, "submitted", "feed:1", at=T0)
            transition(s, SELLER, US, sku, "accepted", "feed:1", at=T0)
        transition(s, SELLER, US, "PREVIEWED", "live", "amazon:summaries", at=T0, discoverable=True)
        transition(
            s, SELLER, US, "FIXED", "accepted", "amazon:summaries", at=read_at, amazon_checked_at=read_at
        )
        transition(s, SELLER, US, "SUPPRESSED", "accepted", "amazon:summaries", amazon_checked_at=read_at)
        s.execute(
            insert(ListingIssue),
            [
                _issue("PREVIEWED", "ERROR", T0 + timedelta(minutes=5), preview=True),
                _issue("FIXED", "ERROR", T0 + timedelta(minutes=5)),  # Amazon's then, not any more
                _issue("SUPPRESSED", "WARNING", T0 + timedelta(minutes=5)),
                _issue("SUPPRESSED", "ERROR", read_at, code="18155"),  # what the reading found
            ],
        )
    rows = {
        r["sku"]: (r["error_count"], r["warning_count"])
        for r in _rows(warehouse_engine, "SELECT * FROM v_listing_status WHERE seller_id = :s", s=SELLER)
    }
    assert rows == {"PREVIEWED": (0, 0), "FIXED": (0, 0), "SUPPRESSED": (1, 0)}
    codes = {
        (r["code"], r["severity"]): r["issues"]
        for r in _rows(warehouse_engine, "SELECT code, severity, issues FROM v_issues_by_code")
    }
    assert codes == {("90220", "ERROR"): 1, ("90220", "WARNING"): 1, ("18155", "ERROR"): 1}


def test_v_feed_health(warehouse_engine: Engine) -> None:
    def feed(feed_id: str, status: str, created: datetime, **kw: Any) -> dict[str, Any]:
        row = {
            "feed_id": feed_id,
            "seller_id": SELLER,
            "marketplace_ids": [US],
            "processing_status": status,
            "created_at": created,
            "processing_started_at": None,
            "processing_ended_at": None,
            "messages_processed": None,
            "messages_accepted": None,
            "messages_invalid": None,
            "errors": None,
            "warnings": None,
        }
        row.update(kw)
        return row

    def done(
        feed_id: str, created: datetime, queued_s: int, took_s: int, accepted: int, invalid: int
    ) -> dict[str, Any]:
        started = created + timedelta(seconds=queued_s)
        return feed(
            feed_id,
            "DONE",
            created,
            processing_started_at=started,
            processing_ended_at=started + timedelta(seconds=took_s),
            messages_processed=accepted + invalid,
            messages_accepted=accepted,
            messages_invalid=invalid,
            errors=invalid * 2,
            warnings=1,
        )

    with session_scope(warehouse_engine) as s:
        ensure_seller(s, "A2OTHER")
        s.execute(
            insert(FeedSubmission),
            [
                done("1", T0, queued_s=30, took_s=60, accepted=90, invalid=10),
                done("2", T0 + timedelta(hours=3), queued_s=90, took_s=120, accepted=50, invalid=0),
                feed("3", "FATAL", T0 + timedelta(hours=4)),
                feed(
                    "4", "IN_PROGRESS", T0 + timedelta(hours=5), processing_started_at=T0 + timedelta(hours=5)
                ),
                feed("5", "CANCELLED", T0 + timedelta(hours=13, minutes=59)),  # still 2026-01-05 (UTC)
                done("6", T0 + timedelta(days=1), queued_s=10, took_s=10, accepted=1, invalid=0),
                {**done("7", T0, queued_s=1, took_s=1, accepted=5, invalid=5), "seller_id": "A2OTHER"},
            ],
        )
    rows = _rows(warehouse_engine, "SELECT * FROM v_feed_health ORDER BY day, seller_id")
    assert [(r["day"], r["seller_id"], r["feeds"]) for r in rows] == [
        ("2026-01-05", SELLER, 5),
        ("2026-01-05", "A2OTHER", 1),
        ("2026-01-06", SELLER, 1),
    ]
    day = rows[0]
    counts = {k: day[k] for k in ("feeds_done", "feeds_fatal", "feeds_cancelled", "feeds_pending")}
    assert counts == {"feeds_done": 2, "feeds_fatal": 1, "feeds_cancelled": 1, "feeds_pending": 1}
    messages = {
        k: day[k]
        for k in ("messages_processed", "messages_accepted", "messages_invalid", "errors", "warnings")
    }
    assert messages == {
        "messages_processed": 150,
        "messages_accepted": 140,
        "messages_invalid": 10,
        "errors": 20,
        "warnings": 2,
    }
    assert day["avg_processing_seconds"] == pytest.approx(90.0, abs=0.01)
    assert day["max_processing_seconds"] == pytest.approx(120.0, abs=0.01)
    assert day["avg_turnaround_seconds"] == pytest.approx((90 + 210) / 2, abs=0.01)
    assert rows[2]["avg_processing_seconds"] == pytest.approx(10.0, abs=0.01)


def test_v_issues_by_code(warehouse_engine: Engine) -> None:
    with session_scope(warehouse_engine) as s:
        s.execute(
            insert(ListingIssue),
            [
                _issue("SKU-A", "ERROR", T0),
                _issue("SKU-A", "ERROR", T0 + timedelta(hours=1)),  # same SKU again
                _issue("SKU-A", "ERROR", T0 + timedelta(hours=2), marketplace_id=DE),  # another listing
                _issue("SKU-B", "ERROR", T0 + timedelta(hours=3)),
                _issue("SKU-B", "WARNING", T0 + timedelta(hours=4)),
                _issue("SKU-C", "ERROR", T0 + timedelta(hours=5), source="feed", feed_id="1", message_id=3),
                _issue(None, "ERROR", T0 + timedelta(hours=6), source="feed", feed_id="1", code=None),
            ],
        )
    rows = {
        (r["code"], r["severity"], r["source"]): r
        for r in _rows(warehouse_engine, "SELECT * FROM v_issues_by_code")
    }
    assert {k: (r["issues"], r["skus"]) for k, r in rows.items()} == {
        ("90220", "ERROR", "listings_api"): (4, 3),
        ("90220", "WARNING", "listings_api"): (1, 1),
        ("90220", "ERROR", "feed"): (1, 1),
        (None, "ERROR", "feed"): (1, 0),
    }
    top = rows[("90220", "ERROR", "listings_api")]
    assert (_time(top["first_seen"]), _time(top["last_seen"])) == (T0, T0 + timedelta(hours=3))


def test_v_api_call_stats(warehouse_engine: Engine) -> None:
    def call(
        operation: str, latency: float, started: datetime, throttled: bool = False, status: int | None = 200
    ) -> dict[str, Any]:
        return {
            "operation": operation,
            "method": "PUT",
            "seller_id": SELLER,
            "region": "na",
            "status": 429 if throttled else status,
            "latency_ms": latency,
            "attempt": 1,
            "throttled": throttled,
            "started_at": started,
            "limiter_wait_ms": 100.0 if throttled else 0.0,
        }

    with session_scope(warehouse_engine) as s:
        s.execute(
            insert(ApiCall),
            [
                call("putListingsItem", 40, T0 + timedelta(minutes=1)),
                call("putListingsItem", 10, T0 + timedelta(minutes=2)),
                call("putListingsItem", 30, T0 + timedelta(minutes=3), throttled=True),
                call("putListingsItem", 20, T0 + timedelta(minutes=59, seconds=59)),
                call("putListingsItem", 500, T0 + timedelta(hours=1)),  # the next hour
                call("getFeed", 100, T0 + timedelta(minutes=5)),
                call("getFeed", 5, T0 + timedelta(minutes=6), status=None),  # a transport error
                call("getFeed", 7, T0 + timedelta(minutes=7), status=503),
            ],
        )
    rows = {(r["operation"], r["hour"]): r for r in _rows(warehouse_engine, "SELECT * FROM v_api_call_stats")}
    assert set(rows) == {
        ("putListingsItem", "2026-01-05 10:00"),
        ("putListingsItem", "2026-01-05 11:00"),
        ("getFeed", "2026-01-05 10:00"),
    }
    put = rows[("putListingsItem", "2026-01-05 10:00")]
    assert (put["calls"], put["throttled_calls"], put["failed_calls"]) == (4, 1, 1)
    assert put["throttled_share"] == pytest.approx(0.25)
    assert float(put["avg_latency_ms"]) == pytest.approx(25.0)
    assert float(put["p50_latency_ms"]) == pytest.approx(25.0)  # mean of 20 and 30
    assert float(put["p95_latency_ms"]) == pytest.approx(40.0)
    assert float(put["max_latency_ms"]) == pytest.approx(40.0)
    assert float(put["avg_limiter_wait_ms"]) == pytest.approx(25.0)
    get = rows[("getFeed", "2026-01-05 10:00")]
    assert (get["calls"], get["throttled_calls"], get["failed_calls"]) == (3, 0, 2)
    assert get["throttled_share"] == pytest.approx(0.0)
    assert float(get["p50_latency_ms"]) == pytest.approx(7.0)  # odd count: the middle one
    assert float(get["p95_latency_ms"]) == pytest.approx(100.0)
    later = rows[("putListingsItem", "2026-01-05 11:00")]
    assert (later["calls"], float(later["p50_latency_ms"]), float(later["p95_latency_ms"])) == (
        1,
        500.0,
        500.0,
    )


def test_v_backlog(warehouse_engine: Engine) -> None:
    now = datetime.now(UTC)
    two_hours_ago = now - timedelta(hours=2)
    three_days_ago = now - timedelta(days=3)
    with session_scope(warehouse_engine) as s:
        # changed after Amazon accepted an older payload: backlog, but it did go live three days ago
        transition(s, SELLER, US, "CHANGED", "ready", "v", at=three_days_ago, payload_hash=H1)
        transition(s, SELLER, US, "CHANGED", "submitted", "feed:1", at=three_days_ago)
        transition(s, SELLER, US, "CHANGED", "accepted", "feed:1", at=three_days_ago)
        transition(s, SELLER, US, "CHANGED", "ready", "catalog", at=two_hours_ago, payload_hash=H2)
        # a payload never accepted
        transition(
            s, SELLER, US, "NEW", "quarantined", "validation", at=now - timedelta(minutes=30), payload_hash=H1
        )
        # quarantined before any payload was built (what the gate does to a bad row): it never reached
        # Amazon, and is backlog since it was first seen
        transition(s, SELLER, US, "BAD-ROW", "quarantined", "validation", at=now - timedelta(hours=5))
        # seen in the catalog, not validated yet: backlog too
        transition(s, SELLER, US, "EMPTY", "draft", "catalog", at=now - timedelta(hours=1))
        # in step with Amazon
        transition(s, SELLER, US, "SYNCED", "ready", "v", payload_hash=H1)
        transition(s, SELLER, US, "SYNCED", "submitted", "feed:1")
        transition(s, SELLER, US, "SYNCED", "accepted", "feed:1")
        # accepted, then its catalog row went bad: Amazon keeps the last good payload, not backlog
        transition(s, SELLER, US, "WENT-BAD", "ready", "v", payload_hash=H1)
        transition(s, SELLER, US, "WENT-BAD", "submitted", "feed:1")
        transition(s, SELLER, US, "WENT-BAD", "accepted", "feed:1")
        transition(s, SELLER, US, "WENT-BAD", "quarantined", "validation")
        # found live on Amazon, nothing wanted of it: not backlog ...
        transition(s, SELLER, US, "FOUND", "live", "reconciliation")
        # ... found live, then changed by the catalog: backlog, and it went live when it was found
        transition(s, SELLER, US, "FOUND-CHANGED", "live", "reconciliation", at=three_days_ago)
        transition(s, SELLER, US, "FOUND-CHANGED", "ready", "plan", at=two_hours_ago, payload_hash=H1)
        # deleted: not backlog, with or without a payload
        transition(s, SELLER, US, "GONE", "draft", "catalog", payload_hash=H1)
        transition(s, SELLER, US, "GONE", "deleted", "catalog")
        transition(s, SELLER, US, "GONE-EMPTY", "draft", "catalog")
        transition(s, SELLER, US, "GONE-EMPTY", "deleted", "catalog")
    rows = {r["sku"]: r for r in _rows(warehouse_engine, "SELECT * FROM v_backlog")}
    assert set(rows) == {"CHANGED", "NEW", "BAD-ROW", "EMPTY", "FOUND-CHANGED"}
    changed = rows["CHANGED"]
    assert (changed["status"], changed["payload_hash"], changed["accepted_hash"]) == ("ready", H2, H1)
    assert _time(changed["pending_since"]) == two_hours_ago
    assert float(changed["age_seconds"]) == pytest.approx(7200, abs=60)
    assert _time(changed["went_live_at"]) == three_days_ago
    assert rows["NEW"]["accepted_hash"] is None and rows["NEW"]["went_live_at"] is None
    assert float(rows["NEW"]["age_seconds"]) == pytest.approx(1800, abs=60)
    bad = rows["BAD-ROW"]
    assert (bad["status"], bad["payload_hash"], bad["went_live_at"]) == ("quarantined", None, None)
    assert _time(bad["pending_since"]) == now - timedelta(hours=5)
    assert float(bad["age_seconds"]) == pytest.approx(5 * 3600, abs=60)
    assert (rows["EMPTY"]["status"], rows["EMPTY"]["went_live_at"]) == ("draft", None)
    found = rows["FOUND-CHANGED"]
    assert (found["accepted_hash"], _time(found["went_live_at"])) == (None, three_days_ago)
