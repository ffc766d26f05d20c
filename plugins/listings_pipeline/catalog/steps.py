"""The catalog stages of a sync run as DAG steps: extract, validate and map one branch.

Each takes and returns a :class:`~listings_pipeline.branch.Branch` (XCom, no secret), reads and
writes run-scoped files under ``<var_dir>/runs/<run_id>/<seller>/<marketplace>/`` and quarantines
what it cannot prove right. The offers sync shares :func:`extract`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from listings_pipeline import triggered_by
from listings_pipeline.branch import Branch
from listings_pipeline.call_log import branch_trace
from listings_pipeline.config import REPO_ROOT, PipelineConfig, load_config
from listings_pipeline.run_files import BranchPaths, read_jsonl
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
            quarantine(engine, branch, rejected, "extract")
        finally:
            engine.dispose()
    return {
        **branch,
        "extracted": snapshot.row_count + snapshot.rejected_rows,
        "quarantined": snapshot.rejected_rows,
        "extract_rules": rules,
    }


# --- validate and map ---------------------------------------------------------------------------------


def quarantine(engine: Any, branch: Branch, records: Sequence[Mapping[str, Any]], stage: str) -> None:
    """Write quarantine rows (and matching validation issues); move the SKUs to ``quarantined``.

    A SKU in flight (``submitted``) keeps its status: its feed's outcome decides, and the
    quarantine row tells the operator that the catalog row has gone bad meanwhile. Rows, not SKUs,
    are what the stages count (a row may fail several rules, or have no SKU), so each stage counts
    its own failing rows; the distinct SKUs are counted from this table when the run is summarised.
    Each row names its DAG as well as its run (``triggered_by``: the running task's DAG, as the
    listings' events do), since two DAGs' runs can have the same id.
    """
    if not records:
        return
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    dag_id = triggered_by.current().dag_id
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
            "dag_id": dag_id,
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


def fetch_product_type_schemas(config: PipelineConfig, branch: Branch, product_types: set[str]) -> None:
    """Fetch ``product_types``' schemas through the PTD API into the cache (kept by checksum), once
    per branch: the chunks that check messages against them read the cache only. A schema the API
    cannot give is logged; the shipped copy in ``product_types_dir`` stands in."""
    from listings_pipeline.call_log import ApiCallLog
    from listings_pipeline.catalog.schema_cache import fetch_schema
    from spapi.errors import SpApiError
    from spapi.hooks import SpApiHook

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
                        client,
                        product_type,
                        branch["marketplace_id"],
                        config.var_dir / "product_types",
                        seller_id=branch["seller_id"],
                    )
                except SpApiError as err:
                    log.warning(
                        "no %s schema from the API (%s); using the shipped copy if any", product_type, err
                    )
    finally:
        calls.flush()
        engine.dispose()


def product_type_schemas(config: PipelineConfig, branch: Branch) -> Any:
    """The schemas :func:`fetch_product_type_schemas` cached for this marketplace, then the shipped ones."""
    from spapi.product_types import ProductTypeSchemas

    cache = config.var_dir / "product_types"
    meta = cache / "meta-schema.json"
    if not meta.exists():
        meta = REPO_ROOT / "include" / "spapi-models" / "schemas" / "definitions" / "meta-schema.json"
    return ProductTypeSchemas(meta, [cache / branch["marketplace_id"], config.product_types_dir])
