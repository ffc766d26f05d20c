"""The parsed form of a catalog mapping file (:class:`ProductTypeMapping`) and what it answers: the
attributes sent in a marketplace, the transforms and the columns they read, the identifier columns.
The file format is described in :mod:`listings_pipeline.catalog.mapping`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from listings_pipeline.catalog.columns import IDENTIFIER_KINDS, STRICT, ColumnSpec
from listings_pipeline.catalog.specs import (
    LEAF_KEYS,
    EnumSpec,
    LeafSpec,
    SpecKind,
)

__all__ = [
    "BUILTIN_COLUMNS",
    "IDENTIFIER_ATTRIBUTE",
    "RESERVED_CHECK_NAMES",
    "AttributeMapping",
    "CrossFieldCheck",
    "FieldSpec",
    "MarketplaceSettings",
    "ProductTypeMapping",
    "iter_leaves",
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
