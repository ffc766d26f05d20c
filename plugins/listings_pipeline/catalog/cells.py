"""What an empty catalog cell is: one answer shared by the transforms, which leave empty values
out of a message, and the validation step, which must call the same cells empty."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["EMPTY", "Empty", "is_empty"]


class Empty:
    """No value: the column is empty. Fields and attributes made only of empties are left out."""

    def __repr__(self) -> str:
        return "<empty>"


EMPTY = Empty()


def is_empty(value: Any) -> bool:
    """None, NaN, pandas NA/NaT or blank text."""
    if value is None or value is EMPTY:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return not value.strip()
    return type(value).__name__ in ("NAType", "NaTType")
