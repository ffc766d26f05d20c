"""The publish ledger (``publish_attempts``): record a feed document *before* Amazon sees it.

docs/architecture.md, "The bulk path", step 6. Each document gets one row, keyed by :func:`idempotency_key` of
(seller, marketplaces, document hash), written before createFeedDocument. A retried or resumed task
calls :func:`record_attempt` again, gets the same row back, and reads ``state`` / ``feed_id`` to
decide what is left to do; it never creates a second feed for the same document.

States and the moves :func:`advance` allows (:data:`TRANSITIONS`)::

    recorded          -> document_created | uploaded | failed
    document_created  -> uploaded | failed
    uploaded          -> feed_created | document_created (redo the document) | failed
    feed_created      -> done | fatal | cancelled        (Amazon's processingStatus)
    failed, cancelled -> recorded                        (re-arm: a new document and a new feed)
    done, fatal       -> (final)

Before ``feed_created`` the document steps may be redone (``uploaded -> document_created``: a new
feed document after a crash); ``feed_document_id`` may change then, and only then. ``feed_id`` is
written once: advancing with a different feed id is the double submission this table exists to
prevent, and raises. A move to the state the attempt is already in only updates the fields.

If a task died between createFeed and :func:`advance` to ``feed_created``, the attempt is left at
``uploaded`` with a ``feed_document_id``: look for a feed with that ``inputFeedDocumentId``
(getFeeds) before creating another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from listings_pipeline.warehouse.db import insert_ignoring_conflicts
from listings_pipeline.warehouse.models import AttemptState, FeedSubmission, PublishAttempt

S = AttemptState

TRANSITIONS: dict[AttemptState, frozenset[AttemptState]] = {
    S.RECORDED: frozenset({S.DOCUMENT_CREATED, S.UPLOADED, S.FAILED}),
    S.DOCUMENT_CREATED: frozenset({S.UPLOADED, S.FAILED}),
    S.UPLOADED: frozenset({S.DOCUMENT_CREATED, S.FEED_CREATED, S.FAILED}),
    S.FEED_CREATED: frozenset({S.DONE, S.FATAL, S.CANCELLED}),
    # a later run that plans exactly the same document again (its messages came back unprocessed or
    # retryable, or the feed went FATAL) re-arms it; a retried task of the same run never does
    S.DONE: frozenset({S.RECORDED}),
    S.FATAL: frozenset({S.RECORDED}),
    S.CANCELLED: frozenset({S.RECORDED}),
    S.FAILED: frozenset({S.RECORDED}),
}
"""Allowed moves between different states (a move to the current state is always allowed)."""

TERMINAL_STATES = frozenset({S.DONE, S.FATAL, S.CANCELLED, S.FAILED})

# Amazon's processingStatus for the attempt states that mirror it.
_FEED_STATUS = {S.DONE: "DONE", S.FATAL: "FATAL", S.CANCELLED: "CANCELLED"}

# What advance() may set besides the state.
ADVANCE_FIELDS = frozenset({"feed_document_id", "feed_id", "error", "run_id"})


class LedgerError(Exception):
    """A ledger rule was broken: an illegal move, or a field that must not change."""


def idempotency_key(seller_id: str, marketplace_ids: str | Iterable[str], document_hash: str) -> str:
    """sha256 (hex) of the seller, the set of marketplaces and the document's hash.

    The marketplaces are a set: order and duplicates do not change the key.
    """
    markets = [marketplace_ids] if isinstance(marketplace_ids, str) else list(marketplace_ids)
    canonical = json.dumps([seller_id, sorted(set(markets)), document_hash], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_attempt(
    session: Session,
    seller_id: str,
    marketplace_ids: str | Iterable[str],
    document_hash: str,
    document_path: str,
    message_count: int,
    run_id: str | None = None,
) -> PublishAttempt:
    """The ledger row for this document: inserted if new, else the existing one (in any state).

    The insert is ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING`` on PostgreSQL and SQLite,
    so two tasks racing on the same document end up with the same row. The caller's transaction
    must commit for the row to be durable before Amazon is called.

    :return: the attempt; ``state == "recorded"`` and no ``feed_id`` means nothing was sent yet.
    """
    markets = sorted({marketplace_ids} if isinstance(marketplace_ids, str) else set(marketplace_ids))
    if not markets:
        raise ValueError("a publish attempt needs at least one marketplace id")
    key = idempotency_key(seller_id, markets, document_hash)
    values: dict[str, Any] = {
        "idempotency_key": key,
        "seller_id": seller_id,
        "marketplace_ids": markets,
        "document_hash": document_hash,
        "document_path": document_path,
        "message_count": message_count,
        "run_id": run_id,
        "state": S.RECORDED.value,
    }
    session.execute(insert_ignoring_conflicts(session, PublishAttempt, ["idempotency_key"]).values(values))
    return session.scalars(
        select(PublishAttempt)
        .where(PublishAttempt.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).one()


def find_attempt(
    session: Session, seller_id: str, marketplace_ids: str | Iterable[str], document_hash: str
) -> PublishAttempt | None:
    """The ledger row for this document, if one was recorded."""
    key = idempotency_key(seller_id, marketplace_ids, document_hash)
    return session.scalars(select(PublishAttempt).where(PublishAttempt.idempotency_key == key)).one_or_none()


def advance(session: Session, attempt: PublishAttempt, state: str, **fields: Any) -> PublishAttempt:
    """Move ``attempt`` to ``state`` and set ``fields`` (``feed_document_id``, ``feed_id``, ``error``).

    The row is re-read under ``SELECT ... FOR UPDATE`` (PostgreSQL) first, so two workers cannot
    both move it. ``uploaded`` needs a ``feed_document_id``, ``feed_created`` a ``feed_id``; on
    ``feed_created`` a ``feed_submissions`` row (``IN_QUEUE``) is added, and ``done`` / ``fatal`` /
    ``cancelled`` copy Amazon's status onto it (its processing times are not the ledger's: the
    caller that holds getFeed's answer passes them to :func:`record_processing`).

    :raises LedgerError: the move is not in :data:`TRANSITIONS`, a required field is missing, or
        ``feed_id`` / ``feed_document_id`` would change when they must not.
    """
    unknown = set(fields) - ADVANCE_FIELDS
    if unknown:
        raise TypeError(
            f"advance() got unexpected fields {sorted(unknown)}; allowed: {sorted(ADVANCE_FIELDS)}"
        )
    try:
        target = AttemptState(state)
    except ValueError:
        raise LedgerError(
            f"publish attempt {attempt.id}: unknown state {state!r}; expected one of {[s.value for s in S]}"
        ) from None
    locked = session.get(PublishAttempt, attempt.id, with_for_update=True, populate_existing=True)
    if locked is None:
        raise LedgerError(f"publish attempt {attempt.id} does not exist (deleted or never flushed)")
    attempt = locked
    current = AttemptState(attempt.state)
    what = f"publish attempt {attempt.id} (seller {attempt.seller_id}, document {attempt.document_hash[:12]})"
    if target != current and target not in TRANSITIONS[current]:
        allowed = sorted(s.value for s in TRANSITIONS[current]) or "nothing (terminal)"
        raise LedgerError(f"{what}: illegal transition {current.value} -> {target.value}; allowed: {allowed}")
    feed_id = _checked_ids(what, attempt, current, target, fields)
    _apply(attempt, current, target, fields)
    session.flush()
    _mirror_feed(session, attempt, target, feed_id)
    return attempt


def _checked_ids(
    what: str, attempt: PublishAttempt, current: AttemptState, target: AttemptState, fields: Mapping[str, Any]
) -> str | None:
    """The feed id the attempt has after the move. Only the step that creates an id may set it, and a
    feed id is never replaced: a second one for the same document is the double submission this
    ledger exists to prevent. A state that stands for an id must have one.

    :raises LedgerError: an id would be set or changed by the wrong step, or is missing.
    """
    new_document_id = fields.get("feed_document_id")
    if (
        new_document_id is not None
        and new_document_id != attempt.feed_document_id
        and target not in (S.DOCUMENT_CREATED, S.UPLOADED)
    ):
        raise LedgerError(
            f"{what}: feed_document_id can only be set by the document steps "
            f"(-> document_created/uploaded), not on {current.value} -> {target.value}"
        )
    new_feed_id = fields.get("feed_id")
    if new_feed_id is not None and new_feed_id != attempt.feed_id and target != S.FEED_CREATED:
        raise LedgerError(
            f"{what}: feed_id is set by -> feed_created, not by {current.value} -> {target.value}"
        )
    if new_feed_id is not None and attempt.feed_id is not None and new_feed_id != attempt.feed_id:
        raise LedgerError(
            f"{what}: already has feed {attempt.feed_id}; refusing feed {new_feed_id} "
            "(the same document would be submitted twice)"
        )
    document_id = new_document_id if new_document_id is not None else attempt.feed_document_id
    feed_id: str | None = new_feed_id if new_feed_id is not None else attempt.feed_id
    if target in (S.DOCUMENT_CREATED, S.UPLOADED) and document_id is None:
        raise LedgerError(f"{what}: -> {target.value} needs a feed_document_id")
    if target in (S.FEED_CREATED, S.DONE, S.FATAL, S.CANCELLED) and feed_id is None:
        raise LedgerError(f"{what}: -> {target.value} needs a feed_id")
    return feed_id


def _apply(
    attempt: PublishAttempt, current: AttemptState, target: AttemptState, fields: Mapping[str, Any]
) -> None:
    for name, value in fields.items():
        setattr(attempt, name, value)
    if target == S.RECORDED and current != S.RECORDED:
        # Re-armed: the next try starts from scratch, with a new document and a new feed. The old
        # feed (if cancelled) stays in feed_submissions, linked by attempt_id.
        attempt.feed_document_id = None
        attempt.feed_id = None
        if "error" not in fields:
            attempt.error = None
    attempt.state = target.value
    attempt.updated_at = datetime.now(UTC)


def _mirror_feed(
    session: Session, attempt: PublishAttempt, target: AttemptState, feed_id: str | None
) -> None:
    """Keep ``feed_submissions`` in step with the attempt: a created feed gets its row (``IN_QUEUE``,
    as Amazon starts it), and an ended one Amazon's status, so the feed list never lags the ledger."""
    if feed_id is None:
        return
    if target == S.FEED_CREATED and session.get(FeedSubmission, feed_id) is None:
        session.add(
            FeedSubmission(
                feed_id=feed_id,
                attempt_id=attempt.id,
                seller_id=attempt.seller_id,
                marketplace_ids=list(attempt.marketplace_ids),
                processing_status="IN_QUEUE",
                document_path=attempt.document_path,
                document_hash=attempt.document_hash,
            )
        )
        session.flush()
    elif target in _FEED_STATUS:
        record_processing(session, feed_id, _FEED_STATUS[target])


def record_processing(
    session: Session,
    feed_id: str,
    status: str,
    *,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    """What getFeed said of a feed, on its ``feed_submissions`` row: the status, and
    ``processingStartTime`` / ``processingEndTime``, which only Amazon knows (the status page's
    processing column and ``v_feed_health``'s turnaround read them).

    Amazon's answers only move forward, but ours may arrive out of order (a stale-feed check beside
    the waiter): an ended feed keeps its status, and a time Amazon left out does not clear one
    recorded earlier. A feed without a row (never recorded by the ledger) is left alone.
    """
    feed = session.get(FeedSubmission, feed_id)
    if feed is None:
        return
    if feed.processing_status not in _FEED_STATUS.values() or status in _FEED_STATUS.values():
        feed.processing_status = status
    if started_at is not None:
        feed.processing_started_at = started_at
    if ended_at is not None:
        feed.processing_ended_at = ended_at
    session.flush()


def pending_attempts(session: Session, seller_id: str | None = None) -> list[PublishAttempt]:
    """Attempts that are not finished (to resume after a crash), oldest first."""
    stmt = select(PublishAttempt).where(PublishAttempt.state.not_in([s.value for s in TERMINAL_STATES]))
    if seller_id is not None:
        stmt = stmt.where(PublishAttempt.seller_id == seller_id)
    return list(session.scalars(stmt.order_by(PublishAttempt.id)))
