"""Reading a form's values as typed in the trigger form, or given as a run's JSON conf.

Each reader notes a problem and goes on rather than raising, so one pass finds every problem.
Values are taken as they are: text is trimmed, never re-cased (``usd`` is a mistake to point out, not
to fix in silence).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from listings_pipeline.forms.problems import FormProblem, problem

_LINE = re.compile(r"\r\n|\r|\n")
_SEPARATOR = re.compile(r"[,;]")


def entries(value: object) -> list[str] | None:
    """Pasted text (one per line, or separated by commas or semicolons) or a list, each entry trimmed.

    Blank lines (and a list's blank items: Airflow's list field is one item per line) and separators
    that begin or end a line are layout, and dropped; an empty entry between two (``A,,B``) is kept
    as ``""`` so that the form can say a value is missing there. ``None`` when the value is neither text nor a list.
    """
    if value is None:
        return []
    if isinstance(value, str):
        out: list[str] = []
        for text in _LINE.split(value):
            parts = [part.strip() for part in _SEPARATOR.split(text)]
            while parts and not parts[-1]:
                parts.pop()
            while parts and not parts[0]:
                parts.pop(0)
            out.extend(parts)
        return out
    if isinstance(value, list | tuple):
        return [text for text in ("" if item is None else str(item).strip() for item in value) if text]
    return None


class FieldReader:
    """One form's values, read field by field; :attr:`problems` holds what was wrong with them."""

    def __init__(self, params: Mapping[str, object]) -> None:
        self.params = params
        self.problems: list[FormProblem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(problem(field, message))

    def given(self, field: str) -> bool:
        value = self.params.get(field)
        return value is not None and not (isinstance(value, str) and not value.strip())

    def text(self, field: str) -> str | None:
        value = self.params.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(field, f"must be text; got {value!r}")
            return None
        return value.strip() or None

    def number(self, field: str) -> Decimal | None:
        value = self.params.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            self.add(field, f"must be a number; got {value!r}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.add(field, f"must be a number; got {value!r}")
            return None
        try:
            number = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            self.add(field, f"{value!r} is not a number (decimals take a point: 12.50)")
            return None
        if not number.is_finite():
            self.add(field, f"must be a number; got {value!r}")
            return None
        return number

    def integer(self, field: str, low: int, high: int) -> int | None:
        value = self.params.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        whole: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            whole = value
        elif isinstance(value, float) and value.is_integer():
            whole = int(value)
        elif isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            whole = int(value.strip())
        if whole is None:
            self.add(field, f"must be a whole number; got {value!r}")
            return None
        if not low <= whole <= high:
            self.add(field, f"must be from {low} to {high}; got {whole}")
            return None
        return whole

    def day(self, field: str) -> date | None:
        value = self.params.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.add(field, f"{value!r} is not a day (YYYY-MM-DD)")
        return None

    def flag(self, field: str, default: bool) -> bool:
        value = self.params.get(field)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(field, f"must be true or false; got {value!r}")
            return default
        return value
