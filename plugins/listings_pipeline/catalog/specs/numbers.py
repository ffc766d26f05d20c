"""Kinds that send numbers: whole, decimal, a price, a measure with its unit, LxWxH dimensions.

Catalog cells are text; a number is read with :class:`~decimal.Decimal`, so that what the seller
wrote is what is sent (no binary rounding on the way), and written as a JSON number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import Field

from listings_pipeline.catalog.cells import EMPTY, Empty
from listings_pipeline.catalog.columns import ColumnSpec, ColumnType
from listings_pipeline.catalog.specs.base import Problem, RowReader, SpecKind

__all__ = ["DecimalSpec", "DimensionsSpec", "IntegerSpec", "PriceSpec", "UnitSpec"]

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_NUMBER_UNIT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([^\d\s].*)?$")
_DIMENSIONS = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*[x\u00d7*]\s*(\d+(?:\.\d+)?)\s*[x\u00d7*]\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)?\s*$"
)
_AMAZON_UNITS = frozenset(
    {
        "grams",
        "kilograms",
        "ounces",
        "pounds",
        "centimeters",
        "millimeters",
        "meters",
        "inches",
        "feet",
        "liters",
        "milliliters",
        "cubic_inches",
        "cubic_centimeters",
        "hours",
        "minutes",
        "seconds",
    }
)
_NUMERIC: tuple[ColumnType, ...] = ("decimal", "integer")


def _number(row: RowReader, column: str, text: str) -> Decimal:
    if not _NUMBER.match(text):
        raise row.fail(f"{text!r} is not a number", column, text)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise row.fail(f"{text!r} is not a number", column, text) from None


def _json_number(value: Decimal, places: int | None = None) -> int | float:
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if value == value.to_integral_value() and places in (None, 0):
        return int(value)
    return float(value)


def _unit_name(row: RowReader, token: str, units: Mapping[str, str], column: str, value: Any) -> str:
    for key, name in units.items():
        if key.lower() == token.lower():
            return name
    if token.lower() in _AMAZON_UNITS:
        return token.lower()
    known = ", ".join(units) or ", ".join(sorted(_AMAZON_UNITS))
    raise row.fail(f"unknown unit {token!r} (known: {known})", column, value)


class IntegerSpec(SpecKind):
    transform: Literal["integer"]
    column: str

    column_types: ClassVar[tuple[ColumnType, ...]] = ("integer",)

    def apply(self, row: RowReader) -> Any:
        text = row.text(self.column)
        if isinstance(text, Empty):
            return EMPTY
        number = _number(row, self.column, text)
        if number != number.to_integral_value():
            raise row.fail(f"{text!r} is not a whole number", self.column, text)
        return int(number)


class DecimalSpec(SpecKind):
    """A number; ``multiply`` scales it (e.g. 0.001 for grams to kilograms), ``places`` rounds it."""

    transform: Literal["decimal"]
    column: str
    places: int | None = Field(default=None, ge=0, le=6)
    multiply: float | None = None

    column_types: ClassVar[tuple[ColumnType, ...]] = _NUMERIC

    def apply(self, row: RowReader) -> Any:
        text = row.text(self.column)
        if isinstance(text, Empty):
            return EMPTY
        number = _number(row, self.column, text)
        if self.multiply is not None:
            number *= Decimal(str(self.multiply))
        return _json_number(number, self.places)


class PriceSpec(SpecKind):
    """An amount in the marketplace's currency (see the ``currency`` transform) with at most
    ``places`` decimals: a price is never rounded, a row with more decimals is quarantined."""

    transform: Literal["price"]
    column: str
    places: int = Field(default=2, ge=0, le=4)

    column_types: ClassVar[tuple[ColumnType, ...]] = _NUMERIC

    def apply(self, row: RowReader) -> Any:
        text = row.text(self.column)
        if isinstance(text, Empty):
            return EMPTY
        number = _number(row, self.column, text)
        cents = Decimal(1).scaleb(-self.places)
        if abs(number - number.quantize(cents)) > cents.scaleb(-6):
            # A price is what the customer pays: rounding 17.999 to 18.00 would change it unasked.
            # A spreadsheet's binary noise (16.990000000001) is not a different price.
            raise row.fail(
                f"price {text} has more than {self.places} decimal places; write the amount to charge",
                self.column,
                text,
            )
        return _json_number(number, self.places)


class UnitSpec(SpecKind):
    """``{value, unit}``: the number in ``column``; the unit is fixed (``unit``), or read from
    ``unit_column`` or from the cell itself ("1.2 kg"), and translated through ``units``."""

    transform: Literal["unit"]
    column: str
    unit: str | None = None
    unit_column: str | None = None
    units: dict[str, str] = Field(default_factory=dict)
    places: int | None = Field(default=None, ge=0, le=6)

    column_types: ClassVar[tuple[ColumnType, ...]] = _NUMERIC

    def columns(self) -> list[str]:
        return [self.column, *([self.unit_column] if self.unit_column else [])]

    def apply(self, row: RowReader) -> Any:
        text = row.text(self.column)
        if isinstance(text, Empty):
            return EMPTY
        match = _NUMBER_UNIT.match(text)
        if not match:
            raise row.fail(f"{text!r} is not a number (with an optional unit)", self.column, text)
        number, token = Decimal(match.group(1)), (match.group(2) or "").strip()
        unit = self._unit(row, text, token)
        return {"value": _json_number(number, self.places), "unit": unit}

    def _unit(self, row: RowReader, text: str, token: str) -> str:
        """The cell's own unit first, then the unit column's, then the fixed one."""
        if token:
            return _unit_name(row, token, self.units, self.column, text)
        if self.unit_column and row.text(self.unit_column) is not EMPTY:
            unit_text = str(row.text(self.unit_column))
            return _unit_name(row, unit_text, self.units, self.unit_column, unit_text)
        if self.unit:
            return self.unit
        where = f" and column {self.unit_column!r} is empty" if self.unit_column else ""
        raise row.fail(f"{text!r} has no unit{where}", self.column, text)

    def column_key(self, column: str) -> tuple[str | int, ...]:
        return ("unit_column",) if column == self.unit_column else ("column",)

    def mapping_problems(self, path: tuple[Any, ...], columns: Mapping[str, ColumnSpec]) -> list[Problem]:
        out = super().mapping_problems(path, columns)
        if self.unit is None and self.unit_column is None and not self.units:
            out.append((path, "a unit transform needs 'unit', 'unit_column' or a 'units' table"))
        return out


class DimensionsSpec(SpecKind):
    """``"55x40x23"`` (optionally with a unit: ``"55 x 40 x 23 cm"``) ->
    ``{length: {value, unit}, width: {...}, height: {...}}``."""

    transform: Literal["dimensions"]
    column: str
    unit: str | None = None
    units: dict[str, str] = Field(default_factory=dict)
    order: tuple[str, str, str] = ("length", "width", "height")

    column_types: ClassVar[tuple[ColumnType, ...]] = ("dimensions",)

    def apply(self, row: RowReader) -> Any:
        text = row.text(self.column)
        if isinstance(text, Empty):
            return EMPTY
        match = _DIMENSIONS.match(text)
        if not match:
            raise row.fail(f"{text!r} is not in the form LxWxH (e.g. 55x40x23)", self.column, text)
        if match.group(4):
            unit = _unit_name(row, match.group(4), self.units, self.column, text)
        elif self.unit:
            unit = self.unit
        else:
            raise row.fail(f"{text!r} has no unit", self.column, text)
        return {
            name: {"value": _json_number(Decimal(match.group(i + 1))), "unit": unit}
            for i, name in enumerate(self.order)
        }
