"""What a catalog column holds, read from the sample: the evidence beside its name.

A column called ``Gewicht`` is weighed by its name, but also by holding numbers; ``fit`` holding
``M``, ``W``, ``U`` says more than its name. Each column is read once into a :class:`ColumnProfile`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ColumnProfile", "profile_columns"]

_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_NUMBER_UNIT = re.compile(r"^-?\d+(?:[.,]\d+)?\s*[A-Za-z]+$")
_DIMENSIONS = re.compile(
    r"^\d+(?:[.,]\d+)?\s*[xX\u00d7]\s*\d+(?:[.,]\d+)?\s*[xX\u00d7]\s*\d+(?:[.,]\d+)?(?:\s*[A-Za-z]+)?$"
)
#: yes/no words (0 and 1 are read as integers: a count of 1 is not a yes)
_BOOLEAN = {"true", "false", "yes", "no", "y", "n", "ja", "nein", "oui", "non", "si"}
#: ISO 4217 codes of the currencies Amazon's marketplaces sell in (and a few more)
_CURRENCIES = frozenset(
    [
        "USD",
        "CAD",
        "MXN",
        "BRL",
        "EUR",
        "GBP",
        "SEK",
        "PLN",
        "TRY",
        "AED",
        "SAR",
        "EGP",
        "INR",
        "JPY",
        "AUD",
        "SGD",
        "CNY",
        "CHF",
        "NOK",
        "DKK",
        "CZK",
        "ZAR",
    ]
)
#: columns the pipeline itself reads or writes; never mapped to an attribute
_RESERVED = {"sku", "marketplace_id", "product_type", "seller_id", "_source_file", "_source_row"}


@dataclass(frozen=True)
class ColumnProfile:
    """A sample column: how many cells hold a value, its distinct values and what they look like."""

    column: str
    filled: int
    rows: int
    distinct: tuple[str, ...]  # most common first, at most 60
    distinct_count: int
    kind: str  # integer, number, number_unit, boolean, dimensions, url, currency, barcode, code, text
    separator: str | None  # "|" when cells hold several values
    max_length: int

    @property
    def codes(self) -> bool:
        """Few short distinct values: a seller's codes (BLK, M, CABIN) rather than free text."""
        return self.kind == "code"

    def describe(self) -> str:
        cut = [v if len(v) <= 24 else v[:21] + "..." for v in self.distinct[:5]]
        shown = ", ".join(cut) + (", ..." if self.distinct_count > 5 else "")
        return f"{self.kind}, {self.filled}/{self.rows} filled, values {shown}"


def profile_columns(rows: Sequence[Mapping[str, object]], columns: Iterable[str]) -> dict[str, ColumnProfile]:
    return {c: _profile(c, rows) for c in columns if c not in _RESERVED}


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _profile(column: str, rows: Sequence[Mapping[str, object]]) -> ColumnProfile:
    values = [t for t in (_text(r.get(column)) for r in rows) if t is not None]
    counts = Counter(values)
    distinct = tuple(v for v, _ in counts.most_common(60))
    separator = "|" if values and sum("|" in v for v in values) >= max(1, len(values) // 10) else None
    return ColumnProfile(
        column=column,
        filled=len(values),
        rows=len(rows),
        distinct=distinct,
        distinct_count=len(counts),
        kind=_kind(values, len(counts)),
        separator=separator,
        max_length=max((len(v) for v in values), default=0),
    )


def _kind(values: list[str], distinct: int) -> str:
    """The first kind most cells (nine in ten: a sample has its bad rows) agree on."""
    if not values:
        return "empty"

    def most(test: Callable[[str], object]) -> bool:
        return sum(1 for v in values if test(v)) >= 0.9 * len(values)

    if most(lambda v: v.startswith(("http://", "https://"))):
        return "url"
    if most(lambda v: re.fullmatch(r"\d{8,14}", v)):
        return "barcode"
    if distinct <= 2 and most(lambda v: v.lower() in _BOOLEAN):
        return "boolean"
    if most(_INTEGER.match):
        return "integer"
    if most(_NUMBER.match):
        return "number"
    if most(_DIMENSIONS.match):
        return "dimensions"
    if distinct <= 10 and most(lambda v: v in _CURRENCIES):
        return "currency"
    if most(_NUMBER_UNIT.match):
        return "number_unit"
    if distinct <= 30 and max(len(v) for v in values) <= 40:
        return "code"
    return "text"
