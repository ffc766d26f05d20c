"""Validate and map one branch's catalog in chunks that any worker can take: split, check, join.

A branch of millions of rows is too much for one task, and Airflow's own executor is the engine that
spreads work over machines (Celery workers, Kubernetes pods). So the catalog stages run as three
steps around mapped tasks, and the run files are what they share (``var_dir`` on a volume every
worker mounts):

1. :func:`split` (one task per branch) reads the few columns that need the whole catalog at once:
   which rows are unchanged since Amazon accepted them (``catalog.unchanged``), each row's product
   type, the duplicates. It fetches the product-type schemas once, and cuts the snapshot into
   :class:`~listings_pipeline.branch.Chunk` row ranges of about ``chunk_rows`` rows.
2. :func:`check_chunk` (one mapped task per chunk, on any worker) checks its rows against the
   suites, maps the good ones to messages and checks those against their product type's schema.
   Nothing leaves the chunk's folder: what it found waits for the join.
3. :func:`join` (one task per branch) takes the chunks in order, as one pass over the catalog would
   have met them: the same quarantine records in the same order, the same Data Docs, the same
   messages file byte for byte however the rows were cut, and the failing-share threshold over the
   whole catalog. A chunk that never finished stops it: no row goes missing. Older runs' Data
   Docs of the branch's seller and marketplace are deleted then (``data_docs_keep_runs``).

:func:`validate_and_map` runs the three in one process (the tests, the benchmark's one-worker figures).
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from listings_pipeline.branch import Branch, Chunk, ChunkDone
from listings_pipeline.catalog.data_docs import retention
from listings_pipeline.catalog.quarantined import QuarantineRecord
from listings_pipeline.catalog.steps import fetch_product_type_schemas, product_type_schemas, quarantine
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.run_files import BranchPaths, read_jsonl, write_jsonl, write_messages
from listings_pipeline.warehouse.db import make_engine, warehouse_url

log = logging.getLogger(__name__)

#: rows read and held at a time: the key columns first, then the rows a chunk checks
READ_ROWS = 20_000
#: rows mapped at a time: the messages of one batch are written before the next is read, so memory
#: stays flat however large the chunk (the schema check's caches carry over between batches)
MAP_ROWS = 5_000

# Files of the branch (written by split, read by check_chunk and join) and of each chunk. The
# validation's start and each chunk's findings are pickles: written and read only by this run's own
# tasks, in its own folder, never taken from anywhere else.
_START = "validation_start.pickle"
_ROUTES = "routes.parquet"
_FINDINGS = "findings.pickle"
_SCHEMA_REJECTS = "schema_rejects.jsonl"
_DONE = "done.json"


def _paths(branch: Branch) -> BranchPaths:
    config = load_config(branch.get("config_path"))
    return BranchPaths.of(config, branch["run_id"], branch["seller_id"], branch["marketplace_id"])


def _chunk_paths(branch: Branch, index: int) -> BranchPaths:
    return BranchPaths(_paths(branch).root / "chunks" / f"{index:05d}")


def split(branch: Branch) -> list[Chunk]:
    """Step 2a: decide what needs the whole catalog, then cut it into chunks (at least one)."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from listings_pipeline.catalog.mapping import load_mappings
    from listings_pipeline.catalog.validation import Validation, load_policy

    config = load_config(branch.get("config_path"))
    paths = _paths(branch)
    snapshot = pq.ParquetFile(branch["snapshot"]["path"])
    columns = list(snapshot.schema_arrow.names)
    skip, checked_keys = _unchanged(config, branch, snapshot, paths)
    run = Validation.start(
        checked_keys, columns, load_mappings(config.mappings_dir), load_policy(config.content_policy)
    )
    _write_routes(run, paths)
    if "product_type" in columns:  # without the column, the one mapping's shipped schema serves
        fetch_product_type_schemas(config, branch, set(run.suites_by_type))

    total = len(skip)
    size = max(1, config.chunk_rows)
    starts = _chunk_starts(~skip, size)
    count = len(starts)
    branch = {**branch, "catalog_rows": total, "unchanged_rows": int(skip.sum())}
    log.info(
        "%d rows (%d to check) in %d chunk(s) of up to %d rows to check",
        total,
        total - branch["unchanged_rows"],
        count,
        size,
    )
    ends = [*starts[1:], total]
    return [
        Chunk(branch=branch, index=i, of=count, first_row=start, rows=end - start)
        for i, (start, end) in enumerate(zip(starts, ends, strict=True))
    ]


def _chunk_starts(checked: Any, size: int) -> list[int]:
    """Where each chunk starts: every chunk but the last holds ``size`` rows to check, and the rows
    between are cut where the next chunk's first checked row is. A run that checks every row gets
    chunks of ``size`` rows; an incremental run, whose few changed rows lie all over the catalog,
    gets as many chunks as it has rows to check, not as the catalog has rows (each chunk is a task,
    and a task's start costs seconds)."""
    import numpy as np

    return [0, *(int(at) for at in np.flatnonzero(checked)[size::size])]


def _unchanged(config: PipelineConfig, branch: Branch, snapshot: Any, paths: BranchPaths) -> tuple[Any, Any]:
    """Which rows are unchanged since Amazon accepted what they made (``catalog.unchanged``), written
    with each row's SKU and source key for plan; and the key columns of the rows to check, read in
    a second pass over just those columns once the skipped rows are known (an incremental run
    checks a few rows of a million: their key columns for every row were a third of the step's
    memory)."""
    import pandas as pd  # type: ignore[import-untyped]
    import pyarrow as pa

    from listings_pipeline.catalog import unchanged
    from listings_pipeline.catalog.validation import KEY_COLUMNS

    recipe = unchanged.recipe_digest(config, branch["marketplace_id"])
    skus, keys = [], []
    for batch in snapshot.iter_batches(batch_size=READ_ROWS):
        rows = batch.to_pandas()
        skus.append(unchanged.sku_text(rows))
        keys.append(unchanged.row_keys(rows, recipe))
        del rows
    string = pd.ArrowDtype(pa.string())
    sku = pd.concat(skus, ignore_index=True) if skus else pd.Series([], dtype=string)
    key = pd.concat(keys, ignore_index=True) if keys else pd.Series([], dtype=string)
    del skus, keys
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        accepted = unchanged.accepted_keys(engine, branch["seller_id"], branch["marketplace_id"])
    finally:
        engine.dispose()
    skip = unchanged.unchanged_rows(sku, key, accepted)
    del accepted
    paths.root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"sku": sku, "key": key, "checked": ~skip}).to_parquet(paths.source_keys, index=False)
    del sku, key
    names = [c for c in KEY_COLUMNS if c in snapshot.schema_arrow.names]
    key_columns, first = [], 0
    for batch in snapshot.iter_batches(batch_size=READ_ROWS, columns=names):
        rows = batch.to_pandas()
        key_columns.append(rows[~skip[first : first + len(rows)]])
        first += len(rows)
    if not key_columns:
        return skip, pd.DataFrame(columns=names)
    return skip, pd.concat(key_columns, ignore_index=True)


def _write_routes(run: Any, paths: BranchPaths) -> None:
    """What the chunks need of the start (each checked row's product type, and whether it fails a
    rule of the whole catalog already), and the start itself for the join."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    routes = run.routes
    failing = np.zeros(len(routes.product_type_of), dtype=bool)
    failing[routes.failing] = True
    table = pa.table(
        {"product_type": pa.array(routes.product_type_of.tolist(), type=pa.string()), "failing": failing}
    )
    pq.write_table(table, paths.root / _ROUTES)
    with (paths.root / _START).open("wb") as handle:
        pickle.dump(run, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _rows(snapshot: Any, first: int, count: int, wanted: Any) -> Iterator[Any]:
    """The rows ``wanted`` (a mask over the snapshot) selects among its rows ``first`` ..
    ``first + count``, as Arrow tables of up to :data:`READ_ROWS` of the snapshot's rows (one is
    empty where none is wanted): only the row groups they lie in are read, and the rows not wanted
    are dropped in Arrow, before pandas makes its columns."""
    import numpy as np
    import pyarrow as pa

    start = 0
    for group in range(snapshot.num_row_groups):
        size = snapshot.metadata.row_group(group).num_rows
        stop = start + size
        if stop > first and start < first + count:
            table = snapshot.read_row_group(group)
            lo, hi = max(first, start) - start, min(first + count, stop) - start
            for offset in range(lo, hi, READ_ROWS):
                mask = np.asarray(wanted[start + offset : start + min(offset + READ_ROWS, hi)], dtype=bool)
                yield table.slice(offset, len(mask)).filter(pa.array(mask))
        start = stop


def _joined(tables: Iterator[Any], rows: int) -> Iterator[Any]:
    """``tables`` joined into tables of at least ``rows`` rows (the last may hold fewer): the rules
    cost as much per call as per row, and an incremental run's few changed rows in each slice of
    the catalog were fifty calls for a few hundred rows each. When every table is empty, the first
    one alone."""
    import pyarrow as pa

    held: list[Any] = []
    count = 0
    first_empty = None
    yielded = False
    for table in tables:
        if not table.num_rows:
            first_empty = table if first_empty is None else first_empty
            continue
        held.append(table)
        count += table.num_rows
        if count >= rows:
            yield pa.concat_tables(held) if len(held) > 1 else held[0]
            held, count, yielded = [], 0, True
    if held:
        yield pa.concat_tables(held) if len(held) > 1 else held[0]
    elif not yielded and first_empty is not None:
        yield first_empty


def check_chunk(chunk: Chunk) -> ChunkDone:
    """Step 2b: one chunk's rows through the suites, its good rows to messages and the schema check."""
    import pyarrow.parquet as pq

    from listings_pipeline.catalog.mapping import load_mappings

    branch = chunk["branch"]
    config = load_config(branch.get("config_path"))
    here = _chunk_paths(branch, chunk["index"])
    here.root.mkdir(parents=True, exist_ok=True)
    (here.root / _DONE).unlink(missing_ok=True)
    mappings = load_mappings(config.mappings_dir)
    # ParquetFile, not read_table, which loads pyarrow.dataset: a quarter of a second per chunk
    checked = (
        pq.ParquetFile(_paths(branch).source_keys).read(columns=["checked"]).column("checked").to_numpy()
    )
    failing = _validate_chunk(chunk, config, mappings, checked, here)
    written, rejected = _map_chunk(branch, config, mappings, here)
    done = ChunkDone(
        index=chunk["index"],
        rows=chunk["rows"],
        checked=int(checked[chunk["first_row"] : chunk["first_row"] + chunk["rows"]].sum()),
        failing=failing,
        messages=written,
        rejected=rejected,
    )
    # last, and whole or not at all, so that the join can tell a finished chunk from one that died
    marker = here.root / _DONE
    tmp = marker.with_name(f".{marker.name}.tmp")
    tmp.write_bytes(orjson.dumps(done))
    tmp.replace(marker)
    return done


def _validate_chunk(
    chunk: Chunk, config: PipelineConfig, mappings: Any, checked: Any, here: BranchPaths
) -> int:
    """The chunk's rows through each product type's row-by-row rules; its good rows written, its
    findings kept for the join; returns how many rows fail.

    Rows are checked in their positions among the branch's checked rows (unchanged ones left out),
    so each record sorts where one pass over the catalog would have put it.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from listings_pipeline.catalog.expectations import Found
    from listings_pipeline.catalog.validation import (
        ChunkFindings,
        RowRoutes,
        check_rows,
        load_policy,
        rules_by_type,
    )

    branch = chunk["branch"]
    first, count = chunk["first_row"], chunk["rows"]
    snapshot = pq.ParquetFile(branch["snapshot"]["path"])
    offset = int(checked[:first].sum())  # the chunk's first checked row, among all checked rows
    # ParquetFile, not read_table: read_table loads pyarrow.dataset, a quarter of a second
    routed = (
        pq.ParquetFile(_paths(branch).root / _ROUTES)
        .read()
        .slice(offset, int(checked[first : first + count].sum()))
    )
    routes = RowRoutes(
        rules_by_type(mappings, load_policy(config.content_policy), list(snapshot.schema_arrow.names)),
        np.asarray(routed.column("product_type").to_pylist(), dtype=object),
        np.flatnonzero(routed.column("failing").to_numpy(zero_copy_only=False)).astype(np.int64) + offset,
        first=offset,
    )
    records: list[tuple[tuple[int, int, int], QuarantineRecord]] = []
    found: dict[str, dict[int, list[Any]]] = {}
    position, failing = offset, 0
    with pq.ParquetWriter(here.good_rows, snapshot.schema_arrow) as good:
        for table in _joined(_rows(snapshot, first, count, checked), READ_ROWS):
            frame = table.to_pandas().set_axis(range(position, position + table.num_rows))
            part = check_rows(frame, routes)
            bad = part.failing(frame, routes)
            failing += len(bad)
            records.extend(part.records)
            for product_type, by_index in part.found.items():
                for index, result in by_index.items():
                    found.setdefault(product_type, {}).setdefault(index, []).append(result)
            keep = np.ones(table.num_rows, dtype=bool)
            keep[np.fromiter(bad, dtype=np.int64, count=len(bad)) - position] = False
            position += table.num_rows
            # the snapshot's own Arrow rows, not pandas' made back into Arrow
            good.write_table(table.filter(pa.array(keep)))
    merged = {
        product_type: {index: (Found.merged(parts), None) for index, parts in by_index.items()}
        for product_type, by_index in found.items()
    }
    with (here.root / _FINDINGS).open("wb") as handle:
        pickle.dump(ChunkFindings(records, merged), handle, protocol=pickle.HIGHEST_PROTOCOL)
    return failing


def _map_chunk(branch: Branch, config: PipelineConfig, mappings: Any, here: BranchPaths) -> tuple[int, int]:
    """The chunk's good rows to messages, each checked against its product type's schema; returns
    the messages written and the rows the schema check rejected (kept for the join)."""
    import pyarrow.parquet as pq

    from listings_pipeline.catalog.batch_mapping import map_batch

    schemas = product_type_schemas(config, branch)
    rejects: list[QuarantineRecord] = []
    rejected = 0

    def messages() -> Iterator[Any]:
        nonlocal rejected
        for batch in pq.ParquetFile(here.good_rows).iter_batches(batch_size=MAP_ROWS):
            # Arrow's own columns: each distinct cell combination built and checked once
            result = map_batch(batch, mappings, branch["marketplace_id"], schemas=schemas)
            rejects.extend(result.quarantined)
            rejected += len(result.rejected_skus)
            yield from result.messages

    written = write_messages(here.messages, here.message_hashes, messages())
    write_jsonl(here.root / _SCHEMA_REJECTS, rejects)
    return written, rejected


def join(chunks: Sequence[Chunk]) -> Branch:
    """Step 2c: the branch's chunks, in order, as one validation and one messages file.

    Validation's quarantine rows are written first and the threshold checked over the whole catalog
    (unchanged rows count in its whole; rows the extract could not read count as failing), so a run
    that stops here still says why; then the schema check's rejects.
    """
    from listings_pipeline.catalog.validation import Validation, check_threshold

    chunks = sorted(chunks, key=lambda c: c["index"])
    if not chunks:
        raise ValueError("a branch has at least one chunk")
    branch = chunks[0]["branch"]
    expected = list(range(chunks[0]["of"]))
    if [c["index"] for c in chunks] != expected:
        raise RuntimeError(
            f"chunks {[c['index'] for c in chunks]} of {expected} arrived: rows would go missing"
        )
    config = load_config(branch.get("config_path"))
    paths = _paths(branch)
    done: list[ChunkDone] = []
    for chunk in chunks:
        marker = _chunk_paths(branch, chunk["index"]).root / _DONE
        if not marker.exists():
            raise RuntimeError(
                f"chunk {chunk['index']} of {len(chunks)} has not finished: its rows would go missing"
            )
        done.append(orjson.loads(marker.read_bytes()))
    with (paths.root / _START).open("rb") as handle:
        run: Validation = pickle.load(handle)
    for chunk in chunks:
        with (_chunk_paths(branch, chunk["index"]).root / _FINDINGS).open("rb") as handle:
            run.absorb(pickle.load(handle))
    outcome = run.outcome(paths.data_docs, None)
    retention.prune(paths, config.data_docs_keep_runs)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        quarantine(engine, branch, outcome.quarantined, "validation")
        check_threshold(
            outcome,
            config.max_failing_share,
            unreadable=branch.get("extract_rules") or {},
            unchanged=branch["unchanged_rows"],
        )
        if branch["unchanged_rows"]:
            log.info(
                "%d of %d rows unchanged since Amazon accepted them: not checked again",
                branch["unchanged_rows"],
                branch["catalog_rows"],
            )
        parts = [_chunk_paths(branch, c["index"]) for c in chunks]
        _concatenate([p.messages for p in parts], paths.messages)
        _concatenate([p.message_hashes for p in parts], paths.message_hashes)
        rejects = [r for p in parts for r in read_jsonl(p.root / _SCHEMA_REJECTS)]
        quarantine(engine, branch, rejects, "product_type_schema")
    finally:
        engine.dispose()
    return {
        **branch,
        "quarantined": branch.get("quarantined", 0) + outcome.failing_rows + sum(d["rejected"] for d in done),
        "data_docs": str(outcome.data_docs_index) if outcome.data_docs_index else None,
        "rule_counts": dict(outcome.rule_counts),
        "messages": sum(d["messages"] for d in done),
    }


def _concatenate(parts: list[Path], target: Path) -> None:
    """``parts`` one after the other as ``target``, replaced at once. One part (a branch of one
    chunk) is linked, not copied: a messages file is written once by its chunk (a new file each
    time, ``run_files.write_messages``) and only read after, and copying a million messages took
    seconds. Otherwise the kernel copies (``copy_file_range``), with a plain copy where it cannot."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    if len(parts) == 1:
        try:
            os.link(parts[0], tmp)
        except OSError:  # no hard links here (another file system, or none at all)
            pass
        else:
            tmp.replace(target)
            return
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                _append(handle, out)
    tmp.replace(target)


def _append(source: Any, out: Any) -> None:
    """All of ``source`` at the end of ``out`` (both files opened in binary)."""
    size = os.fstat(source.fileno()).st_size
    copied = 0
    try:
        while copied < size:
            step = os.copy_file_range(source.fileno(), out.fileno(), size - copied)
            if step == 0:
                break
            copied += step
    except OSError:
        if copied:
            raise  # part of it is in already: a plain copy from the start would repeat it
        shutil.copyfileobj(source, out, 1 << 20)
        return
    if copied < size:
        raise OSError(f"{source.name}: copied {copied} of {size} bytes")


def validate_and_map(branch: Branch) -> Branch:
    """Split, check every chunk and join, in this process."""
    chunks = split(branch)
    for chunk in chunks:
        check_chunk(chunk)
    return join(chunks)
