"""The bulk path to Amazon: JSON_LISTINGS_FEED documents built from a branch's plan, their
processing reports applied to the warehouse, and the run's summary.

Submitting and waiting are the ledger's submit operator (:mod:`listings_pipeline.to_amazon.publish`)
and the feed trigger; these are the steps around them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

from sqlalchemy import func, select, update

from listings_pipeline.branch import Branch, SentCounts
from listings_pipeline.call_log import branch_trace
from listings_pipeline.changes import BranchSent, ListingKey
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.from_amazon.processing_signals import wake_check_for
from listings_pipeline.gc_pause import collector_paused
from listings_pipeline.run_files import BranchPaths, safe_part
from listings_pipeline.run_totals import RunTotals
from listings_pipeline.summaries import SummaryReasons, store_summaries, tally
from listings_pipeline.to_amazon import amazon_view
from listings_pipeline.to_amazon.feed_outcomes import (
    AppliedOutcome,
    DocumentRef,
    FeedOutcome,
    FeedResult,
    SubmitKwargs,
)
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import (
    bulk_insert,
    make_engine,
    one_of,
    session_scope,
    warehouse_url,
)
from listings_pipeline.warehouse.lifecycle import NewLetter
from listings_pipeline.warehouse.models import (
    FeedSubmission,
    Listing,
    ListingEvent,
    ListingIssue,
    ListingPayload,
    ListingStatus,
    MessageResult,
    PublishAttempt,
)
from spapi.client import trace

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.feed_documents import IssueRow, MessageIndex, ReportOutcome, SortedJson

log = logging.getLogger(__name__)

L = ListingStatus


# --- build ---------------------------------------------------------------------------------------------


def build(branch: Branch) -> list[SubmitKwargs]:
    """Step 5: JSON_LISTINGS_FEED documents, kept as run artifacts; SKUs move to ``submitted``."""
    with collector_paused():  # a million messages' dicts and rows, none in a cycle (see gc_pause)
        return _build(branch)


def _build(branch: Branch) -> list[SubmitKwargs]:
    from spapi.feed_documents import build_feed_documents

    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    if not branch.get("planned") or branch.get("route") != "feed":
        return []
    documents = build_feed_documents(
        seller_id,
        _planned_lines(paths.planned),
        paths.documents,
        issue_locale=config.issue_locale,
        name_prefix="feed",
    )
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            for document in documents:
                skus = document.message_index().skus
                lifecycle.transition_many(
                    session,
                    [
                        {
                            "seller_id": seller_id,
                            "marketplace_id": marketplace_id,
                            "sku": sku,
                            "to_status": L.SUBMITTED,
                        }
                        for sku in skus
                    ],
                    cause=f"feed_document:{document.sha256[:16]}",
                    run_id=run_id,
                )
    finally:
        engine.dispose()
    # One dict per document: the submit operator's keyword arguments (expand_kwargs); ``document``
    # comes back with the feed's outcome for the parse step.
    return [
        {
            "document_path": str(document.path),
            "marketplace_ids": [marketplace_id],
            "spapi_conn_id": branch["spapi_conn_id"],
            "seller_id": seller_id,
            "message_count": document.message_count,
            "poll_interval": config.feed_poll_seconds,
            "wait_timeout": timedelta(hours=config.feed_wait_hours),
            "wake_check": wake_check_for(config),
            "document": {
                "seller_id": seller_id,
                "marketplace_id": marketplace_id,
                "spapi_conn_id": branch["spapi_conn_id"],
                "config_path": branch.get("config_path"),
                "run_id": run_id,
                "document_path": str(document.path),
                "document_hash": document.sha256,
                "index_path": str(document.index_path),
                "message_count": document.message_count,
            },
        }
        for document in documents
    ]


def _planned_lines(path: Path) -> Iterator[SortedJson]:
    """The planned messages as the lines they are: every line of ``planned.jsonl`` was written by
    ``orjson.dumps`` with sorted keys (``write_messages``, ``write_jsonl``, or copied from them by
    plan), which is what lets the builder write a line without serialising it again. Blank lines
    are skipped as :func:`~listings_pipeline.run_files.read_jsonl` skips them."""
    from spapi.feed_documents import SortedJson

    with path.open("rb") as handle:
        for line in handle:
            if not line.isspace():
                yield SortedJson(line.rstrip(b"\r\n"))


# --- parse -----------------------------------------------------------------------------------------------

# Feed report codes that mean "try again later", not "this payload is wrong".
RETRYABLE_REPORT_CODES = frozenset({"4000000", "5000", "5001", "8541"})


def parse(outcome: FeedOutcome) -> FeedResult:
    """Step 8: read the processing report; write results and issues; move every SKU on.

    Accepted (or warning) messages become ``accepted`` and their hash the accepted one; invalid
    ones become ``invalid`` and are dead-lettered with Amazon's reason; messages the report could
    not settle (feed-level errors, retryable codes) go back to ``ready`` for the next run, and a
    FATAL or CANCELLED feed sends all of its messages back the same way until ``max_feed_attempts``
    is reached, when they are dead-lettered. Nothing is dropped.
    """
    from listings_pipeline.call_log import ApiCallLog
    from spapi import feeds
    from spapi.feed_documents import load_message_index
    from spapi.hooks import SpApiHook

    document = outcome["document"]
    config = load_config(document.get("config_path"))
    seller_id, marketplace_id, run_id = document["seller_id"], document["marketplace_id"], document["run_id"]
    feed_id = outcome["feed_id"]
    status = outcome["processing_status"]
    index = load_message_index(document["index_path"])
    skus = index.skus
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    calls = ApiCallLog(engine, run_id)
    try:
        with session_scope(engine) as session:
            applied = cast(
                AppliedOutcome | None,
                session.scalar(
                    select(FeedSubmission.applied_outcome).where(FeedSubmission.feed_id == feed_id)
                ),
            )
        if applied is not None:
            # a retried task whose first try committed: applying the report again would move SKUs
            # twice and add its issues twice
            log.warning("feed %s: its outcome was already applied; not applying it again", feed_id)
            return _feed_result(seller_id, marketplace_id, feed_id, status, len(skus), applied)
        if status != "DONE":
            applied = _requeue_all(engine, config, document, feed_id, status, skus)
            return _feed_result(seller_id, marketplace_id, feed_id, status, len(skus), applied)
        paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
        with (
            SpApiHook(document["spapi_conn_id"]).get_client(on_call=calls) as client,
            trace(branch_trace(run_id, seller_id, marketplace_id)),
        ):
            # A reconciled feed (see reconcile) comes without its report's id: ask Amazon again.
            result_document_id = (
                outcome.get("result_document_id")
                or client.call(feeds.get_feed(feed_id)).result_feed_document_id
            )
            if not result_document_id:
                raise RuntimeError(f"feed {feed_id} is DONE but Amazon names no processing report")
            doc = client.call(feeds.get_feed_document(result_document_id))
            raw = client.call(feeds.download_feed_document(doc))
        paths.reports.mkdir(parents=True, exist_ok=True)
        report_path = paths.reports / f"{safe_part(feed_id)}.json"
        report_path.write_bytes(raw)
        applied = apply_processing_report(engine, config, document, feed_id, raw, report_path, index)
        # Amazon has processed the feed: what it shows now of the listings it accepted (live)
        amazon_view.observe_branch(
            document["spapi_conn_id"],
            engine,
            seller_id,
            marketplace_id,
            limit=config.listing_reads_per_branch,
            run_id=run_id,
            issue_locale=config.issue_locale,
        )
        return _feed_result(seller_id, marketplace_id, feed_id, status, len(skus), applied)
    finally:
        calls.flush()
        engine.dispose()


def apply_processing_report(
    engine: Engine,
    config: PipelineConfig,
    document: DocumentRef,
    feed_id: str,
    raw: bytes,
    report_path: Path,
    index: MessageIndex | None = None,
) -> AppliedOutcome:
    """What the parse step does once it holds the report: read it against the document's index
    (``index``, or read from the document's sidecar) and apply it
    (``benchmarks/bench_report_parse.py`` times exactly this)."""
    from spapi.feed_documents import load_message_index, summarise_report

    with collector_paused():  # a few hundred thousand short-lived, acyclic objects (see gc_pause)
        report = summarise_report(
            raw, index if index is not None else load_message_index(document["index_path"])
        )
        return _apply_report(engine, config, document, feed_id, report, report_path)


def _feed_result(
    seller_id: str, marketplace_id: str, feed_id: str, status: str, messages: int, applied: AppliedOutcome
) -> FeedResult:
    return {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "feed_id": feed_id,
        "processing_status": status,
        "messages": messages,
        **applied,
    }


class _IssueInsert(TypedDict):
    """A ``listing_issues`` row of a processing report's issue."""

    source: str
    seller_id: str
    marketplace_id: str
    sku: str | None
    feed_id: str
    message_id: int | None
    code: str | None
    severity: str
    message: str
    attribute_names: list[str]
    categories: list[str]
    observed_at: datetime
    run_id: str


def _issue_rows(issues: list[IssueRow], document: DocumentRef, feed_id: str) -> list[_IssueInsert]:
    now = datetime.now(UTC)
    # one list for every row (a report's issues have no categories): a JSON value shared by every
    # row is serialised once by the bulk insert, not 9,000 times
    no_categories: list[str] = []
    return [
        {
            "source": "feed",
            "seller_id": document["seller_id"],
            "marketplace_id": document["marketplace_id"],
            "sku": issue["sku"],
            "feed_id": feed_id,
            "message_id": issue["message_id"],
            "code": issue["code"],
            "severity": issue["severity"],
            "message": issue["message"],
            "attribute_names": issue["attribute_names"],
            "categories": no_categories,
            "observed_at": now,
            "run_id": document["run_id"],
        }
        for issue in issues
    ]


class _Move(ListingKey):
    """A listing the report moves on; ``last_submission_id`` once Amazon judged its message."""

    last_submission_id: NotRequired[str]


class _MessageRow(TypedDict):
    """A ``message_results`` row."""

    feed_id: str
    message_id: int
    sku: str
    operation_type: str
    status: str


@dataclass(frozen=True)
class _Verdicts:
    """Where a report sends each of its SKUs, decided before anything is written.

    ``moves``: listings by the status they go to (``accepted``, ``invalid``, ``ready``, ``deleted``);
    ``letters``: (SKU, reason, code) to dead-letter; ``retry_reasons``: for each SKU sent back to
    ``ready``, the (code, reason) its letter gets should it have been tried too often.
    """

    moves: dict[str, list[_Move]]
    letters: list[tuple[str, str, str | None]]
    retry_reasons: dict[str, tuple[str | None, str]]
    results: list[_MessageRow]


def _apply_report(
    engine: Engine,
    config: PipelineConfig,
    document: DocumentRef,
    feed_id: str,
    report: ReportOutcome,
    report_path: Path,
) -> AppliedOutcome:
    """Apply one report exactly once: whoever locks the feed's row first writes, a second parse (a
    reconcile, a zombie) returns what the first applied."""
    seller_id, marketplace_id, run_id = document["seller_id"], document["marketplace_id"], document["run_id"]
    operations = _stored_operations(engine, seller_id, marketplace_id, [m["sku"] for m in report.messages])
    verdicts = _judge_messages(report, operations, seller_id, marketplace_id, feed_id)
    issues = _issue_rows(list(report.issue_rows()), document, feed_id)
    with session_scope(engine) as session:
        earlier = _applied_outcome(session, feed_id)
        if earlier is not None:  # another parse of this feed (a reconcile, a zombie) came first
            return earlier
        verdicts = _give_up_on_exhausted(session, config, verdicts, seller_id, marketplace_id)
        _move_listings(session, verdicts, seller_id, marketplace_id, feed_id, run_id)
        # no ON CONFLICT: the feed's lock and its unset outcome say no parse wrote its results yet
        # (a straight COPY; the conflict check through a temporary table was a fifth of the step)
        bulk_insert(session, MessageResult, verdicts.results)
        bulk_insert(session, ListingIssue, issues)
        applied: AppliedOutcome = {
            "accepted": len(verdicts.moves["accepted"]) + len(verdicts.moves["deleted"]),
            "invalid": len(verdicts.moves["invalid"]),
            "retry": len(verdicts.moves["ready"]),
            "dead_lettered": len(verdicts.letters),
            "issues": len(issues),
            "warnings": report.counts.get("warning", 0),
            "mismatches": len(report.mismatches) + len(report.unknown_message_issues),
        }
        _record_report(session, feed_id, report, report_path, applied)
    if report.mismatches or report.unknown_message_issues:
        log.warning(
            "feed %s: report disagrees with the document (%d mismatches, %d issues on unknown messageIds); "
            "kept in listing_issues",
            feed_id,
            len(report.mismatches),
            len(report.unknown_message_issues),
        )
    return applied


def _stored_operations(
    engine: Engine, seller_id: str, marketplace_id: str, skus: list[str]
) -> dict[str, str]:
    """Each SKU's planned operation other than ``UPDATE`` (``PATCH``, ``DELETE``; a SKU not named
    is an ``UPDATE``): an accepted DELETE ends in ``deleted``, not ``accepted``. Only those few come
    back: fetching an ``UPDATE`` for each of a report's 25,000 SKUs took longer than the lookup."""
    operation = ListingPayload.payload["operationType"].as_string()  # not the whole payload: 25k of them
    with session_scope(engine) as session:
        return {
            sku: op
            for sku, op in session.execute(
                select(Listing.sku, operation)
                .join(ListingPayload, ListingPayload.listing_id == Listing.id)
                .where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    one_of(session, Listing.sku, skus),
                    operation != "UPDATE",
                )
            )
            if op  # an empty operationType counted as an UPDATE, as a missing one does
        }


def _judge_messages(
    report: ReportOutcome, operations: dict[str, str], seller_id: str, marketplace_id: str, feed_id: str
) -> _Verdicts:
    """Accepted and warned messages are accepted; retryable or unprocessed ones go back to ``ready``;
    the rest are invalid, with Amazon's first error as the letter's reason."""
    moves: dict[str, list[_Move]] = {"accepted": [], "invalid": [], "ready": [], "deleted": []}
    letters: list[tuple[str, str, str | None]] = []
    retry_reasons: dict[str, tuple[str | None, str]] = {}
    results: list[_MessageRow] = []
    submission = f"feed:{feed_id}"  # one string for every listing: the bulk update binds it once
    for message in report.messages:
        sku, status = message["sku"], message["status"]
        operation = operations.get(sku, "UPDATE")
        errors = [i for i in message["issues"] if i["severity"] == "ERROR"]
        judged: _Move = {
            "seller_id": seller_id,
            "marketplace_id": marketplace_id,
            "sku": sku,
            "last_submission_id": submission,
        }
        if status in ("accepted", "warning"):
            moves["deleted" if operation == "DELETE" else "accepted"].append(judged)
        elif status == "unprocessed" or (errors and all(i["code"] in RETRYABLE_REPORT_CODES for i in errors)):
            moves["ready"].append({"seller_id": seller_id, "marketplace_id": marketplace_id, "sku": sku})
            retry_reasons[sku] = (
                (errors[0]["code"], f"{errors[0]['code']}: {errors[0]['message']}")
                if errors
                else ("UNPROCESSED", "the report left the message unprocessed")
            )
        else:
            moves["invalid"].append(judged)
            code = errors[0]["code"] if errors else None
            text = errors[0]["message"] if errors else "rejected without an error message"
            letters.append((sku, f"{code}: {text}" if code else text, code))
        results.append(
            {
                "feed_id": feed_id,
                "message_id": message["message_id"],
                "sku": sku,
                "operation_type": operation,
                "status": status,
            }
        )
    return _Verdicts(moves, letters, retry_reasons, results)


def _give_up_on_exhausted(
    session: Session, config: PipelineConfig, verdicts: _Verdicts, seller_id: str, marketplace_id: str
) -> _Verdicts:
    """A "try again" that never stops is a silent drop: after ``max_feed_attempts`` feeds that sent
    a SKU back, it is dead-lettered instead, for a person to decide."""
    tried = _feed_retries(session, seller_id, marketplace_id, list(verdicts.retry_reasons))
    exhausted = {sku for sku in verdicts.retry_reasons if tried.get(sku, 0) + 1 >= config.max_feed_attempts}
    if not exhausted:
        return verdicts
    letters = list(verdicts.letters)
    for sku in sorted(exhausted):
        code, text = verdicts.retry_reasons[sku]
        letters.append((sku, f"{text} (after {tried.get(sku, 0) + 1} feeds)", code))
    ready = [m for m in verdicts.moves["ready"] if m["sku"] not in exhausted]
    return replace(verdicts, moves={**verdicts.moves, "ready": ready}, letters=letters)


def _move_listings(
    session: Session, verdicts: _Verdicts, seller_id: str, marketplace_id: str, feed_id: str, run_id: str
) -> None:
    """Every SKU to its status, the failed ones through a dead letter; a replayed letter whose
    resubmission got through is resolved.

    One move per listing: a rejected message's listing goes ``invalid`` and on to
    ``dead_lettered`` in the same move (both events, one update of its row), a SKU given up after
    too many feeds straight to ``dead_lettered``."""
    lettered = {sku for sku, _, _ in verdicts.letters}
    rows: list[dict[str, object]] = []
    for status, moves in verdicts.moves.items():
        for move in moves:
            if move["sku"] in lettered:
                rows.append({**move, "via": status, "to_status": L.DEAD_LETTERED})
            else:
                rows.append({**move, "to_status": status})
    moved = {row["sku"] for row in rows}
    rows.extend(
        {"seller_id": seller_id, "marketplace_id": marketplace_id, "sku": sku, "to_status": L.DEAD_LETTERED}
        for sku, _, _ in verdicts.letters
        if sku not in moved
    )
    _open_feed_letters(
        session,
        seller_id,
        marketplace_id,
        [{"sku": sku, "reason": reason, "code": code} for sku, reason, code in verdicts.letters],
        run_id,
    )
    if rows:
        lifecycle.transition_many(session, rows, cause=f"feed:{feed_id}", run_id=run_id)
    lifecycle.resolve_requeued_letters(
        session,
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        accepted={
            r["sku"]: f"feed:{feed_id}" for r in verdicts.moves["accepted"] + verdicts.moves["deleted"]
        },
    )


def _record_report(
    session: Session, feed_id: str, report: ReportOutcome, report_path: Path, applied: AppliedOutcome
) -> None:
    """The ledger learns where the report is, Amazon's own counts, and what was applied (so that
    the feed's outcome is never applied twice)."""
    session.execute(
        update(FeedSubmission)
        .where(FeedSubmission.feed_id == feed_id)
        .values(
            report_path=str(report_path),
            messages_processed=report.summary["messages_processed"],
            messages_accepted=report.summary["messages_accepted"],
            messages_invalid=report.summary["messages_invalid"],
            errors=report.summary["errors"],
            warnings=report.summary["warnings"],
            applied_outcome=applied,
        )
    )


def _applied_outcome(session: Session, feed_id: str) -> AppliedOutcome | None:
    """The outcome already applied for ``feed_id``, read under a row lock (PostgreSQL; SQLite writers
    are serialised anyway), so that of two parses of one feed exactly one applies it."""
    applied = session.scalar(
        select(FeedSubmission.applied_outcome).where(FeedSubmission.feed_id == feed_id).with_for_update()
    )
    return cast(AppliedOutcome | None, applied)  # only parse writes the column, from an AppliedOutcome


def _feed_retries(session: Session, seller_id: str, marketplace_id: str, skus: list[str]) -> dict[str, int]:
    """How many feeds already sent each SKU back to ``ready`` since its payload last changed."""
    if not skus:
        return {}
    since = func.coalesce(Listing.payload_changed_at, Listing.created_at)
    rows = session.execute(
        select(Listing.sku, func.count(ListingEvent.id))
        .join(ListingEvent, ListingEvent.listing_id == Listing.id)
        .where(
            Listing.seller_id == seller_id,
            Listing.marketplace_id == marketplace_id,
            Listing.sku.in_(skus),
            ListingEvent.from_status == L.SUBMITTED,
            ListingEvent.to_status == L.READY,
            ListingEvent.cause.startswith("feed:"),
            ListingEvent.at >= since,
        )
        .group_by(Listing.sku)
    )
    return {sku: int(n) for sku, n in rows}


def _open_feed_letters(
    session: Session, seller_id: str, marketplace_id: str, letters: list[NewLetter], run_id: str
) -> None:
    """Dead letters for messages of a JSON_LISTINGS_FEED (a report's rejections, a feed given up)."""
    lifecycle.open_dead_letters(
        session,
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        path="feed",
        operation="JSON_LISTINGS_FEED",
        letters=letters,
        run_id=run_id,
    )


def _requeue_all(
    engine: Engine, config: PipelineConfig, document: DocumentRef, feed_id: str, status: str, skus: list[str]
) -> AppliedOutcome:
    """A FATAL or CANCELLED feed: its messages go round again, or to dead letters after N tries."""
    seller_id, marketplace_id, run_id = document["seller_id"], document["marketplace_id"], document["run_id"]
    key = {"seller_id": seller_id, "marketplace_id": marketplace_id}
    with session_scope(engine) as session:
        earlier = _applied_outcome(session, feed_id)
        if earlier is not None:  # another parse of this feed came first
            return earlier
        tries = session.scalar(
            select(func.count())
            .select_from(FeedSubmission)
            .join(PublishAttempt, PublishAttempt.id == FeedSubmission.attempt_id)
            .where(PublishAttempt.document_hash == document["document_hash"])
        )
        give_up = status == "FATAL" and (tries or 0) >= config.max_feed_attempts
        if give_up:
            reason = f"feed {feed_id} ended FATAL {tries} times"
            letters: list[NewLetter] = [{"sku": sku, "reason": reason, "code": "FATAL"} for sku in skus]
            _open_feed_letters(session, seller_id, marketplace_id, letters, run_id)
        lifecycle.transition_many(
            session,
            [{**key, "sku": sku} for sku in skus],
            cause=f"feed:{feed_id}:{status.lower()}",
            run_id=run_id,
            to_status=L.DEAD_LETTERED if give_up else L.READY,
        )
        applied: AppliedOutcome = {
            "accepted": 0,
            "invalid": 0,
            "retry": 0 if give_up else len(skus),
            "dead_lettered": len(skus) if give_up else 0,
        }
        session.execute(
            update(FeedSubmission).where(FeedSubmission.feed_id == feed_id).values(applied_outcome=applied)
        )
    return applied


# --- summary ---------------------------------------------------------------------------------------------


def summarise(
    run_id: str,
    dag_id: str,
    branches: list[Branch],
    parsed: list[FeedResult],
    started_at: datetime | None = None,
    per_sku: list[BranchSent] | None = None,
) -> RunTotals:
    """Step 9: one ``run_summaries`` row per seller x marketplace, and the totals for the Asset event.

    :param parsed: the feed route's results (``parse``), per feed.
    :param per_sku: the per-SKU route's results (``apply_per_sku``), per branch; they carry the same
        counts, so a change set small enough for the Listings Items API is summarised like a feed.
    """
    config_path = next((b.get("config_path") for b in branches), None)
    results: list[SentCounts] = [*parsed, *(p for p in per_sku or [] if p.get("messages"))]
    rows: list[tuple[Branch, dict[str, int], SummaryReasons]] = []
    for branch in branches:
        plan_counts = branch.get("plan_counts")
        counts = {
            "extracted": branch.get("extracted", branch.get("catalog_rows", 0)),
            "quarantined": branch.get("quarantined", 0),
            "planned": branch.get("planned", 0),
            "deleted": plan_counts["deleted"] if plan_counts else 0,
            "unchanged": plan_counts["unchanged"] if plan_counts else 0,
            "skipped": plan_counts["skipped"] if plan_counts else 0,
            "deletes_withheld": sum((branch.get("deletes_withheld") or {}).values()),
            **tally(results, branch["seller_id"], branch["marketplace_id"]),
        }
        unaccounted = (
            counts["extracted"]
            - counts["quarantined"]
            - (counts["planned"] - counts["deleted"])
            - counts["unchanged"]
            - counts["skipped"]
        )
        if unaccounted:  # a bug, not bad data: say so loudly, but keep the figures
            log.error(
                "%s/%s: %d extracted rows are not accounted for (extracted %d, quarantined %d, planned %d, "
                "deleted %d, unchanged %d, skipped %d)",
                branch["seller_id"],
                branch["marketplace_id"],
                unaccounted,
                counts["extracted"],
                counts["quarantined"],
                counts["planned"],
                counts["deleted"],
                counts["unchanged"],
                counts["skipped"],
            )
        reasons: SummaryReasons = {
            "skipped_reasons": branch.get("skipped_reasons") or None,
            "withheld_reasons": branch.get("deletes_withheld") or None,
        }
        rows.append((branch, counts, reasons))
    return store_summaries(load_config(config_path), run_id, dag_id, rows, started_at)
