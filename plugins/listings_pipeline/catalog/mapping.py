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
(:class:`MappingError`); :func:`check_against_product_type` also checks a mapping against the
product type's schema (attribute names, selectors, enum values, required attributes).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar, Union

import yaml
from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from listings_pipeline.catalog.columns import IDENTIFIER_KINDS, STRICT, ColumnSpec, ColumnType, IdentifierKind
from listings_pipeline.catalog.specs import (
    KINDS,
    LEAF_KEYS,
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
    Problem,
    SpecKind,
    TemplateSpec,
    UnitSpec,
)
from spapi.regions import MARKETPLACE_CURRENCIES, MARKETPLACE_LANGUAGES, MARKETPLACES

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

#: Columns every catalog row has; they need no declaration under ``columns``.
BUILTIN_COLUMNS: tuple[str, ...] = ("sku", "marketplace_id", "product_type")

#: The attribute that carries a product's barcode; its ``type`` says what kind of code ``value`` is.
IDENTIFIER_ATTRIBUTE = "externally_assigned_product_identifier"

#: The content policy's own rule names (``content_policy.<name>``, see catalog/suite): a check
#: named like one would make two different failures look alike in the quarantine table.
RESERVED_CHECK_NAMES: frozenset[str] = frozenset(
    {
        "banned_terms",
        "html",
        "max_length",
        "image_url",
        "control_characters",
        "invisible_characters",
        "emoji",
        "line_breaks",
        "placeholders",
        "formula_prefixes",
        "url_credentials",
        "product_identifiers",
    }
)

_MARKETPLACE_BY_COUNTRY = {country: mid for mid, (country, _) in MARKETPLACES.items()}


# --- the shape of a field spec ----------------------------------------------------------------------


def _spec_kind(value: Any) -> str | None:
    if isinstance(value, SpecKind):
        return "leaf"
    if isinstance(value, dict):
        return "leaf" if any(key in value for key in LEAF_KEYS) else "object"
    if isinstance(value, list):
        return "array"
    return None


if TYPE_CHECKING:  # a recursive alias: pydantic follows it, mypy cannot
    FieldSpec: TypeAlias = Any
else:
    FieldSpec = TypeAliasType(
        "FieldSpec",
        Annotated[
            Union[  # noqa: UP007
                Annotated[LeafSpec, Tag("leaf")],
                Annotated[dict[str, "FieldSpec"], Tag("object")],
                Annotated[list["FieldSpec"], Tag("array")],
            ],
            Discriminator(
                _spec_kind,
                custom_error_type="invalid_spec",
                custom_error_message=(
                    "expected a transform (a mapping with 'transform', 'column' or 'const'), "
                    "an object of fields, or a list"
                ),
            ),
        ],
    )


# --- attributes, marketplaces, columns ---------------------------------------------------------------


class AttributeMapping(BaseModel):
    """How one Amazon attribute is built. Exactly one of ``value``, ``fields``, ``object``."""

    model_config = STRICT

    value: FieldSpec | None = None
    fields: dict[str, FieldSpec] | None = Field(default=None, min_length=1)
    object_: LeafSpec | None = Field(default=None, alias="object")
    language_tag: bool = False
    marketplace_id: bool = True
    description: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> AttributeMapping:
        given = [
            n for n, v in (("value", self.value), ("fields", self.fields), ("object", self.object_)) if v
        ]
        if len(given) != 1:
            raise ValueError(
                "an attribute needs exactly one of 'value', 'fields' or 'object'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def specs(self) -> Iterator[tuple[tuple[str | int, ...], Any]]:
        """(path inside the attribute, spec) of the top-level spec(s)."""
        if self.value is not None:
            yield ("value",), self.value
        elif self.fields is not None:
            for name, spec in self.fields.items():
                yield ("fields", name), spec
        elif self.object_ is not None:
            yield ("object",), self.object_


class MarketplaceSettings(BaseModel):
    """What differs per marketplace: language, currency, enum labels, attributes sent."""

    model_config = STRICT

    language_tag: str = Field(pattern=r"^[a-z]{2,3}_[A-Z]{2}$")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    enums: dict[str, dict[str, Any]] = Field(default_factory=dict)
    omit: list[str] = Field(default_factory=list)
    attributes: dict[str, AttributeMapping] = Field(default_factory=dict)

    @field_validator("enums")
    @classmethod
    def _no_empty_labels(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for column, table in value.items():
            empty = [code for code, label in table.items() if label is None or label == ""]
            if empty:
                raise ValueError(
                    f"{column}: codes {empty} have no value (quote labels that contain ', ' or ': ')"
                )
        return value


CheckOp = Literal["<", "<=", ">", ">="]


class CrossFieldCheck(BaseModel):
    """``left op right`` on one row, e.g. the expanded capacity is at least the capacity."""

    model_config = STRICT

    rule: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    left: str
    op: CheckOp
    right: str
    description: str | None = None

    @property
    def text(self) -> str:
        return f"{self.left} {self.op} {self.right}"


class ProductTypeMapping(BaseModel):
    """One product type's mapping (one YAML file)."""

    model_config = STRICT

    product_type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    requirements: Literal["LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"] = "LISTING"
    description: str | None = None
    marketplaces: dict[str, MarketplaceSettings] = Field(min_length=1)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    attributes: dict[str, AttributeMapping] = Field(min_length=1)
    checks: list[CrossFieldCheck] = Field(default_factory=list)

    _source: str = PrivateAttr(default="<mapping>")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        """The file this mapping was read from (for messages)."""
        return self._source

    def line_of(self, path: Sequence[Any]) -> int | None:
        """The line in the source file of the key at ``path`` (or of its nearest ancestor)."""
        path = tuple(path)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get(())

    def settings(self, marketplace_id: str) -> MarketplaceSettings:
        try:
            return self.marketplaces[marketplace_id]
        except KeyError:
            raise KeyError(
                f"mapping {self.product_type} ({self.source}) has no settings for marketplace "
                f"{marketplace_id}; it serves {', '.join(self.marketplaces)}"
            ) from None

    def attributes_for(self, marketplace_id: str) -> dict[str, AttributeMapping]:
        """The attributes sent in one marketplace: the base ones, minus ``omit``, plus overrides."""
        settings = self.settings(marketplace_id)
        out = {name: spec for name, spec in self.attributes.items() if name not in settings.omit}
        out.update(settings.attributes)
        return out

    def enum_values(self, spec: EnumSpec, marketplace_id: str | None = None) -> dict[str, Any]:
        """The translation table of an enum transform in one marketplace (base + relabels)."""
        table = dict(spec.values)
        if marketplace_id is not None:
            table.update(self.settings(marketplace_id).enums.get(spec.column, {}))
        return table

    def relabels(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Marketplace -> enum column -> that marketplace's labels (``marketplaces.<id>.enums``)."""
        return {mid: settings.enums for mid, settings in self.marketplaces.items()}

    def all_attribute_mappings(self) -> Iterator[tuple[tuple[Any, ...], str, AttributeMapping]]:
        """(path in the file, attribute name, mapping) for base attributes and marketplace overrides."""
        for name, attribute in self.attributes.items():
            yield ("attributes", name), name, attribute
        for mid, settings in self.marketplaces.items():
            for name, attribute in settings.attributes.items():
                yield ("marketplaces", mid, "attributes", name), name, attribute

    def leaves(self, attribute: str | None = None) -> Iterator[tuple[tuple[Any, ...], SpecKind]]:
        """(path in the file, transform) for every transform, optionally of one attribute only."""
        for path, name, mapping in self.all_attribute_mappings():
            if attribute is None or name == attribute:
                for sub, spec in mapping.specs():
                    yield from iter_leaves(spec, path + sub)

    def referenced_columns(self, attribute: str | None = None) -> list[str]:
        seen: dict[str, None] = {}
        for _, leaf in self.leaves(attribute):
            for column in leaf.columns():
                seen.setdefault(column, None)
        return list(seen)

    def column_spec(self, column: str) -> ColumnSpec:
        if column in self.columns:
            return self.columns[column]
        if column == "sku":
            return ColumnSpec(type="string", required=True)
        return ColumnSpec()

    def required_columns(self) -> list[str]:
        required = ["sku"] + [name for name, spec in self.columns.items() if spec.required]
        return list(dict.fromkeys(required))

    def identifier_sources(self) -> Iterator[tuple[tuple[Any, ...], str, str]]:
        """(path in the file, column, kind) for each column the identifier attribute sends with a
        constant type of a kind we can check (base attribute and marketplace overrides)."""
        for path, name, attribute in self.all_attribute_mappings():
            if name != IDENTIFIER_ATTRIBUTE or not attribute.fields:
                continue
            kind, value = attribute.fields.get("type"), attribute.fields.get("value")
            if not isinstance(kind, SpecKind) or not isinstance(value, SpecKind):
                continue  # an object or a list of fields is not a code and its kind
            kind_text, column = kind.constant_text(), value.copied_column()
            if kind_text is not None and kind_text.lower() in IDENTIFIER_KINDS and column is not None:
                yield (*path, "fields", "value", "column"), column, kind_text.lower()

    def identifier_columns(self) -> dict[str, str]:
        """Column -> kind of product identifier (upc, ean, gtin, isbn): declared with
        ``identifier:`` or sent as that type by the identifier attribute."""
        out: dict[str, str] = {
            name: spec.identifier for name, spec in self.columns.items() if spec.identifier
        }
        for _, column, kind in self.identifier_sources():
            out.setdefault(column, kind)
        return out


def iter_leaves(spec: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], SpecKind]]:
    """Every transform inside a (possibly nested) field spec, with its path."""
    if isinstance(spec, SpecKind):
        yield path, spec
    elif isinstance(spec, dict):
        for key, sub in spec.items():
            yield from iter_leaves(sub, (*path, key))
    elif isinstance(spec, list):
        for index, sub in enumerate(spec):
            yield from iter_leaves(sub, (*path, index))


# --- errors ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappingProblem:
    """One problem in a mapping file, where it is, and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '<document>'}: {self.message}"


class MappingError(ValueError):
    """A mapping file is invalid. ``problems`` lists every problem found, each with file and line."""

    def __init__(self, problems: Sequence[MappingProblem], *, what: str = "catalog mapping") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {what}"
        files = sorted({p.file for p in self.problems})
        super().__init__(f"{head} {', '.join(files)}:\n" + "\n".join(f"  {p}" for p in self.problems))


# --- YAML with positions -----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false. ``Y``, ``N``, ``NO``, ``on`` stay text,
    because they are catalog codes (a size, a country, a yes/no column's tokens)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _key_text(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Positions:
    """Line of every key and list item of one YAML document, by path."""

    def __init__(self, loader: _Loader, root: yaml.Node) -> None:
        self.lines: dict[tuple[Any, ...], int] = {(): root.start_mark.line + 1}
        self._walk(loader, root, ())

    def _walk(self, loader: _Loader, node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                try:
                    key = loader.construct_object(key_node, deep=True)
                except yaml.YAMLError:
                    continue
                if not isinstance(key, str | int | float | bool):
                    continue
                self.lines.setdefault((*path, key), key_node.start_mark.line + 1)
                self._walk(loader, value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self._walk(loader, item, (*path, index))

    def locate(self, loc: Sequence[Any]) -> tuple[int | None, tuple[Any, ...]]:
        """The line and the matched path of a pydantic ``loc`` (tags that are not keys are skipped)."""
        path: tuple[Any, ...] = ()
        for part in loc:
            if (*path, part) in self.lines:
                path = (*path, part)
        return self.lines.get(path), path


def _duplicate_keys(node: yaml.Node, path: tuple[Any, ...], out: list[tuple[int, str, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key_node.value in first:
                    out.append(
                        (
                            line,
                            _key_text((*path, key_node.value)),
                            f"duplicate key '{key_node.value}' (first given on line {first[key_node.value]})",
                        )
                    )
                first.setdefault(key_node.value, line)
                _duplicate_keys(value_node, (*path, key_node.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicate_keys(item, (*path, index), out)


def _all_field_names() -> set[str]:
    names: set[str] = set()
    models: list[type[BaseModel]] = [
        ProductTypeMapping,
        MarketplaceSettings,
        ColumnSpec,
        AttributeMapping,
        CrossFieldCheck,
        *KINDS,
    ]
    for model in models:
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return names | {kind.shorthand[0] for kind in KINDS if kind.shorthand}


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "union_tag_invalid" and ctx.get("discriminator") == "'transform'":
        return f"unknown transform {ctx.get('tag')!r}; expected one of: {', '.join(TRANSFORMS)}"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        close = difflib.get_close_matches(key, sorted(_all_field_names()), n=1)
        return f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else "")
    if kind == "missing":
        return f"required key '{error['loc'][-1]}' is missing"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    value = error.get("input")
    if kind not in ("model_type", "dict_type", "invalid_spec") and isinstance(
        value, str | int | float | bool
    ):
        message += f" (got {value!r})"
    elif kind in ("dict_type", "model_type", "list_type", "invalid_spec"):
        message += f" (got {type(value).__name__} {_short_repr(value)})"
    return message


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_yaml(text: str, source: str, *, what: str = "catalog mapping") -> tuple[Any, _Positions]:
    """Parse one YAML document, with the line of every key; errors name the file and line.

    YAML 1.2 booleans (only true/false); duplicate keys are an error, not a silent override.
    """
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = mark.line + 1 if mark else None
            reason = " ".join(str(x) for x in (err.context, err.problem) if x)
            raise MappingError(
                [MappingProblem(source, line, "", f"not valid YAML: {reason}")], what=what
            ) from None
        if root is None:
            raise MappingError([MappingProblem(source, None, "", "the file is empty")], what=what)
        duplicates: list[tuple[int, str, str]] = []
        _duplicate_keys(root, (), duplicates)
        if duplicates:
            raise MappingError(
                [MappingProblem(source, line, key, msg) for line, key, msg in duplicates], what=what
            )
        try:
            data = loader.construct_document(root)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            problem = MappingProblem(
                source, mark.line + 1 if mark else None, "", f"not valid YAML: {err.problem}"
            )
            raise MappingError([problem], what=what) from None
        return data, _Positions(loader, root)
    finally:
        loader.dispose()


def validation_problems(err: ValidationError, positions: _Positions, source: str) -> list[MappingProblem]:
    """pydantic's errors as problems with the file, line and key of each."""
    problems = []
    for error in err.errors(include_url=False):
        loc = tuple(error["loc"])
        line, matched = positions.locate(loc)
        key_path = matched
        if error["type"] == "missing" and loc:
            key_path = (*matched, loc[-1])
        elif error["type"] == "union_tag_invalid":
            key_path = (*matched, "transform")
            line = positions.lines.get(key_path, line)
        problems.append(MappingProblem(source, line, _key_text(key_path), _describe(error)))
    return problems


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[M], *, what: str) -> tuple[M, _Positions]:
    """Read a YAML file into a pydantic model; every problem names the file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(
            [MappingProblem(str(path), None, "", "the file does not exist")], what=what
        ) from None
    except UnicodeDecodeError as err:
        raise MappingError(
            [MappingProblem(str(path), None, "", f"not UTF-8 text: {err}")], what=what
        ) from None
    data, positions = read_yaml(text, str(path), what=what)
    if not isinstance(data, dict):
        problem = MappingProblem(
            str(path), positions.lines[()], "", f"must be a YAML mapping, not {type(data).__name__}"
        )
        raise MappingError([problem], what=what)
    try:
        return model.model_validate(data), positions
    except ValidationError as err:
        raise MappingError(validation_problems(err, positions, str(path)), what=what) from None


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
    try:
        mapping = ProductTypeMapping.model_validate(data)
    except ValidationError as err:
        raise MappingError(validation_problems(err, positions, source)) from None
    mapping._source = source
    mapping._lines = positions.lines
    problems = [
        MappingProblem(source, mapping.line_of(path), _key_text(path), message)
        for path, message in _cross_check(mapping, expected_product_type)
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


# --- cross checks (after the shape is valid) -------------------------------------------------------


def _cross_check(mapping: ProductTypeMapping, expected: str | None) -> list[Problem]:
    """Problems between parts of a mapping that are each well formed (pydantic checked the shape):
    a column a transform reads but nobody declared, a marketplace whose currency the mapping
    contradicts. Listed in file order, so that the operator reads them top down."""
    declared = set(mapping.columns) | set(BUILTIN_COLUMNS)
    return [
        *_product_type_problems(mapping, expected),
        *_marketplace_problems(mapping),
        *_attribute_name_problems(mapping),
        *_transform_problems(mapping, declared),
        *_check_identifiers(mapping),
        *_check_checks(mapping, declared),
        *_marketplace_use_problems(mapping),
    ]


def _product_type_problems(mapping: ProductTypeMapping, expected: str | None) -> list[Problem]:
    """The file name is how the pipeline finds a product type's mapping: they must agree."""
    if expected is None or mapping.product_type == expected:
        return []
    return [
        (
            ("product_type",),
            f"product type {mapping.product_type} does not match the file name (expected {expected})",
        )
    ]


def _marketplace_problems(mapping: ProductTypeMapping) -> list[Problem]:
    """A price in another currency, or a title in another language, must never reach a
    marketplace: the mapping is where each marketplace's currency and language are decided."""
    out: list[Problem] = []
    for mid, settings in mapping.marketplaces.items():
        if mid not in MARKETPLACES:
            hint = (
                f"; {mid} is a country code, use the marketplace id {_MARKETPLACE_BY_COUNTRY[mid]}"
                if mid in _MARKETPLACE_BY_COUNTRY
                else ""
            )
            out.append((("marketplaces", mid), f"unknown marketplace id {mid!r}{hint}"))
            continue
        country = MARKETPLACES[mid][0]
        currency = MARKETPLACE_CURRENCIES[mid]
        if settings.currency is not None and settings.currency != currency:
            out.append(
                (
                    ("marketplaces", mid, "currency"),
                    f"currency {settings.currency} is not the currency of marketplace {mid} ({country}): "
                    f"it sells in {currency}",
                )
            )
        languages = MARKETPLACE_LANGUAGES[mid]
        if settings.language_tag not in languages:
            out.append(
                (
                    ("marketplaces", mid, "language_tag"),
                    f"language {settings.language_tag} is not a language of marketplace {mid} ({country}): "
                    f"one of {', '.join(languages)}",
                )
            )
    return out


def _attribute_name_problems(mapping: ProductTypeMapping) -> list[Problem]:
    """A misspelt attribute would be sent and ignored by Amazon; the name's form catches most."""
    return [
        (("attributes", name), f"{name!r} is not an Amazon attribute name (lower_snake_case)")
        for name in mapping.attributes
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name)
    ]


def _transform_problems(mapping: ProductTypeMapping, declared: set[str]) -> list[Problem]:
    """Every transform against the column declarations: the columns it reads are declared (the
    validation suite is built from them), and what the transform itself asks of them."""
    out: list[Problem] = []
    for path, leaf in mapping.leaves():
        for column in leaf.columns():
            if column not in declared:
                close = difflib.get_close_matches(column, sorted(declared), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                key = (*path, *leaf.column_key(column))
                out.append((key, f"column {column!r} is not declared under 'columns'{hint}"))
        out.extend(leaf.mapping_problems(path, mapping.columns))
    return out


def _marketplace_use_problems(mapping: ProductTypeMapping) -> list[Problem]:
    """Marketplace settings against the transforms that use them: a currency where one is sent,
    relabels of codes the base translation has, omissions of attributes that exist."""
    uses_currency = any(leaf.needs_currency for _, leaf in mapping.leaves())
    enum_columns: dict[str, set[str]] = {}
    for _, leaf in mapping.leaves():
        table = leaf.relabel_table()
        if table is not None:
            enum_columns.setdefault(table[0], set()).update(table[1])
    out: list[Problem] = []
    for mid, settings in mapping.marketplaces.items():
        if uses_currency and settings.currency is None:
            out.append(
                (("marketplaces", mid), "'currency' is required: the attributes use the currency transform")
            )
        for column, codes in settings.enums.items():
            if column not in enum_columns:
                out.append(
                    (("marketplaces", mid, "enums", column), f"no enum transform reads column {column!r}")
                )
                continue
            unknown = [code for code in codes if code not in enum_columns[column]]
            if unknown:
                out.append(
                    (
                        ("marketplaces", mid, "enums", column, unknown[0]),
                        f"codes {unknown} are not in the base translation of column {column!r}",
                    )
                )
        out.extend(
            (("marketplaces", mid, "omit", index), f"cannot omit {name!r}: it is not a mapped attribute")
            for index, name in enumerate(settings.omit)
            if name not in mapping.attributes
        )
    return out


_TEXT_TYPES = ("string", "text")
_NUMBER_TYPES = ("integer", "decimal")


def _check_identifiers(mapping: ProductTypeMapping) -> list[Problem]:
    out: list[Problem] = []
    for name, spec in mapping.columns.items():
        if spec.identifier and spec.type not in _TEXT_TYPES:
            out.append(
                (
                    ("columns", name, "type"),
                    f"column {name!r} holds a product identifier ({spec.identifier}); declare it as "
                    f"type string, not {spec.type} (leading zeros are part of the code)",
                )
            )
    sent: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for path, column, kind in mapping.identifier_sources():
        where = _key_text(path[: path.index("fields")])
        declared = mapping.columns[column].identifier if column in mapping.columns else None
        if declared and declared != kind:
            out.append(
                (
                    ("columns", column, "identifier"),
                    f"column {column!r} is declared identifier: {declared}, but {where} sends it as {kind}",
                )
            )
        if column in sent and sent[column][0] != kind:
            first_kind, first_path = sent[column]
            out.append(
                (
                    path,
                    f"column {column!r} is sent as {kind} here and as {first_kind} by "
                    f"{_key_text(first_path[: first_path.index('fields')])}; one cell cannot be both "
                    "(use a column per kind)",
                )
            )
        sent.setdefault(column, (kind, path))
    return out


def _check_checks(mapping: ProductTypeMapping, declared: set[str]) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for index, check in enumerate(mapping.checks):
        path: tuple[Any, ...] = ("checks", index)
        if check.rule in RESERVED_CHECK_NAMES:
            out.append(
                (
                    (*path, "rule"),
                    f"{check.rule!r} is a content policy rule name; name the check after what it "
                    f"compares (e.g. {check.left}_{_OP_WORDS[check.op]}_{check.right})",
                )
            )
        if check.rule in seen:
            out.append(
                ((*path, "rule"), f"check {check.rule!r} is already defined (checks[{seen[check.rule]}])")
            )
        seen.setdefault(check.rule, index)
        kinds: dict[str, str] = {}
        for side in ("left", "right"):
            column = getattr(check, side)
            if column not in mapping.columns:
                close = difflib.get_close_matches(column, sorted(declared), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                out.append(((*path, side), f"column {column!r} is not declared under 'columns'{hint}"))
                continue
            column_type = mapping.columns[column].type
            if column_type in _NUMBER_TYPES:
                kinds[side] = "number"
            elif column_type == "date":
                kinds[side] = "date"
            else:
                out.append(
                    (
                        (*path, side),
                        f"a check compares numbers (integer, decimal) or dates (date); column {column!r} "
                        f"is {column_type}",
                    )
                )
        if check.left == check.right:
            out.append(((*path, "right"), f"a check compares two columns; both sides are {check.left!r}"))
        elif len(kinds) == 2 and kinds["left"] != kinds["right"]:
            out.append(
                (
                    path,
                    f"{check.text} compares a {kinds['left']} with a {kinds['right']}; both sides must be "
                    "numbers or both dates",
                )
            )
    return out


_OP_WORDS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


# --- against the product type's schema --------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    """Follow local ``$ref`` (``#/$defs/...``) once or more."""
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and seen < 10:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            break
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = target
        seen += 1
    return node if isinstance(node, Mapping) else {}


def check_against_product_type(
    mapping: ProductTypeMapping, schema: Mapping[str, Any]
) -> list[MappingProblem]:
    """Check a mapping against its product type's schema (a PTD download or a file in that format).

    Reports attributes the product type does not define, ``language_tag``/``marketplace_id``
    selectors that disagree with the schema, object fields the schema does not define, enum
    translations and constants outside the schema's ``enum``, and required attributes that are not
    mapped (or are omitted in a marketplace). Conditional requirements (``allOf``/``if``) depend on
    the row and are left to the per-message check.
    """
    problems: list[Problem] = []
    properties: Mapping[str, Any] = schema.get("properties") or {}
    for path, name, attribute in mapping.all_attribute_mappings():
        prop = properties.get(name)
        if prop is None:
            close = difflib.get_close_matches(name, list(properties), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append((path, f"{mapping.product_type} has no attribute {name!r}{hint}"))
            continue
        items = _resolve(schema, prop.get("items") or {})
        item_props: Mapping[str, Any] = items.get("properties") or {}
        item_required = set(items.get("required") or [])
        for selector, wanted in (
            ("language_tag", attribute.language_tag),
            ("marketplace_id", attribute.marketplace_id),
        ):
            defined = selector in item_props
            if defined and selector in item_required and not wanted:
                problems.append(
                    (
                        path,
                        f"{name} values need {selector} (selectors {prop.get('selectors')}); set '{selector}: true'",
                    )
                )
            elif wanted and not defined:
                problems.append((path, f"{name} values have no {selector}; set '{selector}: false'"))
        for sub, spec in attribute.specs():
            if sub == ("object",):
                continue
            if sub[0] == "value":
                if "value" not in item_props:
                    problems.append(
                        (
                            (*path, "value"),
                            f"{name} values have no 'value' field; use 'fields' ({', '.join(item_props)})",
                        )
                    )
                    continue
                problems.extend(
                    _check_spec(mapping, schema, item_props["value"], spec, (*path, "value"), name)
                )
            else:
                field = str(sub[1])
                if field not in item_props:
                    problems.append(
                        (
                            (*path, *sub),
                            f"{name} values have no field {field!r} (fields: {', '.join(item_props)})",
                        )
                    )
                    continue
                problems.extend(_check_spec(mapping, schema, item_props[field], spec, (*path, *sub), name))
    for name in schema.get("required") or []:
        if name not in mapping.attributes:
            problems.append(
                (("attributes",), f"{mapping.product_type} requires {name!r}, which is not mapped")
            )
            continue
        for mid, settings in mapping.marketplaces.items():
            if name in settings.omit and name not in settings.attributes:
                where = ("marketplaces", mid, "omit", settings.omit.index(name))
                problems.append((where, f"{mapping.product_type} requires {name!r}; it cannot be omitted"))
    return [
        MappingProblem(mapping.source, mapping.line_of(path), _key_text(path), message)
        for path, message in problems
    ]


def _check_spec(
    mapping: ProductTypeMapping,
    schema: Mapping[str, Any],
    node: Any,
    spec: Any,
    path: tuple[Any, ...],
    attribute: str,
) -> list[Problem]:
    """A spec against the schema at its place: objects field by field, lists item by item, and a
    transform's possible values against the schema's ``enum`` there."""
    node = _resolve(schema, node)
    out: list[Problem] = []
    if isinstance(spec, dict):
        props: Mapping[str, Any] = node.get("properties") or {}
        for key, sub in spec.items():
            if key not in props:
                out.append(((*path, key), f"{attribute}: no field {key!r} here (fields: {', '.join(props)})"))
            else:
                out.extend(_check_spec(mapping, schema, props[key], sub, (*path, key), attribute))
        return out
    if isinstance(spec, list):
        items = node.get("items") or {}
        for index, sub in enumerate(spec):
            out.extend(_check_spec(mapping, schema, items, sub, (*path, index), attribute))
        return out
    allowed = node.get("enum")
    if not isinstance(allowed, list):
        return out
    leaf: SpecKind = spec
    return leaf.schema_problems(allowed, path, attribute, mapping.relabels())
