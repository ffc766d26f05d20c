"""Step 2 of the bulk path: validate catalog rows with Great Expectations before they are mapped.

The suite is generated from the product type's catalog mapping (:mod:`listings_pipeline.catalog.mapping`)
and the seller's content policy (``include/content_policy.yaml``):

- from the mapping: required columns exist and are not empty; types (catalog cells are text, so a
  type is a pattern: whole number, decimal, yes/no, LxWxH); allowed codes (a column's ``enum``, or
  the codes its enum transform translates); numeric ranges; lengths; patterns; one row per SKU and
  marketplace; rows only for marketplaces the mapping serves; a row's currency agrees with its
  marketplace;
- from the content policy, on the columns that feed the policy's attributes: banned terms, HTML in
  text, title/bullet/description lengths, image URL form; control characters and ANSI escapes, bidi
  controls and zero-width characters, emoji in titles, line breaks in one-line attributes,
  placeholder values (``N/A``, ``TBD``), spreadsheet formula prefixes, credentials in URLs, and the
  length and check digit of product identifiers (UPC, EAN, GTIN, ISBN);
- from the mapping's ``checks:``: comparisons between two columns of a row (expanded capacity at
  least the capacity, a sale price below the price, a sale that starts before it ends).

Every rule is a GX expectation on a whole column (a pattern, a set, a pair comparison), so it shows
in Data Docs and runs vectorised. What a pattern cannot decide (a check digit, a date that exists, a
number or date to compare) is first computed for the whole column into a derived column
(:class:`Derived`) that the expectation reads.

:func:`validate_frame` runs the suite (GX core API: an ephemeral context, a pandas datasource, an
``ExpectationSuite`` and a ``ValidationDefinition``, ``result_format`` COMPLETE so that
``unexpected_index_list`` names the failing rows) and splits the rows: ``good`` passed every rule;
each failure of the others is a quarantine record naming the SKU, column, value, rule and reason,
and where the row came from (``source_file``, ``source_line``: the extract step's ``_source_file``
and ``_source_row`` columns, when the frame has them; the reason then starts with the line). Values
are shown with control and invisible characters escaped and URL credentials masked. A row failing
several rules gives several records and is set aside once. :func:`check_threshold`
fails the run only when the failing share passes the configured threshold. Data Docs are written
with GX's own site builder when ``data_docs_dir`` is given.

Great Expectations and pandas are imported inside the functions: a DAG file may import this module
at parse time. GX's progress bars are switched off on every context used here.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import unicodedata
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from listings_pipeline.catalog.cells import is_empty
from listings_pipeline.catalog.columns import ColumnSpec
from listings_pipeline.catalog.mapping import CrossFieldCheck, ProductTypeMapping, load_yaml_model
from listings_pipeline.catalog.specs import DEFAULT_YES_NO, CodeSet, TextColumn

__all__ = [
    "DEFAULT_PLACEHOLDERS",
    "IDENTIFIER_LENGTHS",
    "ContentPolicy",
    "Derived",
    "EmojiRule",
    "FormulaRule",
    "PlaceholderRule",
    "Rule",
    "RuleScope",
    "ValidationOutcome",
    "ValidationSuiteError",
    "ValidationThresholdError",
    "build_suite",
    "check_threshold",
    "gtin_check_digit",
    "identifier_problem",
    "identifier_verdicts",
    "isbn10_check_digit",
    "load_policy",
    "make_context",
    "suite_rules",
    "validate_frame",
]

log = logging.getLogger(__name__)

VALUE_PREVIEW = 200
NUMERIC_SUFFIX = " (number)"  # the numeric twin of a text column, for range checks
# where the extract step says a row came from (extract.SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN; not
# imported, so that a DAG file importing this module does not load the extract machinery too)
SOURCE_FILE_COLUMN = "_source_file"
SOURCE_ROW_COLUMN = "_source_row"
QUARANTINE_FIELDS = (
    "sku",
    "marketplace_id",
    "product_type",
    "column_name",
    "value",
    "rule",
    "reason",
    "source_file",
    "source_line",
)

_TYPE_PATTERNS: dict[str, tuple[str, str]] = {
    "integer": (r"^[+-]?\d+$", "a whole number"),
    "decimal": (r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$", "a number (digits with an optional '.' decimal part)"),
    "dimensions": (
        r"^\s*\d+(?:\.\d+)?\s*[x\u00d7*]\s*\d+(?:\.\d+)?\s*[x\u00d7*]\s*\d+(?:\.\d+)?\s*(?:[A-Za-z]+)?\s*$",
        "in the form LxWxH (e.g. 55x40x23)",
    ),
}
_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_DATE_WHAT = "a date (YYYY-MM-DD, optionally with a time: 2025-11-28T09:00:00Z)"
_HTML = r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?\s*>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);"
_DEFAULT_IMAGE_URL = r"(?i)^https://[^\s/?#]+\.[^\s/?#]+/\S*\.(?:jpe?g|png|gif|tiff?)(?:\?\S*)?$"

# Characters no listing text may hold. Tab, LF and CR are the line-break rule's (a description may
# have them). ESC starts ANSI escape sequences and U+009B is their one-character form, so both are
# caught here; the reason names the sequence.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")
# Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069) make text display
# differently from what it holds; zero-width characters split or join words unseen (search, the
# banned terms).
_INVISIBLE = r"[\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]"
_LINE_BREAK = r"[\t\n\r\u2028\u2029]"
# userinfo (user:password@) in a URL; the URL's own path may hold '@' (image@2x.jpg), so only the
# authority part counts. ASCII white space spelt out rather than \s: pandas then runs the pattern
# with RE2 on the whole column, ten times faster than re per cell.
_USERINFO = r"[A-Za-z][A-Za-z0-9+.-]*://[^ \t\n\r\f\v/?#@]*@"
_USERINFO_PARTS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^ \t\n\r\f\v/?#@]*@")
_SHOWN_ESCAPED = re.compile(f"{_CONTROL}|{_INVISIBLE}")

# Unicode's Extended_Pictographic property as code point ranges (emoji-data.txt, Unicode 16 and
# later, as the regex module 2026.5 has it). The property reserves whole unassigned blocks, so emoji
# added later fall inside. Written out because Python's re has no \p{...}, and pandas runs these
# patterns with re (or with RE2, which has no emoji properties either).
_EXTENDED_PICTOGRAPHIC = """
00A9 00AE 203C 2049 2122 2139 2194-2199 21A9-21AA 231A-231B 2328 23CF 23E9-23F3 23F8-23FA 24C2
25AA-25AB 25B6 25C0 25FB-25FE 2600-2604 260E 2611 2614-2615 2618 261D 2620 2622-2623 2626 262A
262E-262F 2638-263A 2640 2642 2648-2653 265F-2660 2663 2665-2666 2668 267B 267E-267F 2692-2697 2699
269B-269C 26A0-26A1 26A7 26AA-26AB 26B0-26B1 26BD-26BE 26C4-26C5 26C8 26CE-26CF 26D1 26D3-26D4
26E9-26EA 26F0-26F5 26F7-26FA 26FD 2702 2705 2708-270D 270F 2712 2714 2716 271D 2721 2728 2733-2734
2744 2747 274C 274E 2753-2755 2757 2763-2764 2795-2797 27A1 27B0 27BF 2934-2935 2B05-2B07 2B1B-2B1C
2B50 2B55 3030 303D 3297 3299 1F004 1F02C-1F02F 1F094-1F09F 1F0AF-1F0B0 1F0C0 1F0CF-1F0D0 1F0F6-1F0FF
1F170-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AE-1F1E5 1F201-1F20F 1F21A 1F22F 1F232-1F23A 1F23C-1F23F
1F249-1F25F 1F266-1F321 1F324-1F393 1F396-1F397 1F399-1F39B 1F39E-1F3F0 1F3F3-1F3F5 1F3F7-1F3FA
1F400-1F4FD 1F4FF-1F53D 1F549-1F54E 1F550-1F567 1F56F-1F570 1F573-1F57A 1F587 1F58A-1F58D 1F590
1F595-1F596 1F5A4-1F5A5 1F5A8 1F5B1-1F5B2 1F5BC 1F5C2-1F5C4 1F5D1-1F5D3 1F5DC-1F5DE 1F5E1 1F5E3 1F5E8
1F5EF 1F5F3 1F5FA-1F64F 1F680-1F6C5 1F6CB-1F6D2 1F6D5-1F6E5 1F6E9 1F6EB-1F6F0 1F6F3-1F6FF 1F7DA-1F7FF
1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8AF 1F8BC-1F8BF 1F8C2-1F8CF 1F8D9-1F8FF
1F90C-1F93A 1F93C-1F945 1F947-1F9FF 1FA58-1FA5F 1FA6E-1FAFF 1FC00-1FFFD
"""
# What emoji are built from besides those: the keycap (1️⃣), the emoji presentation selector
# (©️ is © asking to be drawn as an emoji), flags' regional indicators, skin tones, tag sequences.
# The zero-width joiner is the invisible-character rule's.
_EMOJI_COMPONENTS = "20E3 FE0F 1F1E6-1F1FF 1F3FB-1F3FF E0020-E007F"


def _code_ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split():
        low, _, high = item.partition("-")
        out.append((int(low, 16), int(high or low, 16)))
    return out


def _char_class(ranges: Iterable[tuple[int, int]], leave_out: Iterable[str] = ()) -> str:
    """A regex character class of code point ranges, with escapes (Data Docs show the pattern)."""
    skip = sorted({ord(c) for c in leave_out})
    pieces: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        start = low
        for point in skip:
            if start <= point <= high:
                if start < point:
                    pieces.append((start, point - 1))
                start = point + 1
        if start <= high:
            pieces.append((start, high))

    def esc(point: int) -> str:
        return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"

    return "[" + "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in pieces) + "]"


_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x09: "TAB",
    0x0A: "LINE FEED",
    0x0B: "VERTICAL TAB",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}


def _char_name(char: str) -> str:
    point = ord(char)
    name = _CONTROL_NAMES.get(point) or unicodedata.name(char, "")
    if not name:
        name = "a C0 control" if point < 0x20 else "a C1 control" if 0x80 <= point <= 0x9F else ""
    return f"U+{point:04X}" + (f" {name}" if name else "")


def _shown_char(char: str) -> str:
    """The character quoted, or its escape when it has no glyph of its own (U+FE0F, a skin tone)."""
    if unicodedata.category(char) == "So":
        return repr(char)
    return "'" + (f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}") + "'"


def _escaped(text: str) -> str:
    """Controls and invisible characters as escapes: PostgreSQL text refuses NUL, and a bidi
    override in the status page would reverse the text around it."""
    return _SHOWN_ESCAPED.sub(
        lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else f"\\u{ord(m.group(0)):04x}",
        text,
    )


def _storable(text: str | None) -> str | None:
    """A key cell (SKU, marketplace, product type) as the warehouse can hold it: PostgreSQL refuses
    NUL in text, and one such cell would fail the insert of every quarantine record of the branch.
    Only NUL is escaped, so that any other SKU still names the listing it is."""
    return text.replace("\x00", "\\x00") if text and "\x00" in text else text


def _redacted(text: str) -> str:
    """A URL's user name and password as ``***``: the quarantine table and Data Docs are read by
    people who must not learn them."""
    return _USERINFO_PARTS.sub(r"\1***@", text)


# --- content policy ----------------------------------------------------------------------------------

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

    prefixes: list[str] = Field(default_factory=lambda: ["=", "+", "-", "@"])

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
    image_url_pattern: str = _DEFAULT_IMAGE_URL
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
        alternatives = "|".join(re.escape(t) for t in sorted(self.banned_terms, key=len, reverse=True))
        return rf"(?i)(?<!\w)(?:{alternatives})(?!\w)"


def load_policy(path: str | Path) -> ContentPolicy:
    """Read ``content_policy.yaml``; errors name the file, line and key."""
    policy, _ = load_yaml_model(path, ContentPolicy, what="content policy")
    return policy


# --- product identifiers -----------------------------------------------------------------------------

#: Lengths each kind of identifier may have: UPC-A is GTIN-12; an EAN is EAN-13 or EAN-8; a GTIN
#: any of GTIN-8/12/13/14; an ISBN is ISBN-10 or ISBN-13 (an EAN-13 starting 978 or 979).
IDENTIFIER_LENGTHS: dict[str, tuple[int, ...]] = {
    "upc": (12,),
    "ean": (13, 8),
    "gtin": (8, 12, 13, 14),
    "isbn": (10, 13),
}
_IDENTIFIER_NAMES = {"upc": "a UPC", "ean": "an EAN", "gtin": "a GTIN", "isbn": "an ISBN"}


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits before it (any GTIN length): weights 3 and 1
    alternate from the rightmost digit, which weighs 3."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def isbn10_check_digit(body: str) -> str:
    """The ISBN-10 check character for its first nine digits: mod 11, weights 10 down to 2, 'X' for 10."""
    remainder = (11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11) % 11
    return "X" if remainder == 10 else str(remainder)


def identifier_problem(code: str, kind: str) -> str | None:
    """What is wrong with ``code`` as a ``kind`` (upc, ean, gtin, isbn), or None when it is valid."""
    name = _IDENTIFIER_NAMES[kind]
    lengths = IDENTIFIER_LENGTHS[kind]
    allowed = (
        ", ".join(str(n) for n in lengths[:-1]) + (" or " if len(lengths) > 1 else "") + str(lengths[-1])
    )
    if kind == "isbn" and len(code) == 10 and re.fullmatch(r"[0-9]{9}[0-9Xx]", code):
        expected = isbn10_check_digit(code[:9])
        if code[9].upper() != expected:
            return f"the check digit is {code[9]}, but the nine digits before it give {expected}"
        return None
    if not re.fullmatch(r"[0-9]+", code):
        return f"{name} is digits only" + (" (and X as the last of ten)" if kind == "isbn" else "")
    if len(code) not in lengths:
        return f"it has {len(code)} digits; {name} has {allowed}"
    if kind == "isbn" and not code.startswith(("978", "979")):
        return "an ISBN-13 starts with 978 or 979"
    expected_digit = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected_digit:
        return (
            f"the check digit is {code[-1]}, but the {len(code) - 1} digits before it give {expected_digit}"
        )
    return None


def identifier_verdicts(values: Any, kind: str) -> Any:
    """Per cell of a column: None when empty, ``"valid"``, or what is wrong (:func:`identifier_problem`).

    The check digits are computed on the whole column at once (a digit matrix per length), since a
    catalog may have a million rows; only the cells that fail are looked at one by one.
    """
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]

    series = pd.Series(values, dtype=object)
    out = pd.Series([None] * len(series), index=series.index, dtype=object)
    text = series[series.notna()].astype(str)
    if text.empty:
        return out
    valid = pd.Series(False, index=text.index)
    for length in IDENTIFIER_LENGTHS[kind]:
        if kind == "isbn" and length == 10:
            codes = text[text.str.fullmatch(r"[0-9]{9}[0-9Xx]")]
            weights = np.arange(10, 0, -1)
            modulus = 11
            codes = codes.str.upper().str.replace("X", ":", regex=False)  # ':' is '0' + 10
        else:
            codes = text[text.str.fullmatch(f"[0-9]{{{length}}}")]
            if kind == "isbn":
                codes = codes[codes.str.startswith(("978", "979"))]
            weights = np.array([3 if (length - 1 - i) % 2 else 1 for i in range(length)])
            modulus = 10
        if codes.empty:
            continue
        digits = np.frombuffer("".join(codes).encode("ascii"), dtype=np.uint8).reshape(-1, length) - 48
        valid[codes.index] = (digits.astype(np.int64) @ weights) % modulus == 0
    out[valid.index[valid]] = "valid"
    bad = text[~valid]
    out[bad.index] = bad.map(lambda code: identifier_problem(code, kind) or "valid")
    return out


# --- rules -------------------------------------------------------------------------------------------


#: ``explain(value, row) -> reason``: the value as text (None when empty) and the row's columns.
Explain = Callable[..., str]


@dataclass(frozen=True)
class Derived:
    """A column computed from the catalog's text for an expectation to read (a number, a date, a
    check-digit verdict): GX compares columns, so what a rule needs must be one."""

    name: str
    compute: Callable[[Any], Any] = field(compare=False, repr=False)  # work frame -> Series


@dataclass(frozen=True)
class Rule:
    """One generated expectation and how to explain a value that fails it."""

    expectation: str  # GX class name, e.g. ExpectColumnValuesToNotBeNull
    kwargs: Mapping[str, Any]
    rule: str  # quarantine rule name: the expectation type or content_policy.<name>
    column: str  # the catalog column reported
    needs: tuple[str, ...]  # catalog columns the expectation reads
    description: str
    explain: Explain = field(compare=False, repr=False)
    table_level: bool = False
    derived: tuple[Derived, ...] = ()
    redact_userinfo: bool = False  # the columns read may hold passwords in URLs: mask them first


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _q(value: Any) -> str:
    text = str(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text)


def _listed(values: Iterable[Any], limit: int = 12) -> str:
    items = [str(v) for v in values]
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _rule(
    expectation: str,
    report: str,
    description: str,
    explain: Explain,
    *,
    rule: str | None = None,
    needs: tuple[str, ...] | None = None,
    table_level: bool = False,
    derived: tuple[Derived, ...] = (),
    redact_userinfo: bool = False,
    **kwargs: Any,
) -> Rule:
    return Rule(
        expectation=expectation,
        kwargs=kwargs,
        rule=rule or _snake(expectation),
        column=report,
        needs=needs if needs is not None else (report,),
        description=description,
        explain=explain,
        table_level=table_level,
        derived=derived,
        redact_userinfo=redact_userinfo,
    )


def _enum_codes(mapping: ProductTypeMapping) -> dict[str, CodeSet]:
    """column -> the codes its translating transforms know, all of them together (several
    transforms may read one column); a column one of them translates with a default is open."""
    out: dict[str, CodeSet] = {}
    open_columns: set[str] = set()
    for _, leaf in mapping.leaves():
        codes = leaf.code_set()
        if codes is None:
            continue
        if codes.open:
            open_columns.add(codes.column)
            continue
        known = out.get(codes.column)
        if known is not None:
            codes = known._replace(
                codes=known.codes | codes.codes,
                ignore_case=known.ignore_case or codes.ignore_case,
                separator=known.separator or codes.separator,
            )
        out[codes.column] = codes
    return {k: v for k, v in out.items() if k not in open_columns}


def _boolean_tokens(mapping: ProductTypeMapping, column: str) -> tuple[str, ...]:
    """The yes/no tokens of the first transform reading ``column`` as yes/no (the defaults when none)."""
    for _, leaf in mapping.leaves():
        tokens = leaf.yes_no_tokens()
        if tokens is not None and tokens[0] == column:
            return tokens[1]
    return DEFAULT_YES_NO


def _column_rules(mapping: ProductTypeMapping, name: str, spec: ColumnSpec) -> list[Rule]:
    """What a column's declaration asks of every cell, in the order the declaration reads: its
    type, the codes it may hold, its range, its length and its pattern."""
    return [
        *_type_rules(mapping, name, spec),
        *_code_rules(mapping, name, spec),
        *_range_rules(name, spec),
        *_length_rules(name, spec),
        *_pattern_rules(name, spec),
    ]


def _type_rules(mapping: ProductTypeMapping, name: str, spec: ColumnSpec) -> list[Rule]:
    """Catalog cells are text: a type is what the text must look like for the transforms to read it."""
    if spec.type in _TYPE_PATTERNS:
        pattern, what = _TYPE_PATTERNS[spec.type]
        return [
            _rule(
                "ExpectColumnValuesToMatchRegex",
                name,
                f"{name} is {what}",
                lambda v, r, what=what: f"{_q(v)} is not {what}",
                column=name,
                regex=pattern,
            )
        ]
    if spec.type == "date":
        # a pattern would let 2025-02-30 through, and a check on it would then be skipped
        return [
            _rule(
                "ExpectColumnValuesToBeInSet",
                name,
                f"{name} is {_DATE_WHAT}",
                lambda v, r: f"{_q(v)} is not {_DATE_WHAT}",
                needs=(name,),
                derived=(Derived(name + DATE_CHECK_SUFFIX, _date_verdicts(name)),),
                column=name + DATE_CHECK_SUFFIX,
                value_set=["valid"],
            )
        ]
    if spec.type == "boolean":
        tokens = _boolean_tokens(mapping, name)
        alternatives = "|".join(re.escape(t) for t in tokens)
        return [
            _rule(
                "ExpectColumnValuesToMatchRegex",
                name,
                f"{name} is a yes/no value",
                lambda v, r, tokens=tokens: f"{_q(v)} is not a yes/no value ({_listed(tokens)})",
                column=name,
                regex=rf"(?i)^(?:{alternatives})$",
            )
        ]
    return []


def _code_rules(mapping: ProductTypeMapping, name: str, spec: ColumnSpec) -> list[Rule]:
    """The codes a column may hold: those it declares (``enum``), or else those its transforms
    translate, so that a code without a translation is caught here, with every other fault of
    the row, rather than one at a time when the row is mapped."""
    if spec.enum:
        allowed = list(spec.enum)
        return [
            _rule(
                "ExpectColumnValuesToBeInSet",
                name,
                f"{name} is one of {_listed(allowed)}",
                lambda v, r, allowed=allowed: (
                    f"{_q(v)} is not an allowed value of {name!r} (allowed: {_listed(allowed)})"
                ),
                column=name,
                value_set=allowed,
            )
        ]
    codes = _enum_codes(mapping).get(name)
    if codes is None:
        return []
    if codes.separator is None and not codes.ignore_case:
        ordered = sorted(codes.codes)
        return [
            _rule(
                "ExpectColumnValuesToBeInSet",
                name,
                f"{name} is a code the mapping translates ({_listed(ordered)})",
                lambda v, r, ordered=ordered: (
                    f"{_q(v)} is not a code the {mapping.product_type} mapping translates for {name!r} "
                    f"(known: {_listed(ordered)})"
                ),
                column=name,
                value_set=ordered,
            )
        ]
    return [_translated_codes_pattern(mapping, name, codes)]


def _translated_codes_pattern(mapping: ProductTypeMapping, name: str, codes: CodeSet) -> Rule:
    """Codes read case-insensitively or several to a cell: a set cannot say that, a pattern can."""
    ordered = sorted(codes.codes)
    one = "(?:" + "|".join(re.escape(c) for c in sorted(codes.codes, key=len, reverse=True)) + ")"
    separator = codes.separator
    regex = (
        rf"^\s*{one}\s*$" if separator is None else rf"^\s*{one}\s*(?:{re.escape(separator)}\s*{one}\s*)*$"
    )
    return _rule(
        "ExpectColumnValuesToMatchRegex",
        name,
        f"{name} holds codes the mapping translates ({_listed(ordered)})",
        lambda v, r, ordered=ordered: (
            f"{_q(v)} holds a code the {mapping.product_type} mapping does not translate "
            f"for {name!r} (known: {_listed(ordered)})"
        ),
        column=name,
        regex=("(?i)" if codes.ignore_case else "") + regex,
    )


def _range_rules(name: str, spec: ColumnSpec) -> list[Rule]:
    """``min``/``max``, checked on the column's numeric twin (the cells are text)."""
    if spec.min is None and spec.max is None:
        return []
    low, high = spec.min, spec.max

    def explain_range(v: Any, r: Mapping[str, Any], low: Any = low, high: Any = high) -> str:
        try:
            number = float(v)
        except (TypeError, ValueError):
            number = None
        if number is not None and low is not None and number < low:
            return f"{_q(v)} is below the minimum {low:g} for {name!r}"
        if number is not None and high is not None and number > high:
            return f"{_q(v)} is above the maximum {high:g} for {name!r}"
        return f"{_q(v)} is outside {low}..{high} for {name!r}"

    return [
        _rule(
            "ExpectColumnValuesToBeBetween",
            name,
            f"{name} is between {low} and {high}",
            explain_range,
            column=name + NUMERIC_SUFFIX,
            min_value=low,
            max_value=high,
        )
    ]


def _length_rules(name: str, spec: ColumnSpec) -> list[Rule]:
    if spec.min_length is None and spec.max_length is None:
        return []
    low_len, high_len = spec.min_length, spec.max_length
    return [
        _rule(
            "ExpectColumnValueLengthsToBeBetween",
            name,
            f"{name} is {low_len or 0}..{high_len or 'any'} characters long",
            lambda v, r, lo=low_len, hi=high_len: (
                f"{_q(v)} is {len(str(v))} characters long; {name!r} allows {lo or 0} to {hi or 'any'}"
            ),
            column=name,
            min_value=low_len,
            max_value=high_len,
        )
    ]


def _pattern_rules(name: str, spec: ColumnSpec) -> list[Rule]:
    if not spec.pattern:
        return []
    pattern = spec.pattern
    return [
        _rule(
            "ExpectColumnValuesToMatchRegex",
            name,
            f"{name} matches {pattern}",
            lambda v, r, pattern=pattern: f"{_q(v)} does not match the pattern {pattern} of {name!r}",
            column=name,
            regex=pattern,
        )
    ]


def _text_columns(mapping: ProductTypeMapping, attribute: str) -> list[TextColumn]:
    """The columns whose text the transforms feeding ``attribute`` send as written."""
    out: dict[TextColumn, None] = {}
    for _, leaf in mapping.leaves(attribute):
        for text in leaf.free_text():
            out[text] = None
    return list(out)


def _policy_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """The content policy on the columns that feed its attributes (the mapping says which)."""
    return [
        *_word_rules(mapping, policy),
        *_length_limit_rules(mapping, policy),
        *_image_rules(mapping, policy),
        *_content_rules(mapping, policy),
    ]


def _explain_html(v: Any, r: Mapping[str, Any]) -> str:
    match = re.search(_HTML, str(v))
    return f"contains HTML markup {match.group(0)!r}" if match else "contains HTML markup"


def _word_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """Banned terms and HTML in the text attributes: what a shopper would read."""
    text_columns: dict[str, None] = {}
    for attribute in policy.text_attributes:
        for column, _ in _text_columns(mapping, attribute):
            text_columns.setdefault(column, None)
    banned = policy.banned_regex()
    rules: list[Rule] = []
    for column in text_columns:
        if banned:

            def explain_banned(v: Any, r: Mapping[str, Any], banned: str = banned) -> str:
                found = sorted({m.group(0).lower() for m in re.finditer(banned, str(v))})
                return (
                    f"contains the banned term{'s' if len(found) > 1 else ''} {', '.join(map(repr, found))}"
                )

            rules.append(
                _rule(
                    "ExpectColumnValuesToNotMatchRegex",
                    column,
                    f"{column} has none of the banned terms",
                    explain_banned,
                    rule="content_policy.banned_terms",
                    column=column,
                    regex=banned,
                )
            )
        if policy.forbid_html:
            rules.append(
                _rule(
                    "ExpectColumnValuesToNotMatchRegex",
                    column,
                    f"{column} has no HTML tags or entities",
                    _explain_html,
                    rule="content_policy.html",
                    column=column,
                    regex=_HTML,
                )
            )
    return rules


def _length_limit_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """``max_lengths``: on the whole cell, or on each entry of a cell that holds several values
    (bullets), since Amazon limits each value."""
    rules: list[Rule] = []
    for attribute, limit in policy.max_lengths.items():
        for column, separator in _text_columns(mapping, attribute):
            if separator is None:
                rules.append(_cell_length_rule(column, attribute, limit))
            else:
                rules.append(_entry_length_rule(column, separator, attribute, limit))
    return rules


def _cell_length_rule(column: str, attribute: str, limit: int) -> Rule:
    return _rule(
        "ExpectColumnValueLengthsToBeBetween",
        column,
        f"{column} ({attribute}) is at most {limit} characters",
        lambda v, r: (
            f"is {len(str(v))} characters long; the content policy allows at most {limit} for {attribute}"
        ),
        rule="content_policy.max_length",
        column=column,
        max_value=limit,
    )


def _entry_length_rule(column: str, separator: str, attribute: str, limit: int) -> Rule:
    def explain_entry(v: Any, r: Mapping[str, Any]) -> str:
        longest = max((len(p.strip()) for p in str(v).split(separator)), default=0)
        return (
            f"a {attribute} entry is {longest} characters long; the content policy allows at most "
            f"{limit} per entry"
        )

    sep = re.escape(separator)
    return _rule(
        "ExpectColumnValuesToNotMatchRegex",
        column,
        f"each {separator!r}-separated entry of {column} ({attribute}) is at most {limit} characters",
        explain_entry,
        rule="content_policy.max_length",
        column=column,
        regex=rf"[^{sep}]{{{limit + 1},}}",
    )


def _image_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """Image URLs Amazon can fetch; a relative path is let through where a base URL completes it."""
    rules: list[Rule] = []
    for attribute in policy.image_attributes:
        for image in (image for _, leaf in mapping.leaves(attribute) for image in leaf.image_columns()):
            pattern = policy.image_url_pattern
            if image.relative:
                pattern = rf"(?:{pattern})|^(?![A-Za-z][A-Za-z0-9+.-]*:)\S+$"
            rules.append(
                _rule(
                    "ExpectColumnValuesToMatchRegex",
                    image.column,
                    f"{image.column} ({attribute}) is an https:// image URL",
                    lambda v, r: f"{_q(v)} is not an https:// URL of an image file (.jpg, .png, .gif, .tif)",
                    rule="content_policy.image_url",
                    column=image.column,
                    regex=pattern,
                )
            )
    return rules


# --- content policy rules beyond words and lengths ----------------------------------------------------

_PINNED_TYPES = ("integer", "decimal", "boolean", "dimensions", "date")


def _scope_attributes(mapping: ProductTypeMapping, scope: RuleScope) -> list[str]:
    if not scope.enabled:
        return []
    names = list(dict.fromkeys(name for _, name, _ in mapping.all_attribute_mappings()))
    chosen = names if "*" in scope.attributes else [a for a in scope.attributes if a in names]
    return [a for a in chosen if a not in scope.exclude]


def _scope_columns(mapping: ProductTypeMapping, scope: RuleScope) -> dict[str, list[str]]:
    """Catalog column -> the attributes of ``scope`` it feeds, in the mapping's order."""
    columns: dict[str, list[str]] = {}
    for attribute in _scope_attributes(mapping, scope):
        for column in mapping.referenced_columns(attribute):
            if column not in ("marketplace_id", "product_type"):  # each has its own set check
                fed = columns.setdefault(column, [])
                if attribute not in fed:
                    fed.append(attribute)
    return columns


def _free_columns(mapping: ProductTypeMapping, scope: RuleScope) -> dict[str, list[str]]:
    """The scope's columns whose text can reach Amazon as written.

    A column held to a type (number, yes/no, LxWxH, date) or to a closed list of codes is left out:
    its whole-cell rule rejects any stray character already, and one reason per fault is enough.
    """
    closed = set(_enum_codes(mapping))
    return {
        column: attributes
        for column, attributes in _scope_columns(mapping, scope).items()
        if mapping.column_spec(column).type not in _PINNED_TYPES
        and not mapping.column_spec(column).enum
        and column not in closed
    }


def _known_codes(mapping: ProductTypeMapping, column: str) -> set[str]:
    """Values a column holds as codes (its enum, enum translations, yes/no tokens): "NONE" is a
    lock type, not a placeholder."""
    codes = set(mapping.column_spec(column).enum or ())
    for _, leaf in mapping.leaves():
        held = leaf.held_codes()
        if held is not None and held[0] == column:
            codes |= set(held[1])
    return {c.upper() for c in codes}


def _list_separators(mapping: ProductTypeMapping) -> dict[str, str]:
    """Columns split into several values (bullets), by separator: each entry is a value of its own."""
    out: dict[str, str] = {}
    for _, leaf in mapping.leaves():
        for text in leaf.free_text():
            if text.separator is not None:
                out.setdefault(text.column, text.separator)
    return out


def _class_char(char: str) -> str:
    return re.escape(char) if char.isprintable() else f"\\u{ord(char):04x}"


def _found(pattern: str, text: str) -> tuple[str, int]:
    match = re.search(pattern, text)
    return (match.group(0), match.start() + 1) if match else ("", 0)


def _entries(text: str, separator: str | None) -> list[str]:
    return [e.strip() for e in text.split(separator)] if separator else [text]


def _character_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """Characters that do not belong in listing text, each kind a rule of its own so that the
    reason names what was found and where."""
    return [
        *_control_rules(mapping, policy),
        *_invisible_rules(mapping, policy),
        *_emoji_rules(mapping, policy),
        *_line_break_rules(mapping, policy),
    ]


def _forbidden(name: str, column: str, regex: str, description: str, explain: Explain) -> Rule:
    """A content policy rule that no cell of ``column`` may match ``regex``."""
    return _rule(
        "ExpectColumnValuesToNotMatchRegex",
        column,
        description,
        explain,
        rule=f"content_policy.{name}",
        column=column,
        regex=regex,
    )


def _explain_control(v: Any, r: Mapping[str, Any]) -> str:
    text = str(v)
    ansi = _ANSI.search(text)
    if ansi:
        return (
            f"contains the ANSI escape sequence {ansi.group(0)!r} at character {ansi.start() + 1} "
            "(terminal colour or cursor codes, not text)"
        )
    char, at = _found(_CONTROL, text)
    return f"contains the control character {_char_name(char)} at character {at}"


def _control_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    return [
        _forbidden(
            "control_characters",
            column,
            _CONTROL,
            f"{column} has no control characters (C0, C1, DEL, ANSI escapes)",
            _explain_control,
        )
        for column in _free_columns(mapping, policy.control_characters)
    ]


def _explain_invisible(v: Any, r: Mapping[str, Any]) -> str:
    char, at = _found(_INVISIBLE, str(v))
    return (
        f"contains the invisible character {_char_name(char)} at character {at} (bidi controls and "
        "zero-width characters change how text reads or matches without being seen)"
    )


def _invisible_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    return [
        _forbidden(
            "invisible_characters",
            column,
            _INVISIBLE,
            f"{column} has no bidi controls or zero-width characters",
            _explain_invisible,
        )
        for column in _free_columns(mapping, policy.invisible_characters)
    ]


def _emoji_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    # the cheap look-ahead first: re tries a class of 150 ranges one range at a time, on every
    # character of every title, while almost all of them are below U+00A9
    emoji = "(?=[\\u00a9-\\U0010ffff])" + _char_class(
        [*_code_ranges(_EXTENDED_PICTOGRAPHIC), *_code_ranges(_EMOJI_COMPONENTS)], policy.emoji.allow
    )
    rules: list[Rule] = []
    for column, attributes in _free_columns(mapping, policy.emoji).items():
        fed = ", ".join(attributes)

        def explain_emoji(v: Any, r: Mapping[str, Any], fed: str = fed) -> str:
            char, at = _found(emoji, str(v))
            return (
                f"contains the emoji {_shown_char(char)} ({_char_name(char)}) at character {at}; Amazon allows no "
                f"emoji or pictographs in {fed}"
            )

        rules.append(_forbidden("emoji", column, emoji, f"{column} ({fed}) has no emoji", explain_emoji))
    return rules


def _line_break_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    rules: list[Rule] = []
    for column, attributes in _free_columns(mapping, policy.line_breaks).items():
        fed = ", ".join(attributes)

        def explain_break(v: Any, r: Mapping[str, Any], fed: str = fed) -> str:
            char, at = _found(_LINE_BREAK, str(v))
            what = "a tab" if char == "\t" else "a line break"
            return f"contains {what} ({_char_name(char)}) at character {at}; {fed} must be one line"

        rules.append(
            _forbidden(
                "line_breaks",
                column,
                _LINE_BREAK,
                f"{column} ({fed}) is one line (no line breaks or tabs)",
                explain_break,
            )
        )
    return rules


def _placeholder_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    scope = policy.placeholders
    columns = list(_scope_columns(mapping, scope))
    if scope.enabled and "sku" not in columns:
        columns.insert(0, "sku")  # a placeholder SKU would become a listing of its own
    separators = _list_separators(mapping)
    rules: list[Rule] = []
    for column in columns:
        codes = _known_codes(mapping, column)
        values = sorted({v for v in scope.values if v.upper() not in codes}, key=len, reverse=True)
        if not values:
            continue
        alternatives = "|".join(re.escape(v) for v in values)
        separator = separators.get(column)
        if separator:
            sep = re.escape(separator)
            regex = rf"(?i)(?:^|{sep})\s*(?:{alternatives})\s*(?:{sep}|$)"
        else:
            regex = rf"(?i)^(?:{alternatives})$"

        def explain(
            v: Any, r: Mapping[str, Any], alternatives: str = alternatives, separator: str | None = separator
        ) -> str:
            text = str(v)
            entries = _entries(text, separator)
            if len(entries) > 1:
                entry = next((e for e in entries if re.fullmatch(alternatives, e, re.I)), text)
                return f"the entry {entry!r} is a placeholder, not a value"
            return f"{_q(v)} is a placeholder, not a value"

        rules.append(
            _rule(
                "ExpectColumnValuesToNotMatchRegex",
                column,
                f"{column} is not a placeholder ({_listed(values, 8)})",
                explain,
                rule="content_policy.placeholders",
                column=column,
                regex=regex,
            )
        )
    return rules


def _formula_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    scope = policy.formula_prefixes
    signs = "".join(_class_char(p) for p in scope.prefixes if p in "+-")
    others = "".join(_class_char(p) for p in scope.prefixes if p not in "+-")
    if not signs and not others:
        return []
    separators = _list_separators(mapping)
    rules: list[Rule] = []
    for column in _free_columns(mapping, scope):
        separator = separators.get(column)
        sep = re.escape(separator) if separator else None
        start = rf"(?:^|{sep})\s*" if sep else "^"
        end = rf"\s*(?:{sep}|$)" if sep else "$"
        parts = [f"[{others}]"] if others else []
        if signs:
            # "-5" and "+3.5" are numbers to a spreadsheet, not formulas
            parts.append(rf"[{signs}](?=.)(?![0-9]+(?:[.,][0-9]+)?{end})")
        regex = start + "(?:" + "|".join(parts) + ")"

        def explain(
            v: Any, r: Mapping[str, Any], regex: str = regex, separator: str | None = separator
        ) -> str:
            text = str(v)
            entries = _entries(text, separator)
            flagged = next((e for e in entries if re.search(regex, e)), text)
            what = f"the entry {flagged!r}" if len(entries) > 1 else "it"
            return (
                f"{what} starts with {flagged[:1]!r}: a spreadsheet that opens the listing data (a flat "
                "file, a report) would run it as a formula"
            )

        rules.append(
            _rule(
                "ExpectColumnValuesToNotMatchRegex",
                column,
                f"{column} does not start with a formula prefix ({' '.join(scope.prefixes)})",
                explain,
                rule="content_policy.formula_prefixes",
                column=column,
                regex=regex,
            )
        )
    return rules


def _credential_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    def explain(v: Any, r: Mapping[str, Any]) -> str:
        url, _ = _found(_USERINFO + r"\S*", str(v))
        return (
            f"holds a URL with a user name or password ({_redacted(url)!r}); credentials must not be "
            "sent to Amazon, where buyers and crawlers would fetch them"
        )

    return [
        _rule(
            "ExpectColumnValuesToNotMatchRegex",
            column,
            f"{column} has no URL with credentials (user:password@)",
            explain,
            rule="content_policy.url_credentials",
            redact_userinfo=True,
            column=column,
            regex=_USERINFO,
        )
        for column in _free_columns(mapping, policy.url_credentials)
    ]


def _identifier_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    if not policy.product_identifiers:
        return []
    rules: list[Rule] = []
    for column, kind in mapping.identifier_columns().items():
        label = kind.upper()
        twin = f"{column} ({label} check digit)"

        def verdicts(work: Any, column: str = column, kind: str = kind) -> Any:
            return identifier_verdicts(work[column], kind)

        def explain(v: Any, r: Mapping[str, Any], kind: str = kind, label: str = label) -> str:
            return f"{_q(v)} is not a valid {label}: {identifier_problem(str(v), kind)}"

        rules.append(
            _rule(
                "ExpectColumnValuesToBeInSet",
                column,
                f"{column} is a {label} with the right length and check digit",
                explain,
                rule="content_policy.product_identifiers",
                needs=(column,),
                derived=(Derived(twin, verdicts),),
                column=twin,
                value_set=["valid"],
            )
        )
    return rules


def _content_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    return [
        *_character_rules(mapping, policy),
        *_placeholder_rules(mapping, policy),
        *_formula_rules(mapping, policy),
        *_credential_rules(mapping, policy),
        *_identifier_rules(mapping, policy),
    ]


# --- cross-field checks (declared in the mapping) -----------------------------------------------------

DATE_SUFFIX = " (date)"  # the date twin of a date column, for comparisons


def _as_number(column: str) -> Callable[[Any], Any]:
    def compute(work: Any) -> Any:
        import pandas as pd

        return pd.to_numeric(work[column], errors="coerce").astype(float)

    return compute


def _as_date(column: str) -> Callable[[Any], Any]:
    def compute(work: Any) -> Any:
        import pandas as pd

        return pd.to_datetime(work[column], errors="coerce", utc=True, format="ISO8601")

    return compute


DATE_CHECK_SUFFIX = " (date check)"


def _date_verdicts(column: str) -> Callable[[Any], Any]:
    """Per cell: None when empty, "valid" for an ISO 8601 date that exists, else "not a date"."""

    def compute(work: Any) -> Any:
        import pandas as pd

        text = work[column]
        shaped = text.str.fullmatch(_DATE.pattern, na=False).astype(bool)
        parsed = pd.to_datetime(text.where(shaped), errors="coerce", utc=True, format="ISO8601")
        verdict = pd.Series("not a date", index=text.index, dtype=object)
        verdict[parsed.notna()] = "valid"
        return verdict.where(text.notna(), None)

    return compute


def _check_rules(mapping: ProductTypeMapping) -> list[Rule]:
    rules: list[Rule] = []
    for check in mapping.checks:
        dates = mapping.column_spec(check.left).type == "date"
        suffix, convert = (DATE_SUFFIX, _as_date) if dates else (NUMERIC_SUFFIX, _as_number)
        left, right = check.left + suffix, check.right + suffix
        greater, lesser = (left, right) if check.op in (">", ">=") else (right, left)

        def explain(v: Any, r: Mapping[str, Any], check: CrossFieldCheck = check) -> str:
            because = f": {check.description}" if check.description else ""
            return (
                f"{_q(v)} is not {check.op} {check.right} {_q(r.get(check.right))} "
                f"(check {check.rule}, {check.text}{because})"
            )

        rules.append(
            _rule(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                check.left,
                f"{check.text} ({check.rule})",
                explain,
                rule=f"content_policy.{check.rule}",
                needs=(check.left, check.right),
                derived=(Derived(left, convert(check.left)), Derived(right, convert(check.right))),
                column_A=greater,
                column_B=lesser,
                or_equal=check.op in (">=", "<="),
                ignore_row_if="either_value_is_missing",
            )
        )
    return rules


def suite_rules(
    mapping: ProductTypeMapping, policy: ContentPolicy | None = None, *, columns: Iterable[str] | None = None
) -> list[Rule]:
    """Every rule of the suite, in order. With ``columns`` (those the frame has), rules on absent
    optional columns are left out, and uniqueness is per SKU alone when there is no marketplace_id."""
    policy = policy or ContentPolicy()
    present = set(columns) if columns is not None else None
    has_marketplace = present is None or "marketplace_id" in present
    specs = dict(mapping.columns)
    specs.setdefault("sku", mapping.column_spec("sku"))
    rules = [
        *_required_rules(mapping),
        *(rule for name, spec in specs.items() for rule in _column_rules(mapping, name, spec)),
        *(_marketplace_rules(mapping) if has_marketplace else [_unique_sku_rule()]),
        *_policy_rules(mapping, policy),
        *_check_rules(mapping),
    ]
    if present is not None:
        rules = [r for r in rules if r.table_level or all(c in present for c in r.needs)]
    return rules


def _required_rules(mapping: ProductTypeMapping) -> list[Rule]:
    """A required column must be there (one table-level failure reported per row) and filled."""
    rules: list[Rule] = []
    for name in mapping.required_columns():
        rules.append(
            _rule(
                "ExpectColumnToExist",
                name,
                f"the catalog has a column {name!r}",
                lambda v, r, name=name: f"required column {name!r} is not in the catalog",
                column=name,
                table_level=True,
            )
        )
        rules.append(
            _rule(
                "ExpectColumnValuesToNotBeNull",
                name,
                f"{name} is not empty",
                lambda v, r, name=name: f"required column {name!r} is empty",
                column=name,
            )
        )
    return rules


def _marketplace_rules(mapping: ProductTypeMapping) -> list[Rule]:
    """With a marketplace column: one row per SKU in each marketplace, only marketplaces the
    mapping serves, and a row's own currency that of its marketplace."""
    served = list(mapping.marketplaces)
    return [
        _rule(
            "ExpectCompoundColumnsToBeUnique",
            "sku",
            "one row per SKU and marketplace",
            lambda v, r: f"SKU {_q(v)} appears more than once in marketplace {r.get('marketplace_id')}",
            needs=("sku", "marketplace_id"),
            column_list=["sku", "marketplace_id"],
        ),
        _rule(
            "ExpectColumnValuesToBeInSet",
            "marketplace_id",
            f"the {mapping.product_type} mapping serves the marketplace",
            lambda v, r: (
                f"marketplace {v} is not served by the {mapping.product_type} mapping ({mapping.source}); "
                f"it serves {', '.join(served)}"
            ),
            column="marketplace_id",
            value_set=served,
        ),
        *_currency_rules(mapping),
    ]


def _currency_rules(mapping: ProductTypeMapping) -> list[Rule]:
    currency_columns = {column for _, leaf in mapping.leaves() if (column := leaf.currency_column())}
    pairs = [(mid, s.currency) for mid, s in mapping.marketplaces.items() if s.currency]
    expected = dict(pairs)
    return [
        _rule(
            "ExpectColumnPairValuesToBeInSet",
            column,
            f"{column} is the marketplace's currency",
            lambda v, r: (
                f"currency {v} is not the currency of marketplace {r.get('marketplace_id')} "
                f"({expected.get(str(r.get('marketplace_id')), 'none configured')})"
            ),
            needs=("marketplace_id", column),
            column_A="marketplace_id",
            column_B=column,
            value_pairs_set=pairs,
            ignore_row_if="either_value_is_missing",
        )
        for column in sorted(currency_columns)
    ]


def _unique_sku_rule() -> Rule:
    """Without a marketplace column the catalog is one marketplace's: one row per SKU."""
    return _rule(
        "ExpectColumnValuesToBeUnique",
        "sku",
        "one row per SKU",
        lambda v, r: f"SKU {_q(v)} appears more than once",
        column="sku",
    )


# --- Great Expectations ------------------------------------------------------------------------------


def _gx() -> tuple[Any, Any]:
    """Import GX quietly (its import emits deprecation warnings that are not ours)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        import great_expectations.expectations as gxe
    return gx, gxe


def _quiet(context: Any) -> Any:
    """No progress bars (they would go to the task log as thousands of carriage returns)."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def make_context() -> Any:
    """An ephemeral GX context (nothing written to disk) with progress bars off."""
    gx, _ = _gx()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = gx.get_context(mode="ephemeral")
    return _quiet(context)


def _expectation(gxe: Any, index: int, rule: Rule) -> Any:
    cls = getattr(gxe, rule.expectation)
    meta = {"rule": rule.rule, "column": rule.column, "checks": rule.description, "rule_index": index}
    return cls(**dict(rule.kwargs), meta=meta)


def build_suite(
    mapping: ProductTypeMapping, policy: ContentPolicy | None = None, *, name: str | None = None
) -> Any:
    """The GX ``ExpectationSuite`` for one product type (not yet added to a context)."""
    gx, gxe = _gx()
    rules = suite_rules(mapping, policy)
    expectations = [_expectation(gxe, i, r) for i, r in enumerate(rules)]
    return gx.ExpectationSuite(name=name or f"catalog_{mapping.product_type}", expectations=expectations)


# --- running it --------------------------------------------------------------------------------------


class ValidationThresholdError(RuntimeError):
    """Too large a share of the catalog failed validation for the run to go on."""


class ValidationSuiteError(RuntimeError):
    """A generated expectation could not be evaluated (a bug or a bad pattern, not bad data)."""


@dataclass
class ValidationOutcome:
    """What one validation produced.

    ``good``: the rows that passed every rule (the input's columns and index); ``rejected``: the
    others; ``quarantined``: one record per failure (``QUARANTINE_FIELDS``); ``rule_counts``:
    records per rule.
    """

    good: Any
    rejected: Any
    quarantined: list[dict[str, Any]]
    rule_counts: dict[str, int]
    total_rows: int
    failing_rows: int
    data_docs_index: Path | None = None
    suites: dict[str, int] = field(default_factory=dict)  # product type -> number of expectations

    @property
    def failing_share(self) -> float:
        return self.failing_rows / self.total_rows if self.total_rows else 0.0

    def summary(self) -> dict[str, Any]:
        """Small and JSON-safe (for XCom and the run summary)."""
        return {
            "total_rows": self.total_rows,
            "good_rows": self.total_rows - self.failing_rows,
            "failing_rows": self.failing_rows,
            "failing_share": round(self.failing_share, 6),
            "quarantine_records": len(self.quarantined),
            "rule_counts": dict(self.rule_counts),
            "data_docs_index": str(self.data_docs_index) if self.data_docs_index else None,
        }


def check_threshold(
    outcome: ValidationOutcome, max_failing_share: float, *, unreadable: Mapping[str, int] | None = None
) -> None:
    """Raise :class:`ValidationThresholdError` when more than ``max_failing_share`` of rows failed.

    :param unreadable: rows quarantined before validation (the extract's, by rule): they failed
        too, so they count in the share, and the catalog they came from is the same one.
    """
    if not 0 <= max_failing_share <= 1:
        raise ValueError(f"max_failing_share must be between 0 and 1, not {max_failing_share}")
    earlier = sum((unreadable or {}).values())
    failing, total = outcome.failing_rows + earlier, outcome.total_rows + earlier
    share = failing / total if total else 0.0
    if share > max_failing_share:
        counts = Counter(outcome.rule_counts) + Counter(unreadable or {})
        top = ", ".join(f"{rule} ({count})" for rule, count in counts.most_common(5))
        raise ValidationThresholdError(
            f"{share:.1%} of catalog rows ({failing} of {total}) could not be read or "
            f"failed validation, more than the configured threshold of {max_failing_share:.1%}; "
            f"most frequent rules: {top}. The failing rows are in the quarantine table."
        )


def _cell_text(value: Any) -> str | None:
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _line_number(value: Any) -> int | None:
    text = _cell_text(value)
    return int(text) if text is not None and text.isdigit() else None


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= VALUE_PREVIEW else text[: VALUE_PREVIEW - 3] + "..."


def _work_frame(frame: Any, rules: list[Rule]) -> Any:
    """The columns the rules read, as text (None for empty), plus numeric twins for ranges."""
    import pandas as pd

    needed: dict[str, None] = {}
    for rule in rules:
        for column in rule.needs:
            if column in frame.columns:
                needed.setdefault(column, None)
    work = pd.DataFrame(index=frame.index)
    for column in needed:
        work[column] = pd.Series([_cell_text(v) for v in frame[column]], index=frame.index, dtype=object)
    masked = {c for rule in rules if rule.redact_userinfo for c in rule.needs if c in work.columns}
    for column in sorted(masked):
        # every rule (and Data Docs) sees the URL without its password; only rows the credentials
        # rule quarantines anyway change
        text = work[column]
        has_at = text.str.contains("@", regex=False, na=False).astype(bool)
        if has_at.any():
            work.loc[has_at, column] = text[has_at].str.replace(
                _USERINFO_PARTS.pattern, r"\1***@", regex=True
            )
    for rule in rules:
        target = rule.kwargs.get("column")
        if isinstance(target, str) and target.endswith(NUMERIC_SUFFIX) and target not in work.columns:
            source = target[: -len(NUMERIC_SUFFIX)]
            if source in work.columns:
                work[target] = pd.to_numeric(work[source], errors="coerce").astype(float)
        for derived in rule.derived:
            if derived.name not in work.columns and all(c in work.columns for c in rule.needs):
                work[derived.name] = derived.compute(work)
    return work


def _docs_site(context: Any, directory: Path) -> str:
    site = "catalog_docs_" + hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:10]
    if site not in (context.list_data_docs_sites() or {}):
        context.add_data_docs_site(
            site,
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(directory),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return site


def _run_suite(
    context: Any,
    mapping: ProductTypeMapping,
    rules: list[Rule],
    work: Any,
    data_docs_dir: Path | None,
) -> list[Any]:
    gx, gxe = _gx()
    key = uuid.uuid4().hex[:8]
    names = {
        "source": f"catalog_{key}",
        "suite": f"catalog_{mapping.product_type}",
        "validation": f"catalog_{mapping.product_type}_{key}",
        "checkpoint": f"catalog_{mapping.product_type}_{key}",
    }
    result_format = {"result_format": "COMPLETE"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _quiet(context)
        with contextlib.suppress(Exception):
            context.suites.delete(names["suite"])
        source = context.data_sources.add_pandas(names["source"])
        try:
            batch = source.add_dataframe_asset(mapping.product_type).add_batch_definition_whole_dataframe(
                "rows"
            )
            suite = context.suites.add(
                gx.ExpectationSuite(
                    name=names["suite"], expectations=[_expectation(gxe, i, r) for i, r in enumerate(rules)]
                )
            )
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=names["validation"], data=batch, suite=suite)
            )
            if data_docs_dir is None:
                result = definition.run(batch_parameters={"dataframe": work}, result_format=result_format)
                return list(result.results)
            site = _docs_site(context, data_docs_dir)
            checkpoint = context.checkpoints.add(
                gx.Checkpoint(
                    name=names["checkpoint"],
                    validation_definitions=[definition],
                    actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[site])],
                    result_format=result_format,
                )
            )
            run = checkpoint.run(batch_parameters={"dataframe": work})
            return [r for validation in run.run_results.values() for r in validation.results]
        finally:
            for store, name in (
                (context.checkpoints, names["checkpoint"]),
                (context.validation_definitions, names["validation"]),
                (context.suites, names["suite"]),
                (context.data_sources, names["source"]),
            ):
                with contextlib.suppress(Exception):
                    store.delete(name)


@dataclass
class _Findings:
    """The quarantine records found so far, each with its row's position in the frame: a row may
    fail several rules, and its records must stay together and in row order."""

    frame: Any
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def add(
        self, position: int, product_type: str | None, column: str | None, value: Any, rule: str, reason: str
    ) -> None:
        """A record naming the row (SKU, marketplace, and where it came from) and the failing value,
        escaped and with URL credentials masked: the quarantine table is read by people."""
        frame = self.frame
        row = frame.iloc[position]
        sku = _cell_text(row["sku"]) if "sku" in frame.columns else None
        marketplace = _cell_text(row["marketplace_id"]) if "marketplace_id" in frame.columns else None
        source_file = _cell_text(row[SOURCE_FILE_COLUMN]) if SOURCE_FILE_COLUMN in frame.columns else None
        line = _line_number(row[SOURCE_ROW_COLUMN]) if SOURCE_ROW_COLUMN in frame.columns else None
        text = _cell_text(value)
        shown = None if text is None else _escaped(_redacted(text))
        where = (f"line {line}, " if line is not None else "") + (
            f"SKU {sku!r}" if sku else "row without SKU"
        )
        self.records.append(
            (
                position,
                {
                    "sku": _storable(sku),
                    "marketplace_id": _storable(marketplace),
                    "product_type": _storable(product_type),
                    "column_name": column,
                    "value": _preview(shown),
                    "rule": rule,
                    "reason": _escaped(_redacted(f"{where}, column {column!r}: {reason}")),
                    "source_file": source_file,
                    "source_line": line,
                },
            )
        )


def validate_frame(
    df: Any,
    mapping: ProductTypeMapping | Mapping[str, ProductTypeMapping],
    policy: ContentPolicy | None = None,
    *,
    data_docs_dir: str | Path | None = None,
    context: Any = None,
) -> ValidationOutcome:
    """Validate catalog rows; returns the good rows and a quarantine record per failure.

    ``mapping`` is one product type's mapping, or all of them by product type: rows are then routed
    by their ``product_type`` column, and a row of a product type no file maps is quarantined
    (rule ``unknown_product_type``). ``context`` is a GX context to reuse (creating one is cheap,
    importing GX is not); by default an ephemeral one. With ``data_docs_dir``, GX's Data Docs site
    (``index.html``) is written there.
    """
    policy = policy or ContentPolicy()
    by_type: Mapping[str, ProductTypeMapping] = (
        {mapping.product_type: mapping} if isinstance(mapping, ProductTypeMapping) else mapping
    )
    docs_dir = Path(data_docs_dir) if data_docs_dir is not None else None
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
    frame = df.reset_index(drop=True)
    findings = _Findings(frame)
    groups = _route_rows(frame, by_type, findings)
    _cross_type_duplicates(frame, groups, findings)
    ctx = context if context is not None else (make_context() if groups else None)
    suites: dict[str, int] = {}
    for product_type, positions in groups.items():
        suites[product_type] = _validate_group(
            ctx, by_type[product_type], product_type, positions, policy, docs_dir, findings
        )
    return _outcome(df, findings, docs_dir, suites)


def _route_rows(
    frame: Any, by_type: Mapping[str, ProductTypeMapping], findings: _Findings
) -> dict[str, list[int]]:
    """Row positions by product type: each product type has a suite of its own. A row no mapping
    serves is quarantined here; without a product_type column, one mapping takes every row."""
    groups: dict[str, list[int]] = {}
    if "product_type" in frame.columns:
        single = next(iter(by_type)) if len(by_type) == 1 else None
        for position, raw in enumerate(frame["product_type"]):
            text = _cell_text(raw)
            product_type = text.upper() if text else single
            if product_type is not None and product_type in by_type:
                groups.setdefault(product_type, []).append(position)
            else:
                findings.add(
                    position,
                    text,
                    "product_type",
                    raw,
                    "unknown_product_type",
                    f"no catalog mapping for product type {text!r} (mapped: {', '.join(sorted(by_type))})",
                )
    elif len(by_type) == 1:
        groups[next(iter(by_type))] = list(range(len(frame)))
    else:
        raise ValueError("the catalog has no product_type column, and more than one mapping was given")
    return groups


def _cross_type_duplicates(frame: Any, groups: Mapping[str, list[int]], findings: _Findings) -> None:
    """One row per SKU and marketplace across product types too: each suite sees only its own
    product type's rows, so a SKU listed under two of them would pass both."""
    if len(groups) < 2 or "sku" not in frame.columns or "marketplace_id" not in frame.columns:
        return
    group_of = {position: product_type for product_type, ps in groups.items() for position in ps}
    keys: dict[tuple[str | None, str | None], list[int]] = {}
    for position in group_of:
        row = frame.iloc[position]
        sku = _cell_text(row["sku"])
        if sku is not None:
            keys.setdefault((sku, _cell_text(row["marketplace_id"])), []).append(position)
    for (sku, marketplace), positions in keys.items():
        types = sorted({group_of[p] for p in positions})
        if len(types) > 1:
            for position in positions:
                findings.add(
                    position,
                    group_of[position],
                    "sku",
                    sku,
                    "expect_compound_columns_to_be_unique",
                    f"SKU {sku!r} appears more than once in marketplace {marketplace} "
                    f"(as product types {', '.join(types)})",
                )


def _validate_group(
    ctx: Any,
    mapping: ProductTypeMapping,
    product_type: str,
    positions: list[int],
    policy: ContentPolicy,
    docs_dir: Path | None,
    findings: _Findings,
) -> int:
    """One product type's rows through its suite; returns the number of rules."""
    frame = findings.frame
    sub = frame.iloc[positions]
    rules = suite_rules(mapping, policy, columns=sub.columns)
    missing = [r.column for r in rules if r.table_level and r.column not in sub.columns]
    for column in missing:
        for position in positions:
            findings.add(
                position,
                product_type,
                column,
                None,
                "expect_column_to_exist",
                f"required column {column!r} is not in the catalog",
            )
    work = _work_frame(sub, rules)
    for result in _run_suite(ctx, mapping, rules, work, docs_dir):
        index = (result.expectation_config.meta or {}).get("rule_index")
        if index is None or result.success:
            continue
        rule = rules[int(index)]
        if rule.table_level:
            continue  # reported per row above
        _record_failures(result, rule, product_type, work, findings)
    log.info("validated %d %s rows against %d rules", len(positions), product_type, len(rules))
    return len(rules)


def _record_failures(result: Any, rule: Rule, product_type: str, work: Any, findings: _Findings) -> None:
    """A record for each row a failed expectation names; a rule that could not run stops the
    validation, since a broken rule must not let rows through unchecked."""
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        raise ValidationSuiteError(
            f"{product_type}: the rule {rule.rule} on column {rule.column!r} could not be evaluated: "
            f"{exception.get('exception_message')}"
        )
    frame = findings.frame
    for label in (result.result or {}).get("unexpected_index_list") or []:
        position = int(label)
        value = frame.iloc[position][rule.column] if rule.column in frame.columns else None
        context_row = {c: work.at[label, c] for c in (*rule.needs, "marketplace_id") if c in work.columns}
        findings.add(
            position,
            product_type,
            rule.column,
            value,
            rule.rule,
            rule.explain(_cell_text(value), context_row),
        )


def _outcome(
    df: Any, findings: _Findings, docs_dir: Path | None, suites: dict[str, int]
) -> ValidationOutcome:
    """Rows split by whether any record names them; one record per row, rule and column (the same
    fault found twice, by a suite and across product types, is reported once)."""
    total = len(findings.frame)
    seen: set[tuple[int, str, str | None]] = set()
    records: list[tuple[int, dict[str, Any]]] = []
    for position, entry in sorted(findings.records, key=lambda item: item[0]):
        key = (position, entry["rule"], entry["column_name"])
        if key not in seen:
            seen.add(key)
            records.append((position, entry))
    failing_positions = sorted({position for position, _ in records})
    failing_set = set(failing_positions)
    keep = [p for p in range(total) if p not in failing_set]
    quarantined = [entry for _, entry in records]
    counts = Counter(entry["rule"] for entry in quarantined)
    docs_index = None
    if docs_dir is not None and (docs_dir / "index.html").exists():
        docs_index = docs_dir / "index.html"
    log.info(
        "%d of %d catalog rows failed validation (%d quarantine records)",
        len(failing_positions),
        total,
        len(records),
    )
    return ValidationOutcome(
        good=df.iloc[keep],
        rejected=df.iloc[failing_positions],
        quarantined=quarantined,
        rule_counts=dict(counts.most_common()),
        total_rows=total,
        failing_rows=len(failing_positions),
        data_docs_index=docs_index,
        suites=suites,
    )
