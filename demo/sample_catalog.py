"""A deterministic sample catalog for the demo and the tests: ``include/sample_catalog/catalog.csv``.

It is what a seller would export from their own product system: one row per SKU and marketplace,
their own column names and codes (color ``BLK``, fit ``M``, fabric ``CP6040``, luggage size
``CABIN``, connectivity ``BT|WIRED``, weight in ``G`` or ``KG``, dimensions ``55x40x23``), prices in
the marketplace's currency, German texts for amazon.de. The catalog mappings in
``include/catalog_mappings`` translate it to Amazon's attributes.

Three invented brands and product types (SHIRT, LUGGAGE, HEADPHONES), 200 SKUs, listed on
amazon.com (every SKU), amazon.ca and amazon.de (most), about 500 rows. A handful of rows are bad
on purpose (:data:`BAD_ROWS`): each names the row, the column, the rule that must catch it, and
the step that catches it (``validate``: the Great Expectations suite; ``schema``: the product type
schema check after mapping).

Regenerate with ``python -m demo.sample_catalog [out_dir] [--parquet]`` (the CSV is
committed; Parquet is written on demand, e.g. to ``var/``). The same seed always gives the same
bytes.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO_ROOT / "include" / "sample_catalog"
CSV_NAME = "catalog.csv"
PARQUET_NAME = "catalog.parquet"
DEFAULT_SEED = 20240611

US, CA, DE = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9"
MARKETPLACES: dict[str, tuple[str, float]] = {US: ("USD", 1.0), CA: ("CAD", 1.37), DE: ("EUR", 0.93)}

COLUMNS: tuple[str, ...] = (
    "sku",
    "marketplace_id",
    "product_type",
    "title",
    "brand",
    "description",
    "bullets",
    "color",
    "size",
    "fit",
    "fabric",
    "sleeve",
    "cuff",
    "material",
    "luggage_size",
    "wheels",
    "wheel_type",
    "lock",
    "expandable",
    "capacity_l",
    "expanded_capacity_l",
    "form_factor",
    "connectivity",
    "bt_version",
    "anc",
    "needs_battery",
    "battery_included",
    "battery_type",
    "battery_cells",
    "battery_life_h",
    "dg_hz",
    "country_of_origin",
    "model",
    "price",
    "currency",
    "quantity",
    "image_url",
    "upc",
    "ean",
    "weight",
    "weight_unit",
    "dimensions_cm",
)


@dataclass(frozen=True)
class BadRow:
    """A row that is bad on purpose, and what must catch it."""

    kind: str
    sku: str
    marketplace_id: str
    column: str
    rule: str
    stage: str  # "validate" (GX suite) or "schema" (product type schema, after mapping)
    value: str | None  # the bad value as written in the catalog (None: empty)


# --- texts -------------------------------------------------------------------------------------------

_COLOR_EN = {
    "BLK": "Black",
    "WHT": "White",
    "NVY": "Navy",
    "GRY": "Heather Gray",
    "RED": "Red",
    "BLU": "Royal Blue",
    "GRN": "Forest Green",
    "SLV": "Silver",
}
_COLOR_DE = {
    "BLK": "Schwarz",
    "WHT": "Weiß",
    "NVY": "Marineblau",
    "GRY": "Grau meliert",
    "RED": "Rot",
    "BLU": "Königsblau",
    "GRN": "Waldgrün",
    "SLV": "Silber",
}
_FIT_EN = {"M": "Men's", "W": "Women's", "U": "Unisex"}
_FIT_DE = {"M": "Herren", "W": "Damen", "U": "Unisex"}

# style, German name, fabric, sleeve, cuff, fits, colors, base price (USD), origin
_SHIRTS: tuple[tuple[str, str, str, str, str, str, str, float, str], ...] = (
    (
        "Classic Crew Tee",
        "Klassisches Rundhals-T-Shirt",
        "C100",
        "SS",
        "",
        "MW",
        "BLK WHT NVY GRY",
        18.0,
        "PT",
    ),
    (
        "Heavyweight Pocket Tee",
        "Schweres T-Shirt mit Brusttasche",
        "C100",
        "SS",
        "",
        "MU",
        "BLK GRY GRN",
        24.0,
        "PT",
    ),
    (
        "Oxford Button-Down Shirt",
        "Oxford-Hemd mit Button-Down-Kragen",
        "C100",
        "LS",
        "BRL",
        "M",
        "WHT BLU",
        48.0,
        "IN",
    ),
    ("Linen Camp Shirt", "Leinenhemd mit Reverskragen", "L100", "SS", "", "MW", "WHT NVY", 52.0, "PT"),
    ("Performance Polo", "Funktions-Poloshirt", "P100", "SS", "", "MW", "BLK NVY RED", 34.0, "VN"),
    ("Long Sleeve Henley", "Langarm-Henley", "CP6040", "LS", "CNV", "MU", "GRY GRN", 32.0, "TR"),
    ("Dress Shirt", "Businesshemd", "C100", "LS", "FRN", "M", "WHT BLU", 65.0, "CN"),
    ("Tank Top", "Tanktop", "CP6040", "NS", "", "WU", "BLK WHT", 15.0, "VN"),
)
_SHIRT_SIZES = ("S", "M", "L", "XL")

# line, German name, material, sizes with capacity (l) and dims, wheels, wheel type, lock, expandable, price
_LUGGAGE: tuple[tuple[str, str, str, str, int, str, str, str, float], ...] = (
    ("Voyager Spinner", "Voyager Spinner-Koffer", "PC", "CABIN M L", 4, "SPINNER", "TSA", "Y", 189.0),
    ("Metro Carry-On", "Metro Handgepäck-Trolley", "ABS", "CABIN", 4, "SPINNER", "COMBI", "N", 129.0),
    ("Atlas Upright", "Atlas Trolley", "NYL", "M L XL", 2, "INLINE", "KEY", "Y", 159.0),
    ("Aero Aluminum", "Aero Aluminiumkoffer", "ALU", "CABIN M", 4, "SPINNER", "TSA", "N", 449.0),
    ("Weekender Soft Case", "Weekender Weichgepäck", "PES", "M L", 2, "INLINE", "NONE", "Y", 99.0),
)
_LUGGAGE_SIZES = {
    "CABIN": ("Carry-On", "Handgepäck", 38, "55x40x23", 3.1),
    "M": ("Medium", "Mittel", 68, "68x45x28", 3.9),
    "L": ("Large", "Groß", 98, "77x52x31", 4.8),
    "XL": ("Extra Large", "Extra groß", 120, "81x56x34", 5.6),
}
_LUGGAGE_COLORS = ("BLK", "GRY", "NVY", "RED", "SLV", "GRN")

# model, German name, form factor, connectivity, anc, battery, hours, price
_HEADPHONES: tuple[tuple[str, str, str, str, str, str, float, float], ...] = (
    ("Sonora Buds", "Sonora Buds In-Ear-Kopfhörer", "INEAR", "BT", "ANC", "LIPO", 8.0, 129.0),
    ("Sonora Buds Lite", "Sonora Buds Lite In-Ear-Kopfhörer", "INEAR", "BT", "PASSIVE", "LIPO", 6.0, 59.0),
    ("Sonora Move", "Sonora Move On-Ear-Kopfhörer", "ONEAR", "BT|WIRED", "NONE", "LIION", 40.0, 89.0),
    ("Sonora Studio", "Sonora Studio Over-Ear-Kopfhörer", "OVEREAR", "WIRED", "PASSIVE", "", 0.0, 149.0),
    (
        "Sonora Studio Pro",
        "Sonora Studio Pro Over-Ear-Kopfhörer",
        "OVEREAR",
        "BT|WIRED",
        "ANC",
        "LIION",
        30.0,
        299.0,
    ),
    ("Sonora Sport", "Sonora Sport In-Ear-Kopfhörer", "INEAR", "BT", "PASSIVE", "LIPO", 10.0, 79.0),
    ("Sonora Desk", "Sonora Desk USB-Headset", "ONEAR", "USB", "NONE", "", 0.0, 69.0),
)
_HEADPHONE_COLORS = ("BLK", "WHT", "BLU", "SLV", "RED")
_BT_VERSIONS = ("5.0", "5.2", "5.3")


def _check_digit(digits: str) -> str:
    odd = sum(int(d) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    return str((10 - (odd * 3 + even) % 10) % 10)


def _upc(rng: random.Random, prefix: str) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(11 - len(prefix)))
    return body + _check_digit(body)


def _price(base_usd: float, marketplace_id: str) -> str:
    """The marketplace's price: converted, then rounded up to the next whole amount minus 0.01."""
    amount = base_usd * MARKETPLACES[marketplace_id][1]
    return f"{math.ceil(amount) - 0.01:.2f}"


# --- products ----------------------------------------------------------------------------------------


def _shirts(rng: random.Random) -> Iterator[dict[str, Any]]:
    for number, (style, style_de, fabric, sleeve, cuff, fits, colors, price, origin) in enumerate(_SHIRTS, 1):
        for fit in fits:
            for color in colors.split():
                for size in _SHIRT_SIZES:
                    sku = f"NW-{number:02d}{fit}-{color}-{size}"
                    upc = _upc(rng, "0840")
                    fabric_en = {
                        "C100": "100% cotton",
                        "CP6040": "cotton-polyester blend",
                        "P100": "recycled polyester",
                        "L100": "pure linen",
                    }[fabric]
                    fabric_de = {
                        "C100": "100 % Baumwolle",
                        "CP6040": "Baumwoll-Polyester-Mischung",
                        "P100": "recyceltem Polyester",
                        "L100": "reinem Leinen",
                    }[fabric]
                    yield {
                        "product_type": "SHIRT",
                        "sku": sku,
                        "brand": "Northwind Apparel",
                        "en": {
                            "title": f"Northwind Apparel {_FIT_EN[fit]} {style}, {_COLOR_EN[color]}, Size {size}",
                            "description": f"The {style.lower()} from Northwind Apparel, cut from {fabric_en} for everyday comfort. Machine washable.",
                            "bullets": f"Made from {fabric_en}|Relaxed {_FIT_EN[fit].lower()} fit|Tagless neck label|Machine wash cold, tumble dry low",
                        },
                        "de": {
                            "title": f"Northwind Apparel {_FIT_DE[fit]} {style_de}, {_COLOR_DE[color]}, Größe {size}",
                            "description": f"{style_de} von Northwind Apparel aus {fabric_de}, bequem für jeden Tag. Maschinenwaschbar.",
                            "bullets": f"Aus {fabric_de}|Bequeme Passform|Ohne kratzendes Etikett|Maschinenwäsche kalt",
                        },
                        "color": color,
                        "size": size,
                        "fit": fit,
                        "fabric": fabric,
                        "sleeve": sleeve,
                        "cuff": cuff,
                        "country_of_origin": origin,
                        "model": f"NW-{number:02d}{fit}",
                        "base_price": price + (2.0 if size == "XL" else 0.0),
                        "upc": upc,
                        "weight": str(rng.randrange(180, 340, 10)),
                        "weight_unit": "G",
                        "dimensions_cm": "30x25x3",
                    }


def _luggage(rng: random.Random) -> Iterator[dict[str, Any]]:
    for number, (line, line_de, material, sizes, wheels, wheel_type, lock, expandable, price) in enumerate(
        _LUGGAGE, 1
    ):
        colors = rng.sample(_LUGGAGE_COLORS, 3)
        for size in sizes.split():
            size_en, size_de, capacity, dims, weight = _LUGGAGE_SIZES[size]
            for color in colors:
                sku = f"TT-{number:02d}-{size}-{color}"
                yield {
                    "product_type": "LUGGAGE",
                    "sku": sku,
                    "brand": "Trailhead Travel",
                    "en": {
                        "title": f"Trailhead Travel {line} {size_en} Suitcase, {capacity} L, {_COLOR_EN[color]}",
                        "description": f"The {line} keeps up with every trip: {wheels} wheels, a telescoping handle and a {capacity} liter main compartment.",
                        "bullets": f"{capacity} liter capacity|{wheels} smooth-rolling wheels|Telescoping aluminum handle|Interior compression straps",
                    },
                    "de": {
                        "title": f"Trailhead Travel {line_de} {size_de}, {capacity} L, {_COLOR_DE[color]}",
                        "description": f"Der {line_de} begleitet Sie auf jeder Reise: {wheels} Rollen, ein Teleskopgriff und {capacity} Liter Volumen.",
                        "bullets": f"{capacity} Liter Volumen|{wheels} leichtgängige Rollen|Teleskopgriff aus Aluminium|Kompressionsgurte innen",
                    },
                    "color": color,
                    "material": material,
                    "luggage_size": size,
                    "wheels": str(wheels),
                    "wheel_type": wheel_type if wheels else "",
                    "lock": lock,
                    "expandable": expandable,
                    "capacity_l": str(capacity),
                    "expanded_capacity_l": str(int(capacity * 1.15)) if expandable == "Y" else "",
                    "country_of_origin": rng.choice(("CN", "TW", "VN")),
                    "model": f"TT-{number:02d}-{size}",
                    "base_price": price + {"CABIN": 0, "M": 30, "L": 60, "XL": 80}[size],
                    "upc": _upc(rng, "0860"),
                    "weight": f"{weight:.1f}",
                    "weight_unit": "KG",
                    "dimensions_cm": dims,
                }


def _headphones(rng: random.Random) -> Iterator[dict[str, Any]]:
    for number, (model, model_de, form, connectivity, anc, battery, hours, price) in enumerate(
        _HEADPHONES, 1
    ):
        bluetooth = "BT" in connectivity.split("|")
        for color in _HEADPHONE_COLORS:
            sku = f"SA-{number:02d}-{color}"
            kind_en = {
                "INEAR": "In-Ear Earbuds",
                "ONEAR": "On-Ear Headphones",
                "OVEREAR": "Over-Ear Headphones",
            }[form]
            wireless = "Wireless " if bluetooth else "Wired " if connectivity == "WIRED" else "USB "
            battery_en = f"up to {hours:g} hours of battery" if battery else "a durable braided cable"
            battery_de = f"bis zu {hours:g} Stunden Akkulaufzeit" if battery else "ein robustes Textilkabel"
            yield {
                "product_type": "HEADPHONES",
                "sku": sku,
                "brand": "Sonora Audio",
                "en": {
                    "title": f"Sonora Audio {model} {wireless}{kind_en}, {_COLOR_EN[color]}",
                    "description": f"{model}: balanced sound, soft cushions and {battery_en}.",
                    "bullets": "Balanced, detailed sound|Soft memory-foam cushions|"
                    + (f"Up to {hours:g} hours of playback" if battery else "Detachable braided cable")
                    + "|Two-year warranty",
                },
                "de": {
                    "title": f"Sonora Audio {model_de}, {_COLOR_DE[color]}",
                    "description": f"{model}: ausgewogener Klang, weiche Polster und {battery_de}.",
                    "bullets": "",
                },
                "color": color,
                "form_factor": form,
                "connectivity": connectivity,
                "bt_version": rng.choice(_BT_VERSIONS) if bluetooth else "",
                "anc": anc,
                "needs_battery": "Y" if battery else "N",
                "battery_included": "Y" if battery else "",
                "battery_type": battery,
                "battery_cells": "1" if battery else "",
                "battery_life_h": f"{hours:g}" if battery else "",
                "dg_hz": "TRANSPORT" if battery else "NONE",
                "country_of_origin": rng.choice(("CN", "VN", "TW")),
                "model": f"SA-{number:02d}",
                "base_price": price,
                "upc": _upc(rng, "0870"),
                "weight": str(rng.randrange(40, 380, 5)),
                "weight_unit": "G",
                "dimensions_cm": "20x18x9" if form != "INEAR" else "10x8x4",
            }


def _row(product: dict[str, Any], marketplace_id: str, rng: random.Random) -> dict[str, str]:
    language = "de" if marketplace_id == DE else "en"
    texts = product[language]
    row = {column: "" for column in COLUMNS}
    for column, value in product.items():
        if column in row:
            row[column] = str(value)
    row.update(
        {
            "marketplace_id": marketplace_id,
            "title": texts["title"],
            "description": texts["description"],
            "bullets": texts["bullets"],
            "price": _price(float(product["base_price"]), marketplace_id),
            "currency": MARKETPLACES[marketplace_id][0],
            "quantity": str(rng.randrange(0, 250)),
            "image_url": f"https://images.{product['brand'].split()[0].lower()}.example/{product['sku']}.jpg",
            "ean": "0" + product["upc"],
        }
    )
    return row


def _generate(seed: int) -> tuple[list[dict[str, str]], list[BadRow]]:
    rng = random.Random(seed)
    products = [*_shirts(rng), *_luggage(rng), *_headphones(rng)]
    rows: list[dict[str, str]] = []
    for product in products:
        for marketplace_id in (US, CA, DE):
            listed = marketplace_id == US or rng.random() < (0.8 if marketplace_id == CA else 0.7)
            if listed:
                rows.append(_row(product, marketplace_id, rng))
    return _inject_bad_rows(rows)


def generate_rows(seed: int = DEFAULT_SEED) -> list[dict[str, str]]:
    """The catalog's rows (text cells, ``""`` for empty), bad rows included, in a stable order."""
    return _generate(seed)[0]


def bad_rows(seed: int = DEFAULT_SEED) -> list[BadRow]:
    """The rows that are bad on purpose, with the SKU each one got for ``seed``."""
    return _generate(seed)[1]


# --- the bad rows ------------------------------------------------------------------------------------

# (kind, SKU prefix, marketplace, column, rule, stage, bad value): the first row of that marketplace
# whose SKU starts with the prefix (and is not spoilt already) gets the bad value.
_BAD: tuple[tuple[str, str, str, str, str, str, str | None], ...] = (
    (
        "missing required value",
        "NW-01M-BLK",
        US,
        "title",
        "expect_column_values_to_not_be_null",
        "validate",
        None,
    ),
    ("unknown enum code", "TT-01-M-", US, "color", "expect_column_values_to_be_in_set", "validate", "BLCK"),
    (
        "HTML in title",
        "SA-01-",
        US,
        "title",
        "content_policy.html",
        "validate",
        "Sonora Audio <b>Sonora Buds</b> Wireless In-Ear Earbuds",
    ),
    (
        "banned term",
        "NW-05",
        DE,
        "bullets",
        "content_policy.banned_terms",
        "validate",
        "Unser Bestseller|Atmungsaktives Gewebe|Schnell trocknend|Maschinenwäsche kalt",
    ),
    (
        "title too long",
        "TT-03-L-",
        US,
        "title",
        "content_policy.max_length",
        "validate",
        "Trailhead Travel Atlas Upright Large Suitcase with Expandable Main Compartment, Two Inline "
        "Skate Wheels, Integrated Key Lock, Telescoping Handle and Packing Organizer, 98 L",
    ),
    (
        "image URL not https",
        "SA-02-",
        CA,
        "image_url",
        "content_policy.image_url",
        "validate",
        "http://images.sonora.example/SA-02.jpg",
    ),
    ("duplicate SKU", "NW-02M-GRY", US, "sku", "expect_compound_columns_to_be_unique", "validate", None),
    ("negative price", "TT-02-", DE, "price", "expect_column_values_to_be_between", "validate", "-89.00"),
    (
        "quantity not a number",
        "SA-04-",
        DE,
        "quantity",
        "expect_column_values_to_match_regex",
        "validate",
        "ten",
    ),
    (
        "currency of another marketplace",
        "NW-04W-",
        CA,
        "currency",
        "expect_column_pair_values_to_be_in_set",
        "validate",
        "USD",
    ),
    (
        "Bluetooth model without Bluetooth version",
        "SA-05-",
        US,
        "bt_version",
        "product_type_schema.90220",
        "schema",
        None,
    ),
    # valid by every catalog-side check: only Amazon knows the seller lacks approval for the brand
    # (the sandbox gates "Gated Brand Co"), so its rejection arrives in the feed's processing report
    ("brand that needs Amazon's approval", "TT-04-", US, "brand", "5665", "amazon", "Gated Brand Co"),
)


def _inject_bad_rows(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[BadRow]]:
    used: set[str] = set()
    resolved: list[BadRow] = []
    for kind, prefix, marketplace_id, column, rule, stage, value in _BAD:
        index = next(
            i
            for i, row in enumerate(rows)
            if row["marketplace_id"] == marketplace_id
            and row["sku"].startswith(prefix)
            and row["sku"] not in used
        )
        row = rows[index]
        used.add(row["sku"])
        if kind == "duplicate SKU":
            # the seller's system exported the same SKU twice for one marketplace
            rows.insert(index + 1, dict(row, quantity=str(int(row["quantity"]) + 5)))
            value = row["sku"]
        else:
            row[column] = value or ""
        resolved.append(BadRow(kind, row["sku"], marketplace_id, column, rule, stage, value))
    return rows, resolved


# --- files -------------------------------------------------------------------------------------------


def to_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_catalog_csv(path: str | Path) -> Any:
    """Read a catalog CSV the way the extract step keeps it: every cell text, empty cells null."""
    import pandas as pd  # type: ignore[import-untyped]

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8")
    frame = frame.astype(object)
    return frame.where(frame != "", None)


def write_sample_catalog(
    out_dir: str | Path = DEFAULT_DIR, *, seed: int = DEFAULT_SEED, parquet: bool | None = None
) -> dict[str, Path]:
    """Write ``catalog.csv`` (and ``catalog.parquet``: always when ``parquet`` is true, when pyarrow
    is installed when it is None). Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = generate_rows(seed)
    written = {"csv": out / CSV_NAME}
    written["csv"].write_text(to_csv(rows), encoding="utf-8")
    if parquet is None:
        parquet = importlib.util.find_spec("pyarrow") is not None
    if parquet:
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(COLUMNS)).astype(object)
        frame = frame.where(frame != "", None)
        frame.to_parquet(out / PARQUET_NAME, index=False)
        written["parquet"] = out / PARQUET_NAME
    return written


#: The rows that are bad on purpose in the committed sample (default seed), SKUs resolved.
BAD_ROWS: tuple[BadRow, ...] = tuple(bad_rows())


def main(argv: list[str] | None = None) -> int:
    """``python -m demo.sample_catalog [out_dir] [--parquet]``"""
    args = list(sys.argv[1:] if argv is None else argv)
    parquet = "--parquet" in args
    paths = [a for a in args if not a.startswith("--")]
    written = write_sample_catalog(Path(paths[0]) if paths else DEFAULT_DIR, parquet=parquet)
    rows = generate_rows()
    for kind, path in written.items():
        print(f"wrote {kind}: {path}")
    print(f"{len(rows)} rows, {len({r['sku'] for r in rows})} SKUs, {len(BAD_ROWS)} bad on purpose")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
