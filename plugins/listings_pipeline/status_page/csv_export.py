"""The quarantine as a CSV file for a spreadsheet.

Quarantined values are what the seller's file held, and a row is often quarantined precisely
because a cell starts like a formula (``=HYPERLINK(...)``, ``@SUM(...)``: the content policy's
``formula_prefixes`` rule). A spreadsheet opening the export would run it; so every text cell goes
through :func:`~listings_pipeline.catalog.unsafe_text.spreadsheet_cell`. The file starts with a
UTF-8 byte order mark, without which Excel reads UTF-8 as the local code page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from listings_pipeline.catalog.unsafe_text import spreadsheet_cell
from listings_pipeline.status_page.schemas import DriftEntry, QuarantineEntry

BOM = "\ufeff"
COLUMNS = (
    "quarantined_at",
    "seller_id",
    "marketplace_id",
    "sku",
    "product_type",
    "source_file",
    "source_line",
    "column_name",
    "value",
    "rule",
    "reason",
    "run_id",
)
DRIFT_COLUMNS = (
    "last_seen_at",
    "found_at",
    "seller_id",
    "marketplace_id",
    "sku",
    "kind",
    "field",
    "ours",
    "amazon",
    "state",
)
ROWS_PER_CHUNK = 500


def _cell(value: object) -> str | int:
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return spreadsheet_cell(str(value))


def quarantine_csv(rows: Iterable[QuarantineEntry]) -> Iterator[str]:
    """The CSV text in chunks (a header, then :data:`COLUMNS` per row), to stream as it is read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(COLUMNS)
    for n, row in enumerate(rows, start=1):
        values = row.model_dump(include=set(COLUMNS))
        writer.writerow([_cell(values[name]) for name in COLUMNS])
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def drift_csv(rows: Iterable[DriftEntry]) -> Iterator[str]:
    """Open drift as CSV, like :func:`quarantine_csv`: Amazon's values come from a report anyone
    with Seller Central access can edit (an item name starting with ``=``), so they go through the
    same spreadsheet guard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(DRIFT_COLUMNS)
    for n, row in enumerate(rows, start=1):
        values = row.model_dump(include=set(DRIFT_COLUMNS))
        writer.writerow([_cell(values[name]) for name in DRIFT_COLUMNS])
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
