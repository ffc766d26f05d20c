"""The coverage report: what the draft maps, what is left, and how much of the sample would pass.

The share of sample rows that pass is not estimated: the draft (its runnable copy, TODOs left
out) goes through the pipeline's own validation (:func:`~listings_pipeline.catalog.validation.
validate_frame`, the Great Expectations suite and content policy) and map step
(:func:`~listings_pipeline.catalog.transform.map_rows` with the product-type schema check), as a
sync run's ``check_chunk`` calls them, and the rows that come out as messages are counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, computed_field

from listings_pipeline.scaffold.draft import Draft
from listings_pipeline.scaffold.sample import Sample

if TYPE_CHECKING:
    from listings_pipeline.catalog.content_policy import ContentPolicy
    from listings_pipeline.catalog.mapping import ProductTypeMapping

__all__ = ["CoverageReport", "MarketplaceShare", "RequiredAttribute", "measure", "passing_rows"]


class RequiredAttribute(BaseModel):
    attribute: str
    status: Literal["mapped", "defaulted", "missing"]
    why: str
    columns: list[str]
    confidence: float


class MarketplaceShare(BaseModel):
    marketplace_id: str
    rows: int
    passing: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share(self) -> float:
        return self.passing / self.rows if self.rows else 0.0


class CoverageReport(BaseModel):
    product_type: str
    sample_rows: int
    required: list[RequiredAttribute]
    optional: list[str]
    unused_columns: list[str]
    empty_columns: list[str]
    todos: int
    shares: list[MarketplaceShare]
    schema_problems: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passing_share(self) -> float:
        rows = sum(s.rows for s in self.shares)
        return sum(s.passing for s in self.shares) / rows if rows else 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.required if r.status == status)

    def text(self) -> str:
        lines = [
            f"Coverage of the draft mapping for {self.product_type} ({self.sample_rows} sample rows)",
            f"required attributes: {len(self.required)}: {self.count('mapped')} mapped, "
            f"{self.count('defaulted')} defaulted, {self.count('missing')} missing (TODO)",
        ]
        for r in self.required:
            columns = f" <- {', '.join(r.columns)}" if r.columns else ""
            lines.append(f"  {r.status:<9} {r.attribute}{columns} ({r.why}; confidence {r.confidence:.2f})")
        lines.append(f"optional attributes mapped: {', '.join(self.optional) or 'none'}")
        lines.append(f"catalog columns not used: {', '.join(self.unused_columns) or 'none'}")
        if self.empty_columns:
            lines.append(f"catalog columns empty in the sample: {', '.join(self.empty_columns)}")
        lines.append(f"TODO markers left: {self.todos}")
        lines.append(f"sample rows that would pass with the draft (TODOs left out): {self.passing_share:.1%}")
        for s in self.shares:
            lines.append(f"  {s.marketplace_id}: {s.passing} of {s.rows} ({s.share:.1%})")
        if self.schema_problems:
            lines.append("the draft against the product type's schema:")
            lines.extend(f"  {p}" for p in self.schema_problems)
        return "\n".join(lines) + "\n"


def passing_rows(
    mapping: ProductTypeMapping,
    sample: Sample,
    policy: ContentPolicy | None,
    schemas: Callable[[str], Any],
) -> list[MarketplaceShare]:
    """Per marketplace: the sample rows that come out of validate and map as messages."""
    import pyarrow as pa  # type: ignore[import-untyped]

    from listings_pipeline.catalog.transform import map_rows
    from listings_pipeline.catalog.validation import validate_frame

    mappings = {mapping.product_type: mapping}
    out = []
    for mid, frame in sample.frames.items():
        if not len(frame):
            out.append(MarketplaceShare(marketplace_id=mid, rows=0, passing=0))
            continue
        outcome = validate_frame(frame, mappings, policy)
        good = pa.Table.from_pandas(outcome.good, schema=sample.arrow_schemas[mid], preserve_index=False)
        result = map_rows(good.to_pylist(), mappings, mid, schemas=schemas(mid))
        out.append(MarketplaceShare(marketplace_id=mid, rows=len(frame), passing=len(result.messages)))
    return out


def measure(
    draft: Draft,
    runnable: ProductTypeMapping,
    sample: Sample,
    policy: ContentPolicy | None,
    schemas: Callable[[str], Any],
    schema: Mapping[str, Any],
) -> CoverageReport:
    from listings_pipeline.catalog.mapping import check_against_product_type

    status = {"mapped": "mapped", "defaulted": "defaulted", "todo": "missing"}
    required = [
        RequiredAttribute(
            attribute=a.name,
            status=status[a.status],  # type: ignore[arg-type]
            why=a.why,
            columns=a.columns(),
            confidence=a.confidence,
        )
        for a in draft.attributes
        if a.required
    ]
    return CoverageReport(
        product_type=draft.product_type,
        sample_rows=sample.row_count,
        required=required,
        optional=[a.name for a in draft.attributes if not a.required],
        unused_columns=draft.unused_columns,
        empty_columns=draft.empty_columns,
        todos=draft.todo_count(),
        shares=passing_rows(runnable, sample, policy, schemas),
        schema_problems=[f"{p.key}: {p.message}" for p in check_against_product_type(runnable, schema)],
    )


def write_report(report: CoverageReport, path: Path) -> None:
    """The text beside the draft (``<TYPE>.coverage.txt``) and the figures as JSON."""
    path.write_text(report.text(), encoding="utf-8")
    path.with_suffix(".json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
