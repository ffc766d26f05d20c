"""Every SQL example in docs/analysts.md runs on SQLite and PostgreSQL and answers its question.

The examples are read from the document itself, so the page cannot drift from the schema: a renamed
column or a query valid in only one dialect fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, insert

from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import open_dead_letter, transition
from listings_pipeline.warehouse.models import ApiCall, FeedSubmission, ListingIssue, Quarantine, RunSummary
from listings_pipeline.warehouse.records import ensure_seller
from tests.warehouse.conftest import SELLER, US

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
H1 = "1" * 64


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
        return [dict(r._mapping) for r in conn.execute(sa.text(sql))]


def _fill(engine: Engine) -> None:
    now = datetime.now(UTC)
    yesterday_noon = now.replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with session_scope(engine) as s:
        ensure_seller(s, SELLER, name="Seller", spapi_conn_id="spapi_default", region="na")
        # live: accepted by feed 1
        transition(
            s, SELLER, US, "LIVE-1", "ready", "validation", at=now - timedelta(days=3), payload_hash=H1
        )
        transition(s, SELLER, US, "LIVE-1", "submitted", "feed:1", at=now - timedelta(days=3))
        transition(s, SELLER, US, "LIVE-1", "accepted", "feed:1", at=now - timedelta(days=3))
        # failed yesterday, never live
        transition(s, SELLER, US, "FAILED-1", "ready", "validation", at=yesterday_noon, payload_hash=H1)
        transition(s, SELLER, US, "FAILED-1", "submitted", "feed:2", at=yesterday_noon)
        transition(s, SELLER, US, "FAILED-1", "invalid", "feed:2", at=yesterday_noon)
        # quarantined by the validation gate
        transition(s, SELLER, US, "TT-01-M-BLK", "quarantined", "validation", at=now, payload_hash=H1)
        s.execute(
            insert(Quarantine),
            [
                {
                    "seller_id": SELLER,
                    "marketplace_id": US,
                    "sku": "TT-01-M-BLK",
                    "product_type": "SHIRT",
                    "column_name": "price",
                    "value": "-3",
                    "rule": "expect_column_values_to_be_between",
                    "reason": "price must be at least 0.01",
                    "run_id": "r1",
                }
            ],
        )
        s.execute(
            insert(ListingIssue),
            [
                {
                    "source": "feed",
                    "seller_id": SELLER,
                    "marketplace_id": US,
                    "sku": "FAILED-1",
                    "feed_id": "2",
                    "code": "5665",
                    "severity": "ERROR",
                    "message": "brand is gated",
                    "observed_at": yesterday_noon,
                },
                {  # two days ago: not yesterday's
                    "source": "feed",
                    "seller_id": SELLER,
                    "marketplace_id": US,
                    "sku": "LIVE-1",
                    "feed_id": "1",
                    "code": "90220",
                    "severity": "ERROR",
                    "message": "old",
                    "observed_at": now - timedelta(days=2, hours=1),
                },
            ],
        )
        open_dead_letter(
            s, seller_id=SELLER, marketplace_id=US, sku="FAILED-1", path="feed", operation="UPDATE",
            reason="brand is gated", code="5665", run_id="r1",
        )  # fmt: skip
        for feed_id, status, accepted, invalid in (("1", "DONE", 1, 0), ("2", "DONE", 0, 1)):
            s.add(
                FeedSubmission(
                    feed_id=feed_id, seller_id=SELLER, marketplace_ids=[US], processing_status=status,
                    created_at=yesterday_noon, processing_started_at=yesterday_noon,
                    processing_ended_at=yesterday_noon + timedelta(seconds=30),
                    messages_processed=1, messages_accepted=accepted, messages_invalid=invalid,
                )
            )  # fmt: skip
        s.execute(
            insert(ApiCall),
            [
                {
                    "operation": op, "method": "PUT", "seller_id": SELLER, "region": "na",
                    "status": 429 if throttled else 200, "latency_ms": 50.0, "attempt": 1,
                    "throttled": throttled, "started_at": now - timedelta(minutes=i), "limiter_wait_ms": 5.0,
                }
                for i, (op, throttled) in enumerate(
                    [("putListingsItem", True), ("putListingsItem", True), ("putListingsItem", False),
                     ("getFeed", False), ("getFeed", False)]
                )
            ],
        )  # fmt: skip
        s.add(
            RunSummary(
                run_id="r1", dag_id="catalog_feed_sync", seller_id=SELLER, marketplace_id=US,
                started_at=yesterday_noon, extracted=3, quarantined=1, planned=2, submitted=2, accepted=1,
                invalid=1, warnings=0, dead_lettered=1, throttled_calls=2, status="success",
            )
        )  # fmt: skip


def test_the_document_has_the_three_questions_analysts_ask() -> None:
    headings = set(examples())
    for question in (
        "What failed yesterday, and why?",
        "Which SKUs never went live?",
        "Throttling by operation",
    ):
        assert question in headings
    assert len(headings) >= 8


def test_every_example_runs(warehouse_engine: Engine, backend: str) -> None:
    _fill(warehouse_engine)
    for heading in examples():
        rows = _run(warehouse_engine, heading, backend)
        assert rows, f"{heading!r} returned nothing on {backend}"


def test_the_answers_are_right(warehouse_engine: Engine, backend: str) -> None:
    _fill(warehouse_engine)
    failed = _run(warehouse_engine, "What failed yesterday, and why?", backend)
    assert [(r["sku"], r["code"]) for r in failed] == [("FAILED-1", "5665")]

    never = _run(warehouse_engine, "Which SKUs never went live?", backend)
    assert {r["sku"]: r["last_error"] for r in never} == {
        "FAILED-1": "5665: brand is gated",
        "TT-01-M-BLK": None,
    }

    throttling = {r["operation"]: r for r in _run(warehouse_engine, "Throttling by operation", backend)}
    assert (int(throttling["putListingsItem"]["calls"]), int(throttling["putListingsItem"]["throttled"])) == (
        3,
        2,
    )
    assert float(throttling["putListingsItem"]["throttled_pct"]) == pytest.approx(66.7)
    assert int(throttling["getFeed"]["throttled"]) == 0

    why = _run(warehouse_engine, "Why was this SKU quarantined?", backend)
    assert [(r["column_name"], r["value"]) for r in why] == [("price", "-3")]

    letters = _run(warehouse_engine, "Open dead letters, by code", backend)
    assert [(r["code"], int(r["letters"])) for r in letters] == [("5665", 1)]
