"""A regex rule decided in Arrow (``catalog.patterns``) against Python's ``re.search``, value by value.

Every pattern the shipped suites hold, and patterns written to meet each place where RE2 reads a
pattern differently (Unicode categories, ``$`` before a final newline, case folding outside ASCII,
lookarounds, backreferences), runs over a corpus of awkward values; any value where the two
disagree fails. The reference is the per-row meaning the rules had: ``re.search(pattern, value)``,
and the pandas ``str.contains`` that GX and the old implementation called.
"""

from __future__ import annotations

import random
import re

import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa
import pytest

from listings_pipeline.catalog.content_policy import ContentPolicy
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.patterns import compiled, search
from listings_pipeline.catalog.suite import suite_rules

from .test_expectations import AWKWARD

#: patterns that reach each difference between Python's ``re`` and RE2, and each branch of the rewrite
TRICKY = (
    r"\s",
    r"^\s*$",
    r"\S+",
    r"\d",
    r"^\d+$",
    r"\D",
    r"\w",
    r"\W",
    r"[\w-]+@",
    r"[^\d\s]",
    r"ab$",
    r"(?:ab|c)$",
    r"a$|b",
    r"a$\n",
    r"(a$)*",
    r"\Aab\Z",
    r"(?i)straße",
    r"(?i)strasse",
    r"(?i)kelvin",
    r"(?i)\u212a",
    r"(?i)[a-z]+\d",
    r"(?i)[^a-z]",
    r"(?i)İ",
    "(?i)\u0131",
    r"(?i:free) SHIPPING",
    r"(?i)[\w]",
    r"(?s)a.b",
    r"a.b",
    r"(?m)^b",
    r"(?a)\w+",
    r"(?x) a b # comment",
    r"\bfree\b",
    r"(?<!\w)sale",
    r"(?<=a)b",
    r"x(?=y)",
    r"(a)\1",
    r"(?P<q>['\"]).*?(?P=q)",
    r"(a)?(?(1)b|c)",
    r"(?>a+)b",
    r"a++b",
    r"a{2,5}?",
    r"a{1001}",
    r"[\u00e9\u00c9]",
    r"é",
    r"[\U0001F600-\U0001F64F]",
    r"^$",
    r"",
    r"\n",
    r"[\n\r]",
    r"\x00",
    r"[^\x00-\x7f]",
)

#: values beyond the shipped corpus: Unicode digits and spaces, case-folding partners, final newlines
EXTRA = (
    "١٢٣",  # Arabic-Indic digits: \d in Python, not in RE2
    "٣",
    "a\u2003b",  # em space
    "\x1c",
    "\x85",
    "\u3000",
    "\x0b",
    "ab\n",
    "ab\n\n",
    "a\nb",
    "Straße",
    "STRASSE",
    "strasse",
    "\u212aelvin",  # Kelvin sign
    "KELVIN",
    "İstanbul",
    "\u0131i",
    "I\u0131",
    "\u017f",
    "FREE shipping",
    "Free Shipping",
    "free",
    "sale",
    "resale",
    "on sale",
    "ab",
    "xy",
    "aa",
    "'quoted'",
    "aab",
    "c",
    "b",
    "axb",
    "a\nb",
    "éÉ",
    "😀",
    "x@y",
    "wörd_1@",
    "\x00",
    "a" * 1001,
    "a" * 1000,
)


def _reference(pattern: str, values: list[str]) -> list[bool]:
    """The per-row meaning: Python's ``re.search`` on each value."""
    compiled_pattern = re.compile(pattern)
    return [compiled_pattern.search(value) is not None for value in values]


def _values() -> list[str]:
    words = [v for v in (*AWKWARD, *EXTRA) if v]
    rng = random.Random(13)
    mixed = ["".join(rng.choice(words)[: rng.randint(1, 6)] for _ in range(3)) for _ in range(400)]
    padded = [f"{w}\n" for w in words[:40]] + [f"x {w} y" for w in words]
    return list(dict.fromkeys([*words, *mixed, *padded]))


def _shipped_patterns(mappings: dict[str, ProductTypeMapping], policy: ContentPolicy) -> list[str]:
    found: dict[str, None] = {}
    for mapping in mappings.values():
        for rule in suite_rules(mapping, policy):
            if isinstance(rule.kwargs.get("regex"), str):
                found.setdefault(rule.kwargs["regex"], None)
    return list(found)


def test_every_shipped_pattern_decides_as_python_re(
    mappings: dict[str, ProductTypeMapping], policy: ContentPolicy
) -> None:
    values = _values()
    array = pa.array(values, type=pa.string())
    patterns = _shipped_patterns(mappings, policy)
    assert len(patterns) >= 15
    for pattern in patterns:
        ours = search(pattern, array).tolist()
        assert ours == _reference(pattern, values), [
            v for v, a, b in zip(values, ours, _reference(pattern, values), strict=True) if a != b
        ][:5]
        # and as the pandas str.contains the rules called before (GX's own call)
        old = pd.Series(values, dtype=object).astype(str).str.contains(pattern).to_numpy().tolist()
        assert ours == old, pattern


def test_most_shipped_patterns_are_decided_in_arrow(
    mappings: dict[str, ProductTypeMapping], policy: ContentPolicy
) -> None:
    """The rewrite reaches the shipped patterns: none is left to Python's ``re`` whole."""
    for pattern in _shipped_patterns(mappings, policy):
        form = compiled(pattern)
        assert form.exact is not None or form.superset is not None, pattern


@pytest.mark.parametrize("pattern", TRICKY)
def test_tricky_patterns_decide_as_python_re(pattern: str) -> None:
    values = _values()
    ours = search(pattern, pa.array(values, type=pa.string()), values).tolist()
    expected = _reference(pattern, values)
    assert ours == expected, [v for v, a, b in zip(values, ours, expected, strict=True) if a != b][:5]


def test_what_rewrites_exactly_and_what_only_narrows() -> None:
    assert compiled(r"^\d+$").exact is not None
    assert compiled(r"(?<!\w)sale").exact is None
    assert compiled(r"(?<!\w)sale").superset is not None
    assert compiled(r"(a)\1").exact is None and compiled(r"(a)\1").superset is None
    assert compiled(r"(?i)free").ascii_only
    assert compiled(r"(?i)İ").exact is None  # a cased letter outside ASCII: Python's folding only
    assert compiled(r"(?m)^b").exact is None and compiled(r"(?m)^b").superset is None


def test_arrow_column_texts_are_the_per_value_texts() -> None:
    """``_texts`` of an Arrow string column (what the extract writes) strips and blanks exactly as
    ``_cell_text`` does value by value: every character Python calls whitespace, at either end."""
    from listings_pipeline.catalog.patterns import python_whitespace
    from listings_pipeline.catalog.validation import _cell_text, _texts

    spaces = python_whitespace()
    assert "\x1c" in spaces and "\u3000" in spaces and "\u200b" not in spaces
    values: list[str | None] = [*_values(), None, "", *spaces, spaces, f"{spaces}x{spaces}", "\u200bx\u200b"]
    values += [f"{c}v{c}" for c in spaces]
    column = pd.Series(values, dtype=pd.StringDtype("pyarrow"))
    ours = _texts(column).tolist()
    assert ours == [_cell_text(v) for v in values]
    assert ours == _texts(pd.Series(values, dtype=object)).tolist()  # the object path, as before
    assert _texts(pd.Series(values, dtype="str")).tolist() == ours
