"""Feeds that outlived ``feed_wait_hours``: settle them before a SKU of theirs is sent again.

A feed Amazon has not finished may still be applied hours later. Resending its SKUs before it ends
would let the older document land after the newer one and undo it, so a plan step first calls
:func:`settle_stale_feeds`:

* ``IN_QUEUE``: cancelFeed, then getFeed. Only a confirmed ``CANCELLED`` releases the SKUs (back to
  ``ready``, cause ``feed:<id>:cancelled`` as :func:`listings_pipeline.bulk.parse` writes for a
  cancelled feed); a refused or unconfirmed cancel holds them.
* ``IN_PROGRESS`` (Amazon refuses to cancel it) or unknown (getFeed failed): hold until it ends.
* ``CANCELLED`` by Amazon: released like a cancel of ours (a cancelled feed applies nothing).
* ``DONE`` / ``FATAL``: the ledger learns it; the report is applied by ``bulk.reconcile`` (in ``bulk.settle``), so the
  SKUs are held until then (a resend now would make that report land on the newer submission).

Whatever getFeed last answered (status, processing times) goes on the feed's ``feed_submissions``
row, so the status page shows a stale feed as Amazon does.

The same module knows which SKUs a document still holds (:func:`held_by`), which the submit
operator needs when a submit fails for good before any feed exists.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select

from listings_pipeline.call_log import ApiCallLog, branch_trace
from listings_pipeline.warehouse import ledger, lifecycle
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import (
    AttemptState,
    Listing,
    ListingEvent,
    ListingStatus,
    PublishAttempt,
)
from spapi import feeds
from spapi.client import trace
from spapi.errors import SpApiError
from spapi.feed_documents import load_message_index, message_index_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from listings_pipeline.config import PipelineConfig
    from spapi.client import SpApiClient
    from spapi.models.feeds import Feed

log = logging.getLogger(__name__)

CHUNK = 5000  # SKUs per IN (...): well under SQLite's bound-parameter limit


class AmbiguousSubmissionError(SpApiError):
    """More than one feed could be the one a crashed task created; a person must decide."""


def find_orphan_feed(
    client: SpApiClient,
    seller_id: str,
    feed_type: str,
    marketplace_ids: Collection[str],
    since: datetime,
    claimed: Collection[str],
) -> str | None:
    """The feed a task that died around createFeed created, if Amazon has exactly one candidate.

    Amazon's ``Feed`` does not name its input document, so the candidates are this seller's feeds of
    the type and marketplaces created since the document was uploaded that no ledger row claims.
    None means createFeed never got through; more than one cannot be told apart.

    :raises AmbiguousSubmissionError: several unclaimed feeds match.
    """
    first = feeds.get_feeds(
        feed_types=[feed_type],
        marketplace_ids=list(marketplace_ids),
        created_since=since - timedelta(minutes=1),
        page_size=100,
    )
    candidates = [
        feed.feed_id
        for page in client.paginate(first, feeds.next_page)
        for feed in page.feeds
        if feed.feed_id not in claimed and sorted(feed.marketplace_ids or []) == sorted(marketplace_ids)
    ]
    if len(candidates) > 1:
        raise AmbiguousSubmissionError(
            f"seller {seller_id}: an earlier try died around createFeed and {len(candidates)} "
            f"unclaimed feeds match ({', '.join(candidates)}); record the right one in publish_attempts "
            "or mark the attempt failed to resubmit",
            operation="getFeeds",
            seller_id=seller_id,
        )
    return candidates[0] if candidates else None


def document_cause(document_hash: str) -> str:
    """The cause ``bulk.build`` writes when it moves a document's SKUs to ``submitted``."""
    return f"feed_document:{document_hash[:16]}"


def document_skus(document_path: str) -> frozenset[str] | None:
    """The SKUs of a document built here (its sidecar), or ``None`` when the sidecar is gone."""
    index_path = message_index_path(document_path)
    try:
        return frozenset(load_message_index(index_path).skus)
    except (OSError, ValueError) as err:
        log.warning("message index %s is unreadable (%s)", index_path, err)
        return None


def held_by(
    session: Session,
    seller_id: str,
    marketplace_id: str,
    document_hash: str,
    skus: Collection[str] | None,
) -> list[str]:
    """The SKUs that are ``submitted`` *because of this document*: their latest move to
    ``submitted`` names it. A SKU a later document (or the Listings API) took over is not held by
    this one, and releasing it would lose track of the newer submission.

    ``skus=None`` looks at every submitted listing of the branch (for a document whose sidecar is
    gone).
    """
    cause = document_cause(document_hash)
    base = (
        select(Listing.sku, ListingEvent.cause)
        .join(ListingEvent, ListingEvent.listing_id == Listing.id)
        .where(
            Listing.seller_id == seller_id,
            Listing.marketplace_id == marketplace_id,
            Listing.status == ListingStatus.SUBMITTED,
            ListingEvent.to_status == ListingStatus.SUBMITTED,
        )
        .order_by(ListingEvent.id)
    )
    batches = [base] if skus is None else [base.where(Listing.sku.in_(c)) for c in _chunks(skus)]
    latest: dict[str, str] = {}
    for stmt in batches:
        for sku, event_cause in session.execute(stmt):
            latest[sku] = event_cause
    return sorted(sku for sku, event_cause in latest.items() if event_cause == cause)


def release(
    session: Session,
    attempt: PublishAttempt,
    cause: str,
    run_id: str | None,
    skus: Collection[str] | None = None,
) -> dict[str, list[str]]:
    """Move the SKUs the attempt's document still holds back to ``ready``, in every marketplace of
    the attempt, so the next plan sends them again. ``skus`` defaults to the document's sidecar;
    without one, the warehouse alone says which listings the document holds (:func:`held_by`).

    :return: the released SKUs per marketplace.
    """
    if skus is None:
        skus = document_skus(attempt.document_path)
    return release_held(session, attempt, held_per_marketplace(session, attempt, skus), cause, run_id)


def held_per_marketplace(
    session: Session, attempt: PublishAttempt, skus: Collection[str] | None
) -> dict[str, list[str]]:
    """:func:`held_by` in each marketplace of the attempt: a caller that decides on it hands the same
    answer to :func:`release_held` rather than have the warehouse asked twice."""
    return {
        marketplace_id: held_by(session, attempt.seller_id, marketplace_id, attempt.document_hash, skus)
        for marketplace_id in attempt.marketplace_ids
    }


def release_held(
    session: Session,
    attempt: PublishAttempt,
    held: Mapping[str, list[str]],
    cause: str,
    run_id: str | None,
) -> dict[str, list[str]]:
    """Move ``held`` (per marketplace, from :func:`held_per_marketplace` in this transaction) back to
    ``ready``; returns what it moved, per marketplace."""
    released: dict[str, list[str]] = {}
    for marketplace_id, mine in held.items():
        if mine:
            lifecycle.transition_many(
                session,
                [{"seller_id": attempt.seller_id, "marketplace_id": marketplace_id, "sku": s} for s in mine],
                cause=cause,
                run_id=run_id,
                to_status=ListingStatus.READY,
            )
        released[marketplace_id] = mine
    return released


class Settlement(StrEnum):
    """What :func:`settle_stale_feeds` did with one stale feed, and so what its SKUs may do."""

    CANCELLED = "cancelled"  # confirmed CANCELLED (by us or by Amazon): SKUs released
    IN_PROGRESS = "in_progress"  # Amazon is applying it: held until it ends
    CANCEL_REFUSED = "cancel_refused"  # still IN_QUEUE after cancelFeed failed: held
    UNKNOWN = "unknown"  # getFeed failed: held
    ENDED = "ended"  # DONE or FATAL: held until reconcile applies its report


@dataclass(frozen=True)
class StaleFeed:
    """One feed that was still Amazon's after ``feed_wait_hours``, and what became of it."""

    feed_id: str
    attempt_id: int
    submitted_by: str | None  # the run that created the feed
    document_path: str
    document_hash: str
    processing_status: str | None  # as getFeed last answered; None if it never did
    settlement: Settlement
    reason: str
    skus: frozenset[str]  # of the branch's marketplace: released or held


@dataclass(frozen=True)
class StaleFeeds:
    """The answer for one branch (seller, marketplace).

    :ivar release: SKUs moved back to ``ready`` because their stale feed will certainly never be
        applied; the plan sends them like any ``ready`` SKU.
    :ivar hold: SKUs the plan must not send in this run at all (not even a changed payload): their
        feed may still be applied, or its report is still to be applied by ``reconcile``.
    :ivar feeds: each stale (or just-ended, unreconciled) feed with the reason, for the run's log.
    """

    release: frozenset[str] = frozenset()
    hold: frozenset[str] = frozenset()
    feeds: tuple[StaleFeed, ...] = field(default=())

    def reasons(self) -> Mapping[str, str]:
        """feed id -> what was done and why, for a log line per feed."""
        return {f.feed_id: f"{f.settlement.value}: {f.reason}" for f in self.feeds}


@dataclass(frozen=True)
class _Stale:
    """What the calls to Amazon need of an attempt, read before the session closes."""

    attempt_id: int
    feed_id: str
    run_id: str | None
    document_path: str
    document_hash: str
    updated_at: datetime


def settle_stale_feeds(
    config: PipelineConfig,
    seller_id: str,
    marketplace_id: str,
    spapi_conn_id: str,
    run_id: str,
    engine: Engine,
    *,
    now: datetime | None = None,
) -> StaleFeeds:
    """Cancel or hold this branch's feeds that are older than ``feed_wait_hours``; see the module.

    Call it at the start of a plan step, before the listings are read: released SKUs are ``ready``
    by the time it returns. Stale means a ``publish_attempts`` row of this seller, covering this
    marketplace, still ``feed_created`` (Amazon has it, its outcome is unknown) and last moved more
    than ``feed_wait_hours`` ago. Feeds this call (or a waiter) found ended less than
    ``reconcile_after_minutes`` ago whose report nobody applied yet are held as well, so a run in
    that window does not resend under a report about to be applied.

    Every call goes to ``api_calls`` under ``run_id``; every cancel is recorded in the ledger
    (``feed_created -> cancelled``). A connection that cannot be used raises; a failed call on one
    feed holds that feed's SKUs and moves on to the next.
    """
    now = now or datetime.now(UTC)
    branch = _Branch(seller_id, marketplace_id, run_id)
    with session_scope(engine) as session:
        stale, awaiting = _find_stale(session, config, branch, now)
    settled = [*awaiting]
    if stale:
        settled += _settle_with_amazon(spapi_conn_id, engine, branch, stale, now)
    for feed in settled:
        log.warning(
            "stale feed %s (submitted by %s): %s, %s; %d SKUs %s",
            feed.feed_id,
            feed.submitted_by,
            feed.settlement.value,
            feed.reason,
            len(feed.skus),
            "released" if feed.settlement == Settlement.CANCELLED else "held",
        )
    released = frozenset(s for f in settled if f.settlement == Settlement.CANCELLED for s in f.skus)
    held = frozenset(s for f in settled if f.settlement != Settlement.CANCELLED for s in f.skus)
    # a SKU held by one feed is not free because another feed of it was cancelled
    return StaleFeeds(release=released - held, hold=held, feeds=tuple(settled))


@dataclass(frozen=True)
class _Branch:
    seller_id: str
    marketplace_id: str
    run_id: str


def _find_stale(
    session: Session, config: PipelineConfig, branch: _Branch, now: datetime
) -> tuple[list[_Stale], list[StaleFeed]]:
    """The branch's feeds still Amazon's after ``feed_wait_hours`` (to settle with Amazon), and those
    that ended lately but whose report is not applied yet (held without asking Amazon: their outcome
    is known, only reconcile has still to write it)."""
    stale: list[_Stale] = []
    awaiting: list[StaleFeed] = []
    for row in _candidates(session, config, branch.seller_id, now):
        if branch.marketplace_id not in row.marketplace_ids or row.feed_id is None:
            continue
        if row.state == AttemptState.FEED_CREATED:
            stale.append(
                _Stale(row.id, row.feed_id, row.run_id, row.document_path, row.document_hash, row.updated_at)
            )
        elif not _report_applied(session, row.feed_id):
            awaiting.append(
                StaleFeed(
                    feed_id=row.feed_id,
                    attempt_id=row.id,
                    submitted_by=row.run_id,
                    document_path=row.document_path,
                    document_hash=row.document_hash,
                    processing_status=row.state.upper(),
                    settlement=Settlement.ENDED,
                    reason=f"ended {row.state.upper()}; its report is not applied yet (reconcile "
                    f"takes it {config.reconcile_after_minutes:g} minutes after it ended)",
                    skus=_branch_skus(
                        session, branch.seller_id, branch.marketplace_id, row.document_path, row.document_hash
                    ),
                )
            )
    return stale, awaiting


def _candidates(
    session: Session, config: PipelineConfig, seller_id: str, now: datetime
) -> Sequence[PublishAttempt]:
    """The seller's attempts with a feed that is stale or lately ended, oldest first (any marketplace:
    the marketplace list is a JSON column, checked by the caller)."""
    stale_before = now - timedelta(hours=config.feed_wait_hours)
    settled_after = now - timedelta(minutes=config.reconcile_after_minutes)
    return session.scalars(
        select(PublishAttempt)
        .where(
            PublishAttempt.seller_id == seller_id,
            PublishAttempt.feed_id.is_not(None),
            ((PublishAttempt.state == AttemptState.FEED_CREATED) & (PublishAttempt.updated_at < stale_before))
            | (
                PublishAttempt.state.in_([AttemptState.DONE, AttemptState.FATAL])
                & (PublishAttempt.updated_at >= settled_after)
            ),
        )
        .order_by(PublishAttempt.id)
    ).all()


def _settle_with_amazon(
    spapi_conn_id: str, engine: Engine, branch: _Branch, stale: list[_Stale], now: datetime
) -> list[StaleFeed]:
    """Ask Amazon about each stale feed, one client for all of them; the calls are logged under the
    run even when one raises, since a connection that cannot be used fails the step."""
    from spapi.hooks import SpApiHook

    calls = ApiCallLog(engine, branch.run_id)
    try:
        with (
            SpApiHook(spapi_conn_id).get_client(on_call=calls) as client,
            trace(branch_trace(branch.run_id, branch.seller_id, branch.marketplace_id)),
        ):
            return [
                _settle(client, engine, branch.seller_id, branch.marketplace_id, branch.run_id, attempt, now)
                for attempt in stale
            ]
    finally:
        calls.flush()


_SETTLEMENTS = {
    "CANCELLED": Settlement.CANCELLED,
    "DONE": Settlement.ENDED,
    "FATAL": Settlement.ENDED,
    "IN_PROGRESS": Settlement.IN_PROGRESS,
    "IN_QUEUE": Settlement.CANCEL_REFUSED,  # only asked after a cancel was tried
}

_CONSEQUENCE = {
    Settlement.CANCELLED: "its SKUs go back to ready",
    Settlement.ENDED: "held until reconcile applies its report",
    Settlement.IN_PROGRESS: "held until it ends",
    Settlement.CANCEL_REFUSED: "held until it ends or a later run cancels it",
    Settlement.UNKNOWN: "it may still be applied: held",
}


def _settle(
    client: SpApiClient,
    engine: Engine,
    seller_id: str,
    marketplace_id: str,
    run_id: str,
    attempt: _Stale,
    now: datetime,
) -> StaleFeed:
    notes = [f"{(now - attempt.updated_at).total_seconds() / 3600:.1f} h after createFeed"]
    answer = _get_feed(client, attempt.feed_id, notes)
    if answer is not None and answer.processing_status == "IN_QUEUE":
        try:
            client.call(feeds.cancel_feed(attempt.feed_id))
            notes.append("cancelFeed accepted")
        except SpApiError as err:
            notes.append(f"cancelFeed refused ({_describe(err)})")
        # Only Amazon's own word that the feed is CANCELLED lets its SKUs go.
        answer = _get_feed(client, attempt.feed_id, notes)
    status = None if answer is None else str(answer.processing_status)
    settlement = _SETTLEMENTS.get(status or "", Settlement.UNKNOWN)
    reason = "; ".join([*notes, f"{_CONSEQUENCE[settlement]}"])

    with session_scope(engine) as session:
        row = session.get_one(PublishAttempt, attempt.attempt_id)
        skus = document_skus(attempt.document_path)
        if settlement == Settlement.CANCELLED:
            ledger.advance(
                session, row, AttemptState.CANCELLED, error=f"stale, settled by {run_id}: {reason}"
            )
            released = release(session, row, f"feed:{attempt.feed_id}:cancelled", run_id, skus)
            mine = frozenset(released.get(marketplace_id, ()))
        else:
            if settlement == Settlement.ENDED and status is not None:
                ledger.advance(session, row, status.lower())
            mine = _branch_skus(
                session, seller_id, marketplace_id, attempt.document_path, attempt.document_hash, skus
            )
        if answer is not None:
            ledger.record_processing(
                session,
                attempt.feed_id,
                str(answer.processing_status),
                started_at=answer.processing_start_time,
                ended_at=answer.processing_end_time,
            )
    return StaleFeed(
        feed_id=attempt.feed_id,
        attempt_id=attempt.attempt_id,
        submitted_by=attempt.run_id,
        document_path=attempt.document_path,
        document_hash=attempt.document_hash,
        processing_status=status,
        settlement=settlement,
        reason=reason,
        skus=mine,
    )


def _get_feed(client: SpApiClient, feed_id: str, notes: list[str]) -> Feed | None:
    """getFeed's answer, or ``None`` (with a note why) when it fails."""
    try:
        answer = client.call(feeds.get_feed(feed_id))
    except SpApiError as err:
        notes.append(f"getFeed failed ({_describe(err)})")
        return None
    notes.append(f"getFeed: {answer.processing_status}")
    return answer


def _branch_skus(
    session: Session,
    seller_id: str,
    marketplace_id: str,
    document_path: str,
    document_hash: str,
    skus: frozenset[str] | None = None,
) -> frozenset[str]:
    """Every SKU the document may still write: its sidecar, or (sidecar gone) what it holds."""
    found = skus if skus is not None else document_skus(document_path)
    if found is not None:
        return found
    return frozenset(held_by(session, seller_id, marketplace_id, document_hash, None))


def _report_applied(session: Session, feed_id: str) -> bool:
    """Whether a listing event names the feed: parse writes one for every message it settles."""
    cause = f"feed:{feed_id}"
    return (
        session.scalar(
            select(ListingEvent.id)
            .where((ListingEvent.cause == cause) | ListingEvent.cause.startswith(cause + ":"))
            .limit(1)
        )
        is not None
    )


def _describe(err: SpApiError) -> str:
    return f"{type(err).__name__} {err.status or ''} {err.code or ''}: {err}".replace("  ", " ")


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
