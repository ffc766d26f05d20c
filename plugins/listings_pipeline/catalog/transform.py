"""Step 3 of the bulk path: catalog rows -> ``JSON_LISTINGS_FEED`` messages, checked before sending.

:func:`row_to_message` applies a product type's catalog mapping (:mod:`listings_pipeline.catalog.mapping`)
to one row for one marketplace and returns the message body in Amazon's wire names::

    {"sku": "TS-1001-BLK-M", "operationType": "UPDATE", "productType": "SHIRT",
     "requirements": "LISTING",
     "attributes": {"item_name": [{"value": "...", "language_tag": "en_US",
                                   "marketplace_id": "ATVPDKIKX0DER"}], ...}}

``messageId`` is given by whoever assembles the feed document (or pass ``message_id``). A value
that cannot be mapped raises :class:`TransformError`, which names the SKU, the attribute, the
column, the value and the reason. :func:`check_against_schema` then checks the message against the
product type's schema (cached from the Product Type Definitions API) with Amazon's vocabulary
(:mod:`spapi.product_types`), and :func:`map_rows` does both for a batch and turns every failure into
a quarantine record, so that a bad row is set aside with its reason and nothing is lost.

Catalog values are taken as text (the extract step keeps every cell as text); typed values
(numbers, booleans from Parquet or SQL) are accepted as well. Pure Python: no pandas, no Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from listings_pipeline.catalog.cells import EMPTY, Empty, is_empty
from listings_pipeline.catalog.mapping import AttributeMapping, ProductTypeMapping, iter_leaves
from listings_pipeline.catalog.quarantined import QuarantineRecord

__all__ = [
    "MappingResult",
    "MessageIssue",
    "TransformError",
    "check_against_schema",
    "is_empty",
    "iter_messages",
    "map_rows",
    "row_to_message",
]

VALUE_PREVIEW = 200


def _preview(value: Any, limit: int = VALUE_PREVIEW) -> str | None:
    if is_empty(value):
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TransformError(ValueError):
    """A catalog row that cannot be mapped. Names the SKU, attribute, column, value and reason."""

    def __init__(
        self,
        reason: str,
        *,
        sku: str | None,
        product_type: str | None = None,
        marketplace_id: str | None = None,
        attribute: str | None = None,
        column: str | None = None,
        value: Any = None,
        rule: str = "mapping",
    ) -> None:
        self.reason = reason
        self.sku = sku
        self.product_type = product_type
        self.marketplace_id = marketplace_id
        self.attribute = attribute
        self.column = column
        self.value = _preview(value)
        self.rule = rule
        parts = [f"SKU {sku!r}" if sku else "a row without SKU"]
        if attribute:
            parts.append(f"attribute {attribute!r}")
        if column:
            parts.append(f"column {column!r}")
        super().__init__(f"{', '.join(parts)}: {reason}")

    def to_quarantine(self) -> QuarantineRecord:
        return {
            "sku": self.sku,
            "marketplace_id": self.marketplace_id,
            "product_type": self.product_type,
            "column_name": self.column,
            "value": self.value,
            "rule": self.rule,
            "reason": str(self),
        }


@dataclass(frozen=True)
class MessageIssue:
    """A message that the product type's schema rejects (Listings-API issue shape plus the SKU)."""

    sku: str
    attribute: str | None
    code: str
    reason: str
    severity: str = "ERROR"
    categories: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"attribute {self.attribute!r}" if self.attribute else "attributes"
        return f"SKU {self.sku!r}, {where}: {self.reason} [{self.code}]"

    def to_quarantine(
        self,
        *,
        marketplace_id: str | None,
        product_type: str | None,
        value: Any = None,
        column: str | None = None,
    ) -> QuarantineRecord:
        reason = str(self)
        if column and column != self.attribute:
            # the operator fixes the seller's file, whose columns are not Amazon's attribute names
            where = (
                f"attribute {self.attribute!r}, column {column!r}" if self.attribute else f"column {column!r}"
            )
            reason = f"SKU {self.sku!r}, {where}: {self.reason} [{self.code}]"
        return {
            "sku": self.sku,
            "marketplace_id": marketplace_id,
            "product_type": product_type,
            "column_name": column or self.attribute,
            "value": _preview(value),
            "rule": f"product_type_schema.{self.code}",
            "reason": reason,
        }


# --- one row ---------------------------------------------------------------------------------------


@dataclass
class _Context:
    """The row being mapped, as the transform kinds read it (:class:`~.specs.RowReader`): its cells,
    the marketplace's settings, and errors that name the SKU and the attribute being built."""

    row: Mapping[str, Any]
    mapping: ProductTypeMapping
    marketplace_id: str
    sku: str
    attribute: str = ""
    declared: frozenset[str] | None = None  # while a memo is in use: the columns the attribute may read
    given: tuple[Any, Any] | None = None  # (a leaf spec, its value) when that value is known already

    def fail(self, reason: str, column: str | None = None, value: Any = None) -> TransformError:
        return TransformError(
            reason,
            sku=self.sku,
            product_type=self.mapping.product_type,
            marketplace_id=self.marketplace_id,
            attribute=self.attribute or None,
            column=column,
            value=value,
        )

    def raw(self, column: str) -> Any:
        if self.declared is not None and column not in self.declared:
            # a value is remembered by the columns its spec declares; reading another would make
            # the memo hand one row's value to another
            raise RuntimeError(
                f"attribute {self.attribute!r} reads column {column!r}, which its spec does not declare"
            )
        value = self.row.get(column)
        return EMPTY if is_empty(value) else value

    def text(self, column: str) -> str | Empty:
        value = self.raw(column)
        if isinstance(value, Empty):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    def currency(self) -> str | None:
        return self.mapping.settings(self.marketplace_id).currency

    def relabels(self, column: str) -> Mapping[str, Any]:
        return self.mapping.settings(self.marketplace_id).enums.get(column, {})


def _reads(spec: Any) -> bool:
    """Whether a spec reads any catalog column (constants do not)."""
    if isinstance(spec, dict):
        return any(_reads(sub) for sub in spec.values())
    if isinstance(spec, list):
        return any(_reads(sub) for sub in spec)
    return _leaf_reads(spec)


#: by id of a leaf spec, the spec (so that its id is not reused) and whether it reads a column:
#: asked for every value built, and a template's columns are parsed from its text each time
_LEAF_READS: dict[int, tuple[Any, bool]] = {}


def _leaf_reads(spec: Any) -> bool:
    found = _LEAF_READS.get(id(spec))
    if found is None or found[0] is not spec:
        if len(_LEAF_READS) >= 4096:  # mappings loaded again and again by a long-lived worker
            _LEAF_READS.clear()
        found = _LEAF_READS[id(spec)] = (spec, bool(spec.columns()))
    return found[1]


def _evaluate(ctx: _Context, spec: Any) -> tuple[Any, bool]:
    """(value or EMPTY, whether a non-empty column went into it).

    An object or list that reads columns but found none of them filled is EMPTY as a whole, so
    that an optional attribute with constant parts (``{type: upc, value: <empty>}``) is left out.
    """
    if isinstance(spec, dict | list):
        pairs = spec.items() if isinstance(spec, dict) else enumerate(spec)
        found = False
        out: dict[Any, Any] = {}
        for key, sub in pairs:
            value, sub_found = _evaluate(ctx, sub)
            found = found or sub_found
            if value is not EMPTY:
                out[key] = value
        if not out or (not found and _reads(spec)):
            return EMPTY, False
        return (out if isinstance(spec, dict) else list(out.values())), found
    given = ctx.given
    # the kind builds its own value (catalog.specs)
    value = given[1] if given is not None and given[0] is spec else spec.apply(ctx)
    return value, value is not EMPTY and _leaf_reads(spec)


def _attribute_values(ctx: _Context, attribute: AttributeMapping) -> list[dict[str, Any]]:
    settings = ctx.mapping.settings(ctx.marketplace_id)
    items: list[dict[str, Any]] = []
    if attribute.value is not None:
        value, _ = _evaluate(ctx, attribute.value)
        if value is EMPTY:
            return []
        values = value if isinstance(value, list) and not isinstance(attribute.value, list) else [value]
        items = [{"value": v} for v in values]
    elif attribute.fields is not None:
        value, _ = _evaluate(ctx, attribute.fields)
        if value is EMPTY:
            return []
        items = [value]
    elif attribute.object_ is not None:
        value, _ = _evaluate(ctx, attribute.object_)
        if value is EMPTY:
            return []
        if not isinstance(value, dict):
            raise ctx.fail(f"the {attribute.object_.transform} transform does not give an object")
        items = [dict(value)]
    for item in items:
        if attribute.language_tag:
            item["language_tag"] = settings.language_tag
        if attribute.marketplace_id:
            item["marketplace_id"] = ctx.marketplace_id
    return items


def declared_columns(attribute: AttributeMapping) -> tuple[str, ...]:
    """The columns an attribute's spec reads, in order: what its value depends on (with the
    marketplace), so what a value built once is remembered by."""
    return tuple(
        dict.fromkeys(
            c for _, top in attribute.specs() for _, leaf in iter_leaves(top) for c in leaf.columns()
        )
    )


class AttributeMemo:
    """Attribute values already built, by the cells they were built from.

    Why: a catalog repeats most of its cells (a colour, a size, a brand, a bullet shared by a
    family), and building a value is most of the cost of a message. A value depends only on the
    marketplace and the cells its spec declares (the :class:`~.specs.RowReader` contract, which
    :class:`_Context` enforces while a memo is in use), so one built for a row serves every row
    with the same cells. Values are shared between messages: they are read, never changed. Keep
    one memo per batch: it grows with the distinct values it meets.
    """

    def __init__(self) -> None:
        # marks the values as shared, so the schema check knows them by identity (imported here:
        # the schema check's libraries are not needed to read this module)
        from spapi.memo_validation import SharedValue

        self._shared = SharedValue
        self._values: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._columns: dict[tuple[str, str, str], tuple[str, ...]] = {}

    def values(self, ctx: _Context, name: str, attribute: AttributeMapping) -> list[dict[str, Any]]:
        where = (ctx.mapping.product_type, ctx.marketplace_id, name)
        columns = self._columns.get(where)
        if columns is None:
            columns = self._columns[where] = declared_columns(attribute)
        cells = tuple(map(ctx.row.get, columns))
        # the types too: 1, 1.0 and True are one dict key, but not one cell
        key = (where, cells, tuple(map(type, cells)))
        try:
            found = self._values.get(key)
        except TypeError:  # a cell that cannot be a key (not from a snapshot): build it as is
            return _attribute_values(ctx, attribute)
        if found is None:
            ctx.declared = frozenset(columns)
            try:
                found = self._values[key] = self._shared(_attribute_values(ctx, attribute))
            finally:
                ctx.declared = None
        return found


def row_to_message(
    row: Mapping[str, Any],
    mapping: ProductTypeMapping,
    marketplace_id: str,
    *,
    message_id: int | None = None,
    memo: AttributeMemo | None = None,
) -> dict[str, Any]:
    """One ``UPDATE`` message for ``row`` in ``marketplace_id``; raises :class:`TransformError`.
    With ``memo``, attribute values are reused across rows with the same cells."""
    sku_value = row.get("sku")
    sku = None if is_empty(sku_value) else str(sku_value).strip()
    if sku is None:
        raise TransformError(
            "the row has no SKU",
            sku=None,
            product_type=mapping.product_type,
            marketplace_id=marketplace_id,
            column="sku",
            rule="mapping.sku",
        )
    ctx = _Context(row, mapping, marketplace_id, sku)
    row_marketplace = row.get("marketplace_id")
    if not is_empty(row_marketplace) and str(row_marketplace).strip() != marketplace_id:
        raise ctx.fail(
            f"the row is for marketplace {row_marketplace}, not {marketplace_id}",
            "marketplace_id",
            row_marketplace,
        )
    row_type = row.get("product_type")
    if not is_empty(row_type) and str(row_type).strip().upper() != mapping.product_type:
        raise ctx.fail(
            f"the row is product type {row_type}, mapped by another file than {mapping.source}",
            "product_type",
            row_type,
        )
    if marketplace_id not in mapping.marketplaces:
        raise ctx.fail(
            f"mapping {mapping.product_type} ({mapping.source}) has no settings for marketplace "
            f"{marketplace_id} (it serves {', '.join(mapping.marketplaces)})",
            "marketplace_id",
            marketplace_id,
        )
    attributes: dict[str, list[dict[str, Any]]] = {}
    for name, attribute in mapping.attributes_for(marketplace_id).items():
        ctx.attribute = name
        values = memo.values(ctx, name, attribute) if memo is not None else _attribute_values(ctx, attribute)
        if values:
            attributes[name] = values
    ctx.attribute = ""
    if not attributes:
        raise ctx.fail("no attribute has a value")
    message: dict[str, Any] = {}
    if message_id is not None:
        message["messageId"] = message_id
    message.update(
        {
            "sku": sku,
            "operationType": "UPDATE",
            "productType": mapping.product_type,
            "requirements": mapping.requirements,
            "attributes": attributes,
        }
    )
    return message


def iter_messages(
    rows: Iterable[Mapping[str, Any]],
    mapping: ProductTypeMapping,
    marketplace_id: str,
    *,
    errors: list[TransformError] | None = None,
) -> Iterator[dict[str, Any]]:
    """Messages for ``rows``. A row that cannot be mapped raises, or, when ``errors`` is given, is
    appended there and skipped."""
    for row in rows:
        try:
            yield row_to_message(row, mapping, marketplace_id)
        except TransformError as err:
            if errors is None:
                raise
            errors.append(err)


# --- against the product type schema ----------------------------------------------------------------


def check_against_schema(message: Mapping[str, Any], validator: Any) -> list[MessageIssue]:
    """Issues of one message against its product type's schema, before it is sent.

    ``validator`` is a validator from :func:`spapi.product_types.make_validator` (for the message's
    product type), or a :class:`spapi.product_types.ProductTypeSchemas`, which picks the schema by
    the message's ``productType``. ``UPDATE`` messages are checked with requirements enforced,
    ``PARTIAL_UPDATE`` ones without (Amazon's ``requirementsEnforced=NOT_ENFORCED``).
    """
    from spapi.product_types import ProductTypeSchemas, validate_attributes

    sku = str(message.get("sku") or "")
    attributes = message.get("attributes") or {}
    enforce = message.get("operationType", "UPDATE") == "UPDATE"
    if isinstance(validator, ProductTypeSchemas):
        issues = validator.validate(
            str(message.get("productType") or ""), attributes, enforce_required=enforce
        )
    else:
        issues = validate_attributes(validator, attributes, enforce_required=enforce)
    return [
        MessageIssue(
            sku=sku,
            attribute=issue.attribute_names[0] if issue.attribute_names else None,
            code=issue.code,
            reason=issue.message,
            severity=issue.severity,
            categories=issue.categories,
        )
        for issue in issues
    ]


# --- a batch -----------------------------------------------------------------------------------------


@dataclass
class MappingResult:
    """Messages ready to send, and the rows set aside (quarantine records) with their reasons."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[QuarantineRecord] = field(default_factory=list)
    rejected_skus: list[str] = field(default_factory=list)

    @property
    def rule_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.quarantined:
            counts[entry["rule"]] = counts.get(entry["rule"], 0) + 1
        return counts


def _source_columns(mapping: ProductTypeMapping, attribute: str | None, marketplace_id: str) -> list[str]:
    """The catalog columns an attribute is built from in this marketplace (an override, such as the
    EAN sent instead of the UPC in Germany, replaces the base attribute's columns)."""
    if not attribute:
        return []
    try:
        spec = mapping.attributes_for(marketplace_id).get(attribute)
    except KeyError:
        spec = None
    if spec is None:
        return mapping.referenced_columns(attribute)
    return list(declared_columns(spec))


def map_rows(
    rows: Iterable[Mapping[str, Any]],
    mappings: ProductTypeMapping | Mapping[str, ProductTypeMapping],
    marketplace_id: str,
    *,
    schemas: Any = None,
) -> MappingResult:
    """Map rows (of one or several product types) and check each message against its product type.

    ``schemas`` is a :class:`spapi.product_types.ProductTypeSchemas` (or None to skip the schema
    check). A row that cannot be mapped, or whose message the schema rejects (issues of severity
    ERROR), is quarantined: one record per problem, naming the SKU, the column (or attribute), the
    value and the reason. Warnings do not hold a message back.
    """
    by_type: Mapping[str, ProductTypeMapping] = (
        {mappings.product_type: mappings} if isinstance(mappings, ProductTypeMapping) else mappings
    )
    single = next(iter(by_type.values())) if len(by_type) == 1 else None
    result = MappingResult()
    memo = AttributeMemo()
    for row in rows:
        start = len(result.quarantined)
        _map_row(row, by_type, single, marketplace_id, schemas, result, memo)
        if len(result.quarantined) > start:
            _mark_origin(result.quarantined[start:], row)
    return result


def _mark_origin(records: list[QuarantineRecord], row: Mapping[str, Any]) -> None:
    """Tell the operator where the row is in the seller's file (the extract's ``_source_*``)."""
    raw_line = row.get("_source_row")
    source = None if is_empty(row.get("_source_file")) else str(row["_source_file"])
    line = None if raw_line is None or is_empty(raw_line) else int(raw_line)
    for record in records:
        record["source_file"], record["source_line"] = source, line
        if line is not None:
            record["reason"] = f"line {line}, {record['reason']}"


def _map_row(
    row: Mapping[str, Any],
    by_type: Mapping[str, ProductTypeMapping],
    single: ProductTypeMapping | None,
    marketplace_id: str,
    schemas: Any,
    result: MappingResult,
    memo: AttributeMemo,
) -> None:
    """One row into ``result``: a message, or its quarantine records and its SKU among the rejected."""
    row_type = row.get("product_type")
    product_type = str(row_type).strip().upper() if not is_empty(row_type) else None
    mapping = by_type.get(product_type) if product_type else single
    sku = None if is_empty(row.get("sku")) else str(row.get("sku")).strip()
    if mapping is None:
        known = ", ".join(sorted(by_type))
        error = TransformError(
            f"no catalog mapping for product type {product_type!r} (mapped: {known})",
            sku=sku,
            product_type=product_type,
            marketplace_id=marketplace_id,
            column="product_type",
            value=row_type,
            rule="mapping.unknown_product_type",
        )
        result.quarantined.append(error.to_quarantine())
        result.rejected_skus.append(sku or "")
        return
    try:
        message = row_to_message(row, mapping, marketplace_id, memo=memo)
    except TransformError as err:
        result.quarantined.append(err.to_quarantine())
        result.rejected_skus.append(sku or "")
        return
    if schemas is not None:
        errors = [i for i in check_against_schema(message, schemas) if i.severity == "ERROR"]
        if errors:
            for issue in errors:
                columns = _source_columns(mapping, issue.attribute, marketplace_id)
                column = columns[0] if len(columns) == 1 else None
                value = row.get(column) if column else None
                result.quarantined.append(
                    issue.to_quarantine(
                        marketplace_id=marketplace_id,
                        product_type=mapping.product_type,
                        value=value,
                        column=column,
                    )
                )
            result.rejected_skus.append(message["sku"])
            return
    result.messages.append(message)
