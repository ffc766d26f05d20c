"""The suite's expectations decided over a whole frame at once: what Great Expectations finds, at
catalog scale.

Why not let GX decide every row: its pandas engine resolves a graph of metrics for each of a product
type's ~130 expectations and walks some of them row by row (a pair of columns in a set goes through
``iterrows``); that was a third of a minute per 100,000 rows, and a million-row catalog has a
minute for everything. Here each column is factorised once, a single-column rule is decided once
per *distinct* value and spread back to the rows, and rules on several columns work on whole
columns. The meaning is GX's pandas meaning, rule by rule: missing values are skipped by column
rules (only ``ExpectColumnValuesToNotBeNull`` looks at them), a pattern is ``str.contains`` (a
search, not a full match: Python's ``re.search``, decided for a whole column in Arrow where RE2
gives the same answer, :mod:`.patterns`), a set is ``isin``, uniqueness is ``duplicated(keep=False)``, a pair of
columns skips rows where either is missing.

GX stays the reference: the suite is a GX ``ExpectationSuite``, its Data Docs are GX's, and a test
(tests/pipeline/test_expectations.py) runs a corpus of good and awkward values through GX's own
engine and through this module, for every rule of the shipped product types, and fails on any
difference in the failing rows or in the figures Data Docs show. An expectation without a decider
here is refused (:class:`UnsupportedExpectation`), never skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

from listings_pipeline.catalog import patterns
from listings_pipeline.catalog.suite import Rule

__all__ = ["PARTIAL_UNEXPECTED", "Found", "UnsupportedExpectation", "WorkColumns", "decide"]

#: How many failing values a result lists (GX's ``partial_unexpected_count``): what Data Docs show.
PARTIAL_UNEXPECTED = 20

Positions = npt.NDArray[np.int64]


class UnsupportedExpectation(LookupError):
    """The suite holds an expectation this module cannot decide: a new rule kind needs a decider
    (and the corpus test) before it can run, rather than be skipped."""


@dataclass(frozen=True)
class Found:
    """What one expectation found in a frame: the failing rows and the figures of GX's result.

    ``nonnull_count`` is None for expectations that look at every row (GX then leaves the missing
    figures out of its result).
    """

    unexpected: Positions  # row positions, ascending
    element_count: int
    nonnull_count: int | None
    partial_values: list[Any]  # the first failing values, in row order, as GX lists them
    counts: dict[Any, int]  # every failing value (a tuple for several columns), in order of first appearance

    @property
    def success(self) -> bool:
        return len(self.unexpected) == 0

    @classmethod
    def merged(cls, parts: list[tuple[Found, Any]]) -> Found:
        """One result for the rows of several frames: ``parts`` are each frame's result and index
        (None: its ``unexpected`` holds labels already), in row order. Its ``unexpected`` holds the
        failing rows' labels (so ``summary(None)``)."""
        unexpected = [
            np.asarray(found.unexpected if labels is None else np.asarray(labels)[found.unexpected]).astype(
                np.int64
            )
            for found, labels in parts
        ]
        counts: Counter[Any] = Counter()
        partial: list[Any] = []
        for found, _ in parts:
            counts.update(found.counts)
            partial.extend(found.partial_values[: PARTIAL_UNEXPECTED - len(partial)])
        nonnull = [found.nonnull_count for found, _ in parts]
        return cls(
            np.concatenate(unexpected) if unexpected else np.zeros(0, dtype=np.int64),
            sum(found.element_count for found, _ in parts),
            None if any(n is None for n in nonnull) else sum(n for n in nonnull if n is not None),
            partial,
            dict(counts),
        )

    def summary(self, labels: Any) -> dict[str, Any]:
        """GX's ``SUMMARY`` result for this expectation (``labels``: the frame's index, which GX
        reports failing rows by, or None when ``unexpected`` holds labels already), built the way
        GX's own ``_format_map_output`` builds it, so that Data Docs render it as one of theirs."""
        count = len(self.unexpected)
        total = self.element_count
        result: dict[str, Any] = {"element_count": total, "unexpected_count": count}
        percent_total = count / total * 100 if total else None
        if self.nonnull_count is None:
            nonmissing: float | None = percent_total
        else:
            nonmissing = count / self.nonnull_count * 100 if self.nonnull_count else None
        result["unexpected_percent"] = nonmissing if total else None
        result["partial_unexpected_list"] = self.partial_values
        if self.nonnull_count is not None:
            missing = total - self.nonnull_count
            result["missing_count"] = missing
            result["missing_percent"] = missing / total * 100 if total else None
            result["unexpected_percent_total"] = percent_total
            result["unexpected_percent_nonmissing"] = nonmissing if total else None
        common = Counter(self.counts).most_common(PARTIAL_UNEXPECTED)
        ranked = sorted(common, key=lambda kv: (-kv[1], kv[0]))
        result["partial_unexpected_counts"] = [{"value": value, "count": n} for value, n in ranked]
        head = self.unexpected[:PARTIAL_UNEXPECTED]
        result["partial_unexpected_index_list"] = [_label(p if labels is None else labels[p]) for p in head]
        return result


class _Factorised:
    """One work column's values, factorised once for every rule that reads it: the codes number the
    distinct values in order of first appearance (-1: missing)."""

    def __init__(self, column: pd.Series) -> None:
        self.column = column
        self.codes, distinct = pd.factorize(column, use_na_sentinel=True)
        self.distinct = np.asarray(distinct, dtype=object)
        self.present = self.codes >= 0
        self._series: pd.Series | None = None
        self._texts: list[Any] | None = None
        self._arrow: Any = False  # not made yet

    def series(self) -> pd.Series:
        if self._series is None:
            self._series = pd.Series(self.distinct, dtype=object)
        return self._series

    def texts(self) -> list[Any]:
        if self._texts is None:
            self._texts = self.distinct.tolist()
        return self._texts

    def arrow(self) -> Any:
        """The distinct values as an Arrow string array, or None when some are not text (a rule then
        reads them as ``str`` makes them, the way GX does)."""
        if self._arrow is False:
            import pyarrow as pa  # type: ignore[import-untyped]

            texts = self.texts()
            self._arrow = None
            if all(type(v) is str for v in texts):
                try:
                    self._arrow = pa.array(texts, type=pa.string())
                except (pa.ArrowInvalid, UnicodeEncodeError):  # a lone surrogate: not UTF-8
                    self._arrow = None
        return self._arrow


class WorkColumns:
    """A work frame and its columns factorised on first use: a product type's suite reads each
    column with a dozen rules, and factorising it for each was a third of their cost."""

    def __init__(self, work: pd.DataFrame) -> None:
        self.work = work
        self._factorised: dict[str, _Factorised] = {}

    def factorised(self, name: str) -> _Factorised:
        found = self._factorised.get(name)
        if found is None:
            found = self._factorised[name] = _Factorised(self.work[name])
        return found


def decide(rule: Rule, work: pd.DataFrame, columns: WorkColumns | None = None) -> Found:
    """The rows of ``work`` that fail ``rule`` (which must not be table-level: a missing column is
    not a row's fault); ``columns``: ``work``'s, shared by the rules decided over it."""
    decider = _DECIDERS.get(rule.expectation)
    if decider is None:
        raise UnsupportedExpectation(
            f"no decider for {rule.expectation} (rule {rule.rule} on {rule.column!r})"
        )
    return decider(
        columns if columns is not None and columns.work is work else WorkColumns(work), rule.kwargs
    )


def _label(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _counted(values: Any) -> dict[Any, int]:
    """Each value's count, in order of first appearance (as GX's ``Counter`` meets them)."""
    return dict(Counter(values))


def _counted_codes(codes: npt.NDArray[np.intp], distinct: Any) -> dict[Any, int]:
    """:func:`_counted` of the values whose factorised ``codes`` are given, without building them:
    codes number distinct values in order of first appearance."""
    if not len(codes):
        return {}
    counts = np.bincount(codes)
    return {_label(distinct[code]): int(counts[code]) for code in np.flatnonzero(counts)}


# --- one column ----------------------------------------------------------------------------------------

#: decides, for the distinct non-missing values of a column, which fail
ValueTest = Callable[[_Factorised, Mapping[str, Any]], npt.NDArray[np.bool_]]
Decider = Callable[[WorkColumns, Mapping[str, Any]], Found]


def _column_rule(test: ValueTest) -> Decider:
    def decide_column(columns: WorkColumns, kwargs: Mapping[str, Any]) -> Found:
        values = columns.factorised(kwargs["column"])
        column, codes, present = values.column, values.codes, values.present
        if len(values.distinct):
            failing = np.asarray(test(values, kwargs), bool)
            rows = present & failing[np.where(present, codes, 0)]
        else:
            rows = np.zeros(len(column), dtype=bool)
        unexpected = np.flatnonzero(rows).astype(np.int64)
        partial = column.iloc[unexpected[:PARTIAL_UNEXPECTED]].tolist()
        counts = _counted_codes(codes[unexpected], values.distinct)
        return Found(unexpected, len(column), int(present.sum()), [_label(v) for v in partial], counts)

    return decide_column


def _not_null(columns: WorkColumns, kwargs: Mapping[str, Any]) -> Found:
    column = columns.work[kwargs["column"]]
    unexpected = np.flatnonzero(column.isna().to_numpy()).astype(np.int64)
    partial = [None] * min(len(unexpected), PARTIAL_UNEXPECTED)
    return Found(unexpected, len(column), None, partial, {None: len(unexpected)} if len(unexpected) else {})


def _matches(values: _Factorised, kwargs: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    """GX's ``str.contains``: Python's ``re.search`` on each value as text, decided a column at a
    time in Arrow where that gives Python's answer (:mod:`.patterns`)."""
    arrow = values.arrow()
    if arrow is None or not isinstance(kwargs["regex"], str):
        return np.asarray(values.series().astype(str).str.contains(kwargs["regex"]).to_numpy(), bool)
    return patterns.search(kwargs["regex"], arrow, values.texts())


def _fails_match(values: _Factorised, kwargs: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    return ~_matches(values, kwargs)


def _fails_set(values: _Factorised, kwargs: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    if kwargs.get("value_set") is None:
        return np.zeros(len(values.distinct), dtype=bool)
    return ~np.asarray(values.series().isin(kwargs["value_set"]).to_numpy(), bool)


def _outside(values: pd.Series, kwargs: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    inside = np.ones(len(values), dtype=bool)
    if low is not None:
        inside &= (values > low if kwargs.get("strict_min") else values >= low).to_numpy(dtype=bool)
    if high is not None:
        inside &= (values < high if kwargs.get("strict_max") else values <= high).to_numpy(dtype=bool)
    return ~inside


def _numbers_outside(values: _Factorised, kwargs: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    return _outside(pd.to_numeric(values.series()), kwargs)


def _lengths_outside(values: _Factorised, kwargs: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    arrow = values.arrow()
    if arrow is None:
        return _outside(values.series().astype(str).str.len(), kwargs)
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    # code points, as Python's len counts them
    return _outside(pd.Series(pc.utf8_length(arrow).to_numpy(zero_copy_only=False)), kwargs)


def _unique(columns: WorkColumns, kwargs: Mapping[str, Any]) -> Found:
    values = columns.factorised(kwargs["column"])
    column, codes, distinct, present = values.column, values.codes, values.distinct, values.present
    seen = np.bincount(codes[present]) if present.any() else np.zeros(0, dtype=np.int64)
    rows = present & (seen[np.where(present, codes, 0)] > 1 if len(seen) else present)
    unexpected = np.flatnonzero(rows).astype(np.int64)
    values = column.iloc[unexpected[:PARTIAL_UNEXPECTED]].tolist()
    counts = _counted_codes(codes[unexpected], distinct)
    return Found(unexpected, len(column), int(present.sum()), [_label(v) for v in values], counts)


# --- several columns -----------------------------------------------------------------------------------


def _compound_unique(columns: WorkColumns, kwargs: Mapping[str, Any]) -> Found:
    """Rows whose values in ``column_list`` together occur more than once; rows missing all of
    them are skipped (GX's default ``ignore_row_if``), a missing value is a value otherwise."""
    names = list(kwargs["column_list"])
    frame = columns.work[names]
    considered = ~frame.isna().all(axis=1).to_numpy()
    group = np.zeros(len(frame), dtype=np.int64)
    for name in names:
        codes, distinct = pd.factorize(frame[name], use_na_sentinel=True)
        group = group * (len(distinct) + 1) + (codes + 1)
        group = pd.factorize(group)[0].astype(np.int64)  # keep the combined code small
    kept = group[considered]
    counts = np.bincount(kept) if len(kept) else np.zeros(0, dtype=np.int64)
    rows = np.zeros(len(frame), dtype=bool)
    rows[considered] = counts[kept] > 1
    unexpected = np.flatnonzero(rows).astype(np.int64)
    failing = [
        tuple(_label(v) for v in values)
        for values in frame.iloc[unexpected].itertuples(index=False, name=None)
    ]
    partial = [dict(zip(names, values, strict=True)) for values in failing[:PARTIAL_UNEXPECTED]]
    return Found(unexpected, len(frame), int(considered.sum()), partial, _counted(failing))


def _pair(
    columns: WorkColumns,
    kwargs: Mapping[str, Any],
    passes: Callable[[pd.Series, pd.Series], npt.NDArray[np.bool_]],
) -> Found:
    """A rule on two columns; ``ignore_row_if`` is ``either_value_is_missing``, the only one the
    suite writes (anything else is refused rather than read another way)."""
    if kwargs.get("ignore_row_if") != "either_value_is_missing":
        raise UnsupportedExpectation(f"ignore_row_if={kwargs.get('ignore_row_if')!r} on a column pair")
    a, b = columns.work[kwargs["column_A"]], columns.work[kwargs["column_B"]]
    considered = (a.notna() & b.notna()).to_numpy()
    rows = np.zeros(len(a), dtype=bool)
    if considered.any():
        rows[considered] = ~passes(a[considered], b[considered])
    unexpected = np.flatnonzero(rows).astype(np.int64)
    failing = list(
        zip((_label(v) for v in a.iloc[unexpected]), (_label(v) for v in b.iloc[unexpected]), strict=True)
    )
    return Found(unexpected, len(a), int(considered.sum()), failing[:PARTIAL_UNEXPECTED], _counted(failing))


def _pair_in_set(columns: WorkColumns, kwargs: Mapping[str, Any]) -> Found:
    pairs = kwargs.get("value_pairs_set")

    def passes(a: pd.Series, b: pd.Series) -> npt.NDArray[np.bool_]:
        if pairs is None:
            return np.ones(len(a), dtype=bool)
        allowed = {(x, y) for x, y in pairs}
        keys = pd.MultiIndex.from_arrays([a.to_numpy(dtype=object), b.to_numpy(dtype=object)])
        return np.asarray(keys.isin(list(allowed)), bool)

    return _pair(columns, kwargs, passes)


def _pair_greater(columns: WorkColumns, kwargs: Mapping[str, Any]) -> Found:
    def passes(a: pd.Series, b: pd.Series) -> npt.NDArray[np.bool_]:
        return np.asarray((a >= b if kwargs.get("or_equal") else a > b).to_numpy(), bool)

    return _pair(columns, kwargs, passes)


_DECIDERS: dict[str, Decider] = {
    "ExpectColumnValuesToNotBeNull": _not_null,
    "ExpectColumnValuesToMatchRegex": _column_rule(_fails_match),
    "ExpectColumnValuesToNotMatchRegex": _column_rule(_matches),
    "ExpectColumnValuesToBeInSet": _column_rule(_fails_set),
    "ExpectColumnValuesToBeBetween": _column_rule(_numbers_outside),
    "ExpectColumnValueLengthsToBeBetween": _column_rule(_lengths_outside),
    "ExpectColumnValuesToBeUnique": _unique,
    "ExpectCompoundColumnsToBeUnique": _compound_unique,
    "ExpectColumnPairValuesToBeInSet": _pair_in_set,
    "ExpectColumnPairValuesAToBeGreaterThanB": _pair_greater,
}
