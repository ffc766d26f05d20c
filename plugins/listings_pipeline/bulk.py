"""The bulk path's steps (docs/architecture.md, "The bulk path"), one function per DAG task.

Each function takes and returns a :class:`~listings_pipeline.branch.Branch` (it travels between
tasks as XCom and holds no secret), reads its inputs from and writes its outputs to run-scoped files under
``<var_dir>/runs/<run_id>/<seller>/<marketplace>/``, and records what it did in the warehouse. The
DAG file only wires them together.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from listings_pipeline.branch import Branch, PlanCounts, PlanKind
from listings_pipeline.call_log import branch_trace
from listings_pipeline.config import REPO_ROOT, PipelineConfig, load_config
from listings_pipeline.extract import safe_part
from listings_pipeline.routing import route
from listings_pipeline.run_files import BranchPaths, payload_hash, read_jsonl, write_jsonl
from listings_pipeline.summaries import store_summaries, tally
from listings_pipeline.warehouse import ledger, lifecycle
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
    Quarantine,
)
from listings_pipeline.warehouse.records import ensure_seller
from spapi.client import trace

log = logging.getLogger(__name__)

L = ListingStatus

# --- targets and extract ----------------------------------------------------------------------------


def targets(
    config_path: str | None = None,
    only_sellers: list[str] | None = None,
    *,
    confirm_deletes: bool = False,
) -> list[Branch]:
    """One branch per seller and marketplace; ``only_sellers`` narrows a manual run.

    Several sellers may share one catalog file; a row that belongs to none of their branches (its
    marketplace is empty, unknown or served by nobody, or it cannot be read at all) must still be
    quarantined, and only once: the run's first branch reading that catalog claims such rows.
    ``confirm_deletes`` is an operator's confirmation, on a manual run, of deletions above the
    mass-delete guard.
    """
    config = load_config(config_path)
    branches = [
        Branch(
            seller_id=t["seller_id"],
            marketplace_id=t["marketplace_id"],
            spapi_conn_id=t["spapi_conn_id"],
            region=t["region"],
            config_path=config_path,
        )
        for t in config.targets()
    ]
    if only_sellers:
        unknown = set(only_sellers) - {t["seller_id"] for t in branches}
        if unknown:
            raise ValueError(f"sellers {sorted(unknown)} are not in the pipeline config")
        branches = [t for t in branches if t["seller_id"] in only_sellers]
    from listings_pipeline.connections import check_connections

    # before anything is read or sent: every connection usable and of the config's environment
    check_connections(config, [t["spapi_conn_id"] for t in branches])
    claimed: list[Any] = []
    for branch in branches:
        catalog = config.seller(branch["seller_id"]).catalog
        branch["claims_defects"] = catalog not in claimed
        if catalog not in claimed:
            claimed.append(catalog)
        branch["confirm_deletes"] = confirm_deletes
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            for seller in config.sellers:
                ensure_seller(
                    session, seller.seller_id, region=seller.region, spapi_conn_id=seller.spapi_conn_id
                )
    finally:
        engine.dispose()
    return branches


def extract(branch: Branch, run_id: str) -> Branch:
    """Step 1: the seller's catalog, this marketplace's rows, as a run-scoped Parquet snapshot.

    A row is this branch's only when it names this marketplace (and seller, where the catalog has
    that column): an empty cell never means "all". Rows that belong to no configured branch, or
    that cannot be read, are quarantined here by the branch that claims them (see :func:`targets`).
    """
    from listings_pipeline.extract import CatalogScope, CatalogSource, extract_snapshot

    config = load_config(branch.get("config_path"))
    seller = config.seller(branch["seller_id"])
    paths = BranchPaths.of(config, run_id, seller.seller_id, branch["marketplace_id"])
    scope = CatalogScope(
        seller_id=seller.seller_id,
        marketplace_id=branch["marketplace_id"],
        served=config.catalog_sharers(seller.seller_id),
        claims_defects=bool(branch.get("claims_defects", True)),
        all_marketplaces=seller.catalog_all_marketplaces,
    )
    snapshot = extract_snapshot(
        CatalogSource.parse(seller.catalog),
        paths.snapshots,
        seller_id=seller.seller_id,
        marketplace_id=branch["marketplace_id"],
        run_id=run_id,
        scope=scope,
    )
    branch = {**branch, "run_id": run_id, "snapshot": snapshot.model_dump(mode="json")}
    rules: dict[str, int] = {}
    if snapshot.rejected_rows and snapshot.rejected_path:
        rejected = list(read_jsonl(Path(snapshot.rejected_path)))
        for record in rejected:
            rules[record["rule"]] = rules.get(record["rule"], 0) + 1
        engine = make_engine(warehouse_url(config.warehouse_conn_id))
        try:
            _quarantine(engine, branch, rejected, "extract")
        finally:
            engine.dispose()
    return {
        **branch,
        "extracted": snapshot.row_count + snapshot.rejected_rows,
        "quarantined": snapshot.rejected_rows,
        "extract_rules": rules,
    }


# --- validate and map ---------------------------------------------------------------------------------


def _quarantine(engine: Any, branch: Branch, records: Sequence[Mapping[str, Any]], stage: str) -> None:
    """Write quarantine rows (and matching validation issues); move the SKUs to ``quarantined``.

    A SKU in flight (``submitted``) keeps its status: its feed's outcome decides, and the
    quarantine row tells the operator that the catalog row has gone bad meanwhile. Rows, not SKUs,
    are what the stages count (a row may fail several rules, or have no SKU), so each stage counts
    its own failing rows; the distinct SKUs are counted from this table when the run is summarised.
    """
    if not records:
        return
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    now = datetime.now(UTC)
    rows = [
        {
            "seller_id": seller_id,
            "marketplace_id": marketplace_id,
            "sku": r.get("sku"),
            "product_type": r.get("product_type"),
            "column_name": r.get("column_name"),
            "value": None if r.get("value") is None else str(r["value"])[:2000],
            "rule": r["rule"],
            "reason": r.get("reason"),
            "source_file": r.get("source_file"),
            "source_line": r.get("source_line"),
            "run_id": run_id,
        }
        for r in records
    ]
    issues = [
        {
            "source": "validation",
            "seller_id": seller_id,
            "marketplace_id": marketplace_id,
            "sku": r["sku"],
            "code": r["rule"][:100],
            "severity": "ERROR",
            "message": f"{stage}: {r['reason'] or r['rule']}",
            "attribute_names": [r["column_name"]] if r["column_name"] else [],
            "categories": [],
            "observed_at": now,
            "run_id": run_id,
        }
        for r in rows
        if r["sku"]  # a listing issue belongs to a SKU; a SKU-less row is in quarantine only
    ]
    skus = sorted({r["sku"] for r in rows if r["sku"]})
    with session_scope(engine) as session:
        session.execute(insert(Quarantine), rows)
        session.execute(insert(ListingIssue), issues)
        current = {
            sku: status
            for sku, status in session.execute(
                select(Listing.sku, Listing.status).where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    Listing.sku.in_(skus),
                )
            )
        }
        movable = [sku for sku in skus if current.get(sku) not in (L.SUBMITTED, L.QUARANTINED)]
        lifecycle.transition_many(
            session,
            [{"seller_id": seller_id, "marketplace_id": marketplace_id, "sku": sku} for sku in movable],
            cause=stage,
            run_id=run_id,
            to_status=L.QUARANTINED,
        )


def validate(branch: Branch) -> Branch:
    """Step 2: Great Expectations on the snapshot; bad rows to ``quarantine``; fail past the threshold."""
    import pandas as pd  # type: ignore[import-untyped]

    from listings_pipeline.mapping import load_mappings
    from listings_pipeline.validation import check_threshold, load_policy, validate_frame

    config = load_config(branch.get("config_path"))
    paths = BranchPaths.of(config, branch["run_id"], branch["seller_id"], branch["marketplace_id"])
    frame = pd.read_parquet(branch["snapshot"]["path"])
    outcome = validate_frame(
        frame,
        load_mappings(config.mappings_dir),
        load_policy(config.content_policy),
        data_docs_dir=paths.data_docs,
    )
    paths.root.mkdir(parents=True, exist_ok=True)
    outcome.good.to_parquet(paths.good_rows, index=False)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        _quarantine(engine, branch, outcome.quarantined, "validation")
    finally:
        engine.dispose()
    # Quarantined rows are recorded first, so a run that stops here still says why. Rows the
    # extract could not read or place count against the threshold too: one bad record must not
    # block a catalog, but a catalog of bad records must not go through.
    check_threshold(outcome, config.max_failing_share, unreadable=branch.get("extract_rules") or {})
    return {
        **branch,
        "catalog_rows": len(frame),
        "quarantined": branch.get("quarantined", 0) + outcome.failing_rows,
        "data_docs": str(outcome.data_docs_index) if outcome.data_docs_index else None,
        "rule_counts": dict(outcome.rule_counts),
    }


def _product_type_schemas(config: PipelineConfig, branch: Branch, product_types: set[str]) -> Any:
    """Schemas for ``product_types``, fetched through the PTD API (cached by checksum); the shipped
    copies in ``product_types_dir`` stand in for any the API cannot give."""
    from listings_pipeline.call_log import ApiCallLog
    from listings_pipeline.schema_cache import fetch_schema
    from spapi.errors import SpApiError
    from spapi.hooks import SpApiHook
    from spapi.product_types import ProductTypeSchemas

    cache = config.var_dir / "product_types"
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    calls = ApiCallLog(engine, branch["run_id"])
    try:
        with (
            SpApiHook(branch["spapi_conn_id"]).get_client(on_call=calls) as client,
            trace(branch_trace(branch["run_id"], branch["seller_id"], branch["marketplace_id"])),
        ):
            for product_type in sorted(product_types):
                try:
                    fetch_schema(
                        client, product_type, branch["marketplace_id"], cache, seller_id=branch["seller_id"]
                    )
                except SpApiError as err:
                    log.warning(
                        "no %s schema from the API (%s); using the shipped copy if any", product_type, err
                    )
    finally:
        calls.flush()
        engine.dispose()
    meta = cache / "meta-schema.json"
    if not meta.exists():
        meta = REPO_ROOT / "include" / "spapi-models" / "schemas" / "definitions" / "meta-schema.json"
    return ProductTypeSchemas(meta, [cache / branch["marketplace_id"], config.product_types_dir])


def map_messages(branch: Branch) -> Branch:
    """Step 3: rows to JSON_LISTINGS_FEED messages, each checked against its product type's schema."""
    import pandas as pd

    from listings_pipeline.mapping import load_mappings
    from listings_pipeline.transform import map_rows

    config = load_config(branch.get("config_path"))
    paths = BranchPaths.of(config, branch["run_id"], branch["seller_id"], branch["marketplace_id"])
    frame = pd.read_parquet(paths.good_rows)
    product_types = set(frame["product_type"].dropna().str.upper()) if "product_type" in frame else set()
    schemas = _product_type_schemas(config, branch, product_types)
    result = map_rows(
        frame.to_dict("records"),
        load_mappings(config.mappings_dir),
        branch["marketplace_id"],
        schemas=schemas,
    )
    count = write_jsonl(paths.messages, result.messages)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        _quarantine(engine, branch, result.quarantined, "product_type_schema")
    finally:
        engine.dispose()
    return {
        **branch,
        "messages": count,
        "quarantined": branch.get("quarantined", 0) + len(result.rejected_skus),
    }


# --- plan ----------------------------------------------------------------------------------------------


_FEED_STATES = {"DONE": "done", "FATAL": "fatal", "CANCELLED": "cancelled"}


def reconcile(branch: Branch) -> list[dict[str, Any]]:
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
    from listings_pipeline.stale_feeds import document_skus

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
    ledger. A feed of this very run counts only once it ended before ``settled_before``."""
    from spapi import feeds
    from spapi.hooks import SpApiHook

    ended: dict[int, str] = {}
    with SpApiHook(branch["spapi_conn_id"]).get_client(on_call=calls) as client:
        for feed in waiting:
            answer = client.call(feeds.get_feed(feed.feed_id))
            end = answer.processing_end_time
            own = feed.run_id == branch["run_id"]
            if answer.is_terminal and (not own or end is None or end < settled_before):
                ended[feed.attempt_id] = str(answer.processing_status)
    with session_scope(engine) as session:
        for attempt_id, amazon_status in ended.items():
            ledger.advance(session, session.get_one(PublishAttempt, attempt_id), _FEED_STATES[amazon_status])
    return ended


def _adopt_orphan_feeds(engine: Any, calls: Any, branch: Branch, since: datetime) -> None:
    """Find the feeds that other runs' submits created but died before recording (ledger at
    ``uploaded``, no feed id, SKUs still held by the document), so that reconcile can apply them
    now instead of their SKUs waiting ``feed_wait_hours`` for a resend to stumble on them."""
    from listings_pipeline.stale_feeds import (
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


class MassDeleteError(RuntimeError):
    """A branch would delete more listings than the guard allows and nobody confirmed it."""


#: Why a catalog row was not sent although it passed every check (``run_summaries.skipped_reasons``).
SKIP_IN_FLIGHT = "in_flight"  # the same payload is with Amazon and its outcome is not known yet
SKIP_REJECTED = "rejected_by_amazon"  # Amazon rejected exactly this payload: it needs a change
SKIP_DEAD_LETTERED = "dead_lettered"  # waiting for an operator's replay
SKIP_STALE_FEED = "stale_feed_held"  # an older feed of it may still be applied (see stale_feeds)

#: Why a SKU missing from this branch's rows was not deleted (``run_summaries.deletes_withheld``).
KEEP_CATALOG_NOT_CLEAN = "catalog_not_clean"  # some rows could not be read or placed
KEEP_CATALOG_EMPTY = "catalog_empty"
KEEP_STILL_IN_CATALOG = "still_in_catalog"  # quarantined here, or listed for another marketplace
KEEP_IN_FLIGHT = "in_flight"  # a document for it is with Amazon; deleted once its outcome is known


def _seller_skus(snapshot: Mapping[str, Any]) -> set[str]:
    """Every SKU the seller's catalog holds in any row, readable or not, for any marketplace."""
    path = snapshot.get("seller_skus_path")
    return _read_lines(Path(path)) if path else set()


def settle(branch: Branch) -> Branch:
    """Step 4a: settle what earlier runs left with Amazon before anything new is planned.

    Feeds older than ``feed_wait_hours`` first (:mod:`stale_feeds`: cancelled while ``IN_QUEUE``,
    held while ``IN_PROGRESS``; one Amazon ended meanwhile is recorded), then every feed that ended
    without its outcome reaching the warehouse (:func:`reconcile`). The SKUs that must not be sent
    in this run go to the branch's ``held.txt``, which :func:`plan` reads.
    """
    from listings_pipeline.stale_feeds import settle_stale_feeds

    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        stale = settle_stale_feeds(config, seller_id, marketplace_id, branch["spapi_conn_id"], run_id, engine)
    finally:
        engine.dispose()
    for feed_id, why in stale.reasons().items():
        log.warning("%s/%s: stale feed %s %s", seller_id, marketplace_id, feed_id, why)
    reconciled = reconcile(branch)
    settled = {r["feed_id"] for r in reconciled}
    hold = set(stale.hold) - {sku for f in stale.feeds if f.feed_id in settled for sku in f.skus}
    paths.root.mkdir(parents=True, exist_ok=True)
    tmp = paths.held.with_name(f".{paths.held.name}.tmp")
    tmp.write_text("".join(f"{sku}\n" for sku in sorted(hold)), encoding="utf-8")
    tmp.replace(paths.held)
    return {**branch, "reconciled_feeds": sorted(settled), "held": len(hold)}


def _read_lines(path: Path) -> set[str]:
    """A run file of one SKU per line; empty when the file is not there."""
    try:
        with path.open(encoding="utf-8") as handle:
            return {line.rstrip("\n") for line in handle if line.strip()}
    except FileNotFoundError:
        return set()


def plan(branch: Branch) -> Branch:
    """Step 4: only new, changed and (if enabled) removed SKUs go on.

    :func:`settle` runs first (its ``held.txt`` names the SKUs an older feed may still change).
    A SKU is sent when it is new, when its canonical payload differs from the one last planned, or
    when it is not known to be on Amazon as it is (``ready`` after a retryable failure, back in the
    catalog after a quarantine or a deletion). It is skipped, with the reason counted, while it is
    ``submitted`` (in flight: even a changed payload waits, so documents for one SKU are applied in
    order; one whose feed outlived the feed wait is settled first, see :mod:`stale_feeds`), or when
    the same payload is ``invalid`` or ``dead_lettered`` (Amazon rejected exactly this: it needs a
    change or a replay).

    Deletion is the one change that cannot be taken back by the next run, so it is held to a
    stricter standard: a SKU is deleted only when the catalog was read completely and cleanly and
    the SKU is in none of the seller's rows (a quarantined row, or a row for another marketplace,
    keeps it), and a branch that would delete more than ``max_deletes`` SKUs or
    ``max_delete_share`` of its listings stops with :class:`MassDeleteError` unless an operator
    confirmed it on a manual run.
    """
    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    hold = _read_lines(paths.held)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    stale_before = datetime.now(UTC) - timedelta(hours=config.feed_wait_hours)
    counts = Counter[PlanKind]()
    skipped: dict[str, int] = {}
    withheld: dict[str, int] = {}
    try:
        with session_scope(engine) as session:
            existing = {
                row.sku: row
                for row in session.execute(
                    select(
                        Listing.sku,
                        Listing.status,
                        Listing.payload_hash,
                        Listing.accepted_hash,
                        Listing.updated_at,
                    ).where(Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id)
                )
            }
        ready_rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for message in read_jsonl(paths.messages):
            sku = message["sku"]
            seen.add(sku)
            digest = payload_hash(message)
            kind, reason = _classify(existing.get(sku), digest, sku in hold, stale_before)
            counts[kind] += 1
            if reason is not None:
                skipped[reason] = skipped.get(reason, 0) + 1
            if kind in ("unchanged", "skipped"):
                continue
            ready_rows.append(
                {
                    "seller_id": seller_id,
                    "marketplace_id": marketplace_id,
                    "sku": sku,
                    "to_status": L.READY,
                    "product_type": message.get("productType"),
                    "payload": message,
                    "payload_hash": digest,
                }
            )
        deletions: list[str] = []
        if config.delete_removed:
            deletions, withheld = _deletions(existing, seen, hold, branch)
            listed = sum(1 for row in existing.values() if row.accepted_hash and row.status != L.DELETED)
            _guard_deletes(config, branch, len(deletions), listed)
        for sku in deletions:
            message = {"sku": sku, "operationType": "DELETE"}
            counts["deleted"] += 1
            ready_rows.append(
                {
                    "seller_id": seller_id,
                    "marketplace_id": marketplace_id,
                    "sku": sku,
                    "to_status": L.READY,
                    "payload": message,
                    "payload_hash": payload_hash(message),
                }
            )
        total = write_jsonl(paths.planned, (row["payload"] for row in ready_rows))
        with session_scope(engine) as session:
            lifecycle.transition_many(session, ready_rows, cause="plan", run_id=run_id)
    finally:
        engine.dispose()
    if withheld:
        log.warning(
            "%s/%s: %d deletion(s) withheld: %s",
            seller_id,
            marketplace_id,
            sum(withheld.values()),
            ", ".join(f"{reason} {n}" for reason, n in sorted(withheld.items())),
        )
    return {
        **branch,
        "planned": total,
        "plan_counts": PlanCounts(
            new=counts["new"],
            changed=counts["changed"],
            retry=counts["retry"],
            unchanged=counts["unchanged"],
            skipped=counts["skipped"],
            deleted=counts["deleted"],
        ),
        "skipped_reasons": skipped,
        "deletes_withheld": withheld,
        "route": route(total, config.per_sku_threshold),
    }


def _classify(row: Any, digest: str, held: bool, stale_before: datetime) -> tuple[PlanKind, str | None]:
    """What plan does with one message, given its listing's row (None: never seen), and why it is
    skipped when it is (see :func:`plan`)."""
    if held:  # not even a changed payload: it could land before the old one
        return "skipped", SKIP_STALE_FEED
    if row is None:
        return "new", None
    if row.status == L.SUBMITTED:
        # A change waits for the outcome of the one in flight, so two documents for one SKU are
        # never with Amazon at once. In flight for longer than any feed takes and in no stale
        # feed: its outcome was lost, send it again.
        lost = row.updated_at is not None and row.updated_at < stale_before
        return ("retry", None) if lost else ("skipped", SKIP_IN_FLIGHT)
    if digest != row.payload_hash:
        return "changed", None
    if row.status in (L.ACCEPTED, L.LIVE) and digest == row.accepted_hash:
        return "unchanged", None
    if row.status == L.INVALID:
        return "skipped", SKIP_REJECTED
    if row.status == L.DEAD_LETTERED:
        return "skipped", SKIP_DEAD_LETTERED
    return "retry", None  # ready, quarantined, deleted, draft: not on Amazon as it is now


def _deletions(
    existing: Mapping[str, Any], seen: set[str], hold: set[str], branch: Branch
) -> tuple[list[str], dict[str, int]]:
    """The SKUs to delete, and the deletions withheld by reason (see :func:`plan`)."""
    withheld: dict[str, int] = {}
    gone = sorted(
        sku
        for sku, row in existing.items()
        if sku not in seen
        and row.status not in (L.DELETED, L.DRAFT)
        and not (row.status == L.QUARANTINED and row.accepted_hash is None)
    )
    # a document for it is with Amazon: a DELETE now could be applied before it
    busy = {sku for sku in gone if sku in hold or existing[sku].status == L.SUBMITTED}
    if busy:
        withheld[KEEP_IN_FLIGHT] = len(busy)
        gone = [sku for sku in gone if sku not in busy]
    if not gone:
        return [], withheld
    snapshot = branch.get("snapshot") or {}
    if not snapshot.get("clean", False):
        return [], {**withheld, KEEP_CATALOG_NOT_CLEAN: len(gone)}
    if not branch.get("catalog_rows"):
        return [], {**withheld, KEEP_CATALOG_EMPTY: len(gone)}
    in_catalog = _seller_skus(snapshot)
    deletions = [sku for sku in gone if sku not in in_catalog]
    if len(deletions) < len(gone):
        withheld[KEEP_STILL_IN_CATALOG] = len(gone) - len(deletions)
    return deletions, withheld


def _guard_deletes(config: PipelineConfig, branch: Branch, deletions: int, listed: int) -> None:
    """Stop a branch that would delete more than the configured limits, unless confirmed.

    A catalog export that lost half its rows looks exactly like a seller retiring half the range;
    only a person can tell them apart, so above the limits the run asks one.
    """
    share = deletions / listed if listed else 0.0
    over_count = deletions > config.max_deletes
    over_share = deletions > 0 and share > config.max_delete_share
    if not (over_count or over_share) or branch.get("confirm_deletes"):
        if over_count or over_share:
            log.warning("%d deletions above the guard, confirmed by the operator", deletions)
        return
    raise MassDeleteError(
        f"seller {branch['seller_id']}, marketplace {branch['marketplace_id']}: the catalog no longer holds "
        f"{deletions} of {listed} listed SKUs ({share:.1%}); deleting them is above the guard "
        f"(max_deletes {config.max_deletes}, max_delete_share {config.max_delete_share:.0%}). Nothing was "
        "sent for this branch. If the deletion is intended, trigger a manual run with "
        "'Confirm mass deletion' checked; otherwise fix the catalog."
    )


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


# --- the per-SKU route ----------------------------------------------------------------------------------


def apply_per_sku(branch: Branch) -> dict[str, Any]:
    """Step 6-8 for a small change set: each planned message through the Listings Items API.

    UPDATE messages become ``putListingsItem`` calls carrying the planned message as their payload
    (so its hash becomes the accepted one, exactly as a feed would make it), DELETE messages
    ``deleteListingsItem``. Results, issues and dead letters land in the same tables as a feed's.
    """
    from listings_pipeline import per_sku

    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    result: dict[str, Any] = {"seller_id": seller_id, "marketplace_id": marketplace_id, "feed_id": None}
    if branch.get("route") != "listings_api":
        return {**result, "messages": 0}
    config = load_config(branch.get("config_path"))
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    changes = []
    for message in read_jsonl(paths.planned):
        change = {
            "seller_id": seller_id,
            "marketplace_id": marketplace_id,
            "sku": message["sku"],
            "preview": False,
            "product_type": message.get("productType"),
            "body": None,
            "payload": None,
        }
        if message["operationType"] == "DELETE":
            change.update(action="delete", operation="deleteListingsItem")
        else:
            body = {k: message[k] for k in ("productType", "requirements", "attributes") if k in message}
            change.update(action="put_from_catalog", operation="putListingsItem", body=body, payload=message)
        changes.append(change)
    totals: dict[str, int] = {}
    for batch in per_sku.batches(changes):
        counts = per_sku.apply_batch(
            batch, spapi_conn_id=branch["spapi_conn_id"], run_id=run_id, config_path=branch.get("config_path")
        )
        for name in ("accepted", "invalid", "dead_lettered", "failed", "issues"):
            totals[name] = totals.get(name, 0) + int(counts.get(name, 0))
    return {**result, "messages": len(changes), **totals}


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
