"""Dead-letter replay (docs/architecture.md, "The per-SKU path", dead_letter_replay).

An operator picks dead letters by seller, code, SKU or creation date (:class:`ReplayRequest`), and
one of three actions is applied to each, every state change recorded in ``dead_letter_events`` with
the actor ``dead_letter_replay:<run_id>`` and the operator's note:

- ``replay``, by the letter's path:

  - ``listings_api``: the stored change (the letter's ``payload``, a
    :class:`~listings_pipeline.changes.Change`) is re-sent through
    :func:`listings_pipeline.to_amazon.per_sku.apply_batch`. The letter
    is marked ``replayed`` (committed) before the call; if Amazon accepts the change it becomes
    ``resolved``; if it fails again, ``apply_batch`` dead-letters it again and
    :func:`lifecycle.open_dead_letter` reopens *this* letter (``open``, ``attempts + 1``, new reason).
  - ``feed``: the listing goes back to ``ready`` (lifecycle cause ``replay``) and the letter is
    marked ``replayed``; the next ``catalog_feed_sync`` run re-plans ``ready`` listings and resubmits
    them, in a feed or, for a small change set, through the Listings API. Either way Amazon's
    acceptance resolves the letter (:func:`lifecycle.resolve_requeued_letters`) and a new failure
    reopens this same letter. A listing that is already ``ready`` or ``submitted`` only has its
    letter marked ``replayed``; one already ``accepted``/``live`` has its letter ``resolved`` (the
    change got through meanwhile).

- ``discard`` and ``resolve`` only record the state change.

A letter whose move is not allowed (e.g. ``resolve`` a discarded one) is skipped and reported, not
failed. Results hold ids, SKUs, codes and outcomes only: never payloads or credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from listings_pipeline.changes import Change
from listings_pipeline.forms.fields import FieldReader, entries
from listings_pipeline.forms.problems import FormError, FormProblem, problem
from listings_pipeline.forms.skus import check_skus
from listings_pipeline.to_amazon.letters import (
    LetterOutcome,
    LetterResult,
    LetterView,
    OutcomeCounts,
    ReplayBatch,
    ReplayRequestJson,
    ReplayResult,
    ReplaySummary,
    Selection,
)
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.models import (
    DeadLetter,
    DeadLetterEvent,
    DeadLetterState,
    Listing,
    ListingStatus,
    PublishPath,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from listings_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

D = DeadLetterState
L = ListingStatus

Action = Literal["replay", "discard", "resolve"]
MAX_LIMIT = 5000
DEFAULT_LIMIT = 500
DEFAULT_BATCH_SIZE = 20
ACTOR_PREFIX = "dead_letter_replay"
NO_FILTER = (
    "give at least one filter (seller_id, codes, skus, created_after or created_before): "
    "replaying every dead letter at once is refused"
)
OUTCOMES: tuple[LetterOutcome, ...] = (
    "resolved",
    "failed_again",
    "pending",
    "requeued",
    "discarded",
    "skipped",
    "would_replay",
)
FORM = "dead-letter replay"


def _split_list(value: Any) -> list[str]:
    values = entries(value)
    if values is None:
        raise ValueError("give text (one value per line, or separated by commas) or a list")
    return list(dict.fromkeys(item for item in values if item))


def _empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class ReplayRequest(BaseModel):
    """Which dead letters, and what to do with them.

    ``codes`` and ``skus`` take a list or pasted text (one per line, or separated by commas).
    ``created_after`` is inclusive (from that day, 00:00 UTC), ``created_before`` exclusive (before
    that day). ``states`` defaults to ``["open"]``. At least one of seller, codes, SKUs or a date
    must be given: :func:`parse_request` checks that and the dates' order even when a field is
    wrong, so that a form shows all its problems at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    seller_id: str | None = None
    codes: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    created_after: date | None = None
    created_before: date | None = None
    states: tuple[DeadLetterState, ...] = (D.OPEN,)
    action: Action = "replay"
    note: str | None = Field(default=None, max_length=2000)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @field_validator("seller_id", "note", "created_after", "created_before", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("codes", "skus", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> list[str]:
        return _split_list(value)

    @field_validator("states", mode="before")
    @classmethod
    def _states(cls, value: Any) -> Any:
        states = _split_list(value)
        return states or [D.OPEN.value]


def _filter_problems(data: Mapping[str, Any]) -> list[FormProblem]:
    """At least one filter, and dates in order: read from the form itself, so that a wrong field
    does not hide these."""
    read = FieldReader(data)
    after, before = read.day("created_after"), read.day("created_before")
    if not any(read.given(name) for name in ("seller_id", "created_after", "created_before")) and not any(
        v for name in ("codes", "skus") for v in entries(data.get(name)) or ()
    ):
        return [problem("", NO_FILTER)]
    if after and before and before <= after:
        return [problem("created_before", f"{before} must be after created_after ({after})")]
    return []


def parse_request(data: Mapping[str, Any] | ReplayRequest) -> ReplayRequest:
    """``data`` (a form: unknown keys such as ``dry_run`` or ``config_path`` are ignored) as a request.

    :raises FormError: every problem at once, each naming its field.
    """
    if isinstance(data, ReplayRequest):
        return data
    fields = {k: v for k, v in data.items() if k in ReplayRequest.model_fields}
    problems = _filter_problems(fields)
    try:
        request = ReplayRequest.model_validate(fields)
    except ValidationError as err:
        for error in err.errors():
            field = str(error["loc"][0]) if error.get("loc") else ""
            message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
            problems.append(problem(field, message[0].lower() + message[1:] if message else message))
        raise FormError(FORM, problems) from None
    if problems:
        raise FormError(FORM, problems)
    return request


def actor_for(run_id: str) -> str:
    return f"{ACTOR_PREFIX}:{run_id}"[:255]


def select_letters(session: Session, request: ReplayRequest) -> list[DeadLetter]:
    """The dead letters the request picks, oldest first, at most ``request.limit``."""
    query = select(DeadLetter).where(DeadLetter.state.in_([s.value for s in request.states]))
    if request.seller_id:
        query = query.where(DeadLetter.seller_id == request.seller_id)
    if request.codes:
        query = query.where(DeadLetter.code.in_(request.codes))
    if request.skus:
        query = query.where(DeadLetter.sku.in_(request.skus))
    if request.created_after:
        query = query.where(DeadLetter.created_at >= datetime.combine(request.created_after, time(), UTC))
    if request.created_before:
        query = query.where(DeadLetter.created_at < datetime.combine(request.created_before, time(), UTC))
    return list(session.scalars(query.order_by(DeadLetter.id).limit(request.limit)))


def describe(letter: DeadLetter) -> LetterView:
    """A letter for XCom and logs: no payload (it can be large), nothing secret."""
    return {
        "id": letter.id,
        "seller_id": letter.seller_id,
        "marketplace_id": letter.marketplace_id,
        "sku": letter.sku,
        "path": letter.path,
        "operation": letter.operation,
        "code": letter.code,
        "state": letter.state,
        "attempts": letter.attempts,
        "created_at": letter.created_at.isoformat() if letter.created_at else None,
    }


def batches(ids: Sequence[int], size: int = DEFAULT_BATCH_SIZE) -> list[list[int]]:
    if size < 1:
        raise ValueError("size must be at least 1")
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


# --- replay ------------------------------------------------------------------------------------------------


def _last_actor(session: Session, letter_id: int) -> str | None:
    return session.scalar(
        select(DeadLetterEvent.actor)
        .where(DeadLetterEvent.dead_letter_id == letter_id)
        .order_by(DeadLetterEvent.id.desc())
        .limit(1)
    )


def _eligible(session: Session, letter: DeadLetter, request: ReplayRequest, actor: str) -> bool:
    """Still in a selected state, or ``replayed`` by this very run (a retried task picks it up again)."""
    if letter.state in {s.value for s in request.states}:
        return True
    return letter.state == D.REPLAYED and _last_actor(session, letter.id) == actor


def replay_letters(
    letter_ids: Sequence[int],
    request: Mapping[str, Any] | ReplayRequest,
    *,
    run_id: str,
    config_path: str | None = None,
    dry_run: bool = False,
) -> ReplayResult:
    """Apply ``request.action`` to the letters ``letter_ids`` (one mapped task's batch).

    The letters are re-read and re-checked (state still selected) first, so a letter another run
    has handled meanwhile is skipped, and a retried task does not replay twice what it resolved.

    :return: ``letters`` (processed), a count per outcome (:data:`OUTCOMES`) and ``results``: per
        letter its id, SKU, path, code and outcome.
    """
    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url

    parsed = parse_request(request)
    actor = actor_for(run_id)
    config = load_config(config_path)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    results: list[LetterResult] = []
    try:
        with session_scope(engine) as session:
            letters = list(
                session.scalars(
                    select(DeadLetter)
                    .where(DeadLetter.id.in_(list(letter_ids)))
                    .order_by(DeadLetter.id)
                    .with_for_update()
                )
            )
            todo: list[DeadLetter] = []
            for letter in letters:
                if not _eligible(session, letter, parsed, actor):
                    results.append(_result(letter, "skipped", f"now {letter.state}"))
                elif dry_run:
                    results.append(_result(letter, "would_replay", f"would {parsed.action}"))
                else:
                    todo.append(letter)
            if parsed.action in ("discard", "resolve"):
                target = D.DISCARDED if parsed.action == "discard" else D.RESOLVED
                outcome: LetterOutcome = "discarded" if parsed.action == "discard" else "resolved"
                for letter in todo:
                    results.append(_move(session, letter, target, actor, parsed.note, outcome))
                todo = []
            api: list[DeadLetter] = []
            for letter in todo:
                if letter.path == PublishPath.FEED:
                    results.append(_requeue_feed(session, letter, actor, parsed.note, run_id))
                else:
                    api.append(letter)
            api_letters = _prepare_api(session, api, actor, parsed.note, config, results)
        # committed: the letters are ``replayed`` before any call goes out
        for conn_id, group in api_letters.items():
            results.extend(_send(engine, group, conn_id, run_id, actor, config_path))
    finally:
        engine.dispose()
    return {**_counts(results), "results": results}


def _counts(results: Sequence[LetterResult]) -> OutcomeCounts:
    def count(outcome: LetterOutcome) -> int:
        return sum(1 for r in results if r["outcome"] == outcome)

    return {
        "letters": len(results),
        "resolved": count("resolved"),
        "failed_again": count("failed_again"),
        "pending": count("pending"),
        "requeued": count("requeued"),
        "discarded": count("discarded"),
        "skipped": count("skipped"),
        "would_replay": count("would_replay"),
    }


def _result(letter: DeadLetter, outcome: LetterOutcome, detail: str | None = None) -> LetterResult:
    return {
        "id": letter.id,
        "seller_id": letter.seller_id,
        "marketplace_id": letter.marketplace_id,
        "sku": letter.sku,
        "path": letter.path,
        "code": letter.code,
        "outcome": outcome,
        "detail": detail,
        "attempts": letter.attempts,
    }


def _move(
    session: Session,
    letter: DeadLetter,
    target: DeadLetterState,
    actor: str,
    note: str | None,
    outcome: LetterOutcome,
) -> LetterResult:
    try:
        lifecycle.move_dead_letter(session, letter, target, actor=actor, note=note)
    except lifecycle.IllegalTransitionError as err:
        return _result(letter, "skipped", str(err))
    return _result(letter, outcome)


def _requeue_feed(
    session: Session, letter: DeadLetter, actor: str, note: str | None, run_id: str
) -> LetterResult:
    status = session.scalar(
        select(Listing.status).where(
            Listing.seller_id == letter.seller_id,
            Listing.marketplace_id == letter.marketplace_id,
            Listing.sku == letter.sku,
        )
    )
    if status in (L.ACCEPTED, L.LIVE):
        return _move(session, letter, D.RESOLVED, actor, note or f"listing already {status}", "resolved")
    if status in (L.DEAD_LETTERED, L.INVALID):
        lifecycle.transition_many(
            session,
            [{"seller_id": letter.seller_id, "marketplace_id": letter.marketplace_id, "sku": letter.sku}],
            cause="replay",
            run_id=run_id,
            to_status=L.READY,
        )
    elif status not in (L.READY, L.SUBMITTED):
        return _result(letter, "skipped", f"listing is {status or 'unknown'}: nothing to resubmit")
    return _move(session, letter, D.REPLAYED, actor, note or "requeued for the next feed", "requeued")


def _prepare_api(
    session: Session,
    letters: Sequence[DeadLetter],
    actor: str,
    note: str | None,
    config: PipelineConfig,
    results: list[LetterResult],
) -> dict[str, list[tuple[int, Change]]]:
    """Mark the sendable letters ``replayed``; group their changes by SP-API connection."""
    groups: dict[str, list[tuple[int, Change]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for letter in letters:
        key = (letter.seller_id, letter.marketplace_id, letter.sku)
        stored = letter.payload or {}
        if not stored.get("operation") or stored.get("sku") != letter.sku:
            results.append(_result(letter, "skipped", "no stored change to re-send"))
            continue
        if key in seen:
            results.append(_result(letter, "skipped", "another letter of this listing is in this batch"))
            continue
        try:
            conn_id = config.seller(letter.seller_id).spapi_conn_id
        except KeyError as err:
            results.append(_result(letter, "skipped", str(err.args[0])))
            continue
        try:
            lifecycle.move_dead_letter(session, letter, D.REPLAYED, actor=actor, note=note)
        except lifecycle.IllegalTransitionError as err:
            results.append(_result(letter, "skipped", str(err)))
            continue
        seen.add(key)
        # per_sku wrote it, from a Change; a letter is a real change that failed (never a preview)
        change = cast(Change, {**stored, "preview": False})
        groups.setdefault(conn_id, []).append((letter.id, change))
    return groups


def _send(
    engine: Engine,
    group: Sequence[tuple[int, Change]],
    conn_id: str,
    run_id: str,
    actor: str,
    config_path: str | None,
) -> list[LetterResult]:
    """Re-send one connection's changes; resolve the accepted letters, report the others."""
    from listings_pipeline.to_amazon import per_sku
    from listings_pipeline.warehouse.db import session_scope

    answer = per_sku.apply_batch(
        [change for _, change in group], spapi_conn_id=conn_id, run_id=run_id, config_path=config_path
    )
    by_key = {(o["marketplace_id"], o["sku"]): o for o in answer["outcomes"]}
    results = []
    with session_scope(engine) as session:
        for letter_id, change in group:
            letter = session.get(DeadLetter, letter_id, with_for_update=True, populate_existing=True)
            assert letter is not None
            outcome = by_key.get((change["marketplace_id"], change["sku"]))
            status = outcome["status"] if outcome else None
            if outcome and status == "accepted":
                note = f"accepted: {outcome['submission_id'] or 'no submission id'}"
                results.append(_move(session, letter, D.RESOLVED, actor, note, "resolved"))
            elif letter.state == D.OPEN:  # apply_batch dead-lettered it again: open_dead_letter reopened it
                results.append(_result(letter, "failed_again", letter.reason[:500]))
            else:
                results.append(_result(letter, "pending", f"answer {status or 'missing'}"))
    return results


# --- DAG steps ---------------------------------------------------------------------------------------------


def _checked(params: Mapping[str, Any], config: PipelineConfig) -> ReplayRequest:
    """The form's request, its SKUs held to the forms' rules (a SKU the warehouse has listed passes
    as it is: a letter's SKU is one); every problem at once."""
    from listings_pipeline.forms.known import known_listings

    skus = [s for s in entries(params.get("skus")) or () if s]
    seller_id = params.get("seller_id")
    sellers = [seller_id.strip()] if isinstance(seller_id, str) and seller_id.strip() else None
    known = {k["sku"] for k in known_listings(config, skus, sellers)}
    _, problems = check_skus(entries(params.get("skus")) or [], known=known)
    try:
        request = parse_request(params)
    except FormError as err:
        raise FormError(FORM, [*err.problems, *problems]) from None
    if problems:
        raise FormError(FORM, problems)
    return request


def select_step(params: Mapping[str, Any], batch_size: int = DEFAULT_BATCH_SIZE) -> Selection:
    """Step 1: the request checked, the letters picked and cut into batches of ids."""
    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url

    config_path = params.get("config_path") or None
    dry_run = bool(params.get("dry_run", True))
    config = load_config(config_path)
    request = _checked(params, config)
    if not dry_run:  # a replay writes to Amazon: the same gate as every other run
        from listings_pipeline.connections import check_connections

        check_connections(config)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            letters = [describe(letter) for letter in select_letters(session, request)]
    finally:
        engine.dispose()
    for letter in letters:
        log.info(
            "%s dead letter %s: %s/%s/%s %s %s (%s, %d attempts)",
            "would " + request.action if dry_run else request.action,
            letter["id"],
            letter["seller_id"],
            letter["marketplace_id"],
            letter["sku"],
            letter["path"],
            letter["operation"],
            letter["code"],
            letter["attempts"],
        )
    log.info("%d dead letter(s) selected%s", len(letters), " (dry run: nothing changes)" if dry_run else "")
    # pydantic wrote the keys, from the very model ReplayRequestJson mirrors
    request_json = cast(ReplayRequestJson, request.model_dump(mode="json"))
    return {
        "request": request_json,
        "config_path": config_path,
        "dry_run": dry_run,
        "selected": len(letters),
        "letters": letters,
        "batches": [
            {"request": request_json, "config_path": config_path, "dry_run": dry_run, "letter_ids": ids}
            for ids in batches([x["id"] for x in letters], batch_size)
        ],
    }


def replay_step(batch: ReplayBatch, run_id: str) -> ReplayResult:
    """Step 2: :func:`replay_letters` for one batch of :func:`select_step`."""
    return replay_letters(
        batch["letter_ids"],
        batch["request"],
        run_id=run_id,
        config_path=batch.get("config_path"),
        dry_run=bool(batch.get("dry_run", True)),
    )


def summarise(results: Iterable[ReplayResult], dry_run: bool = False) -> ReplaySummary:
    """Step 3: counts per outcome over the batches, and a sentence for the operator."""
    totals: OutcomeCounts = _counts([])
    details: list[LetterResult] = []
    for result in results:
        totals["letters"] += int(result.get("letters", 0))
        for name in OUTCOMES:
            totals[name] += int(result.get(name, 0))
        details.extend(result.get("results", ()))
    for item in details:
        if item["outcome"] in ("failed_again", "skipped", "pending"):
            log.warning(
                "dead letter %s (%s/%s/%s): %s %s",
                item["id"],
                item["seller_id"],
                item["marketplace_id"],
                item["sku"],
                item["outcome"],
                item.get("detail") or "",
            )
    parts = [f"{totals[name]} {name.replace('_', ' ')}" for name in OUTCOMES if totals[name]]
    message = f"{totals['letters']} dead letter(s): " + (", ".join(parts) if parts else "nothing to do") + "."
    if dry_run:
        message += " Dry run: nothing was changed; switch dry run off to apply."
    if totals["requeued"]:
        message += (
            f" {totals['requeued']} feed-path listing(s) are back in 'ready': the next catalog_feed_sync "
            "run resubmits them (a new failure reopens the letter)."
        )
    log.info("%s", message)
    return {**totals, "message": message, "results": details}
