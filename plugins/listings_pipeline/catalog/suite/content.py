"""Content policy rules beyond words and lengths: characters, placeholders, spreadsheet formulas,
credentials in URLs, product identifiers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from listings_pipeline.catalog.content_policy import ContentPolicy
from listings_pipeline.catalog.identifiers import identifier_problem, identifier_verdicts
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.suite.characters import character_rules
from listings_pipeline.catalog.suite.rule import Derived, Rule, found, listed, make_rule, quoted
from listings_pipeline.catalog.suite.scopes import free_columns, known_codes, list_separators, scope_columns
from listings_pipeline.catalog.unsafe_text import USERINFO, redacted

__all__ = ["content_rules"]


def _class_char(char: str) -> str:
    return re.escape(char) if char.isprintable() else f"\\u{ord(char):04x}"


def _entries(text: str, separator: str | None) -> list[str]:
    return [e.strip() for e in text.split(separator)] if separator else [text]


def _placeholder_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    scope = policy.placeholders
    columns = list(scope_columns(mapping, scope))
    if scope.enabled and "sku" not in columns:
        columns.insert(0, "sku")  # a placeholder SKU would become a listing of its own
    separators = list_separators(mapping)
    rules: list[Rule] = []
    for column in columns:
        codes = known_codes(mapping, column)
        values = sorted({v for v in scope.values if v.upper() not in codes}, key=lambda v: (-len(v), v))
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
            return f"{quoted(v)} is a placeholder, not a value"

        rules.append(
            make_rule(
                "ExpectColumnValuesToNotMatchRegex",
                column,
                f"{column} is not a placeholder ({listed(values, 8)})",
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
    separators = list_separators(mapping)
    rules: list[Rule] = []
    for column in free_columns(mapping, scope):
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
            make_rule(
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
        url, _ = found(USERINFO + r"\S*", str(v))
        return (
            f"holds a URL with a user name or password ({redacted(url)!r}); credentials must not be "
            "sent to Amazon, where buyers and crawlers would fetch them"
        )

    return [
        make_rule(
            "ExpectColumnValuesToNotMatchRegex",
            column,
            f"{column} has no URL with credentials (user:password@)",
            explain,
            rule="content_policy.url_credentials",
            redact_userinfo=True,
            column=column,
            regex=USERINFO,
        )
        for column in free_columns(mapping, policy.url_credentials)
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
            return f"{quoted(v)} is not a valid {label}: {identifier_problem(str(v), kind)}"

        rules.append(
            make_rule(
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


def content_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    return [
        *character_rules(mapping, policy),
        *_placeholder_rules(mapping, policy),
        *_formula_rules(mapping, policy),
        *_credential_rules(mapping, policy),
        *_identifier_rules(mapping, policy),
    ]
