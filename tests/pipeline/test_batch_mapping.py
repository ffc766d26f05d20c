"""The batch mapping (distinct cells built and checked once) against the per-row mapping: any
difference in messages, quarantine records or rejected SKUs, or in their order, fails.

The corpus is the sample catalog in each of its marketplaces (its bad rows included), then the same
rows spoilt at random, one to three cells each, with values that every check cares about: empty and
blank cells, another marketplace or product type, no SKU, text a number column cannot take, an
unknown enum code, over-long and non-ASCII text, HTML. Typed columns (integers, floats, booleans, as
Parquet or SQL give them) and a batch without some columns are compared too. Each comparison also
counts how many rows the fast path took, so that a fast path that quietly sends everything the
per-row way cannot pass for an equal one.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from demo.sample_catalog import generate_rows
from listings_pipeline.catalog import batch_mapping
from listings_pipeline.catalog.batch_mapping import map_batch
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.transform import map_rows
from spapi.product_types import ProductTypeSchemas

from .catalog_paths import CA, DE, US

MUTANTS = 1500
SPOILERS: tuple[Any, ...] = (
    None,
    "",
    "   ",
    "ten",
    "-1",
    "0",
    "1e309",
    "19.999",
    "PNK",
    "shirt",
    " Luggage ",
    "SOCKS",
    "A1F83G8C2ARO7P",
    "x" * 3000,
    "Ünïcödé ✓ " * 40,
    "Sale <b>today</b> only",
    "true",
    "maybe",
)


def _rows() -> list[dict[str, Any]]:
    return [{k: (v or None) for k, v in r.items()} for r in generate_rows()]


def _mutants(rows: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    columns = sorted({c for r in rows for c in r})
    pool: dict[str, list[Any]] = {c: sorted({str(r.get(c)) for r in rows if r.get(c)}) for c in columns}
    out = []
    for i in range(count):
        row = copy.deepcopy(rng.choice(rows))
        row["sku"] = f"{row.get('sku')}-M{i}"
        for _ in range(rng.randint(1, 3)):
            column = rng.choice(columns)
            if rng.random() < 0.5 and pool[column]:
                row[column] = rng.choice(pool[column])  # a real value of another row
            else:
                row[column] = rng.choice(SPOILERS)
        out.append(row)
    return out


def _compare(
    batch: pa.RecordBatch, mappings: Any, marketplace_id: str, schemas: Any, fresh: Any
) -> tuple[list[str], int]:
    """Differences between the two paths, and how many rows the fast path took."""
    want = map_rows(batch.to_pylist(), mappings, marketplace_id, schemas=schemas)
    taken = 0
    real = batch_mapping._map_row

    def per_row(*args: Any, **kwargs: Any) -> None:
        nonlocal taken
        taken -= 1
        real(*args, **kwargs)

    batch_mapping._map_row = per_row  # type: ignore[assignment]
    try:
        got = map_batch(batch, mappings, marketplace_id, schemas=fresh)
    finally:
        batch_mapping._map_row = real  # type: ignore[assignment]
    taken += batch.num_rows
    differences = []
    if want.messages != got.messages:
        pairs = zip(want.messages, got.messages, strict=False)
        first = next(
            (i for i, (a, b) in enumerate(pairs) if a != b), min(len(want.messages), len(got.messages))
        )
        differences.append(f"messages differ from #{first} ({len(want.messages)} vs {len(got.messages)})")
    if want.quarantined != got.quarantined:
        differences.append(f"quarantine records differ: {want.quarantined[:3]} vs {got.quarantined[:3]}")
    if want.rejected_skus != got.rejected_skus:
        differences.append("rejected SKUs differ")
    return differences, taken


def _fresh(schemas: ProductTypeSchemas) -> ProductTypeSchemas:
    """Its own caches: what the per-row pass remembered must not help the batch."""
    return ProductTypeSchemas(schemas.meta_schema_path, schemas.directories)


@pytest.mark.parametrize("marketplace_id", [US, CA, DE])
def test_the_sample_catalog_maps_alike_in_every_marketplace(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas, marketplace_id: str
) -> None:
    batch = pa.RecordBatch.from_pylist(_rows())
    differences, taken = _compare(batch, mappings, marketplace_id, schemas, _fresh(schemas))
    assert differences == []
    assert taken >= 100  # most good rows of the marketplace never went the per-row way


def test_spoilt_rows_map_alike(mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas) -> None:
    rows = _rows()
    mutants = _mutants(rows, MUTANTS, seed=20261203)
    fresh = _fresh(schemas)
    total_taken = 0
    for marketplace_id in (US, DE):
        for start in range(0, len(mutants), 500):  # several batches share the schema caches, as in a chunk
            batch = pa.RecordBatch.from_pylist(mutants[start : start + 500])
            differences, taken = _compare(batch, mappings, marketplace_id, schemas, fresh)
            assert differences == [], f"{marketplace_id} batch at {start}"
            total_taken += taken
    assert 300 < total_taken < 2 * MUTANTS  # some spoilt rows still make messages; many do not


def test_typed_columns_and_missing_columns_map_alike(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas
) -> None:
    rows = [r for r in _rows() if r["marketplace_id"] == US]
    typed = []
    for i, row in enumerate(rows):
        quantity = row.get("quantity")
        typed.append(
            {
                **row,
                "quantity": int(quantity) if quantity and str(quantity).isdigit() else None,
                "price": float(row["price"]) if row.get("price") else (float("nan") if i % 2 else None),
            }
        )
    batch = pa.RecordBatch.from_pylist(typed)
    differences, taken = _compare(batch, mappings, US, schemas, _fresh(schemas))
    assert differences == [] and taken > 50
    without = batch.drop_columns(["product_type", "marketplace_id"])
    differences, _ = _compare(without, mappings, US, schemas, _fresh(schemas))
    assert differences == []
    differences, taken = _compare(without, mappings["SHIRT"], US, None, None)
    assert differences == [] and taken > 10


def test_without_a_schema_check_the_values_alone_decide(mappings: dict[str, ProductTypeMapping]) -> None:
    batch = pa.RecordBatch.from_pylist(_mutants(_rows(), 400, seed=7))
    differences, taken = _compare(batch, mappings, US, None, None)
    assert differences == [] and taken > 50


def test_the_comparison_catches_a_fast_path_that_vouches_for_a_bad_value(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = _fresh(schemas)
    for name in ("SHIRT", "LUGGAGE", "HEADPHONES"):
        monkeypatch.setattr(fresh.validator(name), "value_passes", lambda name, value: True)
    batch = pa.RecordBatch.from_pylist(_mutants(_rows(), 400, seed=11))
    differences, _ = _compare(batch, mappings, US, schemas, fresh)
    assert differences


def test_the_comparison_catches_a_fast_path_that_ignores_the_root_rules(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = _fresh(schemas)
    for name in ("SHIRT", "LUGGAGE", "HEADPHONES"):
        monkeypatch.setattr(fresh.validator(name), "rest_passes", lambda instance: True)
    batch = pa.RecordBatch.from_pylist(_rows())
    differences, _ = _compare(batch, mappings, US, schemas, fresh)
    assert differences  # the sample's HEADPHONES row without its required bluetooth_version


def test_a_schema_the_analysis_does_not_cover_sends_every_row_the_per_row_way(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas, tmp_path: Path
) -> None:
    fresh = _fresh(schemas)
    for name in ("SHIRT", "LUGGAGE", "HEADPHONES"):
        fresh.validator(name)._root = None  # as for a root with a $ref or patternProperties
    batch = pa.RecordBatch.from_pylist([r for r in _rows() if r["marketplace_id"] == US])
    differences, taken = _compare(batch, mappings, US, schemas, fresh)
    assert differences == [] and taken == 0


def test_a_leaf_s_text_is_put_into_the_value_built_once(mappings: dict[str, ProductTypeMapping]) -> None:
    """The shortcut for the cells that differ from row to row gives what building the value gives:
    for text with surrounding blanks, JSON-looking text and a blank cell (built in full), for a
    copied title and for an image URL joined to its base; a bad URL raises as building it does."""
    shirt = mappings["SHIRT"]
    attributes = shirt.attributes_for(US)
    cases = {
        ("item_name", "title"): ["  Linen shirt ", '{"value": 1}', "\\u0000", "Ünïcödé ✓", "   ", None],
        ("main_product_image_locator", "image_url"): ["https://x.example/a.jpg", " https://x.example/b ", ""],
    }
    for (name, column), texts in cases.items():
        maker = batch_mapping._ValueMaker(shirt, US, name, attributes[name], (column,))
        assert maker.leaf is not None
        for text in texts:
            ctx = batch_mapping._Context({column: text}, shirt, US, "S", name, frozenset({column}))
            assert maker.value({column: text}) == batch_mapping._attribute_values(ctx, attributes[name])
        assert maker.fill is not None and not maker.failed
    image = attributes["main_product_image_locator"]
    maker = batch_mapping._ValueMaker(shirt, US, "main_product_image_locator", image, ("image_url",))
    with pytest.raises(batch_mapping.TransformError, match="is not an https:// image URL"):
        maker.value({"image_url": "ftp://x.example/a.jpg"})
    offer = attributes["purchasable_offer"]
    assert (
        batch_mapping._ValueMaker(
            shirt, US, "purchasable_offer", offer, batch_mapping.declared_columns(offer)
        ).leaf
        is None
    )


def test_the_text_is_put_at_any_depth_and_the_skeleton_is_left_alone() -> None:
    mark = batch_mapping._MARK
    for skeleton, want in (
        ([{"value": mark, "marketplace_id": "M"}], [{"value": "t", "marketplace_id": "M"}]),
        ([{"a": {"b": [1, mark]}, "c": [2]}], [{"a": {"b": [1, "t"]}, "c": [2]}]),
    ):
        before = copy.deepcopy(skeleton)
        fill = batch_mapping._substitution(skeleton)
        assert fill("t") == want and fill("u") != want
        assert skeleton == before
