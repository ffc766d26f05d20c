"""Step 2 of the bulk path: validate catalog rows with Great Expectations before they are mapped.

The suite is generated (:mod:`listings_pipeline.catalog.suite`) from the product type's catalog
mapping (:mod:`listings_pipeline.catalog.mapping`) and the seller's content policy
(``include/content_policy.yaml``, :mod:`listings_pipeline.catalog.content_policy`):

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
(:class:`Derived`) that the expectation reads. This module runs the suite and reports what failed.

:func:`validate_frame` decides every rule for every row with :mod:`.expectations` (GX's pandas
meaning, a column at a time and each distinct value once; GX's own engine walks its metric graph per
expectation and some rules row by row, too slow for a million rows) and splits the rows: ``good``
passed every rule; each failure of the others is a quarantine record naming the SKU, column, value,
rule and reason, and where the row came from (``source_file``, ``source_line``: the extract step's
``_source_file`` and ``_source_row`` columns, when the frame has them; the reason then starts with
the line). Values are shown with control and invisible characters escaped and URL credentials
masked. A row failing several rules gives several records and is set aside once.
:func:`check_threshold` fails the run only when the failing share passes the configured threshold.
With ``data_docs_dir``, GX renders its Data Docs from the results in GX's SUMMARY form: counts over
every row and the first failing values, so the pages stay readable at a million rows. They are
then made to render with no network (:mod:`.data_docs.offline`).

Great Expectations and pandas are imported inside the functions: a DAG file may import this module
at parse time. GX's progress bars are switched off on every context used here.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listings_pipeline.catalog.cells import is_empty
from listings_pipeline.catalog.content_policy import (
    DEFAULT_PLACEHOLDERS,
    ContentPolicy,
    EmojiRule,
    FormulaRule,
    PlaceholderRule,
    RuleScope,
    load_policy,
)
from listings_pipeline.catalog.data_docs.offline import make_offline
from listings_pipeline.catalog.identifiers import (
    IDENTIFIER_LENGTHS,
    gtin_check_digit,
    identifier_problem,
    identifier_verdicts,
    isbn10_check_digit,
)
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.quarantined import QuarantineRecord
from listings_pipeline.catalog.suite import NUMERIC_SUFFIX, Derived, Rule, suite_rules
from listings_pipeline.catalog.unsafe_text import USERINFO_PARTS, escaped, redacted, storable

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

if TYPE_CHECKING:
    from listings_pipeline.catalog.expectations import Found

log = logging.getLogger(__name__)

VALUE_PREVIEW = 200
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


@dataclass
class ValidationOutcome:
    """What one validation produced.

    ``good``: the rows that passed every rule (the input's columns and index); ``rejected``: the
    others (both None from :func:`validate_chunks`, which hands the good rows on as it goes);
    ``quarantined``: one record per failure (``QUARANTINE_FIELDS``); ``rule_counts``: records per
    rule.
    """

    good: Any
    rejected: Any
    quarantined: list[QuarantineRecord]
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
    outcome: ValidationOutcome,
    max_failing_share: float,
    *,
    unreadable: Mapping[str, int] | None = None,
    unchanged: int = 0,
) -> None:
    """Raise :class:`ValidationThresholdError` when more than ``max_failing_share`` of rows failed.

    :param unreadable: rows quarantined before validation (the extract's, by rule): they failed
        too, so they count in the share, and the catalog they came from is the same one.
    :param unchanged: rows not validated again because they passed before, unchanged
        (``catalog.unchanged``): they are part of the catalog, so of the share's whole.
    """
    if not 0 <= max_failing_share <= 1:
        raise ValueError(f"max_failing_share must be between 0 and 1, not {max_failing_share}")
    earlier = sum((unreadable or {}).values())
    failing, total = outcome.failing_rows + earlier, outcome.total_rows + earlier + unchanged
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


def _texts(column: Any) -> Any:
    """:func:`_cell_text` of a whole column: a column of text (what the extract step writes) is
    stripped in one pass, in Arrow when the column is Arrow's already; anything else goes value by
    value."""
    import pandas as pd  # type: ignore[import-untyped]

    stripped = _arrow_texts(column)
    if stripped is not None:
        return pd.Series(stripped, index=column.index, dtype=object)
    values = column.to_numpy(dtype=object, na_value=None)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return pd.Series([_cell_text(v) for v in values], index=column.index, dtype=object)
    stripped = pd.Series(values, index=column.index, dtype=object).str.strip()
    return stripped.where(stripped.str.len().fillna(0).to_numpy() > 0, None).astype(object)


def _arrow_texts(column: Any) -> Any:
    """:func:`_texts` of an Arrow-backed string column (pandas' ``str``, ``string[pyarrow]``),
    as an object array: trimmed of exactly the characters ``str.strip`` takes for whitespace, blank
    made None. None for any other column."""
    import pandas as pd

    dtype = column.dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return None
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    from listings_pipeline.catalog.patterns import python_whitespace

    array = pa.array(column)
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        return None
    trimmed = pc.utf8_trim(array, characters=python_whitespace())
    blank = pc.equal(pc.utf8_length(trimmed), 0)
    return pc.if_else(blank, pa.scalar(None, type=trimmed.type), trimmed).to_numpy(zero_copy_only=False)


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
    work = pd.DataFrame({column: _texts(frame[column]) for column in needed}, index=frame.index)
    masked = {c for rule in rules if rule.redact_userinfo for c in rule.needs if c in work.columns}
    for column in sorted(masked):
        # every rule (and Data Docs) sees the URL without its password; only rows the credentials
        # rule quarantines anyway change
        text = work[column]  # text or None (_texts): a plain test per cell, not pandas' string machinery
        has_at = pd.Series(
            [value is not None and "@" in value for value in text.to_numpy()], index=text.index, dtype=bool
        )
        if has_at.any():
            work.loc[has_at, column] = text[has_at].str.replace(USERINFO_PARTS.pattern, r"\1***@", regex=True)
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


@dataclass
class _Findings:
    """The quarantine records found so far, each with its row's position in the whole catalog and
    an order: a row may fail several rules, and its records must stay together, in row order and,
    within a row, in the order a single pass finds them (routing, then across product types, then
    missing columns, then the suite's rules in order), however the rows were split up.

    ``frame`` holds at least the rows' ``sku``, ``marketplace_id`` and source columns, indexed by
    position."""

    frame: Any
    records: list[tuple[tuple[int, int, int], QuarantineRecord]] = field(default_factory=list)
    _cells: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def _cell(self, name: str, position: int) -> Any:
        """The row's cell of a key column, as ``frame.loc[position][name]`` gives it: each column's
        values are taken out once (a row lookup per record cost half a millisecond, and a catalog
        with 1% bad rows has ten thousand records a million rows). Text and object columns give
        their objects (NaN for a missing text), numbers and booleans their numpy scalars; any other
        column is read through pandas, cell by cell, as before."""
        import numpy as np

        column = self.frame[name] if name not in self._cells else None
        if column is not None:
            kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else None
            if kind in ("b", "i", "u", "f"):
                self._cells[name] = column.to_numpy()
            elif kind == "O" or str(column.dtype) in ("str", "string"):
                self._cells[name] = column.to_numpy(dtype=object)
            else:
                self._cells[name] = None
        at = self.frame.index.get_loc(position)
        values = self._cells[name]
        return self.frame[name].iloc[at] if values is None else values[at]

    def add(
        self,
        position: int,
        product_type: str | None,
        column: str | None,
        value: Any,
        rule: str,
        reason: str,
        order: tuple[int, int],
    ) -> None:
        """A record naming the row (SKU, marketplace, and where it came from) and the failing value,
        escaped and with URL credentials masked: the quarantine table is read by people."""
        columns = self.frame.columns
        sku = _cell_text(self._cell("sku", position)) if "sku" in columns else None
        marketplace = (
            _cell_text(self._cell("marketplace_id", position)) if "marketplace_id" in columns else None
        )
        source_file = (
            _cell_text(self._cell(SOURCE_FILE_COLUMN, position)) if SOURCE_FILE_COLUMN in columns else None
        )
        line = _line_number(self._cell(SOURCE_ROW_COLUMN, position)) if SOURCE_ROW_COLUMN in columns else None
        text = _cell_text(value)
        shown = None if text is None else escaped(redacted(text))
        where = (f"line {line}, " if line is not None else "") + (
            f"SKU {sku!r}" if sku else "row without SKU"
        )
        self.records.append(
            (
                (position, *order),
                {
                    "sku": storable(sku),
                    "marketplace_id": storable(marketplace),
                    "product_type": storable(product_type),
                    "column_name": column,
                    "value": _preview(shown),
                    "rule": rule,
                    "reason": escaped(redacted(f"{where}, column {column!r}: {reason}")),
                    "source_file": source_file,
                    "source_line": line,
                },
            )
        )

    def settled(self) -> list[tuple[int, QuarantineRecord]]:
        """The records in order, one per row, rule and column (the same fault found twice, by a
        suite and across product types, is reported once)."""
        seen: set[tuple[int, str, str | None]] = set()
        records: list[tuple[int, QuarantineRecord]] = []
        for (position, *_), entry in sorted(self.records, key=lambda item: item[0]):
            key = (position, entry["rule"], entry["column_name"])
            if key not in seen:
                seen.add(key)
                records.append((position, entry))
        return records


#: the order of records within a row (see :class:`_Findings`)
_ROUTED, _ACROSS_TYPES, _MISSING_COLUMN, _RULE = 0, 1, 2, 3
#: rules decided over the whole catalog at once, never a chunk: a duplicate may sit in another chunk
_WHOLE_CATALOG = frozenset({"ExpectCompoundColumnsToBeUnique", "ExpectColumnValuesToBeUnique"})
#: the columns the whole-catalog rules and the records read
KEY_COLUMNS = ("sku", "marketplace_id", "product_type", SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN)


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
    frame = df.reset_index(drop=True)
    keys = frame[[c for c in KEY_COLUMNS if c in frame.columns]]
    run = Validation.start(keys, list(frame.columns), mapping, policy)
    run.check(frame)
    failing, quarantined, counts = run.finish(data_docs_dir, context)
    keep = [p for p in range(len(frame)) if p not in failing]
    return ValidationOutcome(
        good=df.iloc[keep],
        rejected=df.iloc[sorted(failing)],
        quarantined=quarantined,
        rule_counts=counts,
        total_rows=len(frame),
        failing_rows=len(failing),
        data_docs_index=run.docs_index,
        suites=run.suites,
    )


def validate_chunks(
    keys: Any,
    columns: list[str],
    chunks: Iterable[Any],
    mapping: ProductTypeMapping | Mapping[str, ProductTypeMapping],
    policy: ContentPolicy | None = None,
    *,
    good: Callable[[Any], None],
    data_docs_dir: str | Path | None = None,
    context: Any = None,
) -> ValidationOutcome:
    """:func:`validate_frame` for a catalog too large to hold: the same records, counts and Data
    Docs, in memory bounded by a chunk.

    Every rule but one decides a row from that row alone; one row per SKU and marketplace needs all
    of them. So ``keys`` (the whole catalog's :data:`KEY_COLUMNS`, a few short columns) are checked
    for that first, then ``chunks`` (the catalog's rows in order, all ``columns``) one at a time;
    each chunk's good rows go to ``good`` as soon as they are known. The outcome's ``good`` and
    ``rejected`` are None.
    """
    run = Validation.start(keys.reset_index(drop=True), columns, mapping, policy)
    offset = 0
    for chunk in chunks:
        frame = chunk.reset_index(drop=True)
        frame.index = frame.index + offset
        failing_here = run.check(frame)
        good(chunk.iloc[[p - offset for p in frame.index if p not in failing_here]])
        offset += len(frame)
    if offset != len(run.keys):
        raise ValueError(f"the chunks hold {offset} rows, the keys {len(run.keys)}")
    return run.outcome(data_docs_dir, context)


@dataclass(frozen=True)
class RowRoutes:
    """What the whole catalog decided before its chunks are checked: each product type's rules,
    each row's product type (None: quarantined when routed) and the rows failing already (routing,
    duplicates, missing columns). Small: a chunk checked on another worker needs only this."""

    rules: Mapping[str, list[Rule]]
    product_type_of: Any  # by position in the catalog, from position ``first``
    failing: Any  # positions, ascending
    first: int = 0


@dataclass
class ChunkFindings:
    """What the row-by-row rules found in one chunk: its records and, per product type and rule,
    the expectation's result (failing rows as positions in the catalog, for :meth:`Found.merged`)."""

    records: list[tuple[tuple[int, int, int], QuarantineRecord]]
    found: dict[str, dict[int, tuple[Found, Any]]]

    def failing(self, frame: Any, routes: RowRoutes) -> set[int]:
        """The positions of the chunk's rows that fail anything, here or over the whole catalog."""
        import numpy as np

        positions = frame.index.to_numpy()
        earlier = routes.failing[np.isin(routes.failing, positions)]
        return {key[0] for key, _ in self.records} | {int(p) for p in earlier}


def rules_by_type(
    by_type: Mapping[str, ProductTypeMapping], policy: ContentPolicy | None, columns: list[str]
) -> dict[str, list[Rule]]:
    """Each product type's suite for a catalog of ``columns`` (the rules :meth:`Validation.start` uses)."""
    return {product_type: suite_rules(m, policy, columns=columns) for product_type, m in by_type.items()}


def check_rows(frame: Any, routes: RowRoutes) -> ChunkFindings:
    """Every row-by-row rule over one chunk of the catalog (indexed by position in it)."""
    from listings_pipeline.catalog.expectations import WorkColumns, decide

    findings = _Findings(frame[[c for c in KEY_COLUMNS if c in frame.columns]])
    found: dict[str, dict[int, tuple[Found, Any]]] = {}
    types = routes.product_type_of[frame.index.to_numpy() - routes.first]
    for product_type, suite_rules_ in routes.rules.items():
        sub = frame[types == product_type]
        if sub.empty:
            continue
        rules = {
            i: r
            for i, r in enumerate(suite_rules_)
            if not r.table_level and r.expectation not in _WHOLE_CATALOG
        }
        work = _work_frame(sub, list(rules.values()))
        columns = WorkColumns(work)
        for index, rule in rules.items():
            result = decide(rule, work, columns)
            _record_failures(result.unexpected, index, rule, product_type, work, sub, findings)
            # the failing rows' labels only: a chunk's findings travel (and wait for the join) small
            labelled = replace(result, unexpected=work.index.to_numpy()[result.unexpected])
            found.setdefault(product_type, {})[index] = (labelled, None)
    return ChunkFindings(findings.records, found)


@dataclass
class _TypeSuite:
    """One product type's rules over the whole catalog: its rows, and what the whole-catalog rules
    found; the chunks' results of the other rules are added as they come."""

    mapping: ProductTypeMapping
    rules: list[Rule]
    positions: Any  # the rows of this product type (positions in the catalog, ascending)
    found: dict[int, list[tuple[Found, Any]]] = field(default_factory=dict)


@dataclass
class Validation:
    """One validation, however the rows arrive: :meth:`start` with the key columns of every row,
    :meth:`check` each chunk of rows (in order), :meth:`finish` for the records and Data Docs."""

    keys: Any
    by_type: Mapping[str, ProductTypeMapping]
    policy: ContentPolicy
    findings: _Findings
    suites_by_type: dict[str, _TypeSuite]
    product_type_of: Any  # each row's product type (None: quarantined when routed)
    columns: set[str]
    docs_index: Path | None = None
    suites: dict[str, int] = field(default_factory=dict)
    rows: int = 0  # the rows validated (``keys`` is not kept by the pickled start)

    @classmethod
    def start(
        cls,
        keys: Any,
        columns: list[str],
        mapping: ProductTypeMapping | Mapping[str, ProductTypeMapping],
        policy: ContentPolicy | None,
    ) -> Validation:
        import numpy as np

        from listings_pipeline.catalog.expectations import decide

        by_type: Mapping[str, ProductTypeMapping] = (
            {mapping.product_type: mapping} if isinstance(mapping, ProductTypeMapping) else mapping
        )
        policy = policy or ContentPolicy()
        findings = _Findings(keys)
        groups = _route_rows(keys, by_type, findings)
        _cross_type_duplicates(keys, groups, findings)
        product_type_of = np.full(len(keys), None, dtype=object)
        suites: dict[str, _TypeSuite] = {}
        for product_type, positions in groups.items():
            product_type_of[positions] = product_type
            rules = suite_rules(by_type[product_type], policy, columns=columns)
            suite = suites[product_type] = _TypeSuite(by_type[product_type], rules, np.asarray(positions))
            for column in [r.column for r in rules if r.table_level and r.column not in columns]:
                for position in positions:
                    findings.add(
                        position,
                        product_type,
                        column,
                        None,
                        "expect_column_to_exist",
                        f"required column {column!r} is not in the catalog",
                        (_MISSING_COLUMN, 0),
                    )
            whole = {i: r for i, r in enumerate(rules) if r.expectation in _WHOLE_CATALOG}
            work = _work_frame(keys.iloc[positions], list(whole.values()))
            for index, rule in whole.items():
                result = decide(rule, work)
                _record_failures(result.unexpected, index, rule, product_type, work, keys, findings)
                suite.found[index] = [(result, work.index)]
        return cls(keys, by_type, policy, findings, suites, product_type_of, set(columns), rows=len(keys))

    def __getstate__(self) -> dict[str, Any]:
        """What the join needs of a start another task made: not the rules (they hold functions;
        :meth:`__setstate__` derives them again from the mappings, policy and columns, as start did),
        nor the key columns and routes of every row (the chunks have used them; at a million rows
        they were most of the split's memory, pickled)."""
        state = dict(self.__dict__)
        state["suites_by_type"] = {
            t: _TypeSuite(s.mapping, [], s.positions, s.found) for t, s in self.suites_by_type.items()
        }
        state["keys"] = state["product_type_of"] = None
        state["findings"] = _Findings(None, list(self.findings.records))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for suite in self.suites_by_type.values():
            suite.rules = suite_rules(suite.mapping, self.policy, columns=self.columns)

    @property
    def routes(self) -> RowRoutes:
        """What a chunk needs of this start to be checked anywhere (:func:`check_rows`)."""
        import numpy as np

        failing = np.unique(np.fromiter((key[0] for key, _ in self.findings.records), dtype=np.int64))
        return RowRoutes({t: s.rules for t, s in self.suites_by_type.items()}, self.product_type_of, failing)

    def check(self, frame: Any) -> set[int]:
        """Every row-by-row rule over one chunk (indexed by position in the catalog); returns the
        positions of the chunk's rows that fail anything, here or over the whole catalog."""
        routes = self.routes
        found = check_rows(frame, routes)
        self.absorb(found)
        return found.failing(frame, routes)

    def absorb(self, found: ChunkFindings) -> None:
        """Add one chunk's findings (chunks in row order, each once)."""
        self.findings.records.extend(found.records)
        for product_type, parts in found.found.items():
            suite = self.suites_by_type[product_type]
            for index, part in parts.items():
                suite.found.setdefault(index, []).append(part)

    def outcome(self, data_docs_dir: str | Path | None, context: Any) -> ValidationOutcome:
        """:meth:`finish` as an outcome whose good and rejected rows went elsewhere (None)."""
        failing, quarantined, counts = self.finish(data_docs_dir, context)
        return ValidationOutcome(
            good=None,
            rejected=None,
            quarantined=quarantined,
            rule_counts=counts,
            total_rows=self.rows,
            failing_rows=len(failing),
            data_docs_index=self.docs_index,
            suites=self.suites,
        )

    def finish(
        self, data_docs_dir: str | Path | None, context: Any
    ) -> tuple[set[int], list[QuarantineRecord], dict[str, int]]:
        """The failing rows, the records in order and the records per rule; Data Docs written."""
        from listings_pipeline.catalog.expectations import Found

        docs_dir = Path(data_docs_dir) if data_docs_dir is not None else None
        if docs_dir is not None:
            docs_dir.mkdir(parents=True, exist_ok=True)
        ctx = (
            context if context is not None else (make_context() if docs_dir and self.suites_by_type else None)
        )
        pages: list[Any] = []
        for product_type, suite in self.suites_by_type.items():
            self.suites[product_type] = len(suite.rules)
            if docs_dir is not None:
                found = {index: Found.merged(parts) for index, parts in suite.found.items()}
                pages += _document(ctx, suite.mapping, suite.rules, self.columns, found, len(suite.positions))
            log.info(
                "validated %d %s rows against %d rules", len(suite.positions), product_type, len(suite.rules)
            )
        if docs_dir is not None and pages and ctx is not None:
            # one build for every product type: each build renders the site's index again
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ctx.build_data_docs(site_names=[_docs_site(ctx, docs_dir)], resource_identifiers=pages)
        records = self.findings.settled()
        failing = {position for position, _ in records}
        quarantined = [entry for _, entry in records]
        counts = Counter(entry["rule"] for entry in quarantined)
        if docs_dir is not None and (docs_dir / "index.html").exists():
            make_offline(docs_dir)
            self.docs_index = docs_dir / "index.html"
        log.info(
            "%d of %d catalog rows failed validation (%d quarantine records)",
            len(failing),
            self.rows,
            len(records),
        )
        return failing, quarantined, dict(counts.most_common())


def _route_rows(
    frame: Any, by_type: Mapping[str, ProductTypeMapping], findings: _Findings
) -> dict[str, list[int]]:
    """Row positions by product type: each product type has a suite of its own. A row no mapping
    serves is quarantined here; without a product_type column, one mapping takes every row."""
    groups: dict[str, list[int]] = {}
    if "product_type" in frame.columns:
        single = next(iter(by_type)) if len(by_type) == 1 else None
        texts = _texts(frame["product_type"])
        codes, distinct = texts.factorize(use_na_sentinel=True)
        names = [str(text).upper() for text in distinct]
        for position, code in enumerate(codes.tolist()):
            product_type = names[code] if code >= 0 else single
            if product_type is not None and product_type in by_type:
                groups.setdefault(product_type, []).append(position)
            else:
                text = distinct[code] if code >= 0 else None
                findings.add(
                    position,
                    text,
                    "product_type",
                    frame["product_type"].iat[position],
                    "unknown_product_type",
                    f"no catalog mapping for product type {text!r} (mapped: {', '.join(sorted(by_type))})",
                    (_ROUTED, 0),
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
    import pandas as pd

    positions = [p for ps in groups.values() for p in ps]
    rows = pd.DataFrame(
        {
            "sku": _texts(frame["sku"].iloc[positions]).to_numpy(),
            "marketplace": _texts(frame["marketplace_id"].iloc[positions]).to_numpy(),
            "type": [product_type for product_type, ps in groups.items() for _ in ps],
            "position": positions,
        }
    )
    rows = rows[rows["sku"].notna()]
    kinds = rows.groupby(["sku", "marketplace"], dropna=False)["type"].transform("nunique")
    clashing = rows[kinds.to_numpy() > 1]
    if clashing.empty:
        return
    listed = clashing.groupby(["sku", "marketplace"], dropna=False)["type"].transform(
        lambda types: ", ".join(sorted(set(types)))
    )
    for (sku, marketplace, product_type, position), types in zip(
        clashing.itertuples(index=False, name=None), listed, strict=True
    ):
        findings.add(
            int(position),
            product_type,
            "sku",
            sku,
            "expect_compound_columns_to_be_unique",
            f"SKU {sku!r} appears more than once in marketplace {marketplace} (as product types {types})",
            (_ACROSS_TYPES, 0),
        )


def _document(
    context: Any,
    mapping: ProductTypeMapping,
    rules: list[Rule],
    columns: set[str],
    found: Mapping[int, Found],
    rows: int,
) -> list[Any]:
    """GX's Data Docs for the suite and for this validation, stored in ``context`` for its site to
    build (returns their keys): the result of each expectation is the one GX would give in its
    SUMMARY form (counts over every row, and only the first failing values), so the pages stay
    readable at a million rows; GX renders them."""
    gx, gxe = _gx()
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    name = f"catalog_{mapping.product_type}"
    expectations = [_expectation(gxe, i, rule) for i, rule in enumerate(rules)]
    results = []
    for index, expectation in enumerate(expectations):
        config = expectation.configuration
        if index in found:
            summary = found[index]
            results.append(
                ExpectationValidationResult(
                    success=summary.success, expectation_config=config, result=summary.summary(None)
                )
            )
        else:  # a column that must exist: a missing one was reported for every row
            present = rules[index].column in columns
            results.append(ExpectationValidationResult(success=present, expectation_config=config, result={}))
    passed = sum(1 for result in results if result.success)
    run_id = RunIdentifier(run_name=f"{name}_{uuid.uuid4().hex[:8]}")
    batch = f"{mapping.product_type}-{rows}-rows"
    validation = ExpectationSuiteValidationResult(
        success=passed == len(results),
        results=results,
        suite_name=name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": passed / len(results) * 100 if results else None,
        },
        meta={
            "great_expectations_version": gx.__version__,
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "batch_spec": {"data_asset_name": mapping.product_type, "rows": rows},
            "active_batch_definition": {
                "datasource_name": "catalog",
                "data_connector_name": "snapshot",
                "data_asset_name": mapping.product_type,
                "batch_identifiers": {"rows": rows},
            },
        },
    )
    suite_id = ExpectationSuiteIdentifier(name=name)
    key = ValidationResultIdentifier(
        expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _quiet(context)
        with contextlib.suppress(Exception):
            context.suites.delete(name)
        context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        context.validation_results_store.set(key, validation)
    return [key, suite_id]


def _record_failures(
    unexpected: Any, index: int, rule: Rule, product_type: str, work: Any, frame: Any, findings: _Findings
) -> None:
    """A record for each failing row (``unexpected``: positions in ``work``, whose labels are the
    rows' positions in the catalog, as are ``frame``'s, which holds the value reported)."""
    context_columns = [c for c in (*rule.needs, "marketplace_id") if c in work.columns]
    reported = frame.columns.get_loc(rule.column) if rule.column in frame.columns else None
    for position in unexpected:
        label = int(work.index[position])
        value = frame.iat[frame.index.get_loc(label), reported] if reported is not None else None
        context_row = {c: work.iat[position, work.columns.get_loc(c)] for c in context_columns}
        findings.add(
            label,
            product_type,
            rule.column,
            value,
            rule.rule,
            rule.explain(_cell_text(value), context_row),
            (_RULE, index),
        )
