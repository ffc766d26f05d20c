"""What a catalog stage reports of a row it cannot prove right: one quarantine record.

Extract, validate and map each find rows they must hold back, for different reasons; all three
report them in this one shape, which :func:`listings_pipeline.catalog.steps` stores in the
``quarantine`` table (and, per SKU, in ``listing_issues``). The operator reads it to fix the
seller's file, so it names the row (SKU, and where the file has it, its file and line), the column,
the value as it was, the rule and the reason in words.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class QuarantineRecord(TypedDict):
    sku: str | None
    marketplace_id: str | None
    product_type: str | None
    column_name: str | None
    value: str | None  # a preview: long values are cut, control characters escaped
    rule: str
    reason: str
    source_file: NotRequired[str | None]
    source_line: NotRequired[int | None]
