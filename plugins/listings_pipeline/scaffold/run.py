"""The scaffold end to end: schema and sample in, draft mapping and coverage report out.

:func:`draft_mapping` is the whole decision, given a schema and a sample (the tests call it with
Amazon's vendored schemas); :func:`scaffold` adds the I/O around it: the schema through the Product
Type Definitions API (cached by checksum), the sample through the pipeline's extract, and the files
written beside each other (``<TYPE>.yaml``, ``<TYPE>.coverage.txt`` and ``.json``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listings_pipeline.scaffold.build import build_draft
from listings_pipeline.scaffold.coverage import CoverageReport, measure, write_report
from listings_pipeline.scaffold.draft import Draft
from listings_pipeline.scaffold.markets import market
from listings_pipeline.scaffold.profiles import profile_columns
from listings_pipeline.scaffold.requirements import Requirement, conditional, unconditional
from listings_pipeline.scaffold.sample import SCAFFOLD_SELLER, Sample, read_sample
from listings_pipeline.scaffold.writer import render

if TYPE_CHECKING:
    from listings_pipeline.catalog.content_policy import ContentPolicy
    from listings_pipeline.catalog.mapping import ProductTypeMapping

log = logging.getLogger(__name__)

__all__ = ["DraftResult", "ScaffoldRequest", "draft_mapping", "scaffold"]

#: rounds of "map the sample, find what the rules now require, draft again"
MAX_ROUNDS = 4


@dataclass(frozen=True)
class DraftResult:
    draft: Draft
    text: str  # the draft, with its TODOs
    runnable_text: str  # the same without what is TODO
    report: CoverageReport


@dataclass(frozen=True)
class ScaffoldRequest:
    """What the command and the DAG's form ask for."""

    product_type: str
    marketplaces: tuple[str, ...]
    catalog: str
    out_dir: Path
    config_path: str | None = None
    conn_id: str | None = None  # None: the cached or shipped schema (offline)
    seller_id: str = SCAFFOLD_SELLER
    sample_rows: int | None = 2000


@dataclass(frozen=True)
class ScaffoldFiles:
    draft: Path
    report: Path
    result: DraftResult


def _parse(text: str, product_type: str) -> ProductTypeMapping:
    from listings_pipeline.catalog.mapping import parse_mapping

    return parse_mapping(text, f"<draft {product_type}>", expected_product_type=product_type)


def _listings(mapping: ProductTypeMapping, sample: Sample) -> list[dict[str, Any]]:
    """The attributes the runnable draft makes of each sample row it can map (for the rules' ``if``)."""
    from listings_pipeline.catalog.transform import TransformError, row_to_message

    out: list[dict[str, Any]] = []
    for mid in sample.frames:
        for row in sample.rows(mid):
            try:
                out.append(dict(row_to_message(row, mapping, mid)["attributes"]))
            except TransformError:
                continue
    return out


def draft_mapping(
    product_type: str,
    schema: Mapping[str, Any],
    sample: Sample,
    policy: ContentPolicy | None,
    schemas: Callable[[str], Any],
) -> DraftResult:
    """Draft, then map the sample with the draft and add what the schema's conditional rules require
    for those values, until nothing new is required; then measure the last draft."""
    product_type = product_type.upper()
    markets = [market(mid) for mid in sample.frames]
    profiles = profile_columns(sample.rows(), sample.columns())
    required: list[Requirement] = unconditional(schema)
    for _ in range(MAX_ROUNDS):
        draft = build_draft(product_type, schema, profiles, markets, required)
        runnable = _parse(render(draft, runnable=True), product_type)
        known = {r.attribute for r in required}
        extra = [r for r in conditional(schema, _listings(runnable, sample)) if r.attribute not in known]
        if not extra:
            break
        log.info("the sample's values make %s required", ", ".join(r.attribute for r in extra))
        required += extra
    report = measure(draft, runnable, sample, policy, schemas, schema)
    return DraftResult(draft, render(draft), render(draft, runnable=True), report)


def scaffold(request: ScaffoldRequest) -> ScaffoldFiles:
    """Fetch, read, draft, measure and write; returns where the files went."""
    from listings_pipeline.catalog.validation import load_policy
    from listings_pipeline.config import load_config
    from listings_pipeline.scaffold.schemas import fetch_schemas, load_schema, schema_set
    from spapi.regions import MARKETPLACES

    unknown = [mid for mid in request.marketplaces if mid not in MARKETPLACES]
    if unknown or not request.marketplaces:
        raise ValueError(f"unknown marketplace ids {unknown}: give Amazon's ids, e.g. ATVPDKIKX0DER")
    config = load_config(request.config_path)
    product_type = request.product_type.strip().upper()
    cache = config.var_dir / "product_types"
    if request.conn_id:
        fetch_schemas(request.conn_id, product_type, request.marketplaces, cache)
    sets = {mid: schema_set(cache, mid, config.product_types_dir) for mid in request.marketplaces}
    schema = load_schema(sets[request.marketplaces[0]], product_type)
    with tempfile.TemporaryDirectory(prefix="scaffold-") as work:
        sample = read_sample(
            request.catalog,
            product_type,
            request.marketplaces,
            Path(work),
            seller_id=request.seller_id,
            limit=request.sample_rows,
        )
        if not sample.row_count:
            raise ValueError(
                f"the catalog {request.catalog} has no {product_type} rows for these marketplaces"
            )
        result = draft_mapping(
            product_type, schema, sample, load_policy(config.content_policy), sets.__getitem__
        )
    request.out_dir.mkdir(parents=True, exist_ok=True)
    draft_path = request.out_dir / f"{product_type}.yaml"
    report_path = request.out_dir / f"{product_type}.coverage.txt"
    draft_path.write_text(result.text, encoding="utf-8")
    write_report(result.report, report_path)
    return ScaffoldFiles(draft_path, report_path, result)


def marketplaces_of(values: Sequence[str]) -> tuple[str, ...]:
    """Marketplace ids from repeated or comma-separated values, in order, once each."""
    return tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))
