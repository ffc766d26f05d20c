"""Map a batch of catalog rows by its distinct cells: each attribute value built and checked once.

Why: mapping row by row (:func:`~.transform.map_rows`) spends about 180 µs a row in Python, two
thirds of it looking up attribute values and schema verdicts that a catalog repeats on thousands of
rows; a million rows were a minute and a half of the check step on two cores. Here the batch is read
as Arrow columns instead:

1. each column the mapping reads is dictionary-encoded (in Arrow, not Python), and for each attribute
   the rows are grouped by the combination of the cells its spec declares;
2. each group's value is built once from one of its rows (the same function builds it, under the
   same rule as the attribute memo: a value depends only on the marketplace and its declared cells),
   and put once to the product type's schema (the attribute's own half of
   :class:`spapi.memo_validation.MemoValidator`);
3. the rows are grouped again by what the schema's root rules read (which attributes each row has,
   and the values of the attributes those rules name), and each group is put once to those rules;
4. a row whose every value built, whose every value passed and whose root group passed gets its
   message assembled from the shared values. Any other row (a value that failed to build, a schema
   error, no SKU, another marketplace, an unknown product type, a schema the analysis does not cover)
   goes through :func:`~.transform.map_rows`' own per-row path, which writes its quarantine records
   exactly as before.

So the fast path only ever says "this message is the one the row makes, and it has no schema error";
everything else is the per-row path's to decide. ``tests/pipeline/test_batch_mapping.py`` runs valid
and invalid rows through both and fails on any difference in messages, records or order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from listings_pipeline.catalog.cells import is_empty
from listings_pipeline.catalog.mapping import AttributeMapping, ProductTypeMapping, iter_leaves
from listings_pipeline.catalog.transform import (
    AttributeMemo,
    MappingResult,
    TransformError,
    _attribute_values,
    _Context,
    _map_row,
    _mark_origin,
    declared_columns,
)

__all__ = ["map_batch"]


class _Columns:
    """The batch's columns as the mapping reads them: codes of equal cells (Arrow's dictionary
    encoding) and the cells themselves as Python values, each made once and only when asked."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.rows = batch.num_rows
        self._codes: dict[str, Any] = {}
        self._values: dict[str, list[Any]] = {}

    def values(self, name: str) -> list[Any]:
        found = self._values.get(name)
        if found is None:
            index = self.batch.schema.get_field_index(name)
            found = self._values[name] = (
                self.batch.column(index).to_pylist() if index >= 0 else [None] * self.rows
            )
        return found

    def codes(self, name: str) -> Any:
        """One integer per row, equal where the cells are equal (an empty cell is a value too)."""
        found = self._codes.get(name)
        if found is None:
            index = self.batch.schema.get_field_index(name)
            if index < 0:
                found = np.zeros(self.rows, dtype=np.int64)
            else:
                try:
                    encoded = pc.dictionary_encode(self.batch.column(index), null_encoding="encode")
                    found = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
                except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                    # a type Arrow does not hash: by Python equality, with the type (1 is not "1")
                    seen: dict[tuple[Any, type], int] = {}
                    found = np.fromiter(
                        (seen.setdefault((v, type(v)), len(seen)) for v in self.values(name)),
                        dtype=np.int64,
                        count=self.rows,
                    )
            self._codes[name] = found
        return found

    def row(self, position: int) -> dict[str, Any]:
        """The whole row, as ``RecordBatch.to_pylist`` gives it, for the per-row path."""
        row: dict[str, Any] = self.batch.slice(position, 1).to_pylist()[0]
        return row


def _grouped(codes: list[Any], rows: Any) -> tuple[Any, Any]:
    """(first row of each group, each row's group) for ``rows`` grouped by all of ``codes``."""
    if not codes:
        return np.zeros(1, dtype=np.int64), np.zeros(len(rows), dtype=np.int64)
    combined = codes[0][rows]
    for more in codes[1:]:
        # both below len(rows) after each step, so the product never overflows
        _, combined = np.unique(combined, return_inverse=True)
        picked = more[rows]
        _, picked = np.unique(picked, return_inverse=True)
        combined = combined * (int(picked.max(initial=0)) + 1) + picked
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _validator(schemas: Any, product_type: str) -> Any:
    """The product type's validator if its two halves can be asked apart, else None (per-row path)."""
    from spapi.memo_validation import MemoValidator
    from spapi.product_types import ProductTypeSchemas

    if isinstance(schemas, ProductTypeSchemas):
        if product_type not in schemas:
            return None
        schemas = schemas.validator(product_type)
    return schemas if isinstance(schemas, MemoValidator) and schemas.splits else None


#: What the leaf's text is replaced by to see where it lands in the attribute's value
_MARK = "\x00a leaf's text\x00"


class _ValueMaker:
    """An attribute's value from its declared cells, as the per-row path builds it.

    Where one leaf of the attribute's spec reads the columns (an identifier, a title, an image URL:
    the cells that differ from row to row) and the rest are constants, the value is built once with
    a marker for that leaf's text; then for each row the leaf alone runs, and its text is put where
    the marker landed: the same value, without walking the spec again. A leaf that gives no text
    (an empty cell, a list, a number), or any other attribute, is built in full.
    """

    def __init__(
        self,
        mapping: ProductTypeMapping,
        marketplace_id: str,
        name: str,
        attribute: AttributeMapping,
        declared: tuple[str, ...],
    ) -> None:
        self.attribute = attribute
        self.ctx = _Context({}, mapping, marketplace_id, "", name, frozenset(declared))
        self.leaf: Any = None
        self.fill: Callable[[str], Any] | None = None
        self.failed = False
        leaves = [leaf for _, top in attribute.specs() for _, leaf in iter_leaves(top) if leaf.columns()]
        if len(leaves) == 1:
            self.leaf = leaves[0]

    def value(self, cells: dict[str, Any]) -> list[dict[str, Any]]:
        self.ctx.row = cells
        if self.leaf is not None and not self.failed:
            text = self.leaf.apply(self.ctx)  # raises what building the whole value would raise
            if isinstance(text, str):
                if self.fill is None:
                    self.fill = self._filler()
                    self.failed = self.fill is None
                if self.fill is not None:
                    filled: list[dict[str, Any]] = self.fill(text)
                    return filled
        return _attribute_values(self.ctx, self.attribute)

    def _filler(self) -> Callable[[str], Any] | None:
        """A function of the leaf's text that builds the value, or None when the marker does not
        land exactly once as a whole string (then every value is built in full)."""
        self.ctx.given = (self.leaf, _MARK)
        try:
            skeleton = _attribute_values(self.ctx, self.attribute)
        except TransformError:
            return None
        finally:
            self.ctx.given = None
        if orjson.dumps(skeleton).count(orjson.dumps(_MARK)[1:-1]) != 1 or _places(skeleton) != 1:
            return None
        return _substitution(skeleton)


def _places(node: Any) -> int:
    """How many strings of ``node`` are the marker itself."""
    if isinstance(node, dict):
        return sum(map(_places, node.values()))
    if isinstance(node, list):
        return sum(map(_places, node))
    return int(node == _MARK)


def _path(node: Any) -> list[Any]:
    """The keys and indexes that lead to the marker (which :func:`_places` found once)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, sub in items:
        if sub == _MARK:
            return [key]
        if _places(sub):
            return [key, *_path(sub)]
    return []


def _substitution(skeleton: Any) -> Callable[[str], Any]:
    """A function that gives ``skeleton`` with the text in place of the marker: the lists and dicts
    on the way to it are copied (in C), everything else is shared, as attribute values are (read,
    never changed)."""
    path = _path(skeleton)
    if len(path) == 2:  # the usual [{"value": ..., "marketplace_id": ...}]
        first, second = path

        def fill_two(text: str) -> Any:
            outer = skeleton.copy()
            inner = outer[first].copy()
            inner[second] = text
            outer[first] = inner
            return outer

        return fill_two

    def put(node: Any, at: list[Any], text: str) -> Any:
        if not at:
            return text
        copy = node.copy()
        copy[at[0]] = put(node[at[0]], at[1:], text)
        return copy

    return lambda text: put(skeleton, path, text)


def _fast_messages(
    columns: _Columns,
    rows: Any,
    mapping: ProductTypeMapping,
    marketplace_id: str,
    schemas: Any,
    skus: list[str | None],
) -> dict[int, dict[str, Any]]:
    """The messages of ``rows`` (positions of one product type's rows) that the fast path can vouch
    for, by position; the rows left out go the per-row way."""
    from spapi.memo_validation import SharedValue

    validator = None
    if schemas is not None:
        validator = _validator(schemas, mapping.product_type)
        if validator is None:
            return {}
    if marketplace_id not in mapping.marketplaces:
        return {}
    good = np.ones(len(rows), dtype=bool)
    names: list[str] = []
    built: list[list[Any]] = []
    groups: list[Any] = []
    positions = rows.tolist()
    for name, attribute in mapping.attributes_for(marketplace_id).items():
        declared = declared_columns(attribute)
        first, inverse = _grouped([columns.codes(c) for c in declared], rows)
        values: list[Any] = []
        failed: list[int] = []
        maker = _ValueMaker(mapping, marketplace_id, name, attribute, declared)
        cells = [columns.values(c) for c in declared]
        for group, at in enumerate(first.tolist()):
            position = positions[at]
            try:
                value = SharedValue(
                    maker.value({c: v[position] for c, v in zip(declared, cells, strict=True)})
                )
            except TransformError:
                value = SharedValue()
                failed.append(group)
            else:
                if value and validator is not None and not validator.value_passes(name, value):
                    failed.append(group)
            values.append(value)
        if failed:
            passes = np.ones(len(first), dtype=bool)
            passes[failed] = False
            good &= passes[inverse]
        names.append(name)
        built.append(values)
        groups.append(inverse)
    if not names:
        return {}
    present = [
        np.fromiter(map(bool, values), dtype=bool, count=len(values))[inverse]
        for values, inverse in zip(built, groups, strict=True)
    ]
    good &= np.logical_or.reduce(present)  # a row with no attribute is the per-row path's error
    if validator is not None:
        good &= _root_passes(validator, names, built, groups, present)
    messages: dict[int, dict[str, Any]] = {}
    requirements = mapping.requirements
    product_type = mapping.product_type
    picks = list(zip(names, built, [inverse.tolist() for inverse in groups], strict=True))
    for k in np.flatnonzero(good).tolist():
        attributes = {name: value for name, values, pick in picks if (value := values[pick[k]])}
        position = positions[k]
        messages[position] = {
            "sku": skus[position],
            "operationType": "UPDATE",
            "productType": product_type,
            "requirements": requirements,
            "attributes": attributes,
        }
    return messages


def _root_passes(
    validator: Any, names: list[str], built: list[list[Any]], groups: list[Any], present: list[Any]
) -> Any:
    """Whether each row passes the schema's root rules, asked once per distinct combination of which
    attributes the row has and the values of the attributes the rules name."""
    named = validator.named_attributes
    keys = [groups[i] if name in named else present[i] for i, name in enumerate(names)]
    matrix = np.stack([k.astype(np.int64) for k in keys], axis=1)
    _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
    passes = np.empty(len(first), dtype=bool)
    for group, at in enumerate(first.tolist()):
        instance = {}
        for name, values, inverse_of in zip(names, built, groups, strict=True):
            value = values[inverse_of[at]]
            if value:
                instance[name] = value
        passes[group] = validator.rest_passes(instance)
    return passes[inverse.reshape(-1)]


def map_batch(
    batch: pa.RecordBatch,
    mappings: ProductTypeMapping | Mapping[str, ProductTypeMapping],
    marketplace_id: str,
    *,
    schemas: Any = None,
) -> MappingResult:
    """What :func:`~.transform.map_rows` gives for ``batch.to_pylist()``: the same messages, the same
    quarantine records and rejected SKUs, in the same order."""
    by_type: Mapping[str, ProductTypeMapping] = (
        {mappings.product_type: mappings} if isinstance(mappings, ProductTypeMapping) else mappings
    )
    single = next(iter(by_type.values())) if len(by_type) == 1 else None
    columns = _Columns(batch)
    count = columns.rows
    skus = [None if is_empty(v) else str(v).strip() for v in columns.values("sku")]
    own_marketplace = [
        is_empty(v) or str(v).strip() == marketplace_id for v in columns.values("marketplace_id")
    ]
    by_mapping: dict[int, tuple[ProductTypeMapping, list[int]]] = {}
    types: dict[Any, ProductTypeMapping | None] = {}
    for position, (row_type, sku, ours) in enumerate(
        zip(columns.values("product_type"), skus, own_marketplace, strict=True)
    ):
        if sku is None or not ours:
            continue  # the per-row path says what is wrong with it
        if row_type not in types:
            name = None if is_empty(row_type) else str(row_type).strip().upper()
            mapping = by_type.get(name) if name else single
            # a row naming another product type than its mapping's is the per-row path's error
            types[row_type] = (
                mapping if mapping is not None and (not name or name == mapping.product_type) else None
            )
        found = types[row_type]
        if found is not None:
            by_mapping.setdefault(id(found), (found, []))[1].append(position)
    fast: dict[int, dict[str, Any]] = {}
    for mapping, positions in by_mapping.values():
        fast.update(
            _fast_messages(
                columns, np.asarray(positions, dtype=np.int64), mapping, marketplace_id, schemas, skus
            )
        )
    result = MappingResult()
    memo = AttributeMemo()
    for position in range(count):
        message = fast.get(position)
        if message is not None:
            result.messages.append(message)
            continue
        row = columns.row(position)
        start = len(result.quarantined)
        _map_row(row, by_type, single, marketplace_id, schemas, result, memo)
        if len(result.quarantined) > start:
            _mark_origin(result.quarantined[start:], row)
    return result
