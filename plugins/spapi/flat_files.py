"""Read Amazon's tab-separated flat-file reports into typed rows.

Flat files are a header line of column names, then one line per record, cells separated by tabs,
no quoting (a ``"`` in a description is just a character). Columns are read by name: Amazon adds,
drops and reorders columns by marketplace and over time, and a parser that counts positions
would put a price into a quantity without a word. A line with more cells than the header has
names, though, cannot be read by name at all and is refused with its line number.

The bytes' encoding is the document's (:meth:`spapi.models.reports.ReportContent.text`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from pydantic import ValidationError

from .models.reports import MerchantListingRow, ReportContent


class FlatFileError(ValueError):
    """A flat file that cannot be read: no header, a malformed line or an unreadable cell."""


def iter_records(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, {column: cell})`` per non-empty line after the header; missing trailing
    cells are empty."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    header: list[str] | None = None
    for row in reader:
        if header is None:
            header = [name.strip() for name in row]
            if not any(header):
                raise FlatFileError("line 1: the report has no header line")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise FlatFileError(
                f"line {reader.line_num}: {len(row)} cells for {len(header)} columns; the line cannot be read by name"
            )
        yield reader.line_num, dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))
    if header is None:
        raise FlatFileError("the report is empty: not even a header line")


def iter_merchant_listings(content: ReportContent) -> Iterator[MerchantListingRow]:
    """``GET_MERCHANT_LISTINGS_ALL_DATA`` rows, one per listing, in the document's order."""
    for line, record in iter_records(content.text()):
        try:
            yield MerchantListingRow.model_validate(record)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}"
                for e in err.errors(include_url=False, include_input=False)
            )
            raise FlatFileError(f"line {line}: {problems}") from None


def parse_merchant_listings(content: ReportContent) -> list[MerchantListingRow]:
    """Every row of a ``GET_MERCHANT_LISTINGS_ALL_DATA`` document (see :func:`iter_merchant_listings`)."""
    return list(iter_merchant_listings(content))
