"""Kinds that send the seller's text (copied, templated, listed, as an image URL) or a constant."""

from __future__ import annotations

import re
import string
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from listings_pipeline.catalog.cells import EMPTY, Empty
from listings_pipeline.catalog.specs.base import (
    ImageColumn,
    Problem,
    Relabels,
    RowReader,
    SpecKind,
    TextColumn,
)

__all__ = ["ConstantSpec", "CopySpec", "ImageUrlSpec", "ListSpec", "TemplateSpec"]


class CopySpec(SpecKind):
    """The column's text, stripped of surrounding white space."""

    transform: Literal["copy"] = "copy"
    column: str

    def apply(self, row: RowReader) -> Any:
        return row.text(self.column)

    def free_text(self) -> list[TextColumn]:
        return [TextColumn(self.column)]

    def copied_column(self) -> str | None:
        return self.column


class TemplateSpec(SpecKind):
    """``"{brand} {title}"``: columns in braces; empty when any of them is empty."""

    transform: Literal["template"]
    template: str

    @field_validator("template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        if not names:
            raise ValueError("a template needs at least one {column} placeholder")
        bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
        if bad:
            raise ValueError(f"placeholders must be plain column names, not {bad}")
        return value

    def columns(self) -> list[str]:
        return [name for _, name, _, _ in string.Formatter().parse(self.template) if name]

    def apply(self, row: RowReader) -> Any:
        values = {name: row.text(name) for name in self.columns()}
        if any(v is EMPTY for v in values.values()):
            return EMPTY
        return self.template.format(**values).strip()

    def column_key(self, column: str) -> tuple[str | int, ...]:
        return ("template",)

    def free_text(self) -> list[TextColumn]:
        return [TextColumn(column) for column in self.columns()]


class ConstantSpec(SpecKind):
    """A fixed value (``{const: new_new}`` for short)."""

    transform: Literal["constant"]
    value: Any

    shorthand: ClassVar[tuple[str, str] | None] = ("const", "value")

    def apply(self, row: RowReader) -> Any:
        return self.value

    def schema_problems(
        self, allowed: list[Any], path: tuple[Any, ...], attribute: str, relabels: Relabels
    ) -> list[Problem]:
        if self.value in allowed:
            return []
        return [((*path, "value"), f"{attribute}: {self.value!r} is not one of {allowed}")]

    def constant_text(self) -> str | None:
        return self.value if isinstance(self.value, str) else None


class ListSpec(SpecKind):
    """Several values: one per column of ``columns``, or ``column`` split at ``separator``."""

    transform: Literal["list"]
    columns_: list[str] | None = Field(default=None, alias="columns", min_length=1)
    column: str | None = None
    separator: str = Field(default="|", min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> ListSpec:
        if (self.columns_ is None) == (self.column is None):
            raise ValueError("a list needs exactly one of 'columns' (a list) or 'column' (+ 'separator')")
        return self

    def columns(self) -> list[str]:
        return list(self.columns_) if self.columns_ else [self.column] if self.column else []

    def apply(self, row: RowReader) -> Any:
        items: list[str] = []
        if self.columns_:
            for column in self.columns_:
                text = row.text(column)
                if not isinstance(text, Empty):
                    items.append(text)
        elif self.column:
            text = row.text(self.column)
            if not isinstance(text, Empty):
                items = [part.strip() for part in text.split(self.separator) if part.strip()]
        return items or EMPTY

    def column_key(self, column: str) -> tuple[str | int, ...]:
        if self.columns_:
            return ("columns", self.columns_.index(column))
        return ("column",)

    def free_text(self) -> list[TextColumn]:
        if self.columns_:
            return [TextColumn(column) for column in self.columns_]
        return [TextColumn(self.column, self.separator)] if self.column else []


class ImageUrlSpec(SpecKind):
    """An image URL; relative paths are joined to ``base_url`` (which must be https)."""

    transform: Literal["image_url"]
    column: str
    base_url: str | None = Field(default=None, pattern=r"^https://\S+$")

    def apply(self, row: RowReader) -> Any:
        text = row.text(self.column)
        if isinstance(text, Empty):
            return EMPTY
        if self.base_url and not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
            text = self.base_url.rstrip("/") + "/" + text.lstrip("/")
        if not re.match(r"^https://[^\s/]+/\S*$", text):
            raise row.fail(f"{text!r} is not an https:// image URL", self.column, text)
        return text

    def image_columns(self) -> list[ImageColumn]:
        return [ImageColumn(self.column, relative=bool(self.base_url))]
