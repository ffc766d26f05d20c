"""Rules from a mapping's column declarations: type, codes, range, length, pattern."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from listings_pipeline.catalog.columns import ColumnSpec
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.specs import DEFAULT_YES_NO, CodeSet
from listings_pipeline.catalog.suite.rule import (
    DATE_CHECK_SUFFIX,
    NUMERIC_SUFFIX,
    Derived,
    Rule,
    listed,
    make_rule,
    quoted,
)

__all__ = ["column_rules", "date_verdicts", "enum_codes"]

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


def enum_codes(mapping: ProductTypeMapping) -> dict[str, CodeSet]:
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


def column_rules(mapping: ProductTypeMapping, name: str, spec: ColumnSpec) -> list[Rule]:
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
            make_rule(
                "ExpectColumnValuesToMatchRegex",
                name,
                f"{name} is {what}",
                lambda v, r, what=what: f"{quoted(v)} is not {what}",
                column=name,
                regex=pattern,
            )
        ]
    if spec.type == "date":
        # a pattern would let 2025-02-30 through, and a check on it would then be skipped
        return [
            make_rule(
                "ExpectColumnValuesToBeInSet",
                name,
                f"{name} is {_DATE_WHAT}",
                lambda v, r: f"{quoted(v)} is not {_DATE_WHAT}",
                needs=(name,),
                derived=(Derived(name + DATE_CHECK_SUFFIX, date_verdicts(name)),),
                column=name + DATE_CHECK_SUFFIX,
                value_set=["valid"],
            )
        ]
    if spec.type == "boolean":
        tokens = _boolean_tokens(mapping, name)
        alternatives = "|".join(re.escape(t) for t in tokens)
        return [
            make_rule(
                "ExpectColumnValuesToMatchRegex",
                name,
                f"{name} is a yes/no value",
                lambda v, r, tokens=tokens: f"{quoted(v)} is not a yes/no value ({listed(tokens)})",
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
            make_rule(
                "ExpectColumnValuesToBeInSet",
                name,
                f"{name} is one of {listed(allowed)}",
                lambda v, r, allowed=allowed: (
                    f"{quoted(v)} is not an allowed value of {name!r} (allowed: {listed(allowed)})"
                ),
                column=name,
                value_set=allowed,
            )
        ]
    codes = enum_codes(mapping).get(name)
    if codes is None:
        return []
    if codes.separator is None and not codes.ignore_case:
        ordered = sorted(codes.codes)
        return [
            make_rule(
                "ExpectColumnValuesToBeInSet",
                name,
                f"{name} is a code the mapping translates ({listed(ordered)})",
                lambda v, r, ordered=ordered: (
                    f"{quoted(v)} is not a code the {mapping.product_type} mapping translates for {name!r} "
                    f"(known: {listed(ordered)})"
                ),
                column=name,
                value_set=ordered,
            )
        ]
    return [_translated_codes_pattern(mapping, name, codes)]


def _translated_codes_pattern(mapping: ProductTypeMapping, name: str, codes: CodeSet) -> Rule:
    """Codes read case-insensitively or several to a cell: a set cannot say that, a pattern can."""
    ordered = sorted(codes.codes)
    one = "(?:" + "|".join(re.escape(c) for c in sorted(codes.codes, key=lambda c: (-len(c), c))) + ")"
    separator = codes.separator
    regex = (
        rf"^\s*{one}\s*$" if separator is None else rf"^\s*{one}\s*(?:{re.escape(separator)}\s*{one}\s*)*$"
    )
    return make_rule(
        "ExpectColumnValuesToMatchRegex",
        name,
        f"{name} holds codes the mapping translates ({listed(ordered)})",
        lambda v, r, ordered=ordered: (
            f"{quoted(v)} holds a code the {mapping.product_type} mapping does not translate "
            f"for {name!r} (known: {listed(ordered)})"
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
            return f"{quoted(v)} is below the minimum {low:g} for {name!r}"
        if number is not None and high is not None and number > high:
            return f"{quoted(v)} is above the maximum {high:g} for {name!r}"
        return f"{quoted(v)} is outside {low}..{high} for {name!r}"

    return [
        make_rule(
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
        make_rule(
            "ExpectColumnValueLengthsToBeBetween",
            name,
            f"{name} is {low_len or 0}..{high_len or 'any'} characters long",
            lambda v, r, lo=low_len, hi=high_len: (
                f"{quoted(v)} is {len(str(v))} characters long; {name!r} allows {lo or 0} to {hi or 'any'}"
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
        make_rule(
            "ExpectColumnValuesToMatchRegex",
            name,
            f"{name} matches {pattern}",
            lambda v, r, pattern=pattern: f"{quoted(v)} does not match the pattern {pattern} of {name!r}",
            column=name,
            regex=pattern,
        )
    ]


def date_verdicts(column: str) -> Callable[[Any], Any]:
    """Per cell: None when empty, "valid" for an ISO 8601 date that exists, else "not a date"."""

    def compute(work: Any) -> Any:
        import pandas as pd  # type: ignore[import-untyped]

        text = work[column]
        shaped = text.str.fullmatch(_DATE.pattern, na=False).astype(bool)
        parsed = pd.to_datetime(text.where(shaped), errors="coerce", utc=True, format="ISO8601")
        verdict = pd.Series("not a date", index=text.index, dtype=object)
        verdict[parsed.notna()] = "valid"
        return verdict.where(text.notna(), None)

    return compute
