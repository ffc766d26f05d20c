"""A seller's catalog at any size, for the end-to-end benchmark: the sample catalog's amazon.com rows
(three product types: SHIRT, LUGGAGE, HEADPHONES), repeated with fresh SKUs and product codes,
with a share of rows spoilt on purpose.

Realism matters more than speed here: every row must go through the same checks a real row meets
(enums, identifiers with check digits, content policy, the product type's schema), so the rows are
the demo's own, not synthetic attribute blocks. Only the SKU, the UPC/EAN (unique, valid check
digits), the title (a model number), the image URL and, for an incremental run, the price change
from one copy to the next.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from demo.sample_catalog import COLUMNS, US, bad_rows, generate_rows

#: How a spoilt row is spoilt: (column, bad value), each caught by the validate step.
DEFECTS: tuple[tuple[str, str], ...] = (
    ("title", ""),  # a required value missing
    ("price", "-1.00"),  # below the mapping's minimum
    ("quantity", "ten"),  # not a number
    ("title", "Sale <b>today</b> only"),  # HTML in a title (content policy)
    ("upc", "012345678901"),  # wrong check digit
)


@dataclass
class Written:
    """What was written, so the benchmark can check the pipeline's counts against it."""

    path: Path
    rows: int
    bad: int
    repriced: set[str] = field(default_factory=set)


def _check_digit(digits: str) -> str:
    odd = sum(int(d) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    return str((10 - (odd * 3 + even) % 10) % 10)


def _templates() -> list[dict[str, str]]:
    spoilt = {bad.sku for bad in bad_rows()}
    seen: set[str] = set()
    rows = []
    for row in generate_rows():
        if row["marketplace_id"] == US and row["sku"] not in spoilt and row["sku"] not in seen:
            seen.add(row["sku"])
            rows.append(row)
    return rows


def write_catalog(
    path: Path, rows: int, *, bad_every: int = 100, reprice_every: int = 0, reprice_offset: int = 7
) -> Written:
    """Write ``rows`` catalog rows to ``path`` (CSV): one in ``bad_every`` is spoilt (a defect from
    :data:`DEFECTS` in turn), and with ``reprice_every`` one in that many good rows costs 1.00 more
    than in the run before (the same ``rows`` and ``bad_every`` give the same rows otherwise)."""
    templates = _templates()
    written = Written(path, rows, 0)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(rows):
            row = dict(templates[i % len(templates)])
            sku = f"{row['sku']}-{i:07d}"
            upc = f"1{i:010d}"
            upc += _check_digit(upc)
            row.update(sku=sku, upc=upc, ean="0" + upc, image_url=f"https://images.example.com/{sku}.jpg")
            if row["title"]:  # a real catalog's titles differ from SKU to SKU: no check sees one twice
                row["title"] = f"{row['title']} (model {i:07d})"
            if bad_every and i % bad_every == bad_every - 1:
                column, value = DEFECTS[(i // bad_every) % len(DEFECTS)]
                row[column] = value
                written.bad += 1
            elif reprice_every and i % reprice_every == reprice_offset:
                row["price"] = str(Decimal(row["price"]) + 1)
                written.repriced.add(sku)
            writer.writerow([row[column] for column in COLUMNS])
    return written
