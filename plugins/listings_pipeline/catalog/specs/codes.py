"""Kinds that send Amazon's vocabulary for the seller's codes: enum labels, yes/no, the currency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from listings_pipeline.catalog.cells import EMPTY, Empty
from listings_pipeline.catalog.columns import ColumnSpec, ColumnType
from listings_pipeline.catalog.specs.base import CodeSet, Problem, Relabels, RowReader, SpecKind

__all__ = ["DEFAULT_YES_NO", "BooleanSpec", "CurrencySpec", "EnumSpec"]


class EnumSpec(SpecKind):
    """Translate the seller's code to Amazon's value. ``separator`` splits a cell into several codes.

    A code without a translation is an error unless ``default`` is set. Marketplaces can relabel
    codes (``marketplaces.<id>.enums.<column>``).
    """

    transform: Literal["enum"]
    column: str
    values: dict[str, Any] = Field(min_length=1)
    default: Any = None
    ignore_case: bool = False
    separator: str | None = Field(default=None, min_length=1)

    @field_validator("values")
    @classmethod
    def _no_empty_labels(cls, value: dict[str, Any]) -> dict[str, Any]:
        empty = [code for code, label in value.items() if label is None or label == ""]
        if empty:
            raise ValueError(f"codes {empty} have no value (quote labels that contain ', ' or ': ')")
        return value

    def apply(self, row: RowReader) -> Any:
        text = row.text(self.column)
        if isinstance(text, Empty):
            return EMPTY
        table = {**self.values, **row.relabels(self.column)}
        if self.separator:
            codes = [c.strip() for c in text.split(self.separator) if c.strip()]
            return [self._translate(row, table, code) for code in codes] or EMPTY
        return self._translate(row, table, text)

    def _translate(self, row: RowReader, table: Mapping[str, Any], code: str) -> Any:
        if code in table:
            return table[code]
        if self.ignore_case:
            for key, label in table.items():
                if key.lower() == code.lower():
                    return label
        if self.default is not None:
            return self.default
        known = ", ".join(table)
        raise row.fail(f"{code!r} has no translation (known codes: {known})", self.column, code)

    def mapping_problems(self, path: tuple[Any, ...], columns: Mapping[str, ColumnSpec]) -> list[Problem]:
        # a code the column may hold but nobody translates would fail every such row at mapping
        declared = columns.get(self.column)
        if declared is None or not declared.enum or self.default is not None:
            return []
        missing = [code for code in declared.enum if code not in self.values]
        if not missing:
            return []
        return [
            ((*path, "values"), f"codes {missing} allowed by columns.{self.column}.enum have no translation")
        ]

    def schema_problems(
        self, allowed: list[Any], path: tuple[Any, ...], attribute: str, relabels: Relabels
    ) -> list[Problem]:
        tables: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = [((*path, "values"), self.values)]
        for mid, enums in relabels.items():
            if self.column in enums:
                tables.append((("marketplaces", mid, "enums", self.column), enums[self.column]))
        out: list[Problem] = [
            ((*where, code), f"{attribute}: {value!r} (for code {code!r}) is not one of {allowed}")
            for where, table in tables
            for code, value in table.items()
            if value not in allowed
        ]
        if self.default is not None and self.default not in allowed:
            out.append(((*path, "default"), f"{attribute}: default {self.default!r} is not one of {allowed}"))
        return out

    def code_set(self) -> CodeSet | None:
        return CodeSet(
            self.column, frozenset(self.values), self.ignore_case, self.separator, self.default is not None
        )

    def held_codes(self) -> tuple[str, tuple[str, ...]] | None:
        return self.column, tuple(self.values)

    def relabel_table(self) -> tuple[str, Mapping[str, Any]] | None:
        return self.column, self.values


_TRUE = ("Y", "YES", "TRUE", "1")
_FALSE = ("N", "NO", "FALSE", "0")


class BooleanSpec(SpecKind):
    """Y/N, yes/no, true/false, 1/0 (case-insensitive), or the tokens given."""

    transform: Literal["boolean"]
    column: str
    true_values: tuple[str, ...] = _TRUE
    false_values: tuple[str, ...] = _FALSE

    column_types: ClassVar[tuple[ColumnType, ...]] = ("boolean",)

    def apply(self, row: RowReader) -> Any:
        raw = row.raw(self.column)
        if raw is EMPTY:
            return EMPTY
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().upper()
        if text in (t.upper() for t in self.true_values):
            return True
        if text in (t.upper() for t in self.false_values):
            return False
        allowed = ", ".join((*self.true_values, *self.false_values))
        raise row.fail(f"{raw!r} is not a yes/no value ({allowed})", self.column, raw)

    def held_codes(self) -> tuple[str, tuple[str, ...]] | None:
        return self.yes_no_tokens()

    def yes_no_tokens(self) -> tuple[str, tuple[str, ...]] | None:
        return self.column, (*self.true_values, *self.false_values)


#: The tokens a boolean column is read with when no transform names its own.
DEFAULT_YES_NO: tuple[str, ...] = (*_TRUE, *_FALSE)


class CurrencySpec(SpecKind):
    """The marketplace's currency. With ``column``, a row's own currency must agree with it."""

    transform: Literal["currency"]
    column: str | None = None

    needs_currency: ClassVar[bool] = True

    def apply(self, row: RowReader) -> Any:
        currency = row.currency()
        if currency is None:
            raise row.fail(f"no currency is configured for marketplace {row.marketplace_id}")
        if self.column:
            given = row.text(self.column)
            if not isinstance(given, Empty) and given.upper() != currency:
                raise row.fail(
                    f"the row's currency {given} is not the currency of marketplace {row.marketplace_id} ({currency})",
                    self.column,
                    given,
                )
        return currency

    def currency_column(self) -> str | None:
        return self.column
