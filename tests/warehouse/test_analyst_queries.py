"""Every SQL example in docs/analysts.md gives the answer worked out by hand, on SQLite and PostgreSQL.

The examples are read from the document itself, so the page cannot drift from the test: each
question under a ``###`` heading has its expected answer below (:data:`ANSWERS`), worked out by hand
from the small warehouse :func:`_fill` builds, with the reason for each row. A question added to the
page without an answer here fails :func:`test_every_question_has_a_worked_answer`.

PostgreSQL runs the examples in a session whose time zone is far from UTC (UTC+14): an analyst's
``psql`` is rarely in UTC, and the page promises UTC days.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, insert, update

from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import move_dead_letter, open_dead_letter, transition
from listings_pipeline.warehouse.models import (
    ApiCall,
    DeadLetter,
    FeedSubmission,
    ListingIssue,
    Quarantine,
    RunSummary,
)
from listings_pipeline.warehouse.records import ensure_seller
from tests.warehouse import drift_data, fba_stock_data, seller_performance_data
from tests.warehouse.conftest import DE, SELLER, US

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
OTHER = "A2OTHER"
H1, H2 = "1" * 64, "2" * 64
FAR_FROM_UTC = "Pacific/Kiritimati"  # UTC+14: its "yesterday" overlaps no more than 10 h of UTC's
SKU = "TT-01-M-BLK"  # the SKU the page's single-SKU questions ask about
PRICE_RULE = "expect_column_values_to_be_between"
TITLE_RULE = "expect_column_values_to_not_be_null"
LENGTH_RULE = "expect_column_value_lengths_to_be_between"


def examples() -> dict[str, list[str]]:
    """Heading -> the SQL blocks under it."""
    found: dict[str, list[str]] = {}
    heading = ""
    for match in re.finditer(r"^### ([^\n]+)$|^```sql\n(.*?)^```", DOC.read_text(), re.M | re.S):
        if match.group(1):
            heading = match.group(1).strip()
        else:
            found.setdefault(heading, []).append(match.group(2))
    return found


def _for_backend(blocks: list[str], backend: str) -> str:
    marker = {"sqlite": "-- SQLite", "postgresql": "-- PostgreSQL"}[backend]
    plain = [b for b in blocks if not b.startswith("-- ")]
    mine = [b for b in blocks if b.startswith(marker)]
    assert len(plain + mine) == 1, f"expected one query for {backend}: {blocks}"
    return (plain + mine)[0]


def _run(engine: Engine, heading: str, backend: str) -> list[dict[str, Any]]:
    sql = _for_backend(examples()[heading], backend)
    with engine.connect() as conn:
        if backend == "postgresql":  # for this transaction only: the shared engine stays in UTC
            conn.execute(sa.text(f"SET LOCAL TIME ZONE '{FAR_FROM_UTC}'"))
        return [dict(r._mapping) for r in conn.execute(sa.text(sql))]


def _time(value: Any) -> datetime:
    """A timestamp as a query returns it: datetime on PostgreSQL, text on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Clock:
    """The times the warehouse is built around. ``yesterday`` is UTC midnight starting yesterday."""

    now: datetime
    today: datetime
    yesterday: datetime

    @classmethod
    def at(cls, now: datetime) -> Clock:
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(now, today, today - timedelta(days=1))

    def days_ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)


def _issue(sku: str | None, marketplace_id: str, source: str, code: str, severity: str, message: str,
           at: datetime, **kw: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "source": source, "seller_id": SELLER, "marketplace_id": marketplace_id, "sku": sku,
        "code": code, "severity": severity, "message": message, "observed_at": at, **kw,
    }  # fmt: skip


def _quarantined(marketplace_id: str, column: str, value: str, rule: str, reason: str, run_id: str,
                 at: datetime, line: int) -> dict[str, Any]:  # fmt: skip
    return {
        "seller_id": SELLER, "marketplace_id": marketplace_id, "sku": SKU, "product_type": "SHIRT",
        "column_name": column, "value": value, "rule": rule, "reason": reason, "run_id": run_id,
        "quarantined_at": at, "source_file": "catalog.csv", "source_line": line,
    }  # fmt: skip


def _fill(engine: Engine) -> Clock:
    """A seller (``A1SELLER``, US and DE) and another (``A2OTHER``, US), with these listings:

    US:
    - ``LIVE-1``: accepted three days ago, in sync, no issues.
    - ``FIXED``: rejected two days ago (90244), fixed, sent again and accepted 40 h ago.
    - ``CHANGED``: accepted three days ago; the catalog changed it two hours ago (``ready``).
    - ``GATED``: sent yesterday at 11:00, rejected at noon (5665, brand gated, and a warning), and
      dead-lettered: open letter.
    - ``TT-01-M-BLK``: quarantined three days ago (run r1: price) before any payload was built, and
      again yesterday at 01:00 (run r2: price and sale_price). Never sent.
    - ``IN-FLIGHT``: planned 30 minutes ago, submitted, no answer yet.
    - ``FOUND-CHANGED``: found live on Amazon five days ago; the catalog's change three days ago was
      rejected (90244) and dead-lettered twice (open letter, 2 attempts). Never accepted.
    - ``GONE``: quarantined four days ago, then deleted from the catalog.
    DE:
    - ``TT-01-M-BLK``: quarantined three days ago (r1: no title), fixed and accepted two days ago,
      quarantined again yesterday at 01:00 (r2: bullet point too long); Amazon keeps the accepted one.
    A2OTHER, US: ``OTHER-1``, accepted yesterday.
    """
    now = datetime.now(UTC)
    if now.replace(hour=23, minute=59, second=55) <= now:  # "yesterday" must not change mid-test
        time.sleep(6)
        now = datetime.now(UTC)
    c = Clock.at(now)
    y01, y11, y12 = (c.yesterday + timedelta(hours=h) for h in (1, 11, 12))
    d2, d3, d4, d5 = (c.days_ago(n) for n in (2, 3, 4, 5))
    s_ = timedelta(seconds=1)
    m_ = timedelta(minutes=1)
    with session_scope(engine) as s:
        ensure_seller(s, OTHER, name="Other", region="na")

        def move(sku: str, status: str, cause: str, at: datetime, market: str = US, **kw: Any) -> None:
            transition(s, SELLER, market, sku, status, cause, at=at, **kw)

        move("LIVE-1", "ready", "plan", d3, payload_hash=H1)
        move("LIVE-1", "submitted", "feed_document:a", d3 + m_)
        move("LIVE-1", "accepted", "feed:F1", d3 + 5 * m_)

        move("FIXED", "ready", "plan", d3, payload_hash=H1)
        move("FIXED", "submitted", "feed_document:a", d3 + m_)
        move("FIXED", "invalid", "feed:F0", d2 + s_)  # its issue was written at d2
        move("FIXED", "ready", "plan", c.now - timedelta(hours=40), payload_hash=H2)
        move("FIXED", "submitted", "feed_document:b", c.now - timedelta(hours=40) + m_)
        move("FIXED", "accepted", "feed:F9", c.now - timedelta(hours=40) + 5 * m_)

        move("CHANGED", "ready", "plan", d3, payload_hash=H1)
        move("CHANGED", "submitted", "feed_document:a", d3 + m_)
        move("CHANGED", "accepted", "feed:F1", d3 + 5 * m_)
        move("CHANGED", "ready", "plan", c.now - timedelta(hours=2), payload_hash=H2)

        move("GATED", "ready", "plan", y11, payload_hash=H1)
        move("GATED", "submitted", "feed_document:c", y11 + m_)
        move("GATED", "invalid", "feed:F2", y12 + s_)
        move("GATED", "dead_lettered", "feed:F2", y12 + 2 * s_)

        move(SKU, "quarantined", "validation", d3 + 2 * s_, run_id="r1")  # r2 finds it quarantined

        move("IN-FLIGHT", "ready", "plan", c.now - timedelta(minutes=30), payload_hash=H1)
        move("IN-FLIGHT", "submitted", "feed_document:d", c.now - timedelta(minutes=29))

        move("FOUND-CHANGED", "live", "reconciliation", d5)
        move("FOUND-CHANGED", "ready", "plan", d3, payload_hash=H1)
        move("FOUND-CHANGED", "submitted", "feed_document:a", d3 + m_)
        move("FOUND-CHANGED", "invalid", "feed:F1", d3 + 2 * m_ + s_)
        move("FOUND-CHANGED", "dead_lettered", "feed:F1", d3 + 2 * m_ + 2 * s_)

        move("GONE", "quarantined", "validation", d4)
        move("GONE", "deleted", "catalog", d4 + timedelta(hours=1))

        move(SKU, "quarantined", "validation", d3 + s_, market=DE, run_id="r1")
        move(SKU, "ready", "plan", d2, market=DE, payload_hash=H1)
        move(SKU, "submitted", "feed_document:e", d2 + m_, market=DE)
        move(SKU, "accepted", "feed:F0", d2 + 5 * m_, market=DE)
        move(SKU, "quarantined", "validation", y01 + 2 * s_, market=DE, run_id="r2")

        transition(s, OTHER, US, "OTHER-1", "ready", "plan", at=y11, payload_hash=H1)
        transition(s, OTHER, US, "OTHER-1", "submitted", "feed_document:f", at=y11 + m_)
        transition(s, OTHER, US, "OTHER-1", "accepted", "feed:F5", at=y12)

        price = "validate: price must be at least 0.01"
        color = "The value provided for color is not valid."
        s.execute(
            insert(ListingIssue),
            [
                _issue(SKU, US, "validation", PRICE_RULE, "ERROR", price, d3, run_id="r1"),
                _issue(SKU, US, "validation", PRICE_RULE, "ERROR", price, y01, run_id="r2"),
                _issue(
                    SKU,
                    US,
                    "validation",
                    PRICE_RULE,
                    "ERROR",
                    "validate: sale_price must be at least 0.01",
                    y01,
                    run_id="r2",
                ),
                _issue(SKU, DE, "validation", TITLE_RULE, "ERROR", "validate: title is required", d3),
                _issue(
                    SKU, DE, "validation", LENGTH_RULE, "ERROR", "validate: bullet_point is too long", y01
                ),
                _issue("FIXED", US, "feed", "90244", "ERROR", color, d2, feed_id="F0"),
                _issue("FOUND-CHANGED", US, "feed", "90244", "ERROR", color, d3 + 2 * m_, feed_id="F1"),
                _issue("GATED", US, "feed", "5665", "ERROR", "brand is gated", y12, feed_id="F2"),
                _issue("GATED", US, "feed", "18027", "WARNING", "image too small", y12, feed_id="F2"),
                # an operator's validation preview afterwards: what a change would meet, not a failure
                _issue("GATED", US, "listings_api", "90220", "ERROR", "preview", y12 + 60 * m_, preview=True),
                # feed-level errors, one microsecond before yesterday and at today's first instant
                _issue(
                    None,
                    US,
                    "feed",
                    "5001",
                    "ERROR",
                    "feed could not be processed",
                    c.yesterday - timedelta(microseconds=1),
                    feed_id="F7",
                ),
                _issue(
                    None, US, "feed", "5001", "ERROR", "feed could not be processed", c.today, feed_id="F8"
                ),
            ],
        )
        s.execute(
            insert(Quarantine),
            [
                _quarantined(US, "price", "-3", PRICE_RULE, "price must be at least 0.01", "r1", d3, 7),
                _quarantined(DE, "title", "", TITLE_RULE, "title is required", "r1", d3, 8),
                _quarantined(US, "price", "-3", PRICE_RULE, "price must be at least 0.01", "r2", y01, 7),
                _quarantined(US, "sale_price", "-1", PRICE_RULE, "sale_price must be at least 0.01", "r2", y01, 7),
                _quarantined(DE, "bullet_point", "x" * 600, LENGTH_RULE, "bullet_point is too long", "r2", y01, 8),
            ],
        )  # fmt: skip

        letter = {
            "seller_id": SELLER,
            "marketplace_id": US,
            "path": "feed",
            "operation": "JSON_LISTINGS_FEED",
        }
        gated = open_dead_letter(s, **letter, sku="GATED", reason="5665: brand is gated", code="5665")
        for _ in range(2):  # rejected, replayed, rejected again: one letter, two attempts
            found = open_dead_letter(s, **letter, sku="FOUND-CHANGED", reason="90244: color", code="90244")
        fixed = open_dead_letter(s, **letter, sku="FIXED", reason="90244: color", code="90244")
        move_dead_letter(s, fixed, "replayed", actor="operator")
        move_dead_letter(s, fixed, "resolved", actor="feed:F9")
        for letter_id, created in ((gated.id, y12), (found.id, d3), (fixed.id, d2)):
            s.execute(update(DeadLetter).where(DeadLetter.id == letter_id).values(created_at=created))

        def feed(feed_id: str, seller: str, status: str, created: datetime, started_s: float | None,
                 ended_s: float | None, accepted: int, invalid: int) -> FeedSubmission:  # fmt: skip
            return FeedSubmission(
                feed_id=feed_id, seller_id=seller, marketplace_ids=[US], processing_status=status,
                created_at=created,
                processing_started_at=None if started_s is None else created + timedelta(seconds=started_s),
                processing_ended_at=None if ended_s is None else created + timedelta(seconds=ended_s),
                messages_processed=accepted + invalid if status == "DONE" else None,
                messages_accepted=accepted if status == "DONE" else None,
                messages_invalid=invalid if status == "DONE" else None,
            )  # fmt: skip

        s.add_all(
            [
                feed("F1", SELLER, "DONE", d3, 30, 90, accepted=2, invalid=1),
                feed("F2", SELLER, "DONE", y11 + m_, 60, 180, accepted=0, invalid=1),
                feed("F3", SELLER, "FATAL", y11 + 30 * m_, 10, 20, accepted=0, invalid=0),
                feed("F4", SELLER, "IN_PROGRESS", max(c.now - m_, c.today), 5, None, accepted=0, invalid=0),
                feed("F5", OTHER, "DONE", y11, 20, 60, accepted=1, invalid=0),
            ]
        )

        hour = (c.now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        calls = [
            # operation, minutes into `hour`, latency ms, throttled, limiter wait ms
            ("putListingsItem", 1, 50.0, True, 100.0),
            ("putListingsItem", 2, 60.0, True, 100.0),
            ("putListingsItem", 3, 70.0, False, 0.0),
            ("putListingsItem", 61, 500.0, False, 0.0),  # the next hour
            ("getFeed", 4, 10.0, False, 0.0),
            ("getFeed", 5, 20.0, False, 0.0),
            ("createFeed", 6, 30.0, True, 300.0),
        ]
        s.execute(
            insert(ApiCall),
            [
                {
                    "operation": op, "method": "GET" if op == "getFeed" else "POST", "seller_id": SELLER,
                    "region": "na", "status": 429 if throttled else 200, "latency_ms": latency,
                    "attempt": 1, "throttled": throttled, "started_at": hour + timedelta(minutes=minute),
                    "limiter_wait_ms": wait,
                }
                for op, minute, latency, throttled, wait in calls
            ],
        )  # fmt: skip

        def summary(run_id: str, seller: str, market: str, started: datetime, extracted: int,
                    quarantined: int, planned: int, unchanged: int, accepted: int, invalid: int,
                    dead_lettered: int) -> RunSummary:  # fmt: skip
            return RunSummary(
                run_id=run_id, dag_id="catalog_feed_sync", seller_id=seller, marketplace_id=market,
                started_at=started, extracted=extracted, quarantined=quarantined, planned=planned,
                deleted=0, unchanged=unchanged, skipped=0, submitted=planned, accepted=accepted,
                invalid=invalid, dead_lettered=dead_lettered, status="success",
            )  # fmt: skip

        s.add_all(
            [
                summary("r1", SELLER, US, d3, 6, 1, 5, 0, 2, 3, 3),
                summary("r1", SELLER, DE, d3, 1, 1, 0, 0, 0, 0, 0),
                summary("r2", SELLER, US, y01, 6, 1, 1, 4, 0, 1, 1),
                summary("r2", SELLER, DE, y01, 1, 1, 0, 0, 0, 0, 0),
                summary("r2", OTHER, US, y11, 1, 0, 1, 0, 1, 0, 0),
            ]
        )
    fba_stock_data.fill(engine, c.now)
    seller_performance_data.fill(engine)
    drift_data.fill(engine, c.now, listing=False)
    return c


# --- the answers, worked out by hand ------------------------------------------------------------------


def _failed_yesterday(rows: list[dict[str, Any]], c: Clock) -> None:
    # ERRORs observed from yesterday 00:00 UTC up to (not including) today 00:00 UTC, newest first:
    # GATED's 5665 at noon, then the three validation errors of 01:00, the last written first. Not
    # GATED's warning, the feed-level errors a microsecond before yesterday and at today's first
    # instant, nor anything older.
    assert [(r["sku"], r["marketplace_id"], r["code"], r["message"]) for r in rows] == [
        ("GATED", US, "5665", "brand is gated"),
        (SKU, DE, LENGTH_RULE, "validate: bullet_point is too long"),
        (SKU, US, PRICE_RULE, "validate: sale_price must be at least 0.01"),
        (SKU, US, PRICE_RULE, "validate: price must be at least 0.01"),
    ]
    assert _time(rows[0]["observed_at"]) == c.yesterday + timedelta(hours=12)


def _never_live(rows: list[dict[str, Any]], c: Clock) -> None:
    # Never accepted and never seen live, not deleted: TT-01-M-BLK in US (quarantined before it had
    # a payload: the old v_backlog left it out), GATED (rejected, dead-lettered) and IN-FLIGHT (no
    # answer yet). Not FOUND-CHANGED: never accepted, but it was live when it was found. Not GONE
    # (deleted), nor TT-01-M-BLK in DE (accepted two days ago). Longest waiting first: since first
    # seen for the SKU without a payload, since the payload last changed for the others.
    assert [(r["marketplace_id"], r["sku"], r["status"], r["last_error"]) for r in rows] == [
        (US, SKU, "quarantined", f"{PRICE_RULE}: validate: sale_price must be at least 0.01"),
        (US, "GATED", "dead_lettered", "5665: brand is gated"),
        (US, "IN-FLIGHT", "submitted", None),
    ]
    waited = [
        (c.now - (c.days_ago(3) + timedelta(seconds=2))).total_seconds() / 3600,
        (c.now - (c.yesterday + timedelta(hours=11))).total_seconds() / 3600,
        0.5,
    ]
    assert [float(r["hours_waiting"]) for r in rows] == pytest.approx(waited, abs=0.11)


def _throttling(rows: list[dict[str, Any]], c: Clock) -> None:
    # putListingsItem: 4 calls, 2 throttled (50 %); hourly p95s 70 (nearest rank of 50, 60, 70) and
    # 500: worst 500; limiter wait 100 + 100 + 0 + 0 over 4 calls = 50 ms a call (the mean of the
    # hourly means, 66.7 and 0, would say 33.3). createFeed: 1 call, throttled, 300 ms wait. getFeed:
    # 2 calls, none throttled, p95 20 (nearest rank of 10, 20). Most throttled first.
    got = [
        (r["operation"], int(r["calls"]), int(r["throttled"]), float(r["throttled_pct"]),
         float(r["worst_hourly_p95_ms"]), float(r["avg_limiter_wait_ms"]))
        for r in rows
    ]  # fmt: skip
    assert got == [
        ("putListingsItem", 4, 2, 50.0, 500.0, 50.0),
        ("createFeed", 1, 1, 100.0, 30.0, 300.0),
        ("getFeed", 2, 0, 0.0, 20.0, 0.0),
    ]


def _common_problems(rows: list[dict[str, Any]], c: Clock) -> None:
    # Listings touched first: 90244 hit FIXED and FOUND-CHANGED (2); the price rule hit one listing
    # three times (r1, and price and sale_price in r2): 3 issues, one listing, so second. Then the
    # one-listing, one-issue codes by code; the feed-level 5001 touches no listing, so last.
    assert [(r["code"], r["severity"], r["source"], int(r["issues"]), int(r["skus"])) for r in rows] == [
        ("90244", "ERROR", "feed", 2, 2),
        (PRICE_RULE, "ERROR", "validation", 3, 1),
        ("18027", "WARNING", "feed", 1, 1),
        ("5665", "ERROR", "feed", 1, 1),
        (LENGTH_RULE, "ERROR", "validation", 1, 1),
        (TITLE_RULE, "ERROR", "validation", 1, 1),
        ("5001", "ERROR", "feed", 2, 0),
    ]
    first, last = _time(rows[1]["first_seen"]), _time(rows[1]["last_seen"])
    assert (first, last) == (c.days_ago(3), c.yesterday + timedelta(hours=1))


def _listings_per_state(rows: list[dict[str, Any]], c: Clock) -> None:
    # A1SELLER/DE: TT-01-M-BLK, quarantined with a current error. A1SELLER/US: accepted LIVE-1 and
    # FIXED (FIXED's rejection is not current: it was sent again and accepted since), dead-lettered
    # GATED and FOUND-CHANGED (both with their rejection), then one each of deleted (GONE),
    # quarantined (TT-01-M-BLK, its price errors), ready (CHANGED) and submitted (IN-FLIGHT).
    # A2OTHER/US: OTHER-1, accepted.
    assert [
        (r["seller_id"], r["marketplace_id"], r["status"], int(r["listings"]), int(r["with_errors"]))
        for r in rows
    ] == [
        (SELLER, DE, "quarantined", 1, 1),
        (SELLER, US, "accepted", 2, 0),
        (SELLER, US, "dead_lettered", 2, 2),
        (SELLER, US, "deleted", 1, 0),
        (SELLER, US, "quarantined", 1, 1),
        (SELLER, US, "ready", 1, 0),
        (SELLER, US, "submitted", 1, 0),
        (OTHER, US, "accepted", 1, 0),
    ]


def _why_quarantined(rows: list[dict[str, Any]], c: Clock) -> None:
    # Each marketplace's latest quarantine (run r2): in DE the bullet point (its missing title of r1
    # was fixed and Amazon accepted it), in US price and sale_price (r1's price row is the same
    # problem, reported earlier). Both listings are quarantined now.
    got = [(r["marketplace_id"], r["status_now"], r["column_name"], r["value"], r["rule"], r["run_id"],
            r["source_file"], r["source_line"]) for r in rows]  # fmt: skip
    assert got == [
        (DE, "quarantined", "bullet_point", "x" * 600, LENGTH_RULE, "r2", "catalog.csv", 8),
        (US, "quarantined", "price", "-3", PRICE_RULE, "r2", "catalog.csv", 7),
        (US, "quarantined", "sale_price", "-1", PRICE_RULE, "r2", "catalog.csv", 7),
    ]


def _history(rows: list[dict[str, Any]], c: Clock) -> None:
    # Every move of TT-01-M-BLK in both marketplaces, oldest first. r2 found the US listing already
    # quarantined, so it has no second move.
    assert [(r["seller_id"], r["marketplace_id"], r["from_status"], r["to_status"], r["cause"]) for r in rows] == [
        (SELLER, DE, None, "quarantined", "validation"),
        (SELLER, US, None, "quarantined", "validation"),
        (SELLER, DE, "quarantined", "ready", "plan"),
        (SELLER, DE, "ready", "submitted", "feed_document:e"),
        (SELLER, DE, "submitted", "accepted", "feed:F0"),
        (SELLER, DE, "accepted", "quarantined", "validation"),
    ]  # fmt: skip
    assert [r["run_id"] for r in rows] == ["r1", "r1", None, None, None, "r2"]
    # the catalog's runs: scheduled (nobody triggered them), and no price or stock write among them
    assert [(r["dag_id"], r["actor"], r["changes"]) for r in rows] == [(None, None, None)] * 6


def _feed_health(rows: list[dict[str, Any]], c: Clock) -> None:
    # Per UTC day of creation, newest first. Today: F4, still in progress (no turnaround). Yesterday,
    # A1SELLER: F2 done (ended 180 s after creation, its message invalid) and F3 fatal (20 s): mean
    # turnaround 100 s; A2OTHER: F5 done, 60 s, one accepted. Three days ago: F1, 90 s, 2 accepted.
    day = "%Y-%m-%d"
    got = [
        (r["day"], r["seller_id"], int(r["feeds"]), int(r["feeds_done"]), int(r["feeds_fatal"]),
         int(r["messages_accepted"]), int(r["messages_invalid"]),
         None if r["avg_turnaround_s"] is None else float(r["avg_turnaround_s"]))
        for r in rows
    ]  # fmt: skip
    assert got == [
        (c.today.strftime(day), SELLER, 1, 0, 0, 0, 0, None),
        (c.yesterday.strftime(day), SELLER, 2, 1, 1, 0, 1, 100.0),
        (c.yesterday.strftime(day), OTHER, 1, 1, 0, 1, 0, 60.0),
        (c.days_ago(3).strftime(day), SELLER, 1, 1, 0, 2, 1, 90.0),
    ]


def _open_letters(rows: list[dict[str, Any]], c: Clock) -> None:
    # Open: GATED's (5665) and FOUND-CHANGED's (90244, two attempts); FIXED's is resolved.
    got = [
        (r["code"], r["path"], int(r["letters"]), _time(r["oldest"]), int(r["most_attempts"])) for r in rows
    ]
    assert got == [
        ("5665", "feed", 1, c.yesterday + timedelta(hours=12), 1),
        ("90244", "feed", 1, c.days_ago(3), 2),
    ]


def _runs(rows: list[dict[str, Any]], c: Clock) -> None:
    # Newest run first, as stored; each row adds up (extracted = quarantined + planned - deleted +
    # unchanged + skipped): r2 US is 1 + 1 - 0 + 4 + 0 = 6.
    got = [
        (r["run_id"], r["seller_id"], r["marketplace_id"], r["extracted"], r["quarantined"], r["planned"],
         r["deleted"], r["unchanged"], r["skipped"], r["accepted"], r["invalid"], r["dead_lettered"])
        for r in rows
    ]  # fmt: skip
    assert got == [
        ("r2", OTHER, US, 1, 0, 1, 0, 0, 0, 1, 0, 0),
        ("r2", SELLER, DE, 1, 1, 0, 0, 0, 0, 0, 0, 0),
        ("r2", SELLER, US, 6, 1, 1, 0, 4, 0, 0, 1, 1),
        ("r1", SELLER, DE, 1, 1, 0, 0, 0, 0, 0, 0, 0),
        ("r1", SELLER, US, 6, 1, 5, 0, 0, 0, 2, 3, 3),
    ]
    for r in rows:
        assert (
            r["extracted"] == r["quarantined"] + r["planned"] - r["deleted"] + r["unchanged"] + r["skipped"]
        )


ANSWERS: dict[str, Callable[[list[dict[str, Any]], Clock], None]] = {
    "What failed yesterday, and why?": _failed_yesterday,
    "Which SKUs never went live?": _never_live,
    "Throttling by operation": _throttling,
    "The most common problems": _common_problems,
    "How many listings are in each state, per seller and marketplace?": _listings_per_state,
    "Why was this SKU quarantined?": _why_quarantined,
    "The full history of one SKU": _history,
    "Feed health, day by day": _feed_health,
    "Open dead letters, by code": _open_letters,
    "What did each run do?": _runs,
    "How much FBA stock can sell, and how much is on its way?": lambda rows, _: fba_stock_data.per_branch(
        rows
    ),
    "Which FBA SKUs cannot sell, and is stock on its way?": lambda rows, _: fba_stock_data.cannot_sell(rows),
    "Which account health metrics need attention, and are they getting better?": (
        lambda rows, _: seller_performance_data.health_trend(rows)
    ),
    "How did sales go this week against the week before?": lambda rows, _: seller_performance_data.sales_week(
        rows
    ),
    "Which listings drifted from what Amazon shows?": lambda rows, _: drift_data.open_by_kind(rows),
    "How was drift resolved?": lambda rows, _: drift_data.how_resolved(rows),
}


def test_every_question_has_a_worked_answer() -> None:
    assert set(examples()) == set(ANSWERS)


@pytest.mark.parametrize("question", list(ANSWERS))
def test_the_answer_is_the_one_worked_out_by_hand(
    warehouse_engine: Engine, backend: str, question: str
) -> None:
    clock = _fill(warehouse_engine)
    ANSWERS[question](_run(warehouse_engine, question, backend), clock)
