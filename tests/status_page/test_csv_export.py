"""The quarantine CSV: every row and column, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from listings_pipeline.catalog.unsafe_text import FORMULA_PREFIXES, spreadsheet_cell
from listings_pipeline.status_page import csv_export
from listings_pipeline.status_page.schemas import QuarantineEntry

AT = datetime(2026, 3, 1, 22, 5, tzinfo=UTC)


def _entry(n: int, **changes: object) -> QuarantineEntry:
    row = {
        "id": n,
        "seller_id": "A1SELLER",
        "marketplace_id": "ATVPDKIKX0DER",
        "sku": f"SKU-{n}",
        "product_type": "SHIRT",
        "source_file": "/data/catalog/us.csv",
        "source_line": n + 1,
        "column_name": "item_name",
        "value": "Tee",
        "rule": "content_policy.formula_prefixes",
        "reason": "it starts with '='",
        "run_id": "scheduled__1",
        "quarantined_at": AT,
        "released_at": None,
    }
    return QuarantineEntry.model_validate({**row, **changes})


def _read(chunks: list[str]) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith(csv_export.BOM)  # Excel reads the UTF-8 as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("-5", "'-5"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Tee = shirt", "Tee = shirt"),
        (" =1", " =1"),
        ("", ""),
    ],
)
def test_a_cell_that_starts_like_a_formula_is_prefixed(value: str, cell: str) -> None:
    assert spreadsheet_cell(value) == cell


def test_the_content_policy_rejects_what_the_export_escapes() -> None:
    from listings_pipeline.catalog.content_policy import FormulaRule

    assert FormulaRule().prefixes == list(FORMULA_PREFIXES)
    assert all(spreadsheet_cell(p + "1").startswith("'") for p in FORMULA_PREFIXES)


def test_every_row_and_column_with_dangerous_cells_escaped() -> None:
    rows = [
        _entry(1, value="=1+1", sku="@SKU", reason="-bad", source_file="=evil.csv"),
        _entry(2, sku=None, value=None, column_name=None, reason='say "hi", twice\nthen stop'),
    ]
    header, first, second = _read(list(csv_export.quarantine_csv(rows)))
    assert tuple(header) == csv_export.COLUMNS
    got = dict(zip(header, first, strict=True))
    assert got == {
        "quarantined_at": "2026-03-01T22:05:00+00:00",
        "seller_id": "A1SELLER",
        "marketplace_id": "ATVPDKIKX0DER",
        "sku": "'@SKU",
        "product_type": "SHIRT",
        "source_file": "'=evil.csv",
        "source_line": "2",
        "column_name": "item_name",
        "value": "'=1+1",
        "rule": "content_policy.formula_prefixes",
        "reason": "'-bad",
        "run_id": "scheduled__1",
    }
    blank = dict(zip(header, second, strict=True))
    assert (blank["sku"], blank["value"], blank["column_name"]) == ("", "", "")
    assert blank["reason"] == 'say "hi", twice\nthen stop'  # quoted by the writer, read back whole


def test_a_long_export_comes_in_chunks() -> None:
    n = csv_export.ROWS_PER_CHUNK * 2 + 3
    chunks = list(csv_export.quarantine_csv(_entry(i) for i in range(n)))
    assert len(chunks) == 3
    lines = _read(chunks)
    assert len(lines) == n + 1 and lines[-1][3] == f"SKU-{n - 1}"
    assert _read(list(csv_export.quarantine_csv([]))) == [list(csv_export.COLUMNS)]
