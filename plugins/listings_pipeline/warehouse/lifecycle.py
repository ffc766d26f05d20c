"""Listing lifecycle (and dead-letter) state transitions, each one recorded with its time and cause.

docs/architecture.md, "Listing lifecycle": ``draft`` (seen in the catalog) -> ``quarantined`` | ``ready`` (validated,
changed) -> ``submitted`` (feed or Listings API) -> ``accepted`` | ``invalid`` | ``dead_lettered``;
later notifications or reconciliation mark it ``live``. :data:`TRANSITIONS` is the whole table;
anything else raises :class:`IllegalTransitionError` and writes nothing.

:func:`transition` moves one listing (creating its row on first sight) and writes one
``listing_events`` row; :func:`transition_many` does the same for a whole run (up to a million SKUs)
with a few bulk statements per chunk. A move to the status a listing already has is a no-op: no
event, but the fields given are still written.

Hashes move with the status unless given explicitly: ``-> submitted`` copies ``payload_hash`` to
``submitted_hash``; ``-> accepted`` copies ``submitted_hash`` to ``accepted_hash`` and stamps
``accepted_at``; a changed ``payload_hash`` stamps ``payload_changed_at`` (the backlog's age).

Dead letters have their own small machine (:data:`DEAD_LETTER_TRANSITIONS`), recorded in
``dead_letter_events`` by :func:`open_dead_letter` and :func:`move_dead_letter`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from listings_pipeline.warehouse.db import insert_ignoring_conflicts
from listings_pipeline.warehouse.models import (
    DeadLetter,
    DeadLetterEvent,
    DeadLetterState,
    Listing,
    ListingEvent,
    ListingStatus,
    PublishPath,
)

L = ListingStatus

TRANSITIONS: dict[ListingStatus | None, frozenset[ListingStatus]] = {
    # first sight: from the catalog, or found on Amazon by reconciliation
    None: frozenset({L.DRAFT, L.QUARANTINED, L.READY, L.LIVE}),
    L.DRAFT: frozenset({L.QUARANTINED, L.READY, L.DELETED}),
    L.QUARANTINED: frozenset({L.READY, L.DRAFT, L.DELETED}),
    L.READY: frozenset({L.SUBMITTED, L.QUARANTINED, L.DRAFT}),
    # back to ready: a retryable failure (throttled, 5xx, FATAL feed) goes round again next run;
    # deleted: Amazon accepted a delete
    L.SUBMITTED: frozenset({L.ACCEPTED, L.INVALID, L.DEAD_LETTERED, L.READY, L.DELETED}),
    L.ACCEPTED: frozenset({L.LIVE, L.READY, L.INVALID, L.QUARANTINED, L.DELETED}),
    L.INVALID: frozenset({L.READY, L.QUARANTINED, L.DEAD_LETTERED}),
    L.DEAD_LETTERED: frozenset({L.READY, L.QUARANTINED}),
    # a new change, a suppression or issue notification, a deletion seen on Amazon
    L.LIVE: frozenset({L.READY, L.QUARANTINED, L.INVALID, L.DELETED}),
    L.DELETED: frozenset({L.DRAFT, L.READY, L.QUARANTINED}),
}
"""``from -> {to}``; ``None`` is a listing not in the table yet."""

FIELDS = frozenset(
    {
        "product_type",
        "payload",
        "payload_hash",
        "submitted_hash",
        "accepted_hash",
        "accepted_at",
        "last_submission_id",
        "asin",
    }
)
"""Listing columns a transition may set besides the status."""

_KEY = ("seller_id", "marketplace_id", "sku")
CHUNK_SIZE = 5000  # SKUs per SELECT ... IN (...): well under SQLite's 32,766 bound parameters
ANALYZE_AFTER = 10_000  # new listings in one call after which PostgreSQL's statistics are refreshed


class LifecycleError(Exception):
    """Base class of this module's errors."""


class IllegalTransitionError(LifecycleError):
    """A listing (or dead letter) was asked to move where :data:`TRANSITIONS` does not allow."""


@dataclass(frozen=True)
class TransitionSummary:
    """What :func:`transition_many` did."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def events(self) -> int:
        return self.created + self.changed


def _status(value: str | ListingStatus) -> ListingStatus:
    try:
        return ListingStatus(value)
    except ValueError:
        raise LifecycleError(
            f"unknown listing status {value!r}; expected one of {[s.value for s in ListingStatus]}"
        ) from None


def _check_fields(fields: Iterable[str]) -> None:
    unknown = set(fields) - FIELDS
    if unknown:
        raise TypeError(f"unexpected listing fields {sorted(unknown)}; allowed: {sorted(FIELDS)}")


def _illegal(current: ListingStatus | None, target: ListingStatus) -> bool:
    return target != current and target not in TRANSITIONS[current]


def _describe(current: ListingStatus | None, target: ListingStatus) -> str:
    allowed = sorted(s.value for s in TRANSITIONS[current])
    origin = current.value if current is not None else "(new)"
    return f"illegal transition {origin} -> {target.value}; allowed from {origin}: {allowed}"


def _changes(
    current: ListingStatus | None,
    target: ListingStatus,
    fields: Mapping[str, Any],
    *,
    payload_hash: str | None,
    submitted_hash: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The column values a move writes: the given fields plus what the move implies."""
    changes = dict(fields)
    new_payload_hash = fields.get("payload_hash", payload_hash)
    if "payload_hash" in fields and fields["payload_hash"] != payload_hash:
        changes["payload_changed_at"] = now
    if target != current:
        changes["status"] = target.value
        if target == L.SUBMITTED and "submitted_hash" not in fields:
            changes["submitted_hash"] = new_payload_hash
        if target == L.ACCEPTED:
            sent = fields.get("submitted_hash", submitted_hash)
            changes.setdefault("accepted_hash", sent if sent is not None else new_payload_hash)
            changes.setdefault("accepted_at", now)
    if changes:
        changes["updated_at"] = now
    return changes


def transition(
    session: Session,
    seller_id: str,
    marketplace_id: str,
    sku: str,
    to_status: str | ListingStatus,
    cause: str,
    run_id: str | None = None,
    *,
    at: datetime | None = None,
    **fields: Any,
) -> ListingEvent | None:
    """Move one listing to ``to_status`` (creating it if new) and record the event.

    :param cause: why: ``validation``, ``feed:<feedId>``, ``listings_api:<submissionId>``,
        ``notification``, ``replay``, ...
    :param run_id: the Airflow run, if any.
    :param at: when it happened (default: now).
    :param fields: listing columns to set (:data:`FIELDS`).
    :return: the event written, or ``None`` when the listing already had that status.
    :raises IllegalTransitionError: the move is not in :data:`TRANSITIONS`; nothing is written.
    """
    target = _status(to_status)
    _check_fields(fields)
    now = at or datetime.now(UTC)
    where = (Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id, Listing.sku == sku)
    key = f"listing {seller_id}/{marketplace_id}/{sku}"

    listing = session.scalars(
        select(Listing).where(*where).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if listing is None:
        if _illegal(None, target):
            raise IllegalTransitionError(f"{key}: {_describe(None, target)} (cause {cause})")
        values = _changes(None, target, fields, payload_hash=None, submitted_hash=None, now=now)
        new_id = session.scalar(
            insert_ignoring_conflicts(session, Listing, list(_KEY))
            .values(seller_id=seller_id, marketplace_id=marketplace_id, sku=sku, created_at=now, **values)
            .returning(Listing.id)
        )
        if new_id is not None:
            event = ListingEvent(
                listing_id=new_id,
                from_status=None,
                to_status=target.value,
                at=now,
                cause=cause,
                run_id=run_id,
            )
            session.add(event)
            session.flush()
            return event
        # Another transaction created it meanwhile: continue as a move from its status.
        listing = session.scalars(
            select(Listing).where(*where).with_for_update().execution_options(populate_existing=True)
        ).one()

    current = _status(listing.status)
    if _illegal(current, target):
        raise IllegalTransitionError(f"{key}: {_describe(current, target)} (cause {cause})")
    changes = _changes(
        current,
        target,
        fields,
        payload_hash=listing.payload_hash,
        submitted_hash=listing.submitted_hash,
        now=now,
    )
    for name, value in changes.items():
        setattr(listing, name, value)
    if target == current:
        session.flush()
        return None
    event = ListingEvent(
        listing_id=listing.id,
        from_status=current.value,
        to_status=target.value,
        at=now,
        cause=cause,
        run_id=run_id,
    )
    session.add(event)
    session.flush()
    return event


def transition_many(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    cause: str,
    run_id: str | None = None,
    *,
    to_status: str | ListingStatus | None = None,
    at: datetime | None = None,
) -> TransitionSummary:
    """Move many listings at once: a bulk SELECT, INSERT, UPDATE and event INSERT per chunk.

    Each row has ``seller_id``, ``marketplace_id``, ``sku``, its ``to_status`` (or the
    ``to_status`` argument applies) and any of :data:`FIELDS`. Every move is checked before
    anything is written: one illegal move raises :class:`IllegalTransitionError` (naming the first
    few) and the batch writes nothing.

    The rows are written with Core-level bulk statements: ``Listing`` objects already loaded in this
    session are not refreshed (``session.expire_all()`` if you hold some).
    """
    default = _status(to_status) if to_status is not None else None
    now = at or datetime.now(UTC)

    # validate the shape, then group the SKUs by (seller, marketplace) for keyed lookups
    wanted: dict[tuple[str, str], dict[str, tuple[ListingStatus, dict[str, Any]]]] = defaultdict(dict)
    for row in rows:
        try:
            seller_id, marketplace_id, sku = (row[k] for k in _KEY)
        except KeyError as exc:
            raise LifecycleError(f"transition_many: a row has no {exc.args[0]!r}: {dict(row)!r}") from None
        raw_status = row.get("to_status", default)
        if raw_status is None:
            raise LifecycleError(f"transition_many: no to_status for {seller_id}/{marketplace_id}/{sku}")
        fields = {k: v for k, v in row.items() if k not in _KEY and k != "to_status"}
        _check_fields(fields)
        group = wanted[(seller_id, marketplace_id)]
        if sku in group:
            raise LifecycleError(f"transition_many: {seller_id}/{marketplace_id}/{sku} appears twice")
        group[sku] = (_status(raw_status), fields)

    # read the current state, chunk by chunk (locked on PostgreSQL until the transaction ends)
    current: dict[tuple[str, str, str], tuple[int, ListingStatus, str | None, str | None]] = {}
    for (seller_id, marketplace_id), group in wanted.items():
        skus = list(group)
        for start in range(0, len(skus), CHUNK_SIZE):
            chunk = skus[start : start + CHUNK_SIZE]
            found = session.execute(
                select(Listing.id, Listing.sku, Listing.status, Listing.payload_hash, Listing.submitted_hash)
                .where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    Listing.sku.in_(chunk),
                )
                .with_for_update()
            )
            for listing_id, sku, status, payload_hash, submitted_hash in found:
                current[(seller_id, marketplace_id, sku)] = (
                    listing_id,
                    ListingStatus(status),
                    payload_hash,
                    submitted_hash,
                )

    illegal: list[str] = []
    inserts: list[dict[str, Any]] = []
    insert_events: list[tuple[str | None, str]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    unchanged = 0
    new_columns = sorted(FIELDS | {"status", "payload_changed_at", "updated_at"})
    for (seller_id, marketplace_id), group in wanted.items():
        for sku, (target, fields) in group.items():
            existing = current.get((seller_id, marketplace_id, sku))
            if existing is None:
                if _illegal(None, target):
                    illegal.append(f"{seller_id}/{marketplace_id}/{sku}: {_describe(None, target)}")
                    continue
                values = _changes(None, target, fields, payload_hash=None, submitted_hash=None, now=now)
                # every row gets every column: one homogeneous executemany with RETURNING
                row_values = {column: values.get(column) for column in new_columns}
                row_values.update(seller_id=seller_id, marketplace_id=marketplace_id, sku=sku, created_at=now)
                inserts.append(row_values)
                insert_events.append((None, target.value))
                continue
            listing_id, status, payload_hash, submitted_hash = existing
            if _illegal(status, target):
                illegal.append(f"{seller_id}/{marketplace_id}/{sku}: {_describe(status, target)}")
                continue
            changes = _changes(
                status, target, fields, payload_hash=payload_hash, submitted_hash=submitted_hash, now=now
            )
            if changes:
                updates.append({"id": listing_id, **changes})
            if target == status:
                unchanged += 1
            else:
                events.append(
                    {
                        "listing_id": listing_id,
                        "from_status": status.value,
                        "to_status": target.value,
                        "at": now,
                        "cause": cause,
                        "run_id": run_id,
                    }
                )
    if illegal:
        shown = "; ".join(illegal[:5])
        more = f" (and {len(illegal) - 5} more)" if len(illegal) > 5 else ""
        raise IllegalTransitionError(
            f"{len(illegal)} illegal transition(s) for cause {cause}, nothing written: {shown}{more}"
        )

    for start in range(0, len(inserts), CHUNK_SIZE):
        batch = inserts[start : start + CHUNK_SIZE]
        new_ids = session.scalars(
            insert(Listing).returning(Listing.id, sort_by_parameter_order=True), batch
        ).all()
        for listing_id, (from_status, to) in zip(
            new_ids, insert_events[start : start + CHUNK_SIZE], strict=True
        ):
            events.append(
                {
                    "listing_id": listing_id,
                    "from_status": from_status,
                    "to_status": to,
                    "at": now,
                    "cause": cause,
                    "run_id": run_id,
                }
            )
    if len(inserts) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics, or PostgreSQL plans the next run's SKU lookups for an empty table and
        # filters every row against every SKU of a chunk (measured: 8 s per 5,000-SKU chunk at 50k
        # listings, 0.1 s after ANALYZE). A no-op warning if we do not own the table.
        session.execute(text("ANALYZE listings"))
    for start in range(0, len(updates), CHUNK_SIZE):
        session.execute(update(Listing), updates[start : start + CHUNK_SIZE])
    for start in range(0, len(events), CHUNK_SIZE):
        session.execute(insert(ListingEvent), events[start : start + CHUNK_SIZE])
    return TransitionSummary(created=len(inserts), changed=len(events) - len(inserts), unchanged=unchanged)


def history(session: Session, seller_id: str, marketplace_id: str, sku: str) -> list[ListingEvent]:
    """A listing's events, oldest first (empty if the listing is unknown)."""
    return list(
        session.scalars(
            select(ListingEvent)
            .join(Listing, Listing.id == ListingEvent.listing_id)
            .where(
                Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id, Listing.sku == sku
            )
            .order_by(ListingEvent.id)
        )
    )


# --- dead letters -----------------------------------------------------------------------------------------

D = DeadLetterState

DEAD_LETTER_TRANSITIONS: dict[DeadLetterState | None, frozenset[DeadLetterState]] = {
    None: frozenset({D.OPEN}),
    # replayed: re-driven, waiting for the outcome; resolved: the change got through (or is moot);
    # discarded: a person decided not to send it
    D.OPEN: frozenset({D.REPLAYED, D.RESOLVED, D.DISCARDED}),
    D.REPLAYED: frozenset({D.OPEN, D.RESOLVED, D.DISCARDED}),
    D.RESOLVED: frozenset(),
    D.DISCARDED: frozenset({D.OPEN}),
}


def open_dead_letter(
    session: Session,
    *,
    seller_id: str,
    marketplace_id: str,
    sku: str,
    path: str | PublishPath,
    operation: str,
    reason: str,
    payload: dict[str, Any] | None = None,
    code: str | None = None,
    run_id: str | None = None,
    actor: str | None = None,
) -> DeadLetter:
    """Dead-letter a change; if the listing already has an unfinished letter on this path, reuse it.

    A letter that was ``replayed`` and failed again goes back to ``open`` with ``attempts + 1`` and
    the new reason, so one failing change is one letter with its history.
    """
    publish_path = PublishPath(path)
    actor = actor or run_id or "pipeline"
    now = datetime.now(UTC)
    letter = session.scalars(
        select(DeadLetter)
        .where(
            DeadLetter.seller_id == seller_id,
            DeadLetter.marketplace_id == marketplace_id,
            DeadLetter.sku == sku,
            DeadLetter.path == publish_path.value,
            DeadLetter.state.in_([D.OPEN.value, D.REPLAYED.value]),
        )
        .order_by(DeadLetter.id.desc())
        .limit(1)
        .with_for_update()
    ).one_or_none()
    if letter is None:
        letter = DeadLetter(
            seller_id=seller_id,
            marketplace_id=marketplace_id,
            sku=sku,
            path=publish_path.value,
            operation=operation,
            payload=payload,
            reason=reason,
            code=code,
            state=D.OPEN.value,
            attempts=1,
            run_id=run_id,
            created_at=now,
            updated_at=now,
        )
        session.add(letter)
        session.flush()
        session.add(
            DeadLetterEvent(dead_letter_id=letter.id, to_state=D.OPEN.value, at=now, actor=actor, note=reason)
        )
        session.flush()
        return letter
    letter.attempts += 1
    letter.operation, letter.reason, letter.code, letter.run_id = operation, reason, code, run_id
    if payload is not None:
        letter.payload = payload
    if letter.state != D.OPEN.value:
        move_dead_letter(session, letter, D.OPEN, actor=actor, note=reason)
    letter.updated_at = now
    session.flush()
    return letter


def move_dead_letter(
    session: Session,
    letter: DeadLetter,
    to_state: str | DeadLetterState,
    *,
    actor: str,
    note: str | None = None,
) -> DeadLetterEvent | None:
    """Move a dead letter (``open`` / ``replayed`` / ``resolved`` / ``discarded``) and record who and why.

    :return: the event, or ``None`` if the letter already was in ``to_state``.
    :raises IllegalTransitionError: not in :data:`DEAD_LETTER_TRANSITIONS`.
    """
    target = DeadLetterState(to_state)
    current = DeadLetterState(letter.state)
    if target == current:
        return None
    if target not in DEAD_LETTER_TRANSITIONS[current]:
        allowed = sorted(s.value for s in DEAD_LETTER_TRANSITIONS[current]) or "nothing (final)"
        raise IllegalTransitionError(
            f"dead letter {letter.id} ({letter.seller_id}/{letter.marketplace_id}/{letter.sku}): "
            f"illegal transition {current.value} -> {target.value}; allowed: {allowed}"
        )
    now = datetime.now(UTC)
    letter.state = target.value
    letter.updated_at = now
    event = DeadLetterEvent(
        dead_letter_id=letter.id,
        from_state=current.value,
        to_state=target.value,
        at=now,
        actor=actor,
        note=note,
    )
    session.add(event)
    session.flush()
    return event
