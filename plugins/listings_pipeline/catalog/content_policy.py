"""The seller's content policy (``include/content_policy.yaml``): seller-wide content rules by Amazon
attribute. The mappings say which catalog columns feed an attribute; :mod:`.suite` turns the
policy into Great Expectations rules on those columns.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from listings_pipeline.catalog.mapping_yaml import load_yaml_model
from listings_pipeline.catalog.unsafe_text import FORMULA_PREFIXES

__all__ = [
    "DEFAULT_IMAGE_URL",
    "DEFAULT_PLACEHOLDERS",
    "ContentPolicy",
    "EmojiRule",
    "FormulaRule",
    "PlaceholderRule",
    "RuleScope",
    "load_policy",
]

DEFAULT_IMAGE_URL = r"(?i)^https://[^\s/?#]+\.[^\s/?#]+/\S*\.(?:jpe?g|png|gif|tiff?)(?:\?\S*)?$"

_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]*")

#: Cells that stand for "no value yet" (case-insensitive, whole cell or list entry): what
#: spreadsheets, databases and people type instead of leaving a cell empty.
DEFAULT_PLACEHOLDERS: tuple[str, ...] = (
    "NULL",
    "NIL",
    "NONE",
    "N/A",
    "N.A.",
    "NA",
    "#N/A",
    "#NA",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#DIV/0!",
    "#NUM!",
    "#NULL!",
    "TBD",
    "TBA",
    "TBC",
    "TODO",
    "FIXME",
    "XXX",
    "-",
    "--",
    "---",
    "?",
    "??",
    "???",
    ".",
    "...",
    "\u2026",
    "undefined",
    "NaN",
    "placeholder",
)


class RuleScope(BaseModel):
    """The Amazon attributes a rule checks, through the catalog columns that feed them (the
    mappings say which). ``["*"]`` is every attribute a mapping builds; ``exclude`` takes some out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    attributes: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a != "*" and not _ATTRIBUTE_NAME.fullmatch(a)]
        if bad:
            raise ValueError(f"not Amazon attribute names (lower_snake_case) or '*': {bad}")
        return value

    @field_validator("exclude")
    @classmethod
    def _excluded(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _ATTRIBUTE_NAME.fullmatch(a)]
        if bad:
            raise ValueError(f"not Amazon attribute names (lower_snake_case): {bad}")
        return value


def _single_characters(value: list[str]) -> list[str]:
    bad = [c for c in value if len(c) != 1]
    if bad:
        raise ValueError(f"each entry must be one character, not {bad}")
    return value


class EmojiRule(RuleScope):
    """Emoji in titles; ``allow`` lists pictographic characters that are still text here."""

    attributes: list[str] = Field(default_factory=lambda: ["item_name"])
    allow: list[str] = Field(default_factory=lambda: ["\u00a9", "\u00ae", "\u2122"])

    _allow = field_validator("allow")(_single_characters)


class PlaceholderRule(RuleScope):
    values: list[str] = Field(default_factory=lambda: list(DEFAULT_PLACEHOLDERS))

    @field_validator("values")
    @classmethod
    def _values(cls, value: list[str]) -> list[str]:
        stripped = [v.strip() for v in value]
        if any(not v for v in stripped):
            raise ValueError("placeholder values must not be empty (an empty cell is empty already)")
        return stripped


class FormulaRule(RuleScope):
    """``+`` and ``-`` count only when what follows is not a plain number (``-5`` is a number)."""

    prefixes: list[str] = Field(default_factory=lambda: list(FORMULA_PREFIXES))

    _prefixes = field_validator("prefixes")(_single_characters)


def _multi_line_default() -> RuleScope:
    return RuleScope(exclude=["product_description"])


class ContentPolicy(BaseModel):
    """Seller-wide content rules, by Amazon attribute (the mappings say which columns feed them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    banned_terms: list[str] = Field(default_factory=list)
    text_attributes: list[str] = Field(
        default_factory=lambda: ["item_name", "brand", "product_description", "bullet_point"]
    )
    forbid_html: bool = True
    max_lengths: dict[str, int] = Field(default_factory=lambda: {"item_name": 200, "bullet_point": 500})
    image_attributes: list[str] = Field(default_factory=lambda: ["main_product_image_locator"])
    image_url_pattern: str = DEFAULT_IMAGE_URL
    control_characters: RuleScope = Field(default_factory=RuleScope)
    invisible_characters: RuleScope = Field(default_factory=RuleScope)
    emoji: EmojiRule = Field(default_factory=EmojiRule)
    line_breaks: RuleScope = Field(default_factory=_multi_line_default)
    placeholders: PlaceholderRule = Field(default_factory=PlaceholderRule)
    formula_prefixes: FormulaRule = Field(default_factory=FormulaRule)
    url_credentials: RuleScope = Field(default_factory=RuleScope)
    product_identifiers: bool = True

    @field_validator("banned_terms")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        terms = [t.strip() for t in value]
        if any(not t for t in terms):
            raise ValueError("banned terms must not be empty")
        return terms

    @field_validator("image_url_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        return value

    @field_validator("max_lengths")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [k for k, v in value.items() if v < 1]
        if bad:
            raise ValueError(f"lengths must be at least 1 ({bad})")
        return value

    @classmethod
    def load(cls, path: str | Path) -> ContentPolicy:
        """Read a content policy file (see :func:`load_policy`)."""
        return load_policy(path)

    def banned_regex(self) -> str | None:
        if not self.banned_terms:
            return None
        alternatives = "|".join(re.escape(t) for t in sorted(self.banned_terms, key=lambda t: (-len(t), t)))
        return rf"(?i)(?<!\w)(?:{alternatives})(?!\w)"


def load_policy(path: str | Path) -> ContentPolicy:
    """Read ``content_policy.yaml``; errors name the file, line and key."""
    policy, _ = load_yaml_model(path, ContentPolicy, what="content policy")
    return policy
