"""A mapping's ``columns:``: what each catalog column may hold.

Apart from :mod:`.mapping` because the transforms (:mod:`.specs`) check themselves against these
declarations (an integer transform needs a number column), and the mapping is built from the
transforms: both sides import this module instead of each other.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["IDENTIFIER_KINDS", "STRICT", "ColumnSpec", "ColumnType", "IdentifierKind"]

#: Mapping files are written by hand: an unknown key is a typo to report, and a parsed mapping is
#: shared by every row, so nothing may change it.
STRICT = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

#: Kinds of product identifier whose check digit the validation step verifies.
IDENTIFIER_KINDS: tuple[str, ...] = ("upc", "ean", "gtin", "isbn")
IdentifierKind = Literal["upc", "ean", "gtin", "isbn"]

ColumnType = Literal["string", "text", "integer", "decimal", "boolean", "dimensions", "date"]


class ColumnSpec(BaseModel):
    """A catalog column: its type (catalog values are text; the type says what the text must look
    like), whether it is required, and the values it may hold."""

    model_config = STRICT

    type: ColumnType = "string"
    required: bool = False
    enum: list[str] | None = Field(default=None, min_length=1)
    min: float | None = None
    max: float | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    pattern: str | None = None
    identifier: IdentifierKind | None = None
    description: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"not a valid regular expression: {err}") from None
        return value

    @model_validator(mode="after")
    def _bounds(self) -> ColumnSpec:
        if (self.min is not None or self.max is not None) and self.type not in ("integer", "decimal"):
            raise ValueError(f"min/max need a numeric column (type integer or decimal), not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self
