"""Step 4 of the catalog sync: only new, changed and (if enabled) removed SKUs go on, with every
row not sent counted by reason and deletions held to the strictest standard.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import orjson
from sqlalchemy import bindparam, func, select, update

from listings_pipeline.branch import Branch, PlanCounts, PlanKind
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.gc_pause import collector_paused
from listings_pipeline.routing import route
from listings_pipeline.run_files import (
    BranchPaths,
    MessageKey,
    payload_hash,
    read_lines,
    read_lines_at,
    read_message_hashes,
    write_jsonl,
)
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import (
    make_engine,
    one_of,
    session_scope,
    string_columns,
    warehouse_url,
)
from listings_pipeline.warehouse.lifecycle import LifecycleError
from listings_pipeline.warehouse.models import (
    Listing,
    ListingStatus,
)
from listings_pipeline.warehouse.write_behind import WriteBehind

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]
    import pyarrow as pa  # type: ignore[import-untyped]
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
SKIP_NOT_ASKED = "not_in_narrowed_run"  # a run narrowed to some SKUs (``only_skus``) sends only those

#: Why a SKU missing from this branch's rows was not deleted (``run_summaries.deletes_withheld``).
KEEP_CATALOG_NOT_CLEAN = "catalog_not_clean"  # some rows could not be read or placed
KEEP_CATALOG_EMPTY = "catalog_empty"
KEEP_STILL_IN_CATALOG = "still_in_catalog"  # quarantined here, or listed for another marketplace
KEEP_IN_FLIGHT = "in_flight"  # a document for it is with Amazon; deleted once its outcome is known
KEEP_NARROWED_RUN = "narrowed_run"  # a run narrowed to some SKUs deletes nothing


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
    change or a replay). A manual run narrowed to some SKUs (``only_skus``: say, dead letters just
    replayed) skips every other SKU first (``not_in_narrowed_run``) and deletes nothing.

    Deletion is the one change that cannot be taken back by the next run, so it is held to a
    stricter standard: a SKU is deleted only when the catalog was read completely and cleanly and
    the SKU is in none of the seller's rows (a quarantined row, or a row for another marketplace,
    keeps it), and a branch that would delete more than ``max_deletes`` SKUs or
    ``max_delete_share`` of its listings stops with :class:`MassDeleteError` unless an operator
    confirmed it on a manual run.
    """
    # a million rows' dicts, tuples and strings, none in a cycle: the collector's full passes freed
    # nothing and were a quarter of the step's Python time (see gc_pause)
    with collector_paused():
        return _plan(branch)


def _plan(branch: Branch) -> Branch:
    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    hold = read_lines(paths.held)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    stale_before = datetime.now(UTC) - timedelta(hours=config.feed_wait_hours)
    withheld: dict[str, int] = {}
    try:
        # first pass: what each message is, from its SKU and hash alone, as columns (a branch may
        # hold a million: a million Python strings and dict entries would not fit in the budget);
        # only the offered SKUs' listings are read (an incremental run offers a few of a million)
        offered = _offered(paths)
        existing = _existing(engine, seller_id, marketplace_id, offered[0]["sku"])
        only = branch.get("only_skus")
        planned = _Planned.decide(
            seller_id,
            marketplace_id,
            offered,
            existing,
            hold,
            stale_before,
            set(only) if only else None,
        )
        del offered, existing
        deletions: list[str] = []
        if config.delete_removed:
            # only the listings the catalog no longer names are read whole (few, as a rule)
            gone = _existing(
                engine, seller_id, marketplace_id, _missing(engine, seller_id, marketplace_id, planned.seen)
            )
            deletions, withheld = _deletions(gone, hold, branch)
            del gone
            # the guard's base is needed only when something would be deleted
            listed = _listed_count(engine, seller_id, marketplace_id) if deletions else 0
            _guard_deletes(config, branch, len(deletions), listed)
        # second pass, once nothing can stop the plan: the payloads to send, chunk by chunk
        with session_scope(engine) as session:
            lines = _Measured(read_lines_at(paths.messages, planned.places()))
            moved = _moved_to_ready(session, planned.ready_rows(lines, deletions), run_id)
            if deletions or not planned.sends_every_message():
                total = write_jsonl(paths.planned, moved)
            else:  # planned.jsonl would be messages.jsonl again, byte for byte
                total = sum(1 for _ in moved)
                _planned_as_messages(paths, lines.size, planned.places())
            _record_sources(session, seller_id, marketplace_id, planned.sources_to_record())
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


def _existing(engine: Engine, seller_id: str, marketplace_id: str, skus: pd.Series) -> pd.DataFrame:
    """The listings of ``skus`` (a SKU never listed has none), indexed by SKU: only the columns a
    plan decides on, as Arrow-backed columns read a partition at a time and joined without a copy.
    Memory follows ``skus``, not the branch: an incremental run offers a few SKUs of a branch that
    may hold a million, whose hashes alone would be a few hundred MiB. A few are looked up by the
    listings' unique index (:func:`one_of`); when they are most of the branch (a run that checks
    every row), the branch is scanned and the rest dropped, since a lookup costs about two rows of
    a scan."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    names = ["sku", "status", "payload_hash", "accepted_hash", "source_hash"]
    columns = (
        Listing.sku,
        Listing.status,
        Listing.payload_hash,
        Listing.accepted_hash,
        Listing.source_hash,
        Listing.updated_at,
    )
    branch = (Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id)
    wanted = pc.unique(pa.chunked_array(_chunks(skus), type=pa.string()))
    texts: dict[str, list[Any]] = {name: [] for name in names}
    times: list[Any] = []
    with session_scope(engine) as session:
        listings = session.execute(select(func.count()).where(*branch)).scalar_one() if len(wanted) else 0
        scan = 2 * len(wanted) > listings
        if scan:
            parts = session.execute(
                select(*columns).where(*branch).execution_options(yield_per=_LOOKUP_SKUS)
            ).partitions()
        else:
            parts = (
                session.execute(
                    select(*columns).where(
                        *branch, one_of(session, Listing.sku, wanted[at : at + _LOOKUP_SKUS].to_pylist())
                    )
                ).all()
                for at in range(0, len(wanted), _LOOKUP_SKUS)
            )
        for rows in parts:
            if not rows:
                continue
            found = list(zip(*rows, strict=True))
            arrays = [pa.array(values, type=pa.string()) for values in found[:-1]]
            stamps = pd.to_datetime(pd.Series(found[-1], dtype=object), utc=True).to_numpy()
            if scan:  # the wanted SKUs looked up in the partition: a set of the partition's
                # SKUs built once, not one of all the wanted SKUs for each partition
                keep = pc.index_in(wanted, value_set=arrays[0]).drop_null()
                arrays = [array.take(keep) for array in arrays]
                stamps = stamps[keep.to_numpy(zero_copy_only=False)]
            for name, array in zip(names, arrays, strict=True):
                texts[name].append(array)
            times.append(stamps)
            del rows, found
    string = pd.ArrowDtype(pa.string())
    frame = pd.DataFrame(
        {
            name: pd.Series(pa.chunked_array(arrays, type=pa.string()), dtype=string)
            for name, arrays in texts.items()
        }
    )
    stamps = np.concatenate(times) if times else np.array([], dtype="datetime64[ns]")
    frame["updated_at"] = pd.Series(pd.to_datetime(stamps, utc=True))
    return frame.set_index("sku")


#: SKUs looked up in one query: one JSON or array parameter, its rows a few MiB
_LOOKUP_SKUS = 50_000


def _missing(engine: Engine, seller_id: str, marketplace_id: str, seen: pa.ChunkedArray) -> pd.Series:
    """The SKUs of the branch's listings that are not in ``seen`` (the catalog's), whatever their
    status: read from the listings' unique index alone (SKUs, no hashes) and compared in Arrow."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    skus: list[Any] = []
    with session_scope(engine) as session:
        branch = select(Listing.sku).where(
            Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id
        )
        for (sku,) in string_columns(session.connection(), branch, _LOOKUP_SKUS):
            skus.append(sku)
    listed = pa.chunked_array(skus, type=pa.string())
    missing = listed.filter(pc.invert(pc.is_in(listed, value_set=_array(seen))))
    return pd.Series(missing, dtype=pd.ArrowDtype(pa.string()))


def _listed_count(engine: Engine, seller_id: str, marketplace_id: str) -> int:
    """How many of the branch's listings Amazon holds (accepted once, not deleted): the base of
    the mass-delete guard's share."""
    with session_scope(engine) as session:
        listed = session.execute(
            select(func.count()).where(
                Listing.seller_id == seller_id,
                Listing.marketplace_id == marketplace_id,
                Listing.accepted_hash.is_not(None),
                Listing.status != L.DELETED.value,
            )
        ).scalar_one()
    return int(listed)


def _listed(existing: pd.DataFrame, skus: pd.Series) -> pd.DataFrame:
    """``existing``'s row for each of ``skus`` (all missing for a SKU never listed), in their order:
    joined in Arrow, since a pandas reindex on string labels makes a Python string of each."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    at = pc.index_in(pa.array(skus), value_set=pa.array(existing.index))
    found = at.is_valid().to_numpy(zero_copy_only=False)
    places = at.fill_null(0).to_numpy(zero_copy_only=False) if len(existing) else np.zeros(len(skus), int)
    columns = {}
    for name in existing.columns:
        if isinstance(existing[name].dtype, pd.ArrowDtype):
            columns[name] = pd.Series(pc.take(pa.array(existing[name]), at), dtype=existing[name].dtype)
        else:  # the timestamps: NaT where there is no row
            values = (
                existing[name].to_numpy()[places]
                if len(existing)
                else np.full(len(skus), np.datetime64("NaT", "ns"))
            )
            columns[name] = pd.Series(pd.to_datetime(values, utc=True)).where(found)
    return pd.DataFrame(columns)


def _offered(paths: BranchPaths) -> tuple[pd.DataFrame, Any]:
    """Every message's SKU, payload hash, product type and catalog row's source key, in
    ``messages.jsonl``'s order (the frame's index is the message's place there); and the SKUs of the rows validate did
    not check again (unchanged: in the catalog, never deleted), an Arrow array."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    string = pd.ArrowDtype(pa.string())
    columns: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    batch: list[MessageKey] = []

    def flush() -> None:
        for column, values in zip(columns, zip(*batch, strict=True) if batch else ((), (), ()), strict=True):
            column.append(pa.array(values, type=pa.string()))
        batch.clear()

    for message_key in read_message_hashes(paths):
        batch.append(message_key)
        if len(batch) >= 100_000:
            flush()
    flush()
    sku_array = pa.chunked_array(columns[0], type=pa.string())
    offered = pd.DataFrame(
        {
            "sku": pd.Series(sku_array, dtype=string),
            "digest": pd.Series(pa.chunked_array(columns[1], type=pa.string()), dtype=string),
            "product_type": pd.Series(pa.chunked_array(columns[2], type=pa.string()), dtype=string),
        }
    )
    unchanged = pa.chunked_array([], type=pa.string())
    key = pa.nulls(len(offered), pa.string())
    if paths.source_keys.exists():  # else a run planned by an older version: every row was checked
        # a batch at a time: only the checked rows' keys are kept (an incremental run checks a few
        # rows of a million, and the keys of the rest are a hundred MiB it does not need)
        skipped: list[Any] = []
        checked_skus: list[Any] = []
        checked_keys: list[Any] = []
        source_keys = pq.ParquetFile(paths.source_keys)
        for part in source_keys.iter_batches(batch_size=100_000, columns=["sku", "key", "checked"]):
            checked = part.column("checked")
            skipped.append(part.filter(pc.invert(checked)).column("sku").cast(pa.string()))
            rows = part.filter(checked)
            checked_skus.append(rows.column("sku").cast(pa.string()))
            checked_keys.append(rows.column("key").cast(pa.string()))
        unchanged = pa.chunked_array(skipped, type=pa.string())
        # one key per SKU, the last row's (a duplicated SKU was quarantined: it has no message);
        # index_in finds a value's first place, so it looks among the rows last to first. Joined
        # in Arrow: a million keys as Python strings would be a hundred MiB.
        table = pa.table(
            {
                "sku": pa.chunked_array(checked_skus, type=pa.string()),
                "key": pa.chunked_array(checked_keys, type=pa.string()),
            }
        )
        table = table.take(pa.array(np.arange(len(table) - 1, -1, -1)))
        key = pc.take(table.column("key"), pc.index_in(sku_array, value_set=table.column("sku")))
    offered["key"] = pd.Series(key, dtype=string)
    return offered, unchanged


class _ReadyRow(TypedDict, total=False):
    """A listing a plan moves to ``ready``, as :func:`lifecycle.transition_many` takes it; its
    payload is also the line ``planned.jsonl`` gets: a message's line as map wrote it (a fragment of
    canonical JSON: a million parsed and serialised again were a fifth of the step), or a
    deletion's object."""

    seller_id: str
    marketplace_id: str
    sku: str
    to_status: ListingStatus
    product_type: str | None
    payload: dict[str, Any] | orjson.Fragment
    payload_hash: str
    source_hash: str | None


class _Places:
    """Message places to read, as a mask: ``place in places`` without a million-entry set."""

    def __init__(self, mask: Any) -> None:
        self._mask = mask

    def __contains__(self, place: object) -> bool:
        return isinstance(place, int) and 0 <= place < len(self._mask) and bool(self._mask[place])


@dataclass
class _Planned:
    """What a plan sends and why it sends no more: each message's kind and reason (columns, by the
    message's place in ``messages.jsonl``), the rows to move to ``ready`` (payloads in catalog
    order, then the deletions) and the reasons rows were skipped."""

    seller_id: str
    marketplace_id: str
    offered: pd.DataFrame  # sku, digest, key, kind, reason, listed_source: one row per message
    unchanged_rows: int  # rows validate did not check again
    seen: pa.ChunkedArray  # every SKU of the catalog: the rest may be deleted
    counts: Counter[PlanKind] = field(default_factory=Counter)
    skipped: dict[str, int] = field(default_factory=dict)

    @classmethod
    def decide(
        cls,
        seller_id: str,
        marketplace_id: str,
        offered_and_unchanged: tuple[pd.DataFrame, Any],
        existing: pd.DataFrame,
        hold: set[str],
        stale_before: datetime,
        only: set[str] | None = None,
    ) -> _Planned:
        """Each message's kind (see :func:`_classify`), all at once."""
        import pyarrow as pa

        offered, unchanged = offered_and_unchanged
        kind, reason = _classify(offered, existing, hold, stale_before, only)
        offered["kind"], offered["reason"] = kind, reason
        offered["listed_source"] = _listed(existing, offered["sku"])["source_hash"].to_numpy()
        sending = offered["kind"].isin(["new", "changed", "retry"])
        twice = offered["sku"][sending][offered["sku"][sending].duplicated()]
        if len(twice):  # validation quarantines duplicates: this is a bug upstream
            raise LifecycleError(f"plan: {seller_id}/{marketplace_id}/{twice.iloc[0]} is sent twice")
        counts: Counter[PlanKind] = Counter({k: int(n) for k, n in offered["kind"].value_counts().items()})
        counts["unchanged"] += len(unchanged)
        skipped = {str(r): int(n) for r, n in offered["reason"].dropna().value_counts().items()}
        # every SKU of the catalog, in Arrow: a million as a pandas index would be Python strings
        seen = pa.chunked_array([*_chunks(offered["sku"]), *unchanged.chunks], type=pa.string())
        return cls(seller_id, marketplace_id, offered, len(unchanged), seen, counts, skipped)

    def sends_every_message(self) -> bool:
        return bool(self.offered["kind"].isin(["new", "changed", "retry"]).all())

    def places(self) -> _Places:
        return _Places(self.offered["kind"].isin(["new", "changed", "retry"]).to_numpy(dtype=bool))

    def sources_to_record(self) -> list[tuple[str, str]]:
        """(SKU, key) of unchanged payloads whose listing does not hold the row's key yet."""
        rows = self.offered[
            (self.offered["kind"] == "unchanged")
            & self.offered["key"].notna()
            & (self.offered["listed_source"].isna() | (self.offered["listed_source"] != self.offered["key"]))
        ]
        return list(zip(rows["sku"].tolist(), rows["key"].tolist(), strict=True))

    def ready_rows(self, lines: Iterable[tuple[int, bytes]], deletions: list[str]) -> Iterator[_ReadyRow]:
        """The rows to move to ``ready``: the messages to send (their lines by place, in catalog
        order), then the deletions."""
        expected = self._sending()
        for place, line in lines:
            want, sku, digest, key, product_type = next(expected)
            if place != want:
                raise LifecycleError(f"plan: message {place} read where {want} was planned")
            if product_type is None:  # an older map step's hashes, or a message naming none
                product_type = orjson.loads(line).get("productType")
            yield self._ready(sku, orjson.Fragment(line), digest, key, product_type)
        for sku in deletions:
            deletion: dict[str, Any] = {"sku": sku, "operationType": "DELETE"}
            self.counts["deleted"] += 1
            yield self._ready(sku, deletion, payload_hash(deletion), None, None)

    def _sending(self, batch: int = 50_000) -> Iterator[tuple[int, str, str, str | None, str | None]]:
        """(place, SKU, hash, source key, product type) of each message to send, in place order,
        made into Python objects a batch at a time: a million of them at once would be a quarter
        of a GiB."""
        sending = self.offered[self.offered["kind"].isin(["new", "changed", "retry"])]
        for start in range(0, len(sending), batch):
            part = sending.iloc[start : start + batch]
            yield from zip(
                part.index.tolist(),
                part["sku"].tolist(),
                part["digest"].tolist(),
                part["key"].to_numpy(dtype=object, na_value=None).tolist(),
                part["product_type"].to_numpy(dtype=object, na_value=None).tolist(),
                strict=True,
            )

    def _ready(
        self,
        sku: str,
        payload: dict[str, Any] | orjson.Fragment,
        digest: str,
        source_key: str | None,
        product_type: str | None,
    ) -> _ReadyRow:
        row = _ReadyRow(
            seller_id=self.seller_id,
            marketplace_id=self.marketplace_id,
            sku=sku,
            to_status=L.READY,
            payload=payload,
            payload_hash=digest,
            source_hash=source_key,
        )
        if product_type is not None:  # a DELETE names none, and must not erase the listing's
            row["product_type"] = product_type
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


class _Measured:
    """Lines passed on as they are read, counting the bytes of the file they were, newline included."""

    def __init__(self, lines: Iterable[tuple[int, bytes]]) -> None:
        self._lines = lines
        self.size = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        for place, line in self._lines:
            self.size += len(line) + 1
            yield place, line


def _planned_as_messages(paths: BranchPaths, size: int, places: _Places) -> None:
    """``planned.jsonl`` when a plan sends every message and deletes nothing: ``messages.jsonl``
    itself, linked (or copied where links are not to be had), not its lines written again (a
    quarter of a GiB per 100,000 messages). Only when the lines read were the whole file (``size``
    bytes: no blank line, no carriage return); else they are written as :func:`write_jsonl` writes
    them. ``messages.jsonl`` is only ever replaced, never written in place, so the link holds."""
    if paths.messages.stat().st_size != size:
        lines = read_lines_at(paths.messages, places)
        write_jsonl(paths.planned, (orjson.Fragment(line) for _, line in lines))
        return
    tmp = paths.planned.with_name(f".{paths.planned.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(paths.messages, tmp)
    except OSError:
        shutil.copyfile(paths.messages, tmp)
    tmp.replace(paths.planned)


def _moved_to_ready(
    session: Session, rows: Iterator[_ReadyRow], run_id: str
) -> Iterator[dict[str, Any] | orjson.Fragment]:
    """Each row's payload, for ``planned.jsonl``, its listing moved to ``ready`` a chunk at a time
    in the caller's transaction: memory holds two chunks of payloads, not the branch's. A chunk's
    writes go on while the next chunk's lines are read and written (:class:`WriteBehind`)."""
    chunk: list[_ReadyRow] = []
    with WriteBehind(session) as writes:
        for row in rows:
            chunk.append(row)
            yield row["payload"]
            if len(chunk) >= lifecycle.CHUNK_SIZE:
                writes.submit(lifecycle.transition_many, session, chunk, cause="plan", run_id=run_id)
                chunk = []
        if chunk:
            writes.submit(lifecycle.transition_many, session, chunk, cause="plan", run_id=run_id)


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


def _classify(
    offered: pd.DataFrame,
    existing: pd.DataFrame,
    hold: set[str],
    stale_before: datetime,
    only: set[str] | None = None,
) -> tuple[Any, Any]:
    """What plan does with each message, given its listing's row (none: never seen), and why it is
    skipped when it is (see :func:`plan`); the first condition that holds decides, in this order.
    ``only``: a narrowed run's SKUs; any other is skipped before anything else is asked."""
    import numpy as np
    import pandas as pd

    row = _listed(existing, offered["sku"])
    status = row["status"].to_numpy(dtype=object, na_value=None)
    known = row["status"].notna().to_numpy()
    held = offered["sku"].isin(hold).to_numpy()
    submitted = status == L.SUBMITTED
    # in flight for longer than any feed takes and in no stale feed: its outcome was lost
    lost = (row["updated_at"] < pd.Timestamp(stale_before)).fillna(False).to_numpy(dtype=bool)
    # compared as Arrow strings, not a million Python ones; a listing without a hash differs
    digest = offered["digest"].set_axis(row.index)
    changed = (digest != row["payload_hash"]).fillna(True).to_numpy(dtype=bool)
    accepted = ((status == L.ACCEPTED) | (status == L.LIVE)) & (
        (digest == row["accepted_hash"]).fillna(False).to_numpy(dtype=bool)
    )
    asked = offered["sku"].isin(only).to_numpy() if only is not None else np.ones(len(offered), dtype=bool)
    rules: list[tuple[Any, PlanKind, str | None]] = [
        (~asked, "skipped", SKIP_NOT_ASKED),
        # not even a changed payload: it could land before the old one
        (held, "skipped", SKIP_STALE_FEED),
        (~known, "new", None),
        (submitted & lost, "retry", None),
        # a change waits for the outcome of the one in flight, so two documents for one SKU are
        # never with Amazon at once
        (submitted, "skipped", SKIP_IN_FLIGHT),
        (changed, "changed", None),
        (accepted, "unchanged", None),
        (status == L.INVALID, "skipped", SKIP_REJECTED),
        (status == L.DEAD_LETTERED, "skipped", SKIP_DEAD_LETTERED),
    ]
    # the rest (ready, quarantined, deleted, draft): not on Amazon as it is now
    kind = np.full(len(offered), "retry", dtype=object)
    reason = np.full(len(offered), None, dtype=object)
    decided = np.zeros(len(offered), dtype=bool)
    for condition, rule_kind, rule_reason in rules:
        take = condition & ~decided
        kind[take], reason[take] = rule_kind, rule_reason
        decided |= take
    return kind, reason


def _deletions(existing: pd.DataFrame, hold: set[str], branch: Branch) -> tuple[list[str], dict[str, int]]:
    """The SKUs to delete, and the deletions withheld by reason (see :func:`plan`); ``existing``
    holds the listings whose SKU the catalog's rows no longer hold (:func:`_missing`)."""
    withheld: dict[str, int] = {}
    status = existing["status"]
    candidates = existing[
        ~status.isin([L.DELETED, L.DRAFT]) & ~((status == L.QUARANTINED) & existing["accepted_hash"].isna())
    ]
    # a document for it is with Amazon: a DELETE now could be applied before it
    busy = candidates.index.isin(hold) | (candidates["status"] == L.SUBMITTED).to_numpy()
    if busy.any():
        withheld[KEEP_IN_FLIGHT] = int(busy.sum())
    gone = sorted(candidates.index[~busy].tolist())
    if not gone:
        return [], withheld
    if branch.get("only_skus"):  # it reads the catalog to send a few SKUs, not to judge the rest
        return [], {**withheld, KEEP_NARROWED_RUN: len(gone)}
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


def _chunks(column: pd.Series) -> list[pa.Array]:
    """An Arrow-backed column's arrays, without a copy."""
    import pyarrow as pa

    values = pa.array(column)
    return list(values.chunks) if isinstance(values, pa.ChunkedArray) else [values]


def _array(values: pa.ChunkedArray) -> pa.Array:
    """One array of ``values`` (a set lookup's value set must be one)."""
    import pyarrow as pa

    return pa.concat_arrays(values.chunks) if values.num_chunks else pa.array([], type=pa.string())


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
