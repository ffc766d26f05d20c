"""The fast decision of the suite (``catalog.expectations``) against Great Expectations itself.

A corpus of rows, the sample catalog plus every column of it set to each of a list of awkward
values (blank, padded, placeholders, formulas, control and invisible characters, numbers written
oddly, duplicates, ...), runs through both, for every rule of the three shipped product types. The
failing rows must be the same, and so must the SUMMARY figures Data Docs show; any difference fails.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from demo.sample_catalog import read_catalog_csv
from listings_pipeline.catalog.content_policy import ContentPolicy
from listings_pipeline.catalog.expectations import PARTIAL_UNEXPECTED, UnsupportedExpectation, decide
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.suite import Rule, make_rule, suite_rules
from listings_pipeline.catalog.validation import _expectation, _gx, _quiet, _texts, _work_frame

from .catalog_paths import SAMPLE_CSV

#: Cell values every column is tried with: each is right for some rule and wrong for another.
AWKWARD = (
    "",
    " ",
    "\xa0",
    "  padded  ",
    "N/A",
    "null",
    "TBD",
    "-",
    "=SUM(A1)",
    "+1",
    "@cmd",
    "0",
    "-0",
    "007",
    "1e3",
    "1,000",
    "12.5",
    "-1.00",
    "0.001",
    "10000.01",
    "inf",
    "NaN",
    "true",
    "Yes",
    "BLK",
    "blk",
    "USD",
    "EUR",
    "ATVPDKIKX0DER",
    "A1PA6795UKMFR9",
    "2026-02-30",
    "2026-12-01",
    "012345678905",
    "012345678901",
    "4006381333931",
    "<b>bold</b>",
    "a\x00b",
    "a\x1b[31mred",
    "a\u200bb",
    "a\u202eb",
    "line\nbreak",
    "tab\there",
    "🙂 smile",
    "FREE SHIPPING today",
    "https://user:secret@images.example.com/a.jpg",
    "http://images.example.com/a.jpg",
    "https://images.example.com/a.jpg",
    "x" * 2100,
    "ümlaut",
)


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    sample = read_catalog_csv(SAMPLE_CSV)
    variants = [sample]
    for _, base in sample.groupby("product_type"):  # every product type meets every awkward value
        for n, column in enumerate(sample.columns):
            if column != "product_type":
                rows = base.iloc[[(n * 7 + i) % len(base) for i in range(len(AWKWARD))]].copy()
                rows[column] = list(AWKWARD)
                variants.append(rows)
    frame = pd.concat(variants, ignore_index=True)
    frame.loc[len(frame)] = frame.iloc[5]  # an exact duplicate row
    frame.loc[len(frame)] = {**frame.iloc[6].to_dict(), "sku": None, "marketplace_id": None}
    return frame


def _gx_results(
    context: Any, mapping: ProductTypeMapping, rules: list[Rule], work: pd.DataFrame
) -> dict[int, Any]:
    """GX's own verdict on every rule (its pandas engine, result_format COMPLETE), by rule index."""
    gx, gxe = _gx()
    key = uuid.uuid4().hex[:8]
    _quiet(context)
    batch = (
        context.data_sources.add_pandas(f"corpus_{key}")
        .add_dataframe_asset(mapping.product_type)
        .add_batch_definition_whole_dataframe("rows")
    )
    expectations = [_expectation(gxe, i, r) for i, r in enumerate(rules)]
    suite = context.suites.add(gx.ExpectationSuite(name=f"corpus_{key}", expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"corpus_{key}", data=batch, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": work}, result_format={"result_format": "COMPLETE"})
    return {int(r.expectation_config.meta["rule_index"]): r for r in result.results}


def _counts(rule: Rule, work: pd.DataFrame, labels: list[int]) -> list[dict[str, Any]]:
    """GX's ``partial_unexpected_counts`` over every failing row, worked out from its row labels."""
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        values: list[Any] = [None] * len(labels)
    elif "column_list" in rule.kwargs:
        values = [tuple(work.at[i, c] for c in rule.kwargs["column_list"]) for i in labels]
    elif "column_A" in rule.kwargs:
        values = [(work.at[i, rule.kwargs["column_A"]], work.at[i, rule.kwargs["column_B"]]) for i in labels]
    else:
        values = [work.at[i, rule.kwargs["column"]] for i in labels]
    common = Counter(values).most_common(PARTIAL_UNEXPECTED)
    return [{"value": v, "count": n} for v, n in sorted(common, key=lambda kv: (-kv[1], kv[0]))]


@pytest.mark.parametrize("product_type", ["SHIRT", "LUGGAGE", "HEADPHONES"])
def test_every_rule_fails_the_rows_great_expectations_fails(
    product_type: str,
    corpus: pd.DataFrame,
    mappings: dict[str, ProductTypeMapping],
    policy: ContentPolicy,
    gx_context: Any,
) -> None:
    rows = corpus[_texts(corpus["product_type"]).str.upper().eq(product_type).to_numpy()]
    rules = suite_rules(mappings[product_type], policy, columns=rows.columns)
    work = _work_frame(rows, rules)
    by_gx = _gx_results(gx_context, mappings[product_type], rules, work)
    checked = failing = 0
    for index, rule in enumerate(rules):
        if rule.table_level:
            continue
        gx = by_gx[index]
        assert not (gx.exception_info or {}).get("raised_exception"), (rule.rule, gx.exception_info)
        expected = sorted(int(label) for label in gx.result["unexpected_index_list"])
        ours = decide(rule, work)
        assert [int(work.index[p]) for p in ours.unexpected] == expected, (rule.rule, rule.column)
        assert ours.success == gx.success, rule.rule
        summary = ours.summary(work.index)
        # GX counts failing values from a list it cuts at 200 records; count them from its failing rows
        gx_figures = {**gx.result, "partial_unexpected_counts": _counts(rule, work, expected)}
        for key, value in summary.items():
            assert key in gx_figures, (rule.rule, key)
            same = gx_figures[key] == (pytest.approx(value) if isinstance(value, float) else value)
            assert same, (rule.rule, key, value, gx_figures[key])
        left_out = (
            set(gx.result)
            - set(summary)
            - {"unexpected_list", "unexpected_index_list", "unexpected_index_query"}
        )
        assert not left_out, (rule.rule, left_out)
        checked += 1
        failing += bool(expected)
    # the corpus reaches every rule, and makes most of them fail somewhere
    assert checked == sum(1 for r in rules if not r.table_level)
    assert failing >= checked * 0.6, f"only {failing} of {checked} rules fail anywhere in the corpus"


def test_failing_values_are_bounded_and_in_row_order() -> None:
    work = pd.DataFrame({"c": [f"v{i % 50}" for i in range(1000)]}, dtype=object)
    rule = make_rule(
        "ExpectColumnValuesToBeInSet", "c", "c is v0", lambda v, r: "", column="c", value_set=["v0"]
    )
    found = decide(rule, work)
    assert len(found.unexpected) == 980
    assert found.partial_values == [f"v{i}" for i in range(1, PARTIAL_UNEXPECTED + 1)]
    assert len(found.summary(work.index)["partial_unexpected_index_list"]) == PARTIAL_UNEXPECTED


def test_an_expectation_without_a_decider_is_refused_not_skipped() -> None:
    rule = make_rule("ExpectColumnMeanToBeBetween", "c", "", lambda v, r: "", column="c", min_value=1)
    with pytest.raises(UnsupportedExpectation, match="ExpectColumnMeanToBeBetween"):
        decide(rule, pd.DataFrame({"c": ["1"]}))
