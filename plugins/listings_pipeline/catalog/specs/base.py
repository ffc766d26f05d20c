"""What every transform kind answers for itself, so that a new kind is one class.

A kind (copy, enum, price, ...) is a pydantic model of its YAML form. Besides parsing, it says how
it builds a value from a row (:meth:`SpecKind.apply`), what the mapping's column declarations and
the product type's schema must agree with (:meth:`SpecKind.mapping_problems`,
:meth:`SpecKind.schema_problems`), and what it implies about the columns it reads, from which the
validation step generates its Great Expectations rules (free text, closed code sets, yes/no tokens,
image URLs, a currency column). The defaults here are "nothing to say"; a kind overrides what
applies to it. The mapping, the transform and the validation step only ask; none of them lists the
kinds.
"""

from __future__ import annotations

import typing
from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from pydantic import BaseModel

from listings_pipeline.catalog.cells import Empty
from listings_pipeline.catalog.columns import STRICT, ColumnSpec, ColumnType

__all__ = [
    "CodeSet",
    "ImageColumn",
    "Problem",
    "Relabels",
    "RowReader",
    "SpecKind",
    "TextColumn",
    "kind_name",
]

#: (path of the key in the mapping file, what is wrong): the mapping turns it into a located problem.
Problem = tuple[tuple[Any, ...], str]
#: marketplace id -> column -> the marketplace's labels for codes of that column (``enums:``).
Relabels = Mapping[str, Mapping[str, Mapping[str, Any]]]


class RowReader(Protocol):
    """What a kind may ask of the row it builds a value from (the transform step provides it), so
    that the kinds need neither the mapping nor the message machinery."""

    @property
    def marketplace_id(self) -> str: ...

    def raw(self, column: str) -> Any:
        """The cell as given, or EMPTY."""

    def text(self, column: str) -> str | Empty:
        """The cell as stripped text, or EMPTY."""

    def currency(self) -> str | None:
        """The marketplace's currency, when the mapping configures one."""

    def relabels(self, column: str) -> Mapping[str, Any]:
        """The marketplace's own labels for codes of an enum column."""

    def fail(self, reason: str, column: str | None = None, value: Any = None) -> Exception:
        """The error to raise for this row (it names the SKU and attribute)."""


class TextColumn(NamedTuple):
    """A column whose text reaches Amazon as written (the content policy checks it), split into
    entries at ``separator`` when it holds several values."""

    column: str
    separator: str | None = None


class CodeSet(NamedTuple):
    """The codes a column must hold because a transform translates them (unless ``open``: a default
    translates any other code)."""

    column: str
    codes: frozenset[str]
    ignore_case: bool
    separator: str | None
    open: bool


class ImageColumn(NamedTuple):
    """A column holding image URLs; ``relative`` when paths are joined to a base URL."""

    column: str
    relative: bool


class SpecKind(BaseModel):
    """One transform of a mapping (a leaf of an attribute's spec)."""

    model_config = STRICT

    if TYPE_CHECKING:  # each kind declares it as a Literal, the discriminator of LeafSpec
        transform: str

    #: Column types it can read (the first column it reads); empty when any text will do.
    column_types: ClassVar[tuple[ColumnType, ...]] = ()
    #: Whether every marketplace of the mapping must configure a currency.
    needs_currency: ClassVar[bool] = False
    #: ``(key, field)``: a key that alone stands for this kind, ``{const: x}`` for
    #: ``{transform: constant, value: x}``.
    shorthand: ClassVar[tuple[str, str] | None] = None

    def columns(self) -> list[str]:
        """The catalog columns this transform reads."""
        column = getattr(self, "column", None)
        return [column] if column else []

    @abstractmethod
    def apply(self, row: RowReader) -> Any:
        """The value for one row: EMPTY when the columns it reads are empty; ``row.fail`` when a
        cell cannot be turned into a value."""

    def column_key(self, column: str) -> tuple[str | int, ...]:
        """Where in this spec's YAML ``column`` is named, for a problem's line."""
        return ("column",)

    def mapping_problems(self, path: tuple[Any, ...], columns: Mapping[str, ColumnSpec]) -> list[Problem]:
        """What the mapping's column declarations contradict here: by default, the declared type
        of the column it reads, when the kind needs a particular one."""
        if not self.column_types:
            return []
        column = self.columns()[0]
        declared = columns.get(column)
        if declared is None or declared.type in self.column_types:
            return []
        return [
            (
                (*path, "column"),
                f"column {column!r} is declared as {declared.type}; "
                f"the {self.transform} transform needs {' or '.join(self.column_types)}",
            )
        ]

    def schema_problems(
        self, allowed: list[Any], path: tuple[Any, ...], attribute: str, relabels: Relabels
    ) -> list[Problem]:
        """Values it can send that are not among the schema's ``enum`` (``allowed``) at its place."""
        return []

    def free_text(self) -> list[TextColumn]:
        """Columns whose text it sends as written."""
        return []

    def code_set(self) -> CodeSet | None:
        """The codes its column must hold, when it translates codes."""
        return None

    def held_codes(self) -> tuple[str, tuple[str, ...]] | None:
        """(column, values the column holds as codes rather than text): "NONE" may be a code."""
        return None

    def yes_no_tokens(self) -> tuple[str, tuple[str, ...]] | None:
        """(column, the tokens it reads as yes or no)."""
        return None

    def image_columns(self) -> list[ImageColumn]:
        """Columns it sends as image URLs."""
        return []

    def currency_column(self) -> str | None:
        """A column holding the row's own currency, which must be the marketplace's."""
        return None

    def relabel_table(self) -> tuple[str, Mapping[str, Any]] | None:
        """(column, base translation) that a marketplace's ``enums:`` may relabel."""
        return None

    def constant_text(self) -> str | None:
        """The text it always sends (an identifier's ``type``)."""
        return None

    def copied_column(self) -> str | None:
        """The column whose cell it sends unchanged (an identifier's ``value``)."""
        return None


def kind_name(kind: type[SpecKind]) -> str:
    """The ``transform:`` name of a kind, read from its discriminator field."""
    name: str = typing.get_args(kind.model_fields["transform"].annotation)[0]
    return name
