"""The seller's catalog sample, read exactly as a sync run reads it.

The coverage figure must be what the pipeline would give, so the sample goes through the pipeline's
own extract (:func:`~listings_pipeline.catalog.extract.extract_snapshot`: every cell as text, rows
scoped by marketplace, unreadable records set aside) into a Parquet snapshot per marketplace, and
only the rows of the product type being drafted are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCAFFOLD_SELLER", "Sample", "read_sample"]

#: the seller id a sample is read under when the catalog has no ``seller_id`` column
SCAFFOLD_SELLER = "SCAFFOLD"


@dataclass
class Sample:
    """Per marketplace: the product type's rows (a pandas frame) and the snapshot's Arrow schema."""

    product_type: str
    frames: dict[str, Any] = field(default_factory=dict)
    arrow_schemas: dict[str, Any] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return sum(len(frame) for frame in self.frames.values())

    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for frame in self.frames.values():
            seen.update(dict.fromkeys(str(c) for c in frame.columns))
        return list(seen)

    def rows(self, marketplace_id: str | None = None) -> list[dict[str, Any]]:
        """Rows as the map step gets them (Arrow's Python values: None for an empty cell)."""
        import pyarrow as pa  # type: ignore[import-untyped]

        ids = [marketplace_id] if marketplace_id else list(self.frames)
        out: list[dict[str, Any]] = []
        for mid in ids:
            table = pa.Table.from_pandas(
                self.frames[mid], schema=self.arrow_schemas[mid], preserve_index=False
            )
            out.extend(table.to_pylist())
        return out


def read_sample(
    catalog: str | Path,
    product_type: str,
    marketplaces: Sequence[str],
    work_dir: Path,
    *,
    seller_id: str = SCAFFOLD_SELLER,
    limit: int | None = None,
) -> Sample:
    """The first ``limit`` rows of ``product_type`` per marketplace (all when None)."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from listings_pipeline.catalog.extract import CatalogScope, extract_snapshot

    sample = Sample(product_type.upper())
    served = {seller_id: frozenset(marketplaces)}
    for mid in marketplaces:
        scope = CatalogScope(seller_id=seller_id, marketplace_id=mid, served=served, claims_defects=False)
        snapshot = extract_snapshot(
            catalog, work_dir, seller_id=seller_id, marketplace_id=mid, run_id="scaffold", scope=scope
        )
        table = pq.read_table(snapshot.path)
        frame = table.to_pandas()
        if "product_type" in frame.columns:
            types = frame["product_type"].astype("string").str.strip().str.upper()
            frame = frame[(types == sample.product_type).fillna(False).to_numpy(dtype=bool)]
        if limit is not None:
            frame = frame.head(limit)
        sample.frames[mid] = frame.reset_index(drop=True)
        sample.arrow_schemas[mid] = table.schema
    return sample
