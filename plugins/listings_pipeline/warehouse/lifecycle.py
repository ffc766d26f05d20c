"""Listing lifecycle (and dead-letter) state transitions, each one recorded with its time and cause.

docs/architecture.md, "Listing lifecycle": ``draft`` (seen in the catalog) -> ``quarantined`` | ``ready`` (validated,
changed) -> ``submitted`` (feed or Listings API) -> ``accepted`` | ``invalid`` | ``dead_lettered``;
``accepted`` -> ``live`` once Amazon's own view of the listing (getListingsItem's summary, read by
:mod:`listings_pipeline.to_amazon.amazon_view`) shows it buyable or discoverable, and back when it
no longer does. :data:`TRANSITIONS` is the whole table; anything else raises
:class:`IllegalTransitionError` and writes nothing.

:func:`transition` moves one listing (creating its row on first sight) and writes one
``listing_events`` row; :func:`transition_many` does the same for a whole run (up to a million SKUs)
with a few bulk statements per chunk. A move to the status a listing already has is a no-op: no
event, but the fields given are still written.

Hashes move with the status unless given explicitly: ``-> submitted`` copies ``payload_hash`` to
``submitted_hash``; ``-> accepted`` copies ``submitted_hash`` to ``accepted_hash`` and stamps
``accepted_at``, except for a ``patch``: a patch Amazon accepted changed some attributes on top of
the listing, not the payload it holds, so ``accepted_hash`` stays the payload Amazon last accepted
whole (and a hotfixed listing stays in sync). A changed ``payload_hash`` stamps
``payload_changed_at`` (the backlog's age); ``-> deleted`` means Amazon shows the listing no more,
so ``buyable`` and ``discoverable`` become false.

An event may say who triggered the run (``actor``, the Airflow user), which DAG it was (``dag_id``)
and what the move changed besides the status (``changes``, old and new value per field).

Dead letters have their own small machine (:data:`DEAD_LETTER_TRANSITIONS`), recorded in
``dead_letter_events`` by :func:`open_dead_letter` and :func:`move_dead_letter`.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from listings_pipeline.warehouse.db import (
    bulk_insert,
    bulk_update,
    insert_ignoring_conflicts,
    insert_returning,
    one_of,
)
from listings_pipeline.warehouse.models import (
    UNFINISHED_LETTER,
    UNFINISHED_LETTER_STATES,
    DeadLetter,
    DeadLetterEvent,
    DeadLetterState,
    Listing,
    ListingEvent,
    ListingPayload,
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
    # a new change, a suppression or issue notification, a deletion seen on Amazon; accepted: Amazon
    # still has what it accepted but no longer shows it (neither buyable nor discoverable)
    L.LIVE: frozenset({L.ACCEPTED, L.READY, L.QUARANTINED, L.INVALID, L.DELETED}),
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
        "source_hash",
        "last_submission_id",
        "asin",
        "buyable",
        "discoverable",
        "amazon_checked_at",
    }
)
"""Listing columns a transition may set besides the status (``payload`` goes to :class:`ListingPayload`)."""

_KEY = ("seller_id", "marketplace_id", "sku")
CHUNK_SIZE = 5000  # SKUs per SELECT ... IN (...): well under SQLite's 32,766 bound parameters
# SKUs per locked read on PostgreSQL, where one_of binds one array whatever its length: each read is a
# scan of the branch (or a probe per SKU), and a report's 25,000 SKUs read in five took 5 scans
READ_CHUNK_POSTGRESQL = 50_000
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


_STATUS_OF: dict[str, ListingStatus] = {s.value: s for s in ListingStatus}
"""Each status by its value (a member is its own value too: a StrEnum hashes and compares as one):
a dict lookup, where ``ListingStatus(value)`` is a call through the enum machinery per listing."""

_VALUE_OF: dict[ListingStatus, str] = {s: s.value for s in ListingStatus}
"""Each status's plain string; ``.value`` goes through the enum's descriptor, twice per listing moved."""


def _status(value: str | ListingStatus) -> ListingStatus:
    status = _STATUS_OF.get(value) if isinstance(value, str) else None
    if status is None:
        raise LifecycleError(
            f"unknown listing status {value!r}; expected one of {[s.value for s in ListingStatus]}"
        )
    return status


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
    patch: bool = False,
) -> dict[str, Any]:
    """The column values a move writes: the given fields plus what the move implies."""
    changes = dict(fields)
    new_payload_hash = fields.get("payload_hash", payload_hash)
    if "payload_hash" in fields and fields["payload_hash"] != payload_hash:
        changes["payload_changed_at"] = now
        # a payload from anywhere but a catalog row (a hotfix, a replay) has no source to skip on
        changes.setdefault("source_hash", None)
    if target != current:
        changes["status"] = _VALUE_OF[target]
        if target == L.SUBMITTED and "submitted_hash" not in fields:
            changes["submitted_hash"] = new_payload_hash
        if target == L.ACCEPTED:
            if not patch:
                sent = fields.get("submitted_hash", submitted_hash)
                changes.setdefault("accepted_hash", sent if sent is not None else new_payload_hash)
            changes.setdefault("accepted_at", now)
        if target == L.DELETED:
            changes.setdefault("buyable", False)
            changes.setdefault("discoverable", False)
    if changes:
        changes["updated_at"] = now
    return changes


class _Current(NamedTuple):
    """What a move needs to know of a listing that exists, read under its row lock."""

    listing_id: int
    status: ListingStatus
    payload_hash: str | None
    submitted_hash: str | None


class _EventRow(TypedDict):
    """One ``listing_events`` row, as both the ORM object and the bulk INSERT take it."""

    listing_id: int
    from_status: str | None
    to_status: str
    at: datetime
    cause: str
    run_id: str | None
    actor: str | None
    dag_id: str | None
    changes: dict[str, Any] | None


class _Why(NamedTuple):
    """What every event of one call says about its cause: why, in which run, by whom."""

    cause: str
    run_id: str | None
    actor: str | None = None
    dag_id: str | None = None


def _move(
    current: _Current | None,
    target: ListingStatus,
    fields: Mapping[str, Any],
    now: datetime,
    patch: bool = False,
) -> dict[str, Any]:
    """The columns one listing's move writes: the single rule both :func:`transition` and
    :func:`transition_many` apply, so a bulk run and a single move can never disagree.

    :raises IllegalTransitionError: the move is not in :data:`TRANSITIONS`; the message names the
        move but not the listing, which the caller knows how to name.
    """
    status = current.status if current is not None else None
    if _illegal(status, target):
        raise IllegalTransitionError(_describe(status, target))
    return _changes(
        status,
        target,
        fields,
        payload_hash=current.payload_hash if current is not None else None,
        submitted_hash=current.submitted_hash if current is not None else None,
        now=now,
        patch=patch,
    )


def _event_row(
    listing_id: int,
    from_status: ListingStatus | None,
    target: ListingStatus,
    now: datetime,
    why: _Why,
    changes: dict[str, Any] | None = None,
) -> _EventRow:
    return _EventRow(
        listing_id=listing_id,
        from_status=_VALUE_OF[from_status] if from_status is not None else None,
        to_status=_VALUE_OF[target],
        at=now,
        cause=why.cause,
        run_id=why.run_id,
        actor=why.actor,
        dag_id=why.dag_id,
        changes=changes,
    )


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
    patch: bool = False,
    actor: str | None = None,
    dag_id: str | None = None,
    changes: dict[str, Any] | None = None,
    **fields: Any,
) -> ListingEvent | None:
    """Move one listing to ``to_status`` (creating it if new) and record the event.

    :param cause: why: ``validation``, ``feed:<feedId>``, ``listings_api:<submissionId>``,
        ``notification``, ``replay``, ...
    :param run_id: the Airflow run, if any.
    :param at: when it happened (default: now).
    :param patch: the move settles a patch, not a whole payload (``accepted_hash`` stays).
    :param actor: who triggered the run (the Airflow user), if known; ``dag_id``: its DAG.
    :param changes: what the move changed besides the status, ``{field: {"old": .., "new": ..}}``.
    :param fields: listing columns to set (:data:`FIELDS`).
    :return: the event written, or ``None`` when the listing already had that status.
    :raises IllegalTransitionError: the move is not in :data:`TRANSITIONS`; nothing is written.
    """
    target = _status(to_status)
    _check_fields(fields)
    now = at or datetime.now(UTC)
    why = _Why(cause, run_id, actor, dag_id)
    key = f"listing {seller_id}/{marketplace_id}/{sku}"
    listing = _locked_listing(session, seller_id, marketplace_id, sku)
    if listing is None:
        try:
            values = _move(None, target, fields, now, patch)
        except IllegalTransitionError as err:
            raise IllegalTransitionError(f"{key}: {err} (cause {cause})") from None
        payload = values.pop("payload", _KEEP)
        new_id = session.scalar(
            insert_ignoring_conflicts(session, Listing, list(_KEY))
            .values(seller_id=seller_id, marketplace_id=marketplace_id, sku=sku, created_at=now, **values)
            .returning(Listing.id)
        )
        if new_id is not None:
            _write_payloads(session, {new_id: payload}, fresh=True)
            return _record(session, _event_row(new_id, None, target, now, why, changes))
        # Another transaction created it meanwhile: continue as a move from its status.
        listing = _locked_listing(session, seller_id, marketplace_id, sku)
        assert listing is not None
    current = _Current(listing.id, _status(listing.status), listing.payload_hash, listing.submitted_hash)
    try:
        values = _move(current, target, fields, now, patch)
    except IllegalTransitionError as err:
        raise IllegalTransitionError(f"{key}: {err} (cause {cause})") from None
    if (payload := values.pop("payload", _KEEP)) is not _KEEP:
        _write_payloads(session, {listing.id: payload})
        session.expire(listing, ["stored_payload"])
    for name, value in values.items():
        setattr(listing, name, value)
    if target == current.status:
        session.flush()
        return None
    return _record(session, _event_row(listing.id, current.status, target, now, why, changes))


def _locked_listing(session: Session, seller_id: str, marketplace_id: str, sku: str) -> Listing | None:
    """The listing, locked until the transaction ends so no other move interleaves, and re-read even
    when this session holds it: a move must start from the committed status, not a stale copy."""
    return session.scalars(
        select(Listing)
        .where(Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id, Listing.sku == sku)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _record(session: Session, row: _EventRow) -> ListingEvent:
    event = ListingEvent(**row)
    session.add(event)
    session.flush()
    return event


_Wanted = dict[tuple[str, str], dict[str, tuple[ListingStatus, dict[str, Any], ListingStatus | None]]]
"""(seller, marketplace) -> sku -> (target status, fields, the status it passes through or ``None``):
the batch grouped for keyed lookups."""


@dataclass
class _Batch:
    """Every write a :func:`transition_many` call makes, decided before the first one is made, so one
    illegal move leaves the whole batch unwritten."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    insert_targets: list[ListingStatus] = field(default_factory=list)  # parallel to inserts
    insert_payloads: list[Any] = field(default_factory=list)  # parallel to inserts; _KEEP: none
    updates: list[dict[str, Any]] = field(default_factory=list)
    payloads: dict[int, Any] = field(default_factory=dict)  # listing id -> its new payload (or None)
    events: list[_EventRow] = field(default_factory=list)
    unchanged: int = 0
    illegal: list[str] = field(default_factory=list)


def transition_many(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    cause: str,
    run_id: str | None = None,
    *,
    to_status: str | ListingStatus | None = None,
    at: datetime | None = None,
    patch: bool = False,
    actor: str | None = None,
    dag_id: str | None = None,
) -> TransitionSummary:
    """Move many listings at once: a bulk SELECT, INSERT, UPDATE and event INSERT per chunk.

    Each row has ``seller_id``, ``marketplace_id``, ``sku``, its ``to_status`` (or the
    ``to_status`` argument applies) and any of :data:`FIELDS`; and may name a status the listing
    passes through on the way (``via``: a rejected message's listing goes ``invalid`` and then,
    dead-lettered, ``dead_lettered``), which writes the two events of two moves but the listing's
    row once (its second UPDATE was a tenth of a parse step). Every move is checked before
    anything is written: one illegal move raises :class:`IllegalTransitionError` (naming the first
    few) and the batch writes nothing. ``patch``, ``actor`` and ``dag_id`` as in :func:`transition`,
    for every row.

    The rows are written with Core-level bulk statements: ``Listing`` objects already loaded in this
    session are not refreshed (``session.expire_all()`` if you hold some).
    """
    now = at or datetime.now(UTC)
    wanted = _group(rows, _status(to_status) if to_status is not None else None)
    why = _Why(cause, run_id, actor, dag_id)
    batch = _decide(wanted, _read_current(session, wanted), now, why, patch)
    if batch.illegal:
        shown = "; ".join(batch.illegal[:5])
        more = f" (and {len(batch.illegal) - 5} more)" if len(batch.illegal) > 5 else ""
        raise IllegalTransitionError(
            f"{len(batch.illegal)} illegal transition(s) for cause {cause}, nothing written: {shown}{more}"
        )
    _write_payloads(session, _insert_new(session, batch, now, why), fresh=True)
    _write_payloads(session, batch.payloads)
    bulk_update(session, Listing, batch.updates)
    bulk_insert(session, ListingEvent, batch.events)
    created = len(batch.inserts)
    return TransitionSummary(created=created, changed=len(batch.events) - created, unchanged=batch.unchanged)


def _group(rows: Sequence[Mapping[str, Any]], default: ListingStatus | None) -> _Wanted:
    """Check every row's shape before any is looked up, and group them by branch so each lookup is
    one keyed SELECT; a SKU twice in one batch would make its event order a guess, so it raises."""
    wanted: _Wanted = defaultdict(dict)
    checked: set[tuple[str, ...]] = set()  # the rows' shapes whose field names are known to be allowed
    for row in rows:
        try:
            seller_id, marketplace_id, sku = row["seller_id"], row["marketplace_id"], row["sku"]
        except KeyError as exc:
            raise LifecycleError(f"transition_many: a row has no {exc.args[0]!r}: {dict(row)!r}") from None
        raw_status = row.get("to_status", default)
        if raw_status is None:
            raise LifecycleError(f"transition_many: no to_status for {seller_id}/{marketplace_id}/{sku}")
        fields = {k: v for k, v in row.items() if k not in _KEY and k != "to_status" and k != "via"}
        shape = tuple(fields)
        if shape not in checked:  # a batch's rows mostly share one shape: checked once, not per row
            _check_fields(fields)
            checked.add(shape)
        group = wanted[(seller_id, marketplace_id)]
        if sku in group:
            raise LifecycleError(f"transition_many: {seller_id}/{marketplace_id}/{sku} appears twice")
        via = row.get("via")
        group[sku] = (_status(raw_status), fields, _status(via) if via is not None else None)
    return wanted


def _read_current(session: Session, wanted: _Wanted) -> dict[tuple[str, str, str], _Current]:
    """The listings that exist, chunk by chunk, locked on PostgreSQL until the transaction ends so
    that no other run moves them between this check and the writes."""
    current: dict[tuple[str, str, str], _Current] = {}
    session.flush()  # what the session holds is read too (the Core reads below do not autoflush)
    chunk = READ_CHUNK_POSTGRESQL if session.get_bind().dialect.name == "postgresql" else CHUNK_SIZE
    for (seller_id, marketplace_id), group in wanted.items():
        skus = list(group)
        for start in range(0, len(skus), chunk):
            # Core, not the ORM's result machinery: these are columns, not objects
            found = session.connection().execute(
                select(Listing.id, Listing.sku, Listing.status, Listing.payload_hash, Listing.submitted_hash)
                .where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    one_of(session, Listing.sku, skus[start : start + chunk]),
                )
                .with_for_update()
            )
            # all(): one fetchall, not a fetchone through the result's machinery per listing
            for listing_id, sku, status, payload_hash, submitted_hash in found.all():
                current[(seller_id, marketplace_id, sku)] = _Current(
                    listing_id, _STATUS_OF[status], payload_hash, submitted_hash
                )
    return current


_NEW_COLUMNS = sorted((FIELDS - {"payload"}) | {"status", "payload_changed_at", "updated_at"})


def _decide(
    wanted: _Wanted,
    current: Mapping[tuple[str, str, str], _Current],
    now: datetime,
    why: _Why,
    patch: bool,
) -> _Batch:
    """Each listing's move by the one rule (:func:`_move`), collected as bulk writes; the illegal
    ones are collected too, so the error can name them all at once."""
    batch = _Batch()
    for (seller_id, marketplace_id), group in wanted.items():
        for sku, (target, fields, via) in group.items():
            existing = current.get((seller_id, marketplace_id, sku))
            first: dict[str, Any] = {}  # the columns of the move to ``via``, written with the second's
            try:
                if via is not None:
                    if existing is None:
                        raise IllegalTransitionError(f"a new listing cannot pass through {via.value}")
                    existing, first = _pass_through(batch, existing, via, fields, now, why, patch)
                    fields = {}
                changes = _move(existing, target, fields, now, patch)
            except IllegalTransitionError as err:
                batch.illegal.append(f"{seller_id}/{marketplace_id}/{sku}: {err}")
                continue
            payload = changes.pop("payload", _KEEP)
            if existing is None:
                # every row gets every column: one homogeneous executemany
                row_values = {column: changes.get(column) for column in _NEW_COLUMNS}
                row_values.update(seller_id=seller_id, marketplace_id=marketplace_id, sku=sku, created_at=now)
                batch.inserts.append(row_values)
                batch.insert_targets.append(target)
                batch.insert_payloads.append(payload)
                continue
            if payload is not _KEEP:
                batch.payloads[existing.listing_id] = payload
            if first:
                changes = {**first, **changes}
            if changes:
                batch.updates.append({"id": existing.listing_id, **changes})
            if target == existing.status:
                batch.unchanged += 1
            else:
                batch.events.append(_event_row(existing.listing_id, existing.status, target, now, why))
    return batch


def _pass_through(
    batch: _Batch,
    existing: _Current,
    via: ListingStatus,
    fields: dict[str, Any],
    now: datetime,
    why: _Why,
    patch: bool,
) -> tuple[_Current, dict[str, Any]]:
    """The first of a listing's two moves (to ``via``, with the row's fields), by the one rule: its
    event, and the listing as it then is with the columns that move writes (the second move's
    update carries them)."""
    changes = _move(existing, via, fields, now, patch)
    if (payload := changes.pop("payload", _KEEP)) is not _KEEP:
        batch.payloads[existing.listing_id] = payload
    if via == existing.status:
        batch.unchanged += 1
    else:
        batch.events.append(_event_row(existing.listing_id, existing.status, via, now, why))
    moved = _Current(
        existing.listing_id,
        via,
        changes.get("payload_hash", existing.payload_hash),
        changes.get("submitted_hash", existing.submitted_hash),
    )
    return moved, changes


def _insert_new(session: Session, batch: _Batch, now: datetime, why: _Why) -> dict[int, Any]:
    """Insert the new listings and add their first events, which need the listings' ids; returns
    the new listings' payloads by id, which need them too.

    The ids are read back by key rather than returned by the INSERT: RETURNING in parameter order
    makes SQLite insert one row per statement, and keeps PostgreSQL from using COPY.
    """
    bulk_insert(session, Listing, batch.inserts)
    by_branch: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in batch.inserts:
        by_branch[(row["seller_id"], row["marketplace_id"])].append(row["sku"])
    new_ids: dict[tuple[str, str, str], int] = {}
    for (seller_id, marketplace_id), skus in by_branch.items():
        for start in range(0, len(skus), CHUNK_SIZE):
            found = session.execute(
                select(Listing.sku, Listing.id).where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    one_of(session, Listing.sku, skus[start : start + CHUNK_SIZE]),
                )
            )
            new_ids.update({(seller_id, marketplace_id, sku): listing_id for sku, listing_id in found})
    payloads: dict[int, Any] = {}
    for row, target, payload in zip(batch.inserts, batch.insert_targets, batch.insert_payloads, strict=True):
        listing_id = new_ids[(row["seller_id"], row["marketplace_id"], row["sku"])]
        batch.events.append(_event_row(listing_id, None, target, now, why))
        payloads[listing_id] = payload
    if len(batch.inserts) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics, or PostgreSQL plans the next run's SKU lookups for an empty table and
        # filters every row against every SKU of a chunk (measured: 8 s per 5,000-SKU chunk at 50k
        # listings, 0.1 s after ANALYZE). A no-op warning if we do not own the table.
        session.execute(text("ANALYZE listings"))
    return payloads


_KEEP: Any = object()
"""A move that leaves the listing's payload as it is (``payload=None`` clears it)."""


def _write_payloads(session: Session, payloads: Mapping[int, Any], *, fresh: bool = False) -> None:
    """Each listing's new payload into :class:`ListingPayload`: the old row goes, the new one comes
    (none for ``None``); ``_KEEP`` leaves a listing's as it is. ``fresh``: the listings were just
    created, so they have no row to remove."""
    changed = {listing_id: p for listing_id, p in payloads.items() if p is not _KEEP}
    if not changed:
        return
    if not fresh:
        ids = list(changed)
        for start in range(0, len(ids), CHUNK_SIZE):
            session.execute(
                delete(ListingPayload)
                .where(one_of(session, ListingPayload.listing_id, ids[start : start + CHUNK_SIZE]))
                .execution_options(synchronize_session=False)
            )
    bulk_insert(
        session,
        ListingPayload,
        [{"listing_id": listing_id, "payload": p} for listing_id, p in changed.items() if p is not None],
    )


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


class NewLetter(TypedDict):
    """One change to dead-letter (see :func:`open_dead_letters`)."""

    sku: str
    reason: str
    code: str | None


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
    """Dead-letter one change (see :func:`open_dead_letters`); returns its letter."""
    (letter_id,) = open_dead_letters(
        session,
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        path=path,
        operation=operation,
        letters=[NewLetter(sku=sku, reason=reason, code=code)],
        payload=payload,
        run_id=run_id,
        actor=actor,
    )
    letter = session.get(DeadLetter, letter_id)
    assert letter is not None
    return letter


def open_dead_letters(
    session: Session,
    *,
    seller_id: str,
    marketplace_id: str,
    path: str | PublishPath,
    operation: str,
    letters: Sequence[NewLetter],
    payload: dict[str, Any] | None = None,
    run_id: str | None = None,
    actor: str | None = None,
) -> list[int]:
    """Dead-letter changes of one branch and path; a listing that already has an unfinished
    (``open`` or ``replayed``) letter reuses it, whichever path and operation it failed by before.
    Returns the letters' ids, in the order given.

    A listing has one status, and a replay moves it; so it has at most one unfinished letter, and a
    failure after a replay is the replay's outcome, whichever way it was sent: a feed letter's
    listing goes back to ``ready`` and the next sync may send a small change set through the
    Listings API. The reused letter goes back to ``open`` with ``attempts + 1`` and takes the new
    failure's reason, code, path, operation and change (what a replay must send next); each failure
    is an event with its reason and time (``open -> open`` when it was open already), so the letter
    keeps its history. New letters are written with one bulk INSERT (a report may reject thousands
    of messages); reused ones, rare, one by one.

    "At most one" is the database's rule (the partial unique index ``uq_dead_letters_unfinished``),
    not only this function's: the INSERT skips a listing whose unfinished letter another transaction
    wrote after the look-up (``ON CONFLICT DO NOTHING`` on that index; PostgreSQL waits for that
    transaction first), and such a letter is then reopened like one found by the look-up.
    """
    publish_path = PublishPath(path)
    actor = actor or run_id or "pipeline"
    now = datetime.now(UTC)
    firsts: list[NewLetter] = []
    again: list[NewLetter] = []
    first_skus: set[str] = set()
    for letter in letters:
        (again if letter["sku"] in first_skus else firsts).append(letter)
        first_skus.add(letter["sku"])
    if again:  # a SKU twice: its second letter reopens the first, as two calls would
        same_branch = functools.partial(
            open_dead_letters,
            session,
            seller_id=seller_id,
            marketplace_id=marketplace_id,
            path=path,
            operation=operation,
            payload=payload,
            run_id=run_id,
            actor=actor,
        )
        by_sku = dict(zip((f["sku"] for f in firsts), same_branch(letters=firsts), strict=True))
        same_branch(letters=again)
        return [by_sku[letter["sku"]] for letter in letters]
    existing = _unfinished_letters(session, seller_id, marketplace_id, [letter["sku"] for letter in letters])
    ids: dict[str, int] = {}
    fresh = [letter for letter in letters if letter["sku"] not in existing]
    if fresh:
        inserted: dict[str, int] = {
            sku: letter_id
            for letter_id, sku in insert_returning(
                session,
                DeadLetter,
                [
                    {
                        "seller_id": seller_id,
                        "marketplace_id": marketplace_id,
                        "sku": letter["sku"],
                        "path": publish_path.value,
                        "operation": operation,
                        "payload": payload,
                        "reason": letter["reason"],
                        "code": letter["code"],
                        "state": D.OPEN.value,
                        "attempts": 1,
                        "run_id": run_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for letter in fresh
                ],
                ["id", "sku"],
                ignore_conflicts_on=list(_KEY),
                index_where=UNFINISHED_LETTER,
            )
        }
        bulk_insert(
            session,
            DeadLetterEvent,
            [
                {
                    "dead_letter_id": inserted[letter["sku"]],
                    "to_state": D.OPEN.value,
                    "at": now,
                    "actor": actor,
                    "note": letter["reason"],
                }
                for letter in fresh
                if letter["sku"] in inserted
            ],
        )
        ids.update(inserted)
        # written by another transaction since the look-up: reopened below, as if found by it
        raced = [letter["sku"] for letter in fresh if letter["sku"] not in inserted]
        existing.update(_unfinished_letters(session, seller_id, marketplace_id, raced))
        gone = [letter for letter in fresh if letter["sku"] not in inserted and letter["sku"] not in existing]
        if gone:  # ... and finished by it before we could look again: a letter of their own after all
            again_ids = open_dead_letters(
                session, seller_id=seller_id, marketplace_id=marketplace_id, path=path,
                operation=operation, letters=gone, payload=payload, run_id=run_id, actor=actor,
            )  # fmt: skip
            ids.update(zip((letter["sku"] for letter in gone), again_ids, strict=True))
    for letter in letters:
        reopened = existing.get(letter["sku"])
        if reopened is None:
            continue
        reopened.attempts += 1
        reopened.path, reopened.operation, reopened.payload = publish_path.value, operation, payload
        reopened.reason, reopened.code, reopened.run_id = letter["reason"], letter["code"], run_id
        if reopened.state == D.OPEN.value:
            session.add(_failed_again(reopened, actor, letter["reason"], now))
        else:
            move_dead_letter(session, reopened, D.OPEN, actor=actor, note=letter["reason"])
        reopened.updated_at = now
        ids[letter["sku"]] = reopened.id
    session.flush()
    return [ids[letter["sku"]] for letter in letters]


def _unfinished_letters(
    session: Session, seller_id: str, marketplace_id: str, skus: Sequence[str]
) -> dict[str, DeadLetter]:
    """The listings' unfinished letters by SKU, locked for this transaction (FOR UPDATE)."""
    found: dict[str, DeadLetter] = {}
    wanted = sorted(set(skus))
    for start in range(0, len(wanted), CHUNK_SIZE):
        for letter in session.scalars(
            select(DeadLetter)
            .where(
                DeadLetter.seller_id == seller_id,
                DeadLetter.marketplace_id == marketplace_id,
                DeadLetter.sku.in_(wanted[start : start + CHUNK_SIZE]),
                DeadLetter.state.in_([state.value for state in UNFINISHED_LETTER_STATES]),
            )
            .order_by(DeadLetter.id)
            .with_for_update()
        ):
            found[letter.sku] = letter  # one per listing (the index); before it, the newest
    return found


def resolve_requeued_letters(
    session: Session, *, seller_id: str, marketplace_id: str, accepted: Mapping[str, str]
) -> int:
    """Resolve the feed letters a replay requeued whose listing's catalog change Amazon has now
    accepted, by whichever route the sync sent it (a feed, or the Listings API for a small change
    set). ``accepted`` maps each accepted SKU to who accepted it (``feed:<feedId>``,
    ``listings_api:<submissionId>``), the resolving event's actor. Returns how many were resolved.

    Only ``replayed`` feed letters wait for a sync; a replayed Listings API letter is re-sent, and
    resolved, by the replay itself.
    """
    if not accepted:
        return 0
    # the branch's requeued letters are few, a report's SKUs many: ask for the few, match here
    letters = session.scalars(
        select(DeadLetter).where(
            DeadLetter.seller_id == seller_id,
            DeadLetter.marketplace_id == marketplace_id,
            DeadLetter.path == PublishPath.FEED.value,
            DeadLetter.state == D.REPLAYED.value,
        )
    ).all()
    resolved = 0
    for letter in letters:
        if letter.sku in accepted:
            move_dead_letter(session, letter, D.RESOLVED, actor=accepted[letter.sku])
            resolved += 1
    return resolved


def _failed_again(letter: DeadLetter, actor: str, reason: str, now: datetime) -> DeadLetterEvent:
    """An open letter's new failure: no state change, but an event, so its history has every error."""
    open_ = D.OPEN.value
    return DeadLetterEvent(
        dead_letter_id=letter.id, from_state=open_, to_state=open_, at=now, actor=actor, note=reason
    )


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
