"""The ``mapping_scaffold`` DAG's task: the trigger form in, the draft and its report as run artifacts.

The form names a product type, marketplaces and, optionally, a seller (whose connection fetches the
schema and whose configured catalog is read unless the form gives another). The files go under the
run's folder, ``<var_dir>/runs/<run_id>/scaffold/``, beside the other runs' artifacts, never among
the live mappings: a draft with TODOs there would stop every sync run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from listings_pipeline.config import load_config
from listings_pipeline.run_files import safe_part
from listings_pipeline.scaffold.artifacts import ScaffoldArtifacts
from listings_pipeline.scaffold.run import ScaffoldRequest, scaffold

log = logging.getLogger(__name__)

__all__ = ["ScaffoldArtifacts", "draft_from_form"]


def _text(params: Mapping[str, object], key: str) -> str | None:
    value = params.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def draft_from_form(params: Mapping[str, object], run_id: str) -> ScaffoldArtifacts:
    config = load_config(_text(params, "config_path"))
    seller_id = _text(params, "seller_id")
    seller = config.seller(seller_id) if seller_id else config.sellers[0]
    catalog = _text(params, "catalog") or seller.catalog
    if not isinstance(catalog, str):
        raise ValueError(
            f"seller {seller.seller_id}'s catalog is a {catalog.get('kind', 'mapping')} source; "
            "give a file or s3:// path in the form's Catalog field"
        )
    marketplaces = params.get("marketplace_ids")
    if not isinstance(marketplaces, list) or not marketplaces:
        raise ValueError("choose at least one marketplace")
    product_type = _text(params, "product_type")
    if not product_type:
        raise ValueError("the product type is required (e.g. LUGGAGE)")
    rows = params.get("sample_rows")
    files = scaffold(
        ScaffoldRequest(
            product_type=product_type,
            marketplaces=tuple(str(m) for m in marketplaces),
            catalog=catalog,
            out_dir=Path(config.var_dir) / "runs" / safe_part(run_id) / "scaffold",
            config_path=_text(params, "config_path"),
            conn_id=seller.spapi_conn_id,
            seller_id=seller.seller_id,
            sample_rows=rows if isinstance(rows, int) and rows > 0 else None,
        )
    )
    report = files.result.report
    log.info("draft mapping %s, report %s\n%s", files.draft, files.report, report.text())
    return ScaffoldArtifacts(
        product_type=report.product_type,
        draft=str(files.draft),
        report=str(files.report),
        required=len(report.required),
        missing=report.count("missing"),
        todos=report.todos,
        passing_share=round(report.passing_share, 4),
    )
