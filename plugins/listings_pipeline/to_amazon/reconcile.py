"""Feeds Amazon finished whose outcome never reached the warehouse (their wait or parse task died),
applied under the run that sent them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from listings_pipeline.branch import Branch
from listings_pipeline.config import load_config
from listings_pipeline.to_amazon.bulk import parse
from listings_pipeline.to_amazon.feed_outcomes import FeedResult
from listings_pipeline.warehouse import ledger
from listings_pipeline.warehouse.db import (
    make_engine,
    session_scope,
    warehouse_url,
)
from listings_pipeline.warehouse.models import (
    FeedSubmission,
    Listing,
    ListingEvent,
    ListingStatus,
    PublishAttempt,
)

if TYPE_CHECKING:
    from spapi.models.feeds import Feed

log = logging.getLogger(__name__)

L = ListingStatus


# --- plan ----------------------------------------------------------------------------------------------


_FEED_STATES = {"DONE": "done", "FATAL": "fatal", "CANCELLED": "cancelled"}


def reconcile(branch: Branch) -> list[FeedResult]:
    """Apply the outcome of earlier feeds that Amazon finished but whose outcome never reached the
    warehouse, because the task waiting for them or parsing them died (retries exhausted).

    Without this their SKUs would stay ``submitted`` until ``feed_wait_hours`` passed and then be
    sent again, although Amazon had long answered. Candidates are this branch's feeds of the last
    ``feed_wait_hours`` whose SKUs are partly still ``submitted`` (a feed that another run's dead
    submit created but never recorded is looked up with getFeeds and adopted first):

    - ended in the ledger (DONE, FATAL, CANCELLED), with no listing event naming them
      (``feed:<id>``: parsing writes one for every message);
    - still ``feed_created`` in the ledger, when getFeed says Amazon finished them.

    A feed of another run is applied at once: its run is over (``max_active_runs=1``), and should
    one still be parsing it, :func:`parse` applies an outcome once whoever comes second. Only a
    feed of this very run (a cleared, re-run plan) waits ``reconcile_after_minutes`` for its own
    parse task. Each report is read and applied exactly as :func:`parse` does, under the run that
    submitted the feed.

    :return: what :func:`parse` returned for each reconciled feed.
    """
    from listings_pipeline.call_log import ApiCallLog
    from spapi.feed_documents import message_index_path

    config = load_config(branch.get("config_path"))
    now = datetime.now(UTC)
    settled_before = now - timedelta(minutes=config.reconcile_after_minutes)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    calls = ApiCallLog(engine, branch["run_id"])
    try:
        _adopt_orphan_feeds(engine, calls, branch, now - timedelta(hours=config.feed_wait_hours))
        candidates = _unparsed_feeds(
            engine, branch, now - timedelta(hours=config.feed_wait_hours), settled_before
        )
        # Ask Amazon about the feeds nobody waited for to the end, outside any transaction.
        waiting = [c for c in candidates if c.state == "feed_created"]
        ended = _ended_at_amazon(engine, calls, branch, waiting, settled_before) if waiting else {}
    finally:
        calls.flush()
        engine.dispose()
    ledger_status = {state: status for status, state in _FEED_STATES.items()}
    results = []
    for feed in candidates:
        status = ended.get(feed.attempt_id) or ledger_status.get(feed.state)
        if status is None:  # still Amazon's, or only just finished (a waiter may take it)
            continue
        log.warning(
            "feed %s ended %s but its outcome never reached the warehouse: applying it now",
            feed.feed_id,
            status,
        )
        results.append(
            parse(
                {
                    "feed_id": feed.feed_id,
                    "processing_status": status,
                    "result_document_id": None,
                    "document_hash": feed.document_hash,
                    "document": {
                        "seller_id": branch["seller_id"],
                        "marketplace_id": branch["marketplace_id"],
                        "spapi_conn_id": branch["spapi_conn_id"],
                        "config_path": branch.get("config_path"),
                        "run_id": feed.run_id or branch["run_id"],
                        "document_path": feed.document_path,
                        "document_hash": feed.document_hash,
                        "index_path": str(message_index_path(feed.document_path)),
                    },
                }
            )
        )
    return results


@dataclass(frozen=True)
class _Unparsed:
    """A feed of this branch whose outcome may never have reached the warehouse."""

    attempt_id: int
    feed_id: str
    state: str  # the ledger's
    run_id: str | None  # the run that submitted it
    document_path: str
    document_hash: str


def _unparsed_feeds(
    engine: Any, branch: Branch, since: datetime, settled_before: datetime
) -> list[_Unparsed]:
    """This branch's feeds since ``since`` that ended or may have ended, that no listing event names
    (parsing writes one for every message), and some of whose SKUs are still ``submitted``."""
    from listings_pipeline.to_amazon.stale_feeds import document_skus

    seller_id, marketplace_id = branch["seller_id"], branch["marketplace_id"]
    found: list[_Unparsed] = []
    with session_scope(engine) as session:
        submitted = set(
            session.scalars(
                select(Listing.sku).where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    Listing.status == L.SUBMITTED,
                )
            )
        )
        if not submitted:
            return found
        attempts = session.scalars(
            select(PublishAttempt)
            .where(
                PublishAttempt.seller_id == seller_id,
                PublishAttempt.state.in_([*_FEED_STATES.values(), "feed_created"]),
                PublishAttempt.feed_id.is_not(None),
                PublishAttempt.updated_at > since,
            )
            .order_by(PublishAttempt.id)
        ).all()
        for attempt in attempts:
            if marketplace_id not in attempt.marketplace_ids or attempt.feed_id is None:
                continue
            if attempt.run_id == branch["run_id"] and attempt.updated_at >= settled_before:
                continue  # this run's own feed, maybe about to be parsed by its own task
            cause = f"feed:{attempt.feed_id}"
            parsed = session.scalar(
                select(func.count())
                .select_from(ListingEvent)
                .where((ListingEvent.cause == cause) | ListingEvent.cause.startswith(cause + ":"))
            )
            # a document whose sidecar is gone (its run's files were cleaned up) cannot be reconciled
            if not parsed and (document_skus(attempt.document_path) or frozenset()) & submitted:
                found.append(
                    _Unparsed(
                        attempt.id,
                        attempt.feed_id,
                        attempt.state,
                        attempt.run_id,
                        attempt.document_path,
                        attempt.document_hash,
                    )
                )
    return found


def _ended_at_amazon(
    engine: Any, calls: Any, branch: Branch, waiting: list[_Unparsed], settled_before: datetime
) -> dict[int, str]:
    """getFeed for feeds the ledger still thinks Amazon holds; those Amazon ended are recorded in the
    ledger, and every answer's status and processing times on the feed's row. A feed of this very run
    counts only once it ended before ``settled_before``."""
    from spapi import feeds
    from spapi.hooks import SpApiHook

    ended: dict[int, str] = {}
    answers: list[Feed] = []
    with SpApiHook(branch["spapi_conn_id"]).get_client(on_call=calls) as client:
        for feed in waiting:
            answer = client.call(feeds.get_feed(feed.feed_id))
            answers.append(answer)
            end = answer.processing_end_time
            own = feed.run_id == branch["run_id"]
            if answer.is_terminal and (not own or end is None or end < settled_before):
                ended[feed.attempt_id] = str(answer.processing_status)
    with session_scope(engine) as session:
        for attempt_id, amazon_status in ended.items():
            ledger.advance(session, session.get_one(PublishAttempt, attempt_id), _FEED_STATES[amazon_status])
        for answer in answers:  # every answer, also of a feed still Amazon's or left to its waiter
            ledger.record_processing(
                session,
                answer.feed_id,
                str(answer.processing_status),
                started_at=answer.processing_start_time,
                ended_at=answer.processing_end_time,
            )
    return ended


def _adopt_orphan_feeds(engine: Any, calls: Any, branch: Branch, since: datetime) -> None:
    """Find the feeds that other runs' submits created but died before recording (ledger at
    ``uploaded``, no feed id, SKUs still held by the document), so that reconcile can apply them
    now instead of their SKUs waiting ``feed_wait_hours`` for a resend to stumble on them."""
    from listings_pipeline.to_amazon.stale_feeds import (
        AmbiguousSubmissionError,
        document_skus,
        find_orphan_feed,
        held_by,
    )
    from spapi.hooks import SpApiHook

    seller_id, marketplace_id = branch["seller_id"], branch["marketplace_id"]
    with session_scope(engine) as session:
        uploads = session.scalars(
            select(PublishAttempt).where(
                PublishAttempt.seller_id == seller_id,
                PublishAttempt.state == "uploaded",
                PublishAttempt.feed_id.is_(None),
                PublishAttempt.run_id != branch["run_id"],
                PublishAttempt.updated_at > since,
            )
        ).all()
        pending = [
            (a.id, a.updated_at, list(a.marketplace_ids))
            for a in uploads
            if marketplace_id in a.marketplace_ids
            and held_by(session, seller_id, marketplace_id, a.document_hash, document_skus(a.document_path))
        ]
        claimed = set(
            session.scalars(select(FeedSubmission.feed_id).where(FeedSubmission.seller_id == seller_id))
        )
    if not pending:
        return
    with SpApiHook(branch["spapi_conn_id"]).get_client(on_call=calls) as client:
        for attempt_id, uploaded_at, marketplaces in pending:
            try:
                feed_id = find_orphan_feed(
                    client, seller_id, "JSON_LISTINGS_FEED", marketplaces, uploaded_at, claimed
                )
            except AmbiguousSubmissionError as err:
                log.warning("publish attempt %d: %s", attempt_id, err)
                continue
            if feed_id is None:
                continue  # createFeed never got through: the stale handling releases them later
            with session_scope(engine) as session:
                ledger.advance(
                    session, session.get_one(PublishAttempt, attempt_id), "feed_created", feed_id=feed_id
                )
            claimed.add(feed_id)
            log.warning("adopted feed %s, created by publish attempt %d whose task died", feed_id, attempt_id)
