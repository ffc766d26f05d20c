"""The bulk path to Amazon: JSON_LISTINGS_FEED documents built from a branch's plan, their
processing reports applied to the warehouse, and the run's summary.

Submitting and waiting are the ledger's submit operator (:mod:`listings_pipeline.to_amazon.publish`)
and the feed trigger; these are the steps around them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from listings_pipeline.branch import Branch
from listings_pipeline.call_log import branch_trace
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.run_files import BranchPaths, read_jsonl, safe_part
from listings_pipeline.summaries import store_summaries, tally
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import (
    insert_ignoring_conflicts,
    make_engine,
    session_scope,
    warehouse_url,
)
from listings_pipeline.warehouse.models import (
    DeadLetter,
    DeadLetterState,
    FeedSubmission,
    Listing,
    ListingEvent,
    ListingIssue,
    ListingStatus,
    MessageResult,
    PublishAttempt,
)
from spapi.client import trace

log = logging.getLogger(__name__)

L = ListingStatus


# --- build ---------------------------------------------------------------------------------------------


def build(branch: Branch) -> list[dict[str, Any]]:
    """Step 5: JSON_LISTINGS_FEED documents, kept as run artifacts; SKUs move to ``submitted``."""
    from spapi.feed_documents import build_feed_documents

    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    if not branch.get("planned") or branch.get("route") != "feed":
        return []
    documents = build_feed_documents(
        seller_id,
        read_jsonl(paths.planned),
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


# --- parse -----------------------------------------------------------------------------------------------

# Feed report codes that mean "try again later", not "this payload is wrong".
RETRYABLE_REPORT_CODES = frozenset({"4000000", "5000", "5001", "8541"})


def parse(outcome: dict[str, Any]) -> dict[str, Any]:
    """Step 8: read the processing report; write results and issues; move every SKU on.

    Accepted (or warning) messages become ``accepted`` and their hash the accepted one; invalid
    ones become ``invalid`` and are dead-lettered with Amazon's reason; messages the report could
    not settle (feed-level errors, retryable codes) go back to ``ready`` for the next run, and a
    FATAL or CANCELLED feed sends all of its messages back the same way until ``max_feed_attempts``
    is reached, when they are dead-lettered. Nothing is dropped.
    """
    from listings_pipeline.call_log import ApiCallLog
    from spapi import feeds
    from spapi.feed_documents import load_message_index, summarise_report
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
    result: dict[str, Any] = {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "feed_id": feed_id,
        "processing_status": status,
        "messages": len(skus),
    }
    try:
        with session_scope(engine) as session:
            applied = session.scalar(
                select(FeedSubmission.applied_outcome).where(FeedSubmission.feed_id == feed_id)
            )
        if applied is not None:
            # a retried task whose first try committed: applying the report again would move SKUs
            # twice and add its issues twice
            log.warning("feed %s: its outcome was already applied; not applying it again", feed_id)
            return {**result, **applied}
        if status != "DONE":
            result.update(_requeue_all(engine, config, document, feed_id, status, skus))
            return result
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
        report = summarise_report(raw, index)
        result.update(_apply_report(engine, config, document, feed_id, report, report_path))
        return result
    finally:
        calls.flush()
        engine.dispose()


def _issue_rows(issues: list[dict[str, Any]], document: dict[str, Any], feed_id: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
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
            "categories": [],
            "observed_at": now,
            "run_id": document["run_id"],
        }
        for issue in issues
    ]


def _apply_report(
    engine: Any,
    config: PipelineConfig,
    document: dict[str, Any],
    feed_id: str,
    report: Any,
    report_path: Path,
) -> dict[str, Any]:
    seller_id, marketplace_id, run_id = document["seller_id"], document["marketplace_id"], document["run_id"]
    key = {"seller_id": seller_id, "marketplace_id": marketplace_id}
    moves: dict[str, list[dict[str, Any]]] = {"accepted": [], "invalid": [], "ready": [], "deleted": []}
    letters: list[tuple[str, str, str | None]] = []
    retry_reasons: dict[str, tuple[str, str]] = {}
    results = []
    with session_scope(engine) as session:
        operations = {
            row.sku: (row.payload or {}).get("operationType", "UPDATE")
            for row in session.execute(
                select(Listing.sku, Listing.payload).where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    Listing.sku.in_([m["sku"] for m in report.messages]),
                )
            )
        }
    for message in report.messages:
        sku, status = message["sku"], message["status"]
        operation = operations.get(sku, "UPDATE")
        errors = [i for i in message["issues"] if i["severity"] == "ERROR"]
        if status in ("accepted", "warning"):
            moves["deleted" if operation == "DELETE" else "accepted"].append(
                {**key, "sku": sku, "last_submission_id": f"feed:{feed_id}"}
            )
        elif status == "unprocessed" or (errors and all(i["code"] in RETRYABLE_REPORT_CODES for i in errors)):
            moves["ready"].append({**key, "sku": sku})
            retry_reasons[sku] = (
                (errors[0]["code"], f"{errors[0]['code']}: {errors[0]['message']}")
                if errors
                else ("UNPROCESSED", "the report left the message unprocessed")
            )
        else:
            moves["invalid"].append({**key, "sku": sku, "last_submission_id": f"feed:{feed_id}"})
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
    issues = _issue_rows(list(report.issue_rows()), document, feed_id)
    with session_scope(engine) as session:
        earlier = _applied_outcome(session, feed_id)
        if earlier is not None:  # another parse of this feed (a reconcile, a zombie) came first
            return earlier
        # a "try again" that never stops is a silent drop: after max_feed_attempts, a person decides
        tried = _feed_retries(session, seller_id, marketplace_id, list(retry_reasons))
        exhausted = {sku for sku in retry_reasons if tried.get(sku, 0) + 1 >= config.max_feed_attempts}
        if exhausted:
            moves["ready"] = [m for m in moves["ready"] if m["sku"] not in exhausted]
            for sku in sorted(exhausted):
                code, text = retry_reasons[sku]
                letters.append((sku, f"{text} (after {tried.get(sku, 0) + 1} feeds)", code))
        for status, rows in moves.items():
            if rows:
                lifecycle.transition_many(
                    session, rows, cause=f"feed:{feed_id}", run_id=run_id, to_status=status
                )
        for sku, reason, code in letters:
            lifecycle.open_dead_letter(
                session,
                seller_id=seller_id,
                marketplace_id=marketplace_id,
                sku=sku,
                path="feed",
                operation="JSON_LISTINGS_FEED",
                reason=reason,
                code=code,
                run_id=run_id,
            )
        if letters:
            lifecycle.transition_many(
                session,
                [{**key, "sku": sku} for sku, _, _ in letters],
                cause=f"feed:{feed_id}",
                run_id=run_id,
                to_status=L.DEAD_LETTERED,
            )
        _resolve_replayed_letters(
            session,
            seller_id,
            marketplace_id,
            [r["sku"] for r in moves["accepted"] + moves["deleted"]],
            feed_id,
        )
        if results:
            session.execute(
                insert_ignoring_conflicts(session, MessageResult, ["feed_id", "message_id"]), results
            )
        if issues:
            session.execute(insert(ListingIssue), issues)
        applied = {
            "accepted": len(moves["accepted"]) + len(moves["deleted"]),
            "invalid": len(moves["invalid"]),
            "retry": len(moves["ready"]),
            "dead_lettered": len(letters),
            "issues": len(issues),
            "warnings": report.counts.get("warning", 0),
            "mismatches": len(report.mismatches) + len(report.unknown_message_issues),
        }
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
    if report.mismatches or report.unknown_message_issues:
        log.warning(
            "feed %s: report disagrees with the document (%d mismatches, %d issues on unknown messageIds); "
            "kept in listing_issues",
            feed_id,
            len(report.mismatches),
            len(report.unknown_message_issues),
        )
    return applied


def _applied_outcome(session: Any, feed_id: str) -> dict[str, Any] | None:
    """The outcome already applied for ``feed_id``, read under a row lock (PostgreSQL; SQLite writers
    are serialised anyway), so that of two parses of one feed exactly one applies it."""
    applied: dict[str, Any] | None = session.scalar(
        select(FeedSubmission.applied_outcome).where(FeedSubmission.feed_id == feed_id).with_for_update()
    )
    return applied


def _feed_retries(session: Any, seller_id: str, marketplace_id: str, skus: list[str]) -> dict[str, int]:
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


def _resolve_replayed_letters(
    session: Any, seller_id: str, marketplace_id: str, skus: list[str], feed_id: str
) -> None:
    """A feed dead letter that an operator replayed is resolved once its resubmission is accepted."""
    if not skus:
        return
    letters = session.scalars(
        select(DeadLetter).where(
            DeadLetter.seller_id == seller_id,
            DeadLetter.marketplace_id == marketplace_id,
            DeadLetter.path == "feed",
            DeadLetter.state == DeadLetterState.REPLAYED,
            DeadLetter.sku.in_(skus),
        )
    )
    for letter in letters:
        lifecycle.move_dead_letter(session, letter, DeadLetterState.RESOLVED, actor=f"feed:{feed_id}")


def _requeue_all(
    engine: Any, config: PipelineConfig, document: dict[str, Any], feed_id: str, status: str, skus: list[str]
) -> dict[str, Any]:
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
            for sku in skus:
                lifecycle.open_dead_letter(
                    session,
                    seller_id=seller_id,
                    marketplace_id=marketplace_id,
                    sku=sku,
                    path="feed",
                    operation="JSON_LISTINGS_FEED",
                    reason=f"feed {feed_id} ended FATAL {tries} times",
                    code="FATAL",
                    run_id=run_id,
                )
        lifecycle.transition_many(
            session,
            [{**key, "sku": sku} for sku in skus],
            cause=f"feed:{feed_id}:{status.lower()}",
            run_id=run_id,
            to_status=L.DEAD_LETTERED if give_up else L.READY,
        )
        applied = {
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
    parsed: list[dict[str, Any]],
    started_at: datetime | None = None,
    per_sku: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Step 9: one ``run_summaries`` row per seller x marketplace, and the totals for the Asset event.

    :param parsed: the feed route's results (``parse``), per feed.
    :param per_sku: the per-SKU route's results (``apply_per_sku``), per branch; they carry the same
        counts, so a change set small enough for the Listings Items API is summarised like a feed.
    """
    config_path = next((b.get("config_path") for b in branches), None)
    results = [*parsed, *(p for p in per_sku or [] if p.get("messages"))]
    rows = []
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
        reasons = {
            "skipped_reasons": branch.get("skipped_reasons") or None,
            "withheld_reasons": branch.get("deletes_withheld") or None,
        }
        rows.append((branch, counts, reasons))
    return store_summaries(load_config(config_path), run_id, dag_id, rows, started_at)
