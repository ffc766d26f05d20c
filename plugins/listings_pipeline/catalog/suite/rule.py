"""What one generated rule is (:class:`Rule`), and the helpers every family of rules writes with."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DATE_CHECK_SUFFIX",
    "DATE_SUFFIX",
    "NUMERIC_SUFFIX",
    "Derived",
    "Explain",
    "Rule",
    "found",
    "listed",
    "make_rule",
    "quoted",
]

NUMERIC_SUFFIX = " (number)"  # the numeric twin of a text column, for range checks
DATE_SUFFIX = " (date)"  # the date twin of a date column, for comparisons
DATE_CHECK_SUFFIX = " (date check)"  # whether a date column's text is a date that exists


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


def quoted(value: Any) -> str:
    text = str(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text)


def listed(values: Iterable[Any], limit: int = 12) -> str:
    items = [str(v) for v in values]
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def make_rule(
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


def found(pattern: str, text: str) -> tuple[str, int]:
    match = re.search(pattern, text)
    return (match.group(0), match.start() + 1) if match else ("", 0)
