"""Rules from a mapping's ``checks:``: comparisons between two columns of one row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from listings_pipeline.catalog.mapping import CrossFieldCheck, ProductTypeMapping
from listings_pipeline.catalog.suite.rule import DATE_SUFFIX, NUMERIC_SUFFIX, Derived, Rule, make_rule, quoted

__all__ = ["check_rules"]


def _as_number(column: str) -> Callable[[Any], Any]:
    def compute(work: Any) -> Any:
        import pandas as pd  # type: ignore[import-untyped]

        return pd.to_numeric(work[column], errors="coerce").astype(float)

    return compute


def _as_date(column: str) -> Callable[[Any], Any]:
    def compute(work: Any) -> Any:
        import pandas as pd

        return pd.to_datetime(work[column], errors="coerce", utc=True, format="ISO8601")

    return compute


def check_rules(mapping: ProductTypeMapping) -> list[Rule]:
    rules: list[Rule] = []
    for check in mapping.checks:
        dates = mapping.column_spec(check.left).type == "date"
        suffix, convert = (DATE_SUFFIX, _as_date) if dates else (NUMERIC_SUFFIX, _as_number)
        left, right = check.left + suffix, check.right + suffix
        greater, lesser = (left, right) if check.op in (">", ">=") else (right, left)

        def explain(v: Any, r: Mapping[str, Any], check: CrossFieldCheck = check) -> str:
            because = f": {check.description}" if check.description else ""
            return (
                f"{quoted(v)} is not {check.op} {check.right} {quoted(r.get(check.right))} "
                f"(check {check.rule}, {check.text}{because})"
            )

        rules.append(
            make_rule(
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
