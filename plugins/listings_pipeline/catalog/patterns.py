"""A regex rule decided over a whole column in Arrow (RE2) with Python's ``re`` meaning, not an
approximation of it.

The suite's patterns are Python regexes, and a rule's meaning is Python's ``re.search`` (what GX's
pandas engine does). Calling it once per distinct value cost about a microsecond a call, and a
catalog row meets some seventy patterns. RE2 (``pyarrow.compute.match_substring_regex``) decides a
column in one call, but reads some things differently: ``\\s``, ``\\d`` and ``\\w`` are ASCII
there, ``$`` does not match before a final newline, case folding differs outside ASCII, and
lookarounds and backreferences do not exist. So each pattern is rewritten from Python's own parse
of it (``re._parser``), atom by atom:

- ``exact``: an RE2 pattern that matches exactly the strings Python's matches. Categories become
  the explicit sets of characters Python's ``\\s``/``\\d``/``\\w`` match, every literal is written
  as its code point, ``$`` only at the very end of the pattern (as ``\\n?\\z``);
- ``superset``: when no exact form exists (a lookaround, ``\\b``, ``$`` before more pattern), the
  pattern with those assertions left out: it matches every string Python's does and more, so only
  the strings it matches go on to Python's ``re``;
- a case-insensitive pattern is rewritten only when its literals are ASCII, and its RE2 form then
  decides only ASCII values (where the two engines fold case alike); other values go to Python.

Anything else (backreferences, conditionals, multi-line or locale flags, long counted repeats)
goes to Python's ``re`` entirely. tests/pipeline/test_patterns.py runs the shipped patterns and
awkward ones over a corpus of values through both and fails on any difference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Compiled", "compiled", "python_whitespace", "search"]

_RE2_MAX_REPEAT = 1000
_LAST_CODE_POINT = 0x10FFFF


@dataclass(frozen=True)
class Compiled:
    """One pattern in the forms :func:`search` uses (see the module's docstring)."""

    python: re.Pattern[str]
    exact: str | None
    superset: str | None
    ascii_only: bool  # the RE2 forms hold for ASCII values only


@cache
def _category_ranges(category: str) -> tuple[tuple[int, int], ...]:
    """The code points Python's ``re`` matches with a category (str patterns, Unicode), as ranges:
    found by ``re`` itself, over a string of every code point."""
    every = np.arange(_LAST_CODE_POINT + 1, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    found = re.finditer({"digit": r"\d+", "space": r"\s+", "word": r"\w+"}[category], every)
    return tuple((match.start(), match.end() - 1) for match in found)


def python_whitespace() -> str:
    """Every character Python takes for whitespace (``str.strip``, ``str.isspace`` and ``re``'s
    ``\\s`` agree), for Arrow's trim to strip exactly what ``str.strip`` strips."""
    return "".join(chr(point) for start, end in _category_ranges("space") for point in range(start, end + 1))


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    low = 0
    for start, end in ranges:
        if start > low:
            out.append((low, start - 1))
        low = end + 1
    if low <= _LAST_CODE_POINT:
        out.append((low, _LAST_CODE_POINT))
    return tuple(out)


def _cased(code: int) -> bool:
    """Whether Python's ``re`` folds this character's case (what its compiler asks)."""
    import _sre  # type: ignore[import-not-found]

    return bool(_sre.unicode_iscased(code))


def _point(code: int) -> str:
    return f"\\x{{{code:X}}}"


def _span(start: int, end: int) -> str:
    return _point(start) if start == end else f"{_point(start)}-{_point(end)}"


class _Untranslatable(Exception):
    """This pattern (in this mode) has no RE2 form here."""


class _Writer:
    """Python's parse of a pattern written as RE2, in one mode (``exact`` or ``superset``)."""

    def __init__(self, parser: Any, exact: bool) -> None:
        self.p = parser
        self.exact = exact
        self.folds = False  # a case-insensitive atom was written

    def sequence(self, items: Any, flags: int, tail: bool) -> str:
        items = list(items)
        return "".join(
            self.item(op, av, flags, tail and i == len(items) - 1) for i, (op, av) in enumerate(items)
        )

    def _dropped(self) -> str:
        """An assertion the superset leaves out (it only ever narrowed the matches)."""
        if self.exact:
            raise _Untranslatable
        return ""

    def item(self, op: Any, av: Any, flags: int, tail: bool) -> str:
        p = self.p
        folding = bool(flags & re.IGNORECASE)
        if op is p.LITERAL or op is p.NOT_LITERAL:
            negate = op is p.NOT_LITERAL
            if folding and _cased(av):
                if av > 0x7F:
                    raise _Untranslatable
                self.folds = True
                return f"(?i:[{'^' if negate else ''}{_point(av)}])"
            return f"[^{_point(av)}]" if negate else _point(av)
        if op is p.ANY:
            return "(?s:.)" if flags & re.DOTALL else "[^\\n]"
        if op is p.IN:
            return self.charset(av, folding)
        if op is p.BRANCH:
            return "(?:" + "|".join(self.sequence(branch, flags, tail) for branch in av[1]) + ")"
        if op is p.SUBPATTERN:
            _, add, remove, body = av
            inner = (flags | add) & ~remove
            if inner & (re.MULTILINE | re.LOCALE | re.ASCII):
                raise _Untranslatable
            return "(?:" + self.sequence(body, inner, tail) + ")"
        if op in (p.MAX_REPEAT, p.MIN_REPEAT) or (op is p.POSSESSIVE_REPEAT and not self.exact):
            low, high, body = av
            if low > _RE2_MAX_REPEAT or (high is not p.MAXREPEAT and high > _RE2_MAX_REPEAT):
                raise _Untranslatable
            count = f"{{{low},}}" if high is p.MAXREPEAT else f"{{{low},{high}}}"
            return "(?:" + self.sequence(body, flags, False) + ")" + count
        if op is p.ATOMIC_GROUP and not self.exact:
            return "(?:" + self.sequence(av, flags, False) + ")"
        if op is p.AT:
            if av in (p.AT_BEGINNING, p.AT_BEGINNING_STRING):
                return "\\A"
            if av is p.AT_END_STRING:
                return "\\z"
            if av is p.AT_END and tail:
                return "\\n?\\z"  # before a final newline too; nothing follows it to see the difference
            return self._dropped()
        if op in (p.ASSERT, p.ASSERT_NOT):
            return self._dropped()
        raise _Untranslatable

    def charset(self, items: Any, folding: bool) -> str:
        p = self.p
        negate = False
        parts: list[str] = []
        cased = False
        for op, av in items:
            if op is p.NEGATE:
                negate = True
            elif op is p.LITERAL:
                if folding and _cased(av):
                    if av > 0x7F:
                        raise _Untranslatable
                    cased = True
                parts.append(_point(av))
            elif op is p.RANGE:
                low, high = av
                if folding and any(_cased(c) for c in range(low, min(high, 0x7F) + 1)):
                    cased = True
                if folding and high > 0x7F and any(_cased(c) for c in range(max(low, 0x80), high + 1)):
                    raise _Untranslatable
                parts.append(_span(low, high))
            elif op is p.CATEGORY:
                parts.extend(_span(*r) for r in self._category(av))
            else:
                raise _Untranslatable
        body = "[" + ("^" if negate else "") + "".join(parts) + "]"
        if cased:
            if any(op is p.CATEGORY for op, _ in items):
                raise _Untranslatable  # RE2 would fold the category's letters too
            self.folds = True
            return f"(?i:{body})"
        return body

    def _category(self, category: Any) -> tuple[tuple[int, int], ...]:
        p = self.p
        named = {
            p.CATEGORY_DIGIT: ("digit", False),
            p.CATEGORY_NOT_DIGIT: ("digit", True),
            p.CATEGORY_SPACE: ("space", False),
            p.CATEGORY_NOT_SPACE: ("space", True),
            p.CATEGORY_WORD: ("word", False),
            p.CATEGORY_NOT_WORD: ("word", True),
        }
        if category not in named:
            raise _Untranslatable
        name, negated = named[category]
        ranges = _category_ranges(name)
        return _complement(ranges) if negated else ranges


def _written(parsed: Any, parser: Any, exact: bool) -> tuple[str | None, bool]:
    flags = parsed.state.flags
    if flags & (re.MULTILINE | re.LOCALE | re.ASCII):
        return None, False
    writer = _Writer(parser, exact)
    try:
        return writer.sequence(parsed.data, flags, True), writer.folds
    except _Untranslatable:
        return None, False


def _re2_accepts(pattern: str) -> bool:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    try:
        pc.match_substring_regex(pa.array([""], type=pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


@lru_cache(maxsize=4096)
def compiled(pattern: str) -> Compiled:
    """``pattern`` compiled for Python and written for RE2, once per process."""
    from re import _parser as parser  # type: ignore[attr-defined]

    python = re.compile(pattern)
    parsed = parser.parse(pattern)
    exact, folds = _written(parsed, parser, True)
    superset: str | None = None
    if exact is None:
        superset, folds = _written(parsed, parser, False)
    if exact is not None and not _re2_accepts(exact):
        exact = None
        superset, folds = _written(parsed, parser, False)
    if superset is not None and not _re2_accepts(superset):
        superset = None
    return Compiled(python, exact, superset, folds)


def search(pattern: str, values: Any, texts: list[str] | None = None) -> npt.NDArray[np.bool_]:
    """Whether Python's ``re.search(pattern, value)`` finds a match, for each of ``values`` (an
    Arrow string array without nulls); ``texts``: the same values as Python strings, when the
    caller has them already."""
    import pyarrow as pa
    import pyarrow.compute as pc

    form = compiled(pattern)
    count = len(values)
    found = np.zeros(count, dtype=bool)
    rewritten = form.exact or form.superset
    if rewritten is None:
        undecided = np.ones(count, dtype=bool)
    else:
        usable = (
            pc.string_is_ascii(values).to_numpy(zero_copy_only=False).astype(bool)
            if form.ascii_only
            else np.ones(count, dtype=bool)
        )
        subset = values if usable.all() else values.filter(pa.array(usable))
        hits = np.zeros(count, dtype=bool)
        hits[usable] = pc.match_substring_regex(subset, rewritten).to_numpy(zero_copy_only=False)
        if form.exact is not None:
            found |= hits
            undecided = ~usable
        else:
            undecided = hits | ~usable
    positions = np.flatnonzero(undecided)
    if len(positions):
        if texts is not None:
            picked = [texts[i] for i in positions]
        else:
            picked = values.take(pa.array(positions)).to_pylist()
        run = form.python.search
        found[positions] = [run(value) is not None for value in picked]
    return found
