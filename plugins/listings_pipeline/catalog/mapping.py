"""Catalog mappings: one YAML file per Amazon product type, ``include/catalog_mappings/<TYPE>.yaml``.

A mapping says how a seller's catalog row (their own column names and codes) becomes the
``attributes`` of a ``JSON_LISTINGS_FEED`` message for one product type, per marketplace, and which
catalog columns must be present and what they may hold (the validation step builds its Great
Expectations suite from that). Adding a product type is adding one file: :func:`load_mappings`
discovers every ``*.yaml`` in the folder.

File format (a complete example is ``include/catalog_mappings/SHIRT.yaml``)::

    product_type: SHIRT              # must equal the file name
    requirements: LISTING            # LISTING | LISTING_PRODUCT_ONLY | LISTING_OFFER_ONLY
    marketplaces:                    # every marketplace the mapping serves, by Amazon id
      ATVPDKIKX0DER: {language_tag: en_US, currency: USD}
      A1PA6795UKMFR9:
        language_tag: de_DE
        currency: EUR
        enums: {color: {BLK: Schwarz}}          # per-marketplace labels for an enum column
        omit: [model_number]                    # attributes not sent here
        attributes: {...}                       # attributes added or replaced here
    columns:                         # the catalog columns and what they may hold
      title: {type: text, required: true}
      color: {type: string, required: true}
      price: {type: decimal, required: true, min: 0.01}
      sale_price: {type: decimal, min: 0.01}
      isbn: {type: string, identifier: isbn}    # a code not sent as the identifier (see below)
    checks:                          # optional: rules between two columns of one row
      - {rule: sale_price_below_price, left: sale_price, op: "<", right: price}
    attributes:                      # Amazon attribute -> how to build its values
      item_name: {language_tag: true, value: {column: title}}
      color:
        language_tag: true
        value: {transform: enum, column: color, values: {BLK: Black, WHT: White}}
      list_price:
        fields:
          value: {transform: price, column: price}
          currency: {transform: currency}

Each attribute has exactly one of ``value`` (the spec of the ``value`` field; a list result gives
one Amazon value per element, e.g. bullets), ``fields`` (an object, field by field; specs nest as
objects and lists) or ``object`` (a transform that returns the whole object, e.g. ``unit`` ->
``{value, unit}``). ``marketplace_id`` (default true) and ``language_tag`` (default false) add the
selector fields from the marketplace's settings. Transforms (``transform:``; ``{column: x}`` alone
means ``copy`` and ``{const: x}`` means ``constant``): copy, template, constant, enum, boolean,
integer, decimal, price, currency, unit, dimensions, list, image_url.

Column types: ``string`` and ``text`` (any text), ``integer``, ``decimal``, ``boolean``,
``dimensions`` and ``date`` (ISO 8601, ``2025-11-28`` or with a time).

Product identifiers: a column that ``externally_assigned_product_identifier`` sends with a constant
``type`` (``upc``, ``ean``, ``gtin``, ``isbn``; per marketplace where a marketplace overrides the
attribute) is checked as that kind of code, check digit included. ``identifier:`` on a column
declares the kind for a column the attribute does not send (an ISBN kept for reference, say); where
both say something they must agree, and one column cannot be sent as two kinds. The mapping is the
source because the ``type`` it sends is what Amazon checks the value against: saying it a second
time could only disagree.

Cross-field checks (``checks:``): each compares two declared columns of one row, ``left op right``
with ``op`` one of ``<``, ``<=``, ``>``, ``>=``; both numbers (``integer``/``decimal``) or both
dates. A check is evaluated only when both cells hold a value (the column rules catch an empty
required cell or a cell that is not a number). A row that fails it is quarantined under the rule
``content_policy.<rule>``, so ``rule`` must not be one of the content policy's own rule names
(:data:`RESERVED_CHECK_NAMES`).

Mapping files are validated when loaded, and every problem is reported with the file, line and key
(:class:`MappingError`). A draft written by the mapping scaffold holds the value ``TODO`` where a
person must decide; such a file is refused with one problem per marker (:mod:`.mapping_todos`).
:func:`check_against_product_type` also checks a mapping against the product type's schema
(attribute names, selectors, enum values, required attributes).

This module reads mapping files; the parts live where their job is: the parsed model in
:mod:`.mapping_model`, each transform kind in :mod:`.specs`, YAML with line numbers in
:mod:`.mapping_yaml`, the checks between a mapping's parts in :mod:`.mapping_checks` and against
the product type's schema in :mod:`.mapping_schema`. Its names stay importable from here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    ValidationError,
)

from listings_pipeline.catalog.columns import IDENTIFIER_KINDS, ColumnSpec, ColumnType, IdentifierKind
from listings_pipeline.catalog.mapping_checks import cross_check
from listings_pipeline.catalog.mapping_model import (
    BUILTIN_COLUMNS,
    IDENTIFIER_ATTRIBUTE,
    RESERVED_CHECK_NAMES,
    AttributeMapping,
    CrossFieldCheck,
    MarketplaceSettings,
    ProductTypeMapping,
    iter_leaves,
)
from listings_pipeline.catalog.mapping_schema import check_against_product_type
from listings_pipeline.catalog.mapping_todos import todo_problems
from listings_pipeline.catalog.mapping_yaml import (
    MappingError,
    MappingProblem,
    key_text,
    load_yaml_model,
    read_yaml,
    validation_problems,
)
from listings_pipeline.catalog.specs import (
    TRANSFORMS,
    BooleanSpec,
    ConstantSpec,
    CopySpec,
    CurrencySpec,
    DecimalSpec,
    DimensionsSpec,
    EnumSpec,
    ImageUrlSpec,
    IntegerSpec,
    LeafSpec,
    ListSpec,
    PriceSpec,
    SpecKind,
    TemplateSpec,
    UnitSpec,
)

__all__ = [
    "BUILTIN_COLUMNS",
    "IDENTIFIER_ATTRIBUTE",
    "IDENTIFIER_KINDS",
    "RESERVED_CHECK_NAMES",
    "TRANSFORMS",
    "AttributeMapping",
    "BooleanSpec",
    "ColumnSpec",
    "ColumnType",
    "ConstantSpec",
    "CopySpec",
    "CrossFieldCheck",
    "CurrencySpec",
    "DecimalSpec",
    "DimensionsSpec",
    "EnumSpec",
    "IdentifierKind",
    "ImageUrlSpec",
    "IntegerSpec",
    "LeafSpec",
    "ListSpec",
    "MappingError",
    "MappingProblem",
    "MarketplaceSettings",
    "PriceSpec",
    "ProductTypeMapping",
    "SpecKind",
    "TemplateSpec",
    "UnitSpec",
    "check_against_product_type",
    "iter_leaves",
    "load_mapping",
    "load_mappings",
    "load_yaml_model",
    "parse_mapping",
    "read_yaml",
]


def parse_mapping(
    text: str, source: str = "<mapping>", *, expected_product_type: str | None = None
) -> ProductTypeMapping:
    """Parse and validate one mapping document; ``source`` names it in errors."""
    data, positions = read_yaml(text, source)
    if not isinstance(data, dict):
        problem = MappingProblem(
            source,
            positions.lines[()],
            "",
            f"a mapping file must be a YAML mapping, not {type(data).__name__}",
        )
        raise MappingError([problem])
    todos = todo_problems(data, positions, source)
    if todos:  # a scaffold's draft, not finished: what is left is the whole message
        raise MappingError(todos)
    try:
        mapping = ProductTypeMapping.model_validate(data)
    except ValidationError as err:
        raise MappingError(validation_problems(err, positions, source)) from None
    mapping._source = source
    mapping._lines = positions.lines
    problems = [
        MappingProblem(source, mapping.line_of(path), key_text(path), message)
        for path, message in cross_check(mapping, expected_product_type)
    ]
    if problems:
        raise MappingError(problems)
    return mapping


def load_mapping(path: str | Path) -> ProductTypeMapping:
    """Read one mapping file; its product type must match the file name (``SHIRT.yaml``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError([MappingProblem(str(path), None, "", "the file does not exist")]) from None
    except UnicodeDecodeError as err:
        raise MappingError([MappingProblem(str(path), None, "", f"not UTF-8 text: {err}")]) from None
    return parse_mapping(text, str(path), expected_product_type=path.stem.upper())


def load_mappings(directory: str | Path) -> dict[str, ProductTypeMapping]:
    """Every ``*.yaml``/``*.yml`` in ``directory`` (not ``_*``), by product type.

    All files are checked; a :class:`MappingError` lists the problems of every bad file at once.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MappingError([MappingProblem(str(directory), None, "", "the mappings folder does not exist")])
    files = sorted(
        p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith(("_", "."))
    )
    mappings: dict[str, ProductTypeMapping] = {}
    problems: list[MappingProblem] = []
    for path in files:
        try:
            mapping = load_mapping(path)
        except MappingError as err:
            problems.extend(err.problems)
            continue
        if mapping.product_type in mappings:
            problems.append(
                MappingProblem(
                    str(path),
                    mapping.line_of(("product_type",)),
                    "product_type",
                    f"product type {mapping.product_type} is already mapped by {mappings[mapping.product_type].source}",
                )
            )
            continue
        mappings[mapping.product_type] = mapping
    if problems:
        raise MappingError(problems)
    return mappings
