"""The catalog stages of a sync run as DAG steps: extract, validate and map one branch.

Each takes and returns a :class:`~listings_pipeline.branch.Branch` (XCom, no secret), reads and
writes run-scoped files under ``<var_dir>/runs/<run_id>/<seller>/<marketplace>/`` and quarantines
what it cannot prove right. The offers sync shares :func:`extract`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from listings_pipeline.branch import Branch
from listings_pipeline.call_log import branch_trace
from listings_pipeline.catalog.quarantined import QuarantineRecord
from listings_pipeline.config import REPO_ROOT, PipelineConfig, load_config
from listings_pipeline.run_files import BranchPaths, read_jsonl, write_messages
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import (
    make_engine,
    session_scope,
    warehouse_url,
)
from listings_pipeline.warehouse.models import (
    Listing,
    ListingIssue,
    ListingStatus,
    Quarantine,
)
from spapi.client import trace

log = logging.getLogger(__name__)

L = ListingStatus


def extract(branch: Branch, run_id: str) -> Branch:
    """Step 1: the seller's catalog, this marketplace's rows, as a run-scoped Parquet snapshot.

    A row is this branch's only when it names this marketplace (and seller, where the catalog has
    that column): an empty cell never means "all". Rows that belong to no configured branch, or
    that cannot be read, are quarantined here by the branch that claims them (see :func:`targets`).
    """
    from listings_pipeline.catalog.extract import CatalogScope, CatalogSource, extract_snapshot

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


#: rows validated at a time: the snapshot is read twice in chunks this size, never whole
VALIDATE_CHUNK_ROWS = 20_000


def validate(branch: Branch) -> Branch:
    """Step 2: Great Expectations on the snapshot; bad rows to ``quarantine``; fail past the threshold.

    Rows whose source is unchanged since Amazon accepted what they made are not checked again
    (``catalog.unchanged``): they are counted as ``unchanged_rows`` and plan counts them unchanged.
    The snapshot is read in chunks (:func:`~listings_pipeline.catalog.validation.validate_chunks`):
    first the columns that decide skipping and uniqueness, then the rows to check, a chunk at a time.
    """
    import pandas as pd  # type: ignore[import-untyped]
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from listings_pipeline.catalog import unchanged
    from listings_pipeline.catalog.mapping import load_mappings
    from listings_pipeline.catalog.validation import (
        KEY_COLUMNS,
        check_threshold,
        load_policy,
        validate_chunks,
    )

    config = load_config(branch.get("config_path"))
    paths = BranchPaths.of(config, branch["run_id"], branch["seller_id"], branch["marketplace_id"])
    snapshot = pq.ParquetFile(branch["snapshot"]["path"])
    columns = list(snapshot.schema_arrow.names)
    recipe = unchanged.recipe_digest(config, branch["marketplace_id"])
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        skus, keys, key_columns = [], [], []
        for batch in snapshot.iter_batches(batch_size=VALIDATE_CHUNK_ROWS):
            rows = batch.to_pandas()
            skus.append(unchanged.sku_text(rows))
            keys.append(unchanged.row_keys(rows, recipe))
            key_columns.append(rows[[c for c in KEY_COLUMNS if c in rows.columns]])
        sku = pd.concat(skus, ignore_index=True) if skus else pd.Series([], dtype=object)
        key = pd.concat(keys, ignore_index=True) if keys else pd.Series([], dtype=object)
        accepted = unchanged.accepted_keys(engine, branch["seller_id"], branch["marketplace_id"])
        skip = unchanged.unchanged_rows(sku, key, accepted).to_numpy(dtype=bool)
        paths.root.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"sku": sku, "key": key, "checked": ~skip}).to_parquet(paths.source_keys, index=False)
        del sku, key, skus, keys
        checked_keys = (
            pd.concat(key_columns, ignore_index=True)[~skip]
            if key_columns
            else pd.DataFrame(columns=[c for c in KEY_COLUMNS if c in columns])
        )
        del key_columns

        def chunks() -> Iterator[Any]:
            start = 0
            for batch in snapshot.iter_batches(batch_size=VALIDATE_CHUNK_ROWS):
                rows = batch.to_pandas()
                yield rows[~skip[start : start + len(rows)]]
                start += len(rows)

        with pq.ParquetWriter(paths.good_rows, snapshot.schema_arrow) as good:
            outcome = validate_chunks(
                checked_keys,
                columns,
                chunks(),
                load_mappings(config.mappings_dir),
                load_policy(config.content_policy),
                good=lambda rows: good.write_table(
                    pa.Table.from_pandas(rows, schema=snapshot.schema_arrow, preserve_index=False)
                ),
                data_docs_dir=paths.data_docs,
            )
        _quarantine(engine, branch, outcome.quarantined, "validation")
    finally:
        engine.dispose()
    skipped = int(skip.sum())
    # Quarantined rows are recorded first, so a run that stops here still says why. Rows the
    # extract could not read or place count against the threshold too: one bad record must not
    # block a catalog, but a catalog of bad records must not go through.
    check_threshold(
        outcome, config.max_failing_share, unreadable=branch.get("extract_rules") or {}, unchanged=skipped
    )
    if skipped:
        log.info("%d of %d rows unchanged since Amazon accepted them: not checked again", skipped, len(skip))
    return {
        **branch,
        "catalog_rows": len(skip),
        "unchanged_rows": skipped,
        "quarantined": branch.get("quarantined", 0) + outcome.failing_rows,
        "data_docs": str(outcome.data_docs_index) if outcome.data_docs_index else None,
        "rule_counts": dict(outcome.rule_counts),
    }


def _product_type_schemas(config: PipelineConfig, branch: Branch, product_types: set[str]) -> Any:
    """Schemas for ``product_types``, fetched through the PTD API (cached by checksum); the shipped
    copies in ``product_types_dir`` stand in for any the API cannot give."""
    from listings_pipeline.call_log import ApiCallLog
    from listings_pipeline.catalog.schema_cache import fetch_schema
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


#: Rows mapped at a time: the messages of one chunk are written before the next is read, so memory
#: stays flat however large the catalog (the schema check's caches carry over between chunks).
MAP_CHUNK_ROWS = 5_000


def map_messages(branch: Branch) -> Branch:
    """Step 3: rows to JSON_LISTINGS_FEED messages, each checked against its product type's schema."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq

    from listings_pipeline.catalog.mapping import load_mappings
    from listings_pipeline.catalog.transform import map_rows

    config = load_config(branch.get("config_path"))
    paths = BranchPaths.of(config, branch["run_id"], branch["seller_id"], branch["marketplace_id"])
    good = pq.ParquetFile(paths.good_rows)
    product_types: set[str] = set()
    if "product_type" in good.schema_arrow.names:
        column = good.read(columns=["product_type"]).column("product_type")
        product_types = {
            str(v).strip().upper() for v in pc.unique(column).to_pylist() if v and str(v).strip()
        }
    schemas = _product_type_schemas(config, branch, product_types)
    mappings = load_mappings(config.mappings_dir)
    quarantined: list[QuarantineRecord] = []
    rejected = 0

    def messages() -> Iterator[Mapping[str, Any]]:
        nonlocal rejected
        for batch in good.iter_batches(batch_size=MAP_CHUNK_ROWS):
            # through pandas, as the rows have always been read: the same cell types (NaN for empty)
            rows = batch.to_pandas().to_dict("records")
            result = map_rows(rows, mappings, branch["marketplace_id"], schemas=schemas)
            quarantined.extend(result.quarantined)
            rejected += len(result.rejected_skus)
            yield from result.messages

    count = write_messages(paths.messages, paths.message_hashes, messages())
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        _quarantine(engine, branch, quarantined, "product_type_schema")
    finally:
        engine.dispose()
    return {
        **branch,
        "messages": count,
        "quarantined": branch.get("quarantined", 0) + rejected,
    }
