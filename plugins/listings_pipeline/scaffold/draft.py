"""The draft mapping as data: what the builder decided, with its evidence, before it is written.

Typed so that the YAML writer, the coverage report and the tests read one structure. A spec is a
tree of :class:`Leaf` (one transform) inside objects (``dict``) and lists, as in the mapping format
(:mod:`listings_pipeline.catalog.mapping`); a leaf the scaffold could not fill is a ``todo`` leaf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias, Union

__all__ = [
    "Draft",
    "DraftAttribute",
    "DraftColumn",
    "DraftMarketplace",
    "Leaf",
    "SpecTree",
    "Status",
    "Todo",
    "leaves",
]

Status = Literal["mapped", "defaulted", "todo"]
#: a YAML scalar a spec may hold
Scalar: TypeAlias = str | int | float | bool


@dataclass(frozen=True)
class Todo:
    """Something a person must fill in: where (a key path inside the file) and what is wanted."""

    where: str
    wanted: str


@dataclass
class Leaf:
    """One transform: ``kind`` is a transform name (``copy``, ``constant``, ``enum``, ...) or ``todo``.

    ``codes`` is an enum's translation table (a value None: no translation found, written TODO).
    """

    kind: str
    column: str | None = None
    const: Scalar | None = None
    codes: dict[str, str | None] = field(default_factory=dict)
    options: dict[str, Scalar | list[str] | dict[str, str]] = field(default_factory=dict)
    comment: str = ""
    wanted: str = ""  # for a todo leaf: what to fill in

    @property
    def todo(self) -> bool:
        """Anything left to fill: the leaf itself, a code's translation, or an option (a unit)."""
        if self.kind == "todo" or any(v is None for v in self.codes.values()):
            return True
        return any(
            v == "TODO" or (isinstance(v, dict) and "TODO" in v.values()) for v in self.options.values()
        )

    def columns(self) -> list[str]:
        out = [self.column] if self.column else []
        unit_column = self.options.get("unit_column")
        if isinstance(unit_column, str):
            out.append(unit_column)
        return out


SpecTree: TypeAlias = Union[Leaf, dict[str, "SpecTree"], list["SpecTree"]]  # noqa: UP007


def leaves(tree: SpecTree) -> list[Leaf]:
    if isinstance(tree, Leaf):
        return [tree]
    if isinstance(tree, dict):
        return [leaf for sub in tree.values() for leaf in leaves(sub)]
    return [leaf for sub in tree for leaf in leaves(sub)]


@dataclass
class DraftAttribute:
    """One attribute: its form (``value``, ``fields`` or ``object``) and spec, why it is there
    (``why``: the requirement, or the match for an optional one), the evidence and a confidence."""

    name: str
    form: Literal["value", "fields", "object"]
    spec: SpecTree
    required: bool
    why: str
    confidence: float
    evidence: list[str] = field(default_factory=list)
    language_tag: bool = False
    marketplace_id: bool = True
    always: bool = False  # required by the schema itself, whatever the row holds

    @property
    def status(self) -> Status:
        found = leaves(self.spec)
        if any(leaf.todo for leaf in found):
            return "todo"
        if all(leaf.kind == "constant" for leaf in found):
            return "defaulted"
        return "mapped"

    def columns(self) -> list[str]:
        return list(dict.fromkeys(c for leaf in leaves(self.spec) for c in leaf.columns()))


@dataclass
class DraftColumn:
    name: str
    type: str
    required: bool
    comment: str


@dataclass
class DraftMarketplace:
    marketplace_id: str
    language_tag: str
    currency: str | None
    enums: dict[str, dict[str, str | None]] = field(default_factory=dict)  # column -> code -> label
    attributes: dict[str, DraftAttribute] = field(default_factory=dict)  # overrides


@dataclass
class Draft:
    product_type: str
    marketplaces: list[DraftMarketplace]
    attributes: list[DraftAttribute]
    columns: list[DraftColumn]
    unused_columns: list[str]
    empty_columns: list[str]  # no value in any sample row of this product type
    sample_rows: int

    def todo_count(self) -> int:
        """How many TODO markers the written draft holds (the loader names each)."""
        count = 0
        for attribute in self._all_attributes():
            for leaf in leaves(attribute.spec):
                count += leaf.kind == "todo"
                count += sum(v is None for v in leaf.codes.values())
                for option in leaf.options.values():
                    count += option == "TODO"
                    count += sum(v == "TODO" for v in option.values()) if isinstance(option, dict) else 0
        count += sum(1 for m in self.marketplaces for t in m.enums.values() for v in t.values() if v is None)
        return count

    def _all_attributes(self) -> list[DraftAttribute]:
        return [*self.attributes, *(a for m in self.marketplaces for a in m.attributes.values())]
