"""Step 2 of the bulk path: validate catalog rows with Great Expectations before they are mapped.

The suite is generated from the product type's catalog mapping (:mod:`listings_pipeline.mapping`)
and the seller's content policy (``include/content_policy.yaml``):

- from the mapping: required columns exist and are not empty; types (catalog cells are text, so a
  type is a pattern: whole number, decimal, yes/no, LxWxH); allowed codes (a column's ``enum``, or
  the codes its enum transform translates); numeric ranges; lengths; patterns; one row per SKU and
  marketplace; rows only for marketplaces the mapping serves; a row's currency agrees with its
  marketplace;
- from the content policy, on the columns that feed the policy's attributes: banned terms, HTML in
  text, title/bullet/description lengths, image URL form.

:func:`validate_frame` runs the suite (GX core API: an ephemeral context, a pandas datasource, an
``ExpectationSuite`` and a ``ValidationDefinition``, ``result_format`` COMPLETE so that
``unexpected_index_list`` names the failing rows) and splits the rows: ``good`` passed every rule;
each failure of the others is a quarantine record naming the SKU, column, value, rule and reason.
A row failing several rules gives several records and is set aside once. :func:`check_threshold`
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
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from listings_pipeline.mapping import (
    BooleanSpec,
    ColumnSpec,
    CopySpec,
    CurrencySpec,
    EnumSpec,
    ImageUrlSpec,
    ListSpec,
    ProductTypeMapping,
    TemplateSpec,
    load_yaml_model,
)
from listings_pipeline.transform import is_empty

__all__ = [
    "ContentPolicy",
    "Rule",
    "ValidationOutcome",
    "ValidationSuiteError",
    "ValidationThresholdError",
    "build_suite",
    "check_threshold",
    "load_policy",
    "make_context",
    "suite_rules",
    "validate_frame",
]

log = logging.getLogger(__name__)

VALUE_PREVIEW = 200
NUMERIC_SUFFIX = " (number)"  # the numeric twin of a text column, for range checks
QUARANTINE_FIELDS = ("sku", "marketplace_id", "product_type", "column_name", "value", "rule", "reason")

_TYPE_PATTERNS: dict[str, tuple[str, str]] = {
    "integer": (r"^[+-]?\d+$", "a whole number"),
    "decimal": (r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$", "a number (digits with an optional '.' decimal part)"),
    "dimensions": (
        r"^\s*\d+(?:\.\d+)?\s*[x\u00d7*]\s*\d+(?:\.\d+)?\s*[x\u00d7*]\s*\d+(?:\.\d+)?\s*(?:[A-Za-z]+)?\s*$",
        "in the form LxWxH (e.g. 55x40x23)",
    ),
}
_HTML = r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?\s*>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);"
_DEFAULT_IMAGE_URL = r"(?i)^https://[^\s/?#]+\.[^\s/?#]+/\S*\.(?:jpe?g|png|gif|tiff?)(?:\?\S*)?$"


# --- content policy ----------------------------------------------------------------------------------


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


# --- rules -------------------------------------------------------------------------------------------


#: ``explain(value, row) -> reason``: the value as text (None when empty) and the row's columns.
Explain = Callable[..., str]


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
    )


def _enum_codes(mapping: ProductTypeMapping) -> dict[str, tuple[set[str], bool, str | None]]:
    """column -> (codes, ignore_case, separator) of the enum transforms without a default."""
    out: dict[str, tuple[set[str], bool, str | None]] = {}
    open_columns: set[str] = set()
    for _, leaf in mapping.leaves():
        if isinstance(leaf, EnumSpec):
            if leaf.default is not None:
                open_columns.add(leaf.column)
                continue
            codes, ignore_case, separator = out.get(leaf.column, (set(), False, None))
            out[leaf.column] = (
                codes | set(leaf.values),
                ignore_case or leaf.ignore_case,
                separator or leaf.separator,
            )
    return {k: v for k, v in out.items() if k not in open_columns}


def _boolean_tokens(mapping: ProductTypeMapping, column: str) -> tuple[str, ...]:
    for _, leaf in mapping.leaves():
        if isinstance(leaf, BooleanSpec) and leaf.column == column:
            return (*leaf.true_values, *leaf.false_values)
    default = BooleanSpec(transform="boolean", column=column)
    return (*default.true_values, *default.false_values)


def _column_rules(mapping: ProductTypeMapping, name: str, spec: ColumnSpec) -> list[Rule]:
    rules: list[Rule] = []
    if spec.type in _TYPE_PATTERNS:
        pattern, what = _TYPE_PATTERNS[spec.type]
        rules.append(
            _rule(
                "ExpectColumnValuesToMatchRegex",
                name,
                f"{name} is {what}",
                lambda v, r, what=what: f"{_q(v)} is not {what}",
                column=name,
                regex=pattern,
            )
        )
    elif spec.type == "boolean":
        tokens = _boolean_tokens(mapping, name)
        alternatives = "|".join(re.escape(t) for t in tokens)
        rules.append(
            _rule(
                "ExpectColumnValuesToMatchRegex",
                name,
                f"{name} is a yes/no value",
                lambda v, r, tokens=tokens: f"{_q(v)} is not a yes/no value ({_listed(tokens)})",
                column=name,
                regex=rf"(?i)^(?:{alternatives})$",
            )
        )
    codes_info = _enum_codes(mapping).get(name)
    if spec.enum:
        allowed = list(spec.enum)
        rules.append(
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
        )
    elif codes_info is not None:
        codes, ignore_case, separator = codes_info
        ordered = sorted(codes)
        if separator is None and not ignore_case:
            rules.append(
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
            )
        else:
            one = "(?:" + "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True)) + ")"
            regex = (
                rf"^\s*{one}\s*$"
                if separator is None
                else rf"^\s*{one}\s*(?:{re.escape(separator)}\s*{one}\s*)*$"
            )
            rules.append(
                _rule(
                    "ExpectColumnValuesToMatchRegex",
                    name,
                    f"{name} holds codes the mapping translates ({_listed(ordered)})",
                    lambda v, r, ordered=ordered: (
                        f"{_q(v)} holds a code the {mapping.product_type} mapping does not translate "
                        f"for {name!r} (known: {_listed(ordered)})"
                    ),
                    column=name,
                    regex=("(?i)" if ignore_case else "") + regex,
                )
            )
    if spec.min is not None or spec.max is not None:
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

        rules.append(
            _rule(
                "ExpectColumnValuesToBeBetween",
                name,
                f"{name} is between {low} and {high}",
                explain_range,
                column=name + NUMERIC_SUFFIX,
                min_value=low,
                max_value=high,
            )
        )
    if spec.min_length is not None or spec.max_length is not None:
        low_len, high_len = spec.min_length, spec.max_length
        rules.append(
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
        )
    if spec.pattern:
        pattern = spec.pattern
        rules.append(
            _rule(
                "ExpectColumnValuesToMatchRegex",
                name,
                f"{name} matches {pattern}",
                lambda v, r, pattern=pattern: f"{_q(v)} does not match the pattern {pattern} of {name!r}",
                column=name,
                regex=pattern,
            )
        )
    return rules


def _text_columns(mapping: ProductTypeMapping, attribute: str) -> list[tuple[str, str | None]]:
    """(column, separator) of the free-text transforms feeding ``attribute``."""
    out: dict[tuple[str, str | None], None] = {}
    for _, leaf in mapping.leaves(attribute):
        if isinstance(leaf, CopySpec):
            out[(leaf.column, None)] = None
        elif isinstance(leaf, TemplateSpec):
            for column in leaf.columns():
                out[(column, None)] = None
        elif isinstance(leaf, ListSpec):
            if leaf.columns_:
                for column in leaf.columns_:
                    out[(column, None)] = None
            elif leaf.column:
                out[(leaf.column, leaf.separator)] = None
    return list(out)


def _policy_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    rules: list[Rule] = []
    text_columns: dict[str, None] = {}
    for attribute in policy.text_attributes:
        for column, _ in _text_columns(mapping, attribute):
            text_columns.setdefault(column, None)
    banned = policy.banned_regex()
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

            def explain_html(v: Any, r: Mapping[str, Any]) -> str:
                match = re.search(_HTML, str(v))
                return f"contains HTML markup {match.group(0)!r}" if match else "contains HTML markup"

            rules.append(
                _rule(
                    "ExpectColumnValuesToNotMatchRegex",
                    column,
                    f"{column} has no HTML tags or entities",
                    explain_html,
                    rule="content_policy.html",
                    column=column,
                    regex=_HTML,
                )
            )
    for attribute, limit in policy.max_lengths.items():
        for column, separator in _text_columns(mapping, attribute):
            if separator is None:
                rules.append(
                    _rule(
                        "ExpectColumnValueLengthsToBeBetween",
                        column,
                        f"{column} ({attribute}) is at most {limit} characters",
                        lambda v, r, attribute=attribute, limit=limit: (
                            f"is {len(str(v))} characters long; the content policy allows at most {limit} "
                            f"for {attribute}"
                        ),
                        rule="content_policy.max_length",
                        column=column,
                        max_value=limit,
                    )
                )
            else:
                sep = re.escape(separator)

                def explain_entry(
                    v: Any,
                    r: Mapping[str, Any],
                    attribute: str = attribute,
                    limit: int = limit,
                    sep: str = separator,
                ) -> str:
                    longest = max((len(p.strip()) for p in str(v).split(sep)), default=0)
                    return (
                        f"a {attribute} entry is {longest} characters long; the content policy allows at most "
                        f"{limit} per entry"
                    )

                rules.append(
                    _rule(
                        "ExpectColumnValuesToNotMatchRegex",
                        column,
                        f"each {separator!r}-separated entry of {column} ({attribute}) is at most {limit} characters",
                        explain_entry,
                        rule="content_policy.max_length",
                        column=column,
                        regex=rf"[^{sep}]{{{limit + 1},}}",
                    )
                )
    for attribute in policy.image_attributes:
        for _, leaf in mapping.leaves(attribute):
            if not isinstance(leaf, ImageUrlSpec):
                continue
            pattern = policy.image_url_pattern
            if leaf.base_url:
                pattern = rf"(?:{pattern})|^(?![A-Za-z][A-Za-z0-9+.-]*:)\S+$"
            column = leaf.column
            rules.append(
                _rule(
                    "ExpectColumnValuesToMatchRegex",
                    column,
                    f"{column} ({attribute}) is an https:// image URL",
                    lambda v, r: f"{_q(v)} is not an https:// URL of an image file (.jpg, .png, .gif, .tif)",
                    rule="content_policy.image_url",
                    column=column,
                    regex=pattern,
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
    specs = dict(mapping.columns)
    specs.setdefault("sku", mapping.column_spec("sku"))
    for name, spec in specs.items():
        rules.extend(_column_rules(mapping, name, spec))
    if has_marketplace:
        rules.append(
            _rule(
                "ExpectCompoundColumnsToBeUnique",
                "sku",
                "one row per SKU and marketplace",
                lambda v, r: f"SKU {_q(v)} appears more than once in marketplace {r.get('marketplace_id')}",
                needs=("sku", "marketplace_id"),
                column_list=["sku", "marketplace_id"],
            )
        )
        served = list(mapping.marketplaces)
        rules.append(
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
            )
        )
        currency_columns = {
            leaf.column for _, leaf in mapping.leaves() if isinstance(leaf, CurrencySpec) and leaf.column
        }
        pairs = [(mid, s.currency) for mid, s in mapping.marketplaces.items() if s.currency]
        expected = dict(pairs)
        for column in sorted(currency_columns):
            rules.append(
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
            )
    else:
        rules.append(
            _rule(
                "ExpectColumnValuesToBeUnique",
                "sku",
                "one row per SKU",
                lambda v, r: f"SKU {_q(v)} appears more than once",
                column="sku",
            )
        )
    rules.extend(_policy_rules(mapping, policy))
    if present is not None:
        rules = [r for r in rules if r.table_level or all(c in present for c in r.needs)]
    return rules


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


def check_threshold(outcome: ValidationOutcome, max_failing_share: float) -> None:
    """Raise :class:`ValidationThresholdError` when more than ``max_failing_share`` of rows failed."""
    if not 0 <= max_failing_share <= 1:
        raise ValueError(f"max_failing_share must be between 0 and 1, not {max_failing_share}")
    if outcome.failing_share > max_failing_share:
        top = ", ".join(f"{rule} ({count})" for rule, count in Counter(outcome.rule_counts).most_common(5))
        raise ValidationThresholdError(
            f"{outcome.failing_share:.1%} of catalog rows ({outcome.failing_rows} of {outcome.total_rows}) "
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


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= VALUE_PREVIEW else text[: VALUE_PREVIEW - 3] + "..."


def _work_frame(frame: Any, rules: list[Rule]) -> Any:
    """The columns the rules read, as text (None for empty), plus numeric twins for ranges."""
    import pandas as pd  # type: ignore[import-untyped]

    needed: dict[str, None] = {}
    for rule in rules:
        for column in rule.needs:
            if column in frame.columns:
                needed.setdefault(column, None)
    work = pd.DataFrame(index=frame.index)
    for column in needed:
        work[column] = pd.Series([_cell_text(v) for v in frame[column]], index=frame.index, dtype=object)
    for rule in rules:
        target = rule.kwargs.get("column")
        if isinstance(target, str) and target.endswith(NUMERIC_SUFFIX) and target not in work.columns:
            source = target[: -len(NUMERIC_SUFFIX)]
            if source in work.columns:
                work[target] = pd.to_numeric(work[source], errors="coerce").astype(float)
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
    total = len(frame)
    records: list[tuple[int, dict[str, Any]]] = []

    def record(
        position: int, product_type: str | None, column: str | None, value: Any, rule: str, reason: str
    ) -> None:
        row = frame.iloc[position]
        sku = _cell_text(row["sku"]) if "sku" in frame.columns else None
        marketplace = _cell_text(row["marketplace_id"]) if "marketplace_id" in frame.columns else None
        records.append(
            (
                position,
                {
                    "sku": sku,
                    "marketplace_id": marketplace,
                    "product_type": product_type,
                    "column_name": column,
                    "value": _preview(_cell_text(value)),
                    "rule": rule,
                    "reason": (f"SKU {sku!r}" if sku else "row without SKU")
                    + f", column {column!r}: {reason}",
                },
            )
        )

    groups: dict[str, list[int]] = {}
    if "product_type" in frame.columns:
        single = next(iter(by_type)) if len(by_type) == 1 else None
        for position, raw in enumerate(frame["product_type"]):
            text = _cell_text(raw)
            product_type = text.upper() if text else single
            if product_type is not None and product_type in by_type:
                groups.setdefault(product_type, []).append(position)
            else:
                record(
                    position,
                    text,
                    "product_type",
                    raw,
                    "unknown_product_type",
                    f"no catalog mapping for product type {text!r} (mapped: {', '.join(sorted(by_type))})",
                )
    elif len(by_type) == 1:
        groups[next(iter(by_type))] = list(range(total))
    else:
        raise ValueError("the catalog has no product_type column, and more than one mapping was given")

    # one row per SKU and marketplace across product types too (within one, the suite checks it)
    if len(groups) > 1 and "sku" in frame.columns and "marketplace_id" in frame.columns:
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
                    record(
                        position,
                        group_of[position],
                        "sku",
                        sku,
                        "expect_compound_columns_to_be_unique",
                        f"SKU {sku!r} appears more than once in marketplace {marketplace} "
                        f"(as product types {', '.join(types)})",
                    )

    ctx = context if context is not None else (make_context() if groups else None)
    suites: dict[str, int] = {}
    for product_type, positions in groups.items():
        current = by_type[product_type]
        sub = frame.iloc[positions]
        rules = suite_rules(current, policy, columns=sub.columns)
        suites[product_type] = len(rules)
        missing = [r.column for r in rules if r.table_level and r.column not in sub.columns]
        for column in missing:
            for position in positions:
                record(
                    position,
                    product_type,
                    column,
                    None,
                    "expect_column_to_exist",
                    f"required column {column!r} is not in the catalog",
                )
        work = _work_frame(sub, rules)
        results = _run_suite(ctx, current, rules, work, docs_dir)
        for result in results:
            config = result.expectation_config
            index = (config.meta or {}).get("rule_index")
            if index is None or result.success:
                continue
            rule = rules[int(index)]
            if rule.table_level:
                continue  # reported per row above
            exception = result.exception_info or {}
            if exception.get("raised_exception"):
                # a broken rule must not let rows through unchecked
                raise ValidationSuiteError(
                    f"{product_type}: the rule {rule.rule} on column {rule.column!r} could not be evaluated: "
                    f"{exception.get('exception_message')}"
                )
            failing = (result.result or {}).get("unexpected_index_list") or []
            for label in failing:
                position = int(label)
                value = frame.iloc[position][rule.column] if rule.column in frame.columns else None
                context_row = {
                    c: work.at[label, c] for c in (*rule.needs, "marketplace_id") if c in work.columns
                }
                record(
                    position,
                    product_type,
                    rule.column,
                    value,
                    rule.rule,
                    rule.explain(_cell_text(value), context_row),
                )

        log.info("validated %d %s rows against %d rules", len(positions), product_type, len(rules))

    records.sort(key=lambda item: item[0])
    seen: set[tuple[int, str, str | None]] = set()
    unique_records = []
    for position, entry in records:
        key = (position, entry["rule"], entry["column_name"])
        if key not in seen:
            seen.add(key)
            unique_records.append((position, entry))
    records = unique_records
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
