"""The transform kinds of a catalog mapping, and :data:`LeafSpec`, the union that parses them.

A new kind is one :class:`SpecKind` subclass (parsing, building a value, its checks, what it implies
for validation; see :mod:`.base`) added to :data:`KINDS`: the union, the list of transform names in
error messages and the shorthand forms all follow from that tuple.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union

from pydantic import BeforeValidator, Field

from listings_pipeline.catalog.specs.base import (
    CodeSet,
    ImageColumn,
    Problem,
    Relabels,
    RowReader,
    SpecKind,
    TextColumn,
    kind_name,
)
from listings_pipeline.catalog.specs.codes import DEFAULT_YES_NO, BooleanSpec, CurrencySpec, EnumSpec
from listings_pipeline.catalog.specs.numbers import (
    DecimalSpec,
    DimensionsSpec,
    IntegerSpec,
    PriceSpec,
    UnitSpec,
)
from listings_pipeline.catalog.specs.text import ConstantSpec, CopySpec, ImageUrlSpec, ListSpec, TemplateSpec

__all__ = [
    "DEFAULT_YES_NO",
    "KINDS",
    "LEAF_KEYS",
    "TRANSFORMS",
    "BooleanSpec",
    "CodeSet",
    "ConstantSpec",
    "CopySpec",
    "CurrencySpec",
    "DecimalSpec",
    "DimensionsSpec",
    "EnumSpec",
    "ImageColumn",
    "ImageUrlSpec",
    "IntegerSpec",
    "LeafSpec",
    "ListSpec",
    "PriceSpec",
    "Problem",
    "Relabels",
    "RowReader",
    "SpecKind",
    "TemplateSpec",
    "TextColumn",
    "UnitSpec",
    "kind_name",
]

#: Every kind, in the order the documentation lists them.
KINDS: tuple[type[SpecKind], ...] = (
    CopySpec,
    TemplateSpec,
    ConstantSpec,
    EnumSpec,
    BooleanSpec,
    IntegerSpec,
    DecimalSpec,
    PriceSpec,
    CurrencySpec,
    UnitSpec,
    DimensionsSpec,
    ListSpec,
    ImageUrlSpec,
)
#: The ``transform:`` names, for "unknown transform" messages.
TRANSFORMS: tuple[str, ...] = tuple(kind_name(kind) for kind in KINDS)
#: ``{column: x}`` alone is a copy: the commonest spec is the shortest to write.
_DEFAULT_KIND = "copy"
_SHORTHANDS = {kind.shorthand[0]: (kind_name(kind), kind.shorthand[1]) for kind in KINDS if kind.shorthand}
#: Keys that make a YAML mapping a transform rather than an object of fields.
LEAF_KEYS: tuple[str, ...] = ("transform", "column", "columns", "template", *_SHORTHANDS)


def _leaf_shorthand(value: Any) -> Any:
    """The long form of ``{const: x}`` and of a spec without ``transform`` (a copy)."""
    if not isinstance(value, dict):
        return value
    for key, (name, field) in _SHORTHANDS.items():
        if key in value and value.get("transform", name) == name:
            return {k: v for k, v in value.items() if k != key} | {"transform": name, field: value[key]}
    if "transform" not in value:
        return {"transform": _DEFAULT_KIND, **value}
    return value


if TYPE_CHECKING:  # a union built from KINDS: pydantic reads it, mypy sees the common base
    LeafSpec: TypeAlias = SpecKind
else:
    LeafSpec = Annotated[
        Union[KINDS],  # noqa: UP007 (a discriminated union needs the Union form under Annotated)
        Field(discriminator="transform"),
        BeforeValidator(_leaf_shorthand),
    ]
