"""Step 4 of the catalog sync: only new, changed and (if enabled) removed SKUs go on, with every
row not sent counted by reason and deletions held to the strictest standard.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy import bindparam, select, update

from listings_pipeline.branch import Branch, PlanCounts, PlanKind
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.routing import route
from listings_pipeline.run_files import (
    BranchPaths,
    payload_hash,
    read_jsonl_at,
    read_lines,
    read_message_hashes,
    write_jsonl,
)
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import (
    make_engine,
    session_scope,
    warehouse_url,
)
from listings_pipeline.warehouse.lifecycle import LifecycleError
from listings_pipeline.warehouse.models import (
    Listing,
    ListingStatus,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

L = ListingStatus


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
    return read_lines(Path(path)) if path else set()


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
    hold = read_lines(paths.held)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    stale_before = datetime.now(UTC) - timedelta(hours=config.feed_wait_hours)
    withheld: dict[str, int] = {}
    try:
        existing = _existing(engine, seller_id, marketplace_id)
        planned = _Planned(seller_id, marketplace_id)
        planned.take_unchanged(paths.source_keys)
        # first pass: what each message is, payloads not kept (a branch may hold a million)
        for sku, digest in read_message_hashes(paths):
            planned.offer(sku, digest, existing, hold, stale_before)
        deletions: list[str] = []
        if config.delete_removed:
            deletions, withheld = _deletions(existing, planned.seen, hold, branch)
            listed = sum(1 for row in existing.values() if row.accepted_hash and row.status != L.DELETED)
            _guard_deletes(config, branch, len(deletions), listed)
        # second pass, once nothing can stop the plan: the payloads to send, chunk by chunk
        with session_scope(engine) as session:
            ready = planned.ready_rows(read_jsonl_at(paths.messages, planned.sending), deletions)
            total = write_jsonl(paths.planned, _moved_to_ready(session, ready, run_id))
            _record_sources(session, seller_id, marketplace_id, planned.sources_to_record)
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
        "plan_counts": planned.plan_counts(),
        "skipped_reasons": planned.skipped,
        "deletes_withheld": withheld,
        "route": route(total, config.per_sku_threshold),
    }


def _existing(engine: Engine, seller_id: str, marketplace_id: str) -> dict[str, Any]:
    """The branch's listings by SKU: only the columns a plan decides on, since a branch may hold a
    million of them."""
    with session_scope(engine) as session:
        return {
            row.sku: row
            for row in session.execute(
                select(
                    Listing.sku,
                    Listing.status,
                    Listing.payload_hash,
                    Listing.accepted_hash,
                    Listing.source_hash,
                    Listing.updated_at,
                ).where(Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id)
            )
        }


class _ReadyRow(TypedDict, total=False):
    """A listing a plan moves to ``ready``, as :func:`lifecycle.transition_many` takes it; its
    payload is also the line ``planned.jsonl`` gets."""

    seller_id: str
    marketplace_id: str
    sku: str
    to_status: ListingStatus
    product_type: str | None
    payload: dict[str, Any]
    payload_hash: str
    source_hash: str | None


@dataclass
class _Planned:
    """What a plan sends and why it sends no more: the rows to move to ``ready`` (payloads in catalog
    order, then the deletions), each message's kind, and the reasons rows were skipped."""

    seller_id: str
    marketplace_id: str
    #: the messages to send, by their place in ``messages.jsonl``, with their payload's hash
    sending: dict[int, str] = field(default_factory=dict)
    sending_skus: set[str] = field(default_factory=set)
    offered: int = 0
    counts: Counter[PlanKind] = field(default_factory=Counter)
    skipped: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # every SKU of the catalog: the rest may be deleted
    #: each checked row's source key by SKU (``catalog.unchanged``)
    source_keys: dict[str, str] = field(default_factory=dict)
    #: (SKU, key) of unchanged payloads whose listing does not hold the key yet
    sources_to_record: list[tuple[str, str]] = field(default_factory=list)

    def take_unchanged(self, path: Path) -> None:
        """Count the rows validate did not check again as unchanged (they are in the catalog, so
        never deleted) and keep the checked rows' source keys."""
        if not path.exists():  # a run planned by an older version: every row was checked
            return
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000, columns=["sku", "key", "checked"]):
            table = batch.to_pydict()  # a batch at a time: a million rows as lists would be ~200 MiB more
            for sku, key, checked in zip(table["sku"], table["key"], table["checked"], strict=True):
                if checked:
                    self.source_keys[sku] = key
                else:
                    self.seen.add(sku)
                    self.counts["unchanged"] += 1

    def offer(
        self, sku: str, digest: str, existing: Mapping[str, Any], hold: set[str], stale_before: datetime
    ) -> None:
        """Count one catalog message (its SKU and payload hash) and keep its place when it is to be
        sent (see :func:`_classify`)."""
        place = self.offered
        self.offered += 1
        self.seen.add(sku)
        kind, reason = _classify(existing.get(sku), digest, sku in hold, stale_before)
        self.counts[kind] += 1
        if reason is not None:
            self.skipped[reason] = self.skipped.get(reason, 0) + 1
        key = self.source_keys.get(sku)
        if kind == "unchanged":
            if key is not None and existing[sku].source_hash != key:
                self.sources_to_record.append((sku, key))
            return
        if kind == "skipped":
            return
        if sku in self.sending_skus:  # validation quarantines duplicates: this is a bug upstream
            raise LifecycleError(f"plan: {self.seller_id}/{self.marketplace_id}/{sku} is sent twice")
        self.sending_skus.add(sku)
        self.sending[place] = digest

    def ready_rows(
        self, messages: Iterable[tuple[int, dict[str, Any]]], deletions: list[str]
    ) -> Iterator[_ReadyRow]:
        """The rows to move to ``ready``: the messages to send (by place, in catalog order), then the
        deletions."""
        for place, message in messages:
            digest = self.sending.get(place)
            if digest is not None:
                yield self._ready(message, digest, self.source_keys.get(message["sku"]))
        for sku in deletions:
            deletion: dict[str, Any] = {"sku": sku, "operationType": "DELETE"}
            self.counts["deleted"] += 1
            yield self._ready(deletion, payload_hash(deletion), None)

    def _ready(self, message: dict[str, Any], digest: str, source_key: str | None) -> _ReadyRow:
        row = _ReadyRow(
            seller_id=self.seller_id,
            marketplace_id=self.marketplace_id,
            sku=message["sku"],
            to_status=L.READY,
            payload=message,
            payload_hash=digest,
            source_hash=source_key,
        )
        if "productType" in message:  # a DELETE names none, and must not erase the listing's
            row["product_type"] = message["productType"]
        return row

    def plan_counts(self) -> PlanCounts:
        return PlanCounts(
            new=self.counts["new"],
            changed=self.counts["changed"],
            retry=self.counts["retry"],
            unchanged=self.counts["unchanged"],
            skipped=self.counts["skipped"],
            deleted=self.counts["deleted"],
        )


def _moved_to_ready(session: Session, rows: Iterator[_ReadyRow], run_id: str) -> Iterator[dict[str, Any]]:
    """Each row's payload, for ``planned.jsonl``, its listing moved to ``ready`` a chunk at a time
    in the caller's transaction: memory holds one chunk of payloads, not the branch's."""
    chunk: list[_ReadyRow] = []
    for row in rows:
        chunk.append(row)
        yield row["payload"]
        if len(chunk) >= lifecycle.CHUNK_SIZE:
            lifecycle.transition_many(session, chunk, cause="plan", run_id=run_id)
            chunk = []
    if chunk:
        lifecycle.transition_many(session, chunk, cause="plan", run_id=run_id)


def _record_sources(
    session: Session, seller_id: str, marketplace_id: str, keys: list[tuple[str, str]]
) -> None:
    """Note which catalog row an unchanged payload now comes from, so the next run may skip it (an
    executemany UPDATE: on the first run after an upgrade, that is every listing)."""
    if not keys:
        return
    statement = (
        update(Listing)
        .where(
            Listing.seller_id == seller_id,
            Listing.marketplace_id == marketplace_id,
            Listing.sku == bindparam("b_sku"),
        )
        .values(source_hash=bindparam("b_key"))
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(statement, [{"b_sku": sku, "b_key": key} for sku, key in keys])


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
