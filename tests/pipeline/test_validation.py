"""The Great Expectations gate: a suite generated from the mapping and the content policy; every
deliberately bad sample row quarantined with its column, value and rule; threshold; Data Docs;
no progress bars."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from demo.sample_catalog import (
    BAD_ROWS,
    CSV_NAME,
    generate_rows,
    read_catalog_csv,
    to_csv,
    write_sample_catalog,
)
from listings_pipeline.catalog.mapping import MappingError, ProductTypeMapping, load_mappings, parse_mapping
from listings_pipeline.catalog.validation import (
    KEY_COLUMNS,
    ContentPolicy,
    ValidationOutcome,
    ValidationThresholdError,
    build_suite,
    check_threshold,
    load_policy,
    validate_chunks,
    validate_frame,
)

from .catalog_paths import DE, POLICY, PRODUCT_MAPPING, PRODUCT_ROW, SAMPLE_CSV, US, line_of

VALIDATE_STAGE = [b for b in BAD_ROWS if b.stage == "validate"]


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return read_catalog_csv(SAMPLE_CSV)


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data_docs")


@pytest.fixture(scope="module")
def outcome(
    catalog: pd.DataFrame,
    mappings: dict[str, ProductTypeMapping],
    policy: ContentPolicy,
    gx_context: Any,
    docs_dir: Path,
) -> ValidationOutcome:
    return validate_frame(catalog, mappings, policy, data_docs_dir=docs_dir, context=gx_context)


def small_frame(catalog: pd.DataFrame, product_type: str = "SHIRT", n: int = 4) -> pd.DataFrame:
    bad = {(b.sku, b.marketplace_id) for b in BAD_ROWS}
    rows = catalog[
        [(s, m) not in bad for s, m in zip(catalog["sku"], catalog["marketplace_id"], strict=True)]
    ]
    return rows[rows["product_type"] == product_type].head(n).copy()


# --- the sample catalog ------------------------------------------------------------------------------


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    assert SAMPLE_CSV.read_text(encoding="utf-8") == to_csv(generate_rows())
    written = write_sample_catalog(tmp_path, parquet=True)
    assert written["csv"].read_bytes() == (tmp_path / CSV_NAME).read_bytes() == SAMPLE_CSV.read_bytes()
    parquet = pd.read_parquet(written["parquet"])
    assert len(parquet) == len(read_catalog_csv(SAMPLE_CSV))


def test_sample_covers_three_product_types_and_marketplaces(catalog: pd.DataFrame) -> None:
    assert set(catalog["product_type"]) == {"SHIRT", "LUGGAGE", "HEADPHONES"}
    assert set(catalog["marketplace_id"]) == {US, "A2EUQ1WTGCTBG2", DE}
    assert catalog["sku"].nunique() >= 200
    # seller's codes, not Amazon's values
    assert {"BLK", "WHT"} <= set(catalog["color"]) and "Black" not in set(catalog["color"])


# --- each deliberately bad row ----------------------------------------------------------------------


@pytest.mark.parametrize("bad", VALIDATE_STAGE, ids=[b.kind for b in VALIDATE_STAGE])
def test_bad_row_is_quarantined_with_column_value_and_rule(outcome: ValidationOutcome, bad: Any) -> None:
    entries = [
        q for q in outcome.quarantined if (q["sku"], q["marketplace_id"]) == (bad.sku, bad.marketplace_id)
    ]
    assert entries, f"{bad.kind}: {bad.sku} was not quarantined"
    assert {(q["column_name"], q["value"], q["rule"]) for q in entries} == {(bad.column, bad.value, bad.rule)}
    for entry in entries:
        assert (entry["source_file"], entry["source_line"]) == (None, None)  # the frame does not say
        assert entry["product_type"] == bad.sku.split("-")[0].replace("NW", "SHIRT").replace(
            "TT", "LUGGAGE"
        ).replace("SA", "HEADPHONES")
        assert entry["reason"].startswith(f"SKU '{bad.sku}', column '{bad.column}': ")
    assert set(outcome.rejected["sku"]) >= {bad.sku}


def test_good_rows_pass(outcome: ValidationOutcome, catalog: pd.DataFrame) -> None:
    failing = {(q["sku"], q["marketplace_id"]) for q in outcome.quarantined}
    assert failing == {(b.sku, b.marketplace_id) for b in VALIDATE_STAGE}
    duplicates = 1  # the duplicated SKU is two rows
    assert outcome.failing_rows == len(VALIDATE_STAGE) + duplicates
    assert (
        len(outcome.good) == len(catalog) - outcome.failing_rows == outcome.total_rows - outcome.failing_rows
    )
    assert list(outcome.good.columns) == list(catalog.columns)
    # a problem only the product type schema can see (a conditional requirement) passes this gate
    [schema_stage] = [b for b in BAD_ROWS if b.stage == "schema"]
    assert schema_stage.sku in set(outcome.good["sku"])


def test_reasons_are_sentences(outcome: ValidationOutcome) -> None:
    reasons = {q["rule"]: q["reason"] for q in outcome.quarantined}
    assert reasons["expect_column_values_to_not_be_null"].endswith("required column 'title' is empty")
    assert (
        "'BLCK' is not a code the LUGGAGE mapping translates for 'color'"
        in reasons["expect_column_values_to_be_in_set"]
    )
    assert "is below the minimum 0.01 for 'price'" in reasons["expect_column_values_to_be_between"]
    assert reasons["content_policy.banned_terms"].endswith("contains the banned term 'bestseller'")
    assert reasons["content_policy.html"].endswith("contains HTML markup '<b>'")
    assert "the content policy allows at most 150 for item_name" in reasons["content_policy.max_length"]
    assert (
        "appears more than once in marketplace ATVPDKIKX0DER"
        in reasons["expect_compound_columns_to_be_unique"]
    )
    assert (
        "currency USD is not the currency of marketplace A2EUQ1WTGCTBG2 (CAD)"
        in reasons["expect_column_pair_values_to_be_in_set"]
    )


def test_summary(outcome: ValidationOutcome) -> None:
    summary = outcome.summary()
    assert summary["total_rows"] == outcome.total_rows
    assert summary["failing_rows"] == outcome.failing_rows
    assert summary["quarantine_records"] == len(outcome.quarantined)
    assert summary["rule_counts"]["expect_compound_columns_to_be_unique"] == 2
    assert 0 < summary["failing_share"] < 0.05
    assert set(outcome.suites) == {"SHIRT", "LUGGAGE", "HEADPHONES"}


# --- threshold ---------------------------------------------------------------------------------------


def test_threshold(outcome: ValidationOutcome) -> None:
    check_threshold(outcome, 0.2)
    check_threshold(outcome, outcome.failing_share)  # at the threshold is not past it
    with pytest.raises(ValidationThresholdError) as info:
        check_threshold(outcome, 0.01)
    message = str(info.value)
    assert (
        f"{outcome.failing_share:.1%} of catalog rows ({outcome.failing_rows} of {outcome.total_rows}) could not"
        in message
    )
    assert "threshold of 1.0%" in message and "expect_compound_columns_to_be_unique (2)" in message
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_threshold(outcome, 20)


def test_rows_the_extract_could_not_read_count_against_the_threshold(outcome: ValidationOutcome) -> None:
    """One unreadable record must not block a catalog; a catalog of them must not go through."""
    share = outcome.failing_share
    check_threshold(outcome, share, unreadable={"extract.encoding": 0})
    unreadable = outcome.total_rows  # as many unreadable records as readable rows: about half failed
    with pytest.raises(ValidationThresholdError) as info:
        check_threshold(outcome, 0.4, unreadable={"extract.malformed_record": unreadable})
    failing, total = outcome.failing_rows + unreadable, outcome.total_rows + unreadable
    assert f"({failing} of {total}) could not be read or failed validation" in str(info.value)
    assert f"extract.malformed_record ({unreadable})" in str(info.value)


# --- Data Docs and progress bars ---------------------------------------------------------------------


def test_data_docs_written(outcome: ValidationOutcome, docs_dir: Path) -> None:
    assert outcome.data_docs_index == docs_dir / "index.html"
    index = (docs_dir / "index.html").read_text(encoding="utf-8")
    for product_type in ("SHIRT", "LUGGAGE", "HEADPHONES"):
        assert f"catalog_{product_type}" in index
        pages = list((docs_dir / "validations" / f"catalog_{product_type}").rglob("*.html"))
        assert pages, product_type
    page = next((docs_dir / "validations" / "catalog_SHIRT").rglob("*.html")).read_text(encoding="utf-8")
    # the failures, with their values and row indexes, for people to read
    assert "NW-02M-GRY-S" in page and "bestseller" in page


def test_no_progress_bars(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], capfd: pytest.CaptureFixture[str]
) -> None:
    from listings_pipeline.catalog.validation import _gx

    gx, _ = _gx()
    frame = small_frame(catalog)
    # a context as GX makes it shows bars; it is made quiet as soon as it is used here
    noisy = gx.get_context(mode="ephemeral")
    capfd.readouterr()
    outcome = validate_frame(frame, mappings["SHIRT"], context=noisy)
    err = capfd.readouterr().err
    assert outcome.failing_rows == 0
    assert "Calculating Metrics" not in err and "it/s" not in err and "%|" not in err, err[:500]


# --- smaller cases -----------------------------------------------------------------------------------


def test_row_failing_several_rules_is_set_aside_once(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], policy: ContentPolicy, gx_context: Any
) -> None:
    frame = small_frame(catalog)
    target = frame.index[1]
    frame.loc[target, "title"] = "<i>Genuine replica</i> tee"
    frame.loc[target, "price"] = "-1"
    frame.loc[target, "color"] = "PNK"
    result = validate_frame(frame, mappings, policy, context=gx_context)
    rules = sorted(q["rule"] for q in result.quarantined)
    assert rules == [
        "content_policy.banned_terms",
        "content_policy.html",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    ]
    assert result.failing_rows == 1 and len(result.good) == len(frame) - 1
    assert list(result.rejected.index) == [target]  # the input's index is kept
    assert target not in result.good.index


def test_records_carry_the_source_line(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], gx_context: Any
) -> None:
    # the extract step's columns: where each row came from
    frame = small_frame(catalog, n=3)
    frame["_source_file"] = "s3://bucket/catalog.csv"
    frame["_source_row"] = [14, 15, 17]
    frame.loc[frame.index[2], "title"] = None
    frame.loc[frame.index[0], "_source_row"] = None  # a source that cannot say
    frame.loc[frame.index[0], "color"] = "PNK"
    result = validate_frame(frame, mappings, context=gx_context)
    by_column = {q["column_name"]: q for q in result.quarantined}
    sku = frame["sku"].iloc[2]
    assert set(by_column) == {"title", "color"}
    assert (by_column["title"]["source_file"], by_column["title"]["source_line"]) == (
        "s3://bucket/catalog.csv",
        17,
    )
    assert (
        by_column["title"]["reason"]
        == f"line 17, SKU '{sku}', column 'title': required column 'title' is empty"
    )
    assert by_column["color"]["source_line"] is None
    assert by_column["color"]["reason"].startswith(f"SKU '{frame['sku'].iloc[0]}', column 'color': ")
    assert list(result.good.columns) == list(frame.columns)  # the source columns stay with the rows


def test_missing_columns(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], gx_context: Any
) -> None:
    frame = small_frame(catalog).drop(columns=["brand", "cuff", "model"])  # one required, two optional
    result = validate_frame(frame, mappings, context=gx_context)
    assert result.failing_rows == len(frame)
    assert {(q["rule"], q["column_name"]) for q in result.quarantined} == {
        ("expect_column_to_exist", "brand")
    }
    assert result.quarantined[0]["reason"].endswith("required column 'brand' is not in the catalog")


def test_unknown_product_type_and_unserved_marketplace(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], gx_context: Any
) -> None:
    frame = small_frame(catalog)
    frame.loc[frame.index[0], "product_type"] = "SOCKS"
    frame.loc[frame.index[1], "marketplace_id"] = "A1F83G8C2ARO7P"  # amazon.co.uk: not in the SHIRT mapping
    frame.loc[frame.index[1], "currency"] = None
    result = validate_frame(frame, mappings, context=gx_context)
    by_rule = {q["rule"]: q for q in result.quarantined}
    assert set(by_rule) == {"unknown_product_type", "expect_column_values_to_be_in_set"}
    assert "no catalog mapping for product type 'SOCKS'" in by_rule["unknown_product_type"]["reason"]
    assert by_rule["expect_column_values_to_be_in_set"]["column_name"] == "marketplace_id"
    assert "not served by the SHIRT mapping" in by_rule["expect_column_values_to_be_in_set"]["reason"]


def test_frame_without_marketplace_column(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], gx_context: Any
) -> None:
    frame = small_frame(catalog).drop(columns=["marketplace_id", "product_type"])
    frame.loc[frame.index[2], "sku"] = frame.loc[frame.index[0], "sku"]
    result = validate_frame(frame, mappings["SHIRT"], context=gx_context)
    assert {q["rule"] for q in result.quarantined} == {"expect_column_values_to_be_unique"}
    assert result.failing_rows == 2
    assert all(q["marketplace_id"] is None for q in result.quarantined)


def test_typed_values(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], gx_context: Any
) -> None:
    frame = small_frame(catalog).astype(object)
    frame["price"] = [19.99, 25.0, 30.5, 7.0]
    frame["quantity"] = [1, 2.0, 0, 250]
    result = validate_frame(frame, mappings, context=gx_context)
    assert result.failing_rows == 0, result.quarantined


def test_a_new_product_type_is_validated_too(
    tmp_path: Path, mappings: dict[str, ProductTypeMapping], gx_context: Any
) -> None:
    (tmp_path / "PRODUCT.yaml").write_text(PRODUCT_MAPPING)
    product = load_mappings(tmp_path)["PRODUCT"]
    frame = pd.DataFrame([PRODUCT_ROW, dict(PRODUCT_ROW, sku="WIDGET-2", color="G", price="0")])
    result = validate_frame(frame, {**mappings, "PRODUCT": product}, context=gx_context)
    assert {(q["sku"], q["column_name"], q["rule"]) for q in result.quarantined} == {
        ("WIDGET-2", "color", "expect_column_values_to_be_in_set"),
        ("WIDGET-2", "price", "expect_column_values_to_be_between"),
    }


# --- the suite itself --------------------------------------------------------------------------------


def test_suite_generated_from_the_mapping(
    mappings: dict[str, ProductTypeMapping], policy: ContentPolicy
) -> None:
    suite = build_suite(mappings["SHIRT"], policy)
    assert suite.name == "catalog_SHIRT"
    found = {(e.expectation_type, e.meta["rule"], e.meta["column"]) for e in suite.expectations}
    expected = {
        ("expect_column_to_exist", "expect_column_to_exist", "title"),
        ("expect_column_values_to_not_be_null", "expect_column_values_to_not_be_null", "title"),
        ("expect_column_values_to_be_in_set", "expect_column_values_to_be_in_set", "color"),
        ("expect_column_values_to_be_in_set", "expect_column_values_to_be_in_set", "country_of_origin"),
        ("expect_column_values_to_match_regex", "expect_column_values_to_match_regex", "quantity"),
        ("expect_column_values_to_be_between", "expect_column_values_to_be_between", "price"),
        ("expect_column_values_to_match_regex", "expect_column_values_to_match_regex", "upc"),
        ("expect_compound_columns_to_be_unique", "expect_compound_columns_to_be_unique", "sku"),
        ("expect_column_pair_values_to_be_in_set", "expect_column_pair_values_to_be_in_set", "currency"),
        ("expect_column_values_to_not_match_regex", "content_policy.banned_terms", "bullets"),
        ("expect_column_values_to_not_match_regex", "content_policy.html", "description"),
        ("expect_column_value_lengths_to_be_between", "content_policy.max_length", "title"),
        ("expect_column_values_to_not_match_regex", "content_policy.max_length", "bullets"),
        ("expect_column_values_to_match_regex", "content_policy.image_url", "image_url"),
    }
    assert expected <= found
    color = next(
        e
        for e in suite.expectations
        if e.expectation_type == "expect_column_values_to_be_in_set" and e.meta["column"] == "color"
    )
    assert sorted(color.value_set) == ["BLK", "BLU", "GRN", "GRY", "NVY", "RED", "WHT"]
    connectivity = [
        e
        for e in build_suite(mappings["HEADPHONES"], policy).expectations
        if e.meta["column"] == "connectivity"
    ]
    # "BT|WIRED": several codes in one cell, so a pattern rather than a set
    assert {(e.expectation_type, e.meta["rule"]) for e in connectivity} == {
        ("expect_column_to_exist", "expect_column_to_exist"),
        ("expect_column_values_to_not_be_null", "expect_column_values_to_not_be_null"),
        ("expect_column_values_to_match_regex", "expect_column_values_to_match_regex"),
        # the codes are a closed list: no character rules, only "N/A" and the like
        ("expect_column_values_to_not_match_regex", "content_policy.placeholders"),
    }


def test_content_policy_file(tmp_path: Path) -> None:
    policy = load_policy(POLICY)
    assert "replica" in policy.banned_terms and policy.max_lengths["item_name"] == 150
    text = (
        POLICY.read_text()
        .replace("forbid_html: true", "forbid_html: sometimes")
        .replace("  item_name: 150", "  item_name: 0")
    )
    path = tmp_path / "content_policy.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as info:
        load_policy(path)
    found = {(p.line, p.key) for p in info.value.problems}
    assert found == {
        (line_of(text, "forbid_html: sometimes"), "forbid_html"),
        (line_of(text, "max_lengths:"), "max_lengths"),
    }
    assert "problems in content policy" in str(info.value)


def test_mapping_error_type_is_the_same_for_policies() -> None:
    with pytest.raises(MappingError, match="does not exist"):
        load_policy("/nonexistent/content_policy.yaml")
    with pytest.raises(MappingError):
        parse_mapping("[1, 2]", "LIST.yaml")


def test_same_sku_under_two_product_types(
    catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], gx_context: Any
) -> None:
    shirts = small_frame(catalog, "SHIRT", 2)
    luggage = small_frame(catalog, "LUGGAGE", 2)
    columns = ["sku", "marketplace_id", "currency"]
    luggage.loc[luggage.index[0], columns] = shirts[columns].iloc[0].tolist()
    result = validate_frame(pd.concat([shirts, luggage]), mappings, context=gx_context)
    assert {(q["sku"], q["product_type"], q["rule"]) for q in result.quarantined} == {
        (shirts["sku"].iloc[0], "SHIRT", "expect_compound_columns_to_be_unique"),
        (shirts["sku"].iloc[0], "LUGGAGE", "expect_compound_columns_to_be_unique"),
    }
    assert "as product types LUGGAGE, SHIRT" in result.quarantined[0]["reason"]


def test_empty_frame(catalog: pd.DataFrame, mappings: dict[str, ProductTypeMapping], gx_context: Any) -> None:
    result = validate_frame(catalog.head(0), mappings, context=gx_context)
    assert (result.total_rows, result.failing_rows, result.failing_share, result.quarantined) == (
        0,
        0,
        0.0,
        [],
    )
    check_threshold(result, 0.0)


def test_data_docs_show_the_whole_frame_with_bounded_failing_values(
    catalog: pd.DataFrame,
    mappings: dict[str, ProductTypeMapping],
    policy: ContentPolicy,
    gx_context: Any,
    tmp_path: Path,
) -> None:
    """GX renders the Data Docs from the results of the whole frame: the counts of every row, and
    no more failing values than a person reads."""
    good = small_frame(catalog, n=1)
    rows = pd.concat([good] * 3000, ignore_index=True)
    rows["sku"] = [f"SKU-{i:05d}" for i in range(3000)]
    rows.loc[rows.index % 3 == 0, "title"] = [f"Fake tee {i}" for i in range(1000)]
    outcome = validate_frame(rows, mappings, policy, data_docs_dir=tmp_path, context=gx_context)
    assert outcome.failing_rows == 1000 and outcome.rule_counts == {"content_policy.banned_terms": 1000}
    page = next((tmp_path / "validations" / "catalog_SHIRT").rglob("*.html")).read_text(encoding="utf-8")
    assert "1000 unexpected values found. ≈33.33% of 3000 total rows." in page
    assert page.count("Fake tee") == 20


def test_chunk_by_chunk_gives_what_the_whole_frame_gives(
    catalog: pd.DataFrame,
    mappings: dict[str, ProductTypeMapping],
    policy: ContentPolicy,
    gx_context: Any,
    tmp_path: Path,
) -> None:
    """The sample catalog (every deliberate fault) with a duplicate SKU planted far from its twin:
    in chunks of 7 rows the same rows fail with the same records in the same order, the good rows
    come out in order, and Data Docs report the same figures."""
    frame = pd.concat([catalog, catalog.iloc[[3]]], ignore_index=True)  # row 3 again, at the very end
    whole = validate_frame(frame, mappings, policy, data_docs_dir=tmp_path / "whole", context=gx_context)
    keys = frame[[c for c in KEY_COLUMNS if c in frame.columns]]
    good: list[pd.DataFrame] = []
    chunked = validate_chunks(
        keys,
        list(frame.columns),
        (frame.iloc[i : i + 7] for i in range(0, len(frame), 7)),
        mappings,
        policy,
        good=good.append,
        data_docs_dir=tmp_path / "chunks",
        context=gx_context,
    )
    assert chunked.quarantined == whole.quarantined
    assert chunked.rule_counts == whole.rule_counts and chunked.failing_rows == whole.failing_rows
    assert {r["sku"] for r in whole.quarantined if r["rule"] == "expect_compound_columns_to_be_unique"} >= {
        frame.iloc[3]["sku"]
    }
    assert pd.concat(good).equals(whole.good)
    for product_type in ("SHIRT", "LUGGAGE", "HEADPHONES"):
        pages = [
            next((tmp_path / run / "validations" / f"catalog_{product_type}").rglob("*.html")).read_text()
            for run in ("whole", "chunks")
        ]
        figures = [re.findall(r"\d+ unexpected values found[^<]*", page) for page in pages]
        assert figures[0] == figures[1] and figures[0], product_type


def test_a_records_row_cells_are_the_ones_a_row_lookup_gives() -> None:
    """``_Findings`` takes each key column's values out once instead of looking the row up per
    record: the records must be the ones the row lookup (``frame.loc``) made, whatever the dtypes."""
    import numpy as np

    from listings_pipeline.catalog.unsafe_text import storable
    from listings_pipeline.catalog.validation import _cell_text, _Findings, _line_number

    frames = [
        pd.DataFrame(
            {
                "sku": pd.array(["A-1", None, "  ", "C\x1b3"], dtype="str"),
                "marketplace_id": ["M", None, float("nan"), "M"],
                "_source_file": pd.array(["f.csv", "f.csv", None, "g.csv"], dtype=pd.StringDtype("pyarrow")),
                "_source_row": np.array([2, 3, 4, 5], dtype=np.int64),
            },
            index=[10, 11, 12, 13],
        ),
        pd.DataFrame(
            {
                "sku": [True, False, 1.0, 2.5],
                "marketplace_id": pd.to_datetime(["2026-01-01"] * 4),
                "_source_row": [1.0, float("nan"), 7.0, 8.5],
            },
            index=[0, 1, 2, 3],
        ),
        pd.DataFrame({"sku": np.array([True, False, True, False])}, index=[5, 6, 7, 8]),
    ]
    for frame in frames:
        ours = _Findings(frame)
        for position in frame.index:
            ours.add(int(position), "SHIRT", "sku", "v", "rule", "why", (3, 0))
        expected = []
        for position in frame.index:
            row = frame.loc[position]
            sku = _cell_text(row["sku"]) if "sku" in frame.columns else None
            line = _line_number(row["_source_row"]) if "_source_row" in frame.columns else None
            market = _cell_text(row["marketplace_id"]) if "marketplace_id" in frame.columns else None
            source = _cell_text(row["_source_file"]) if "_source_file" in frame.columns else None
            expected.append((storable(sku), storable(market), source, line))
        got = [(r["sku"], r["marketplace_id"], r["source_file"], r["source_line"]) for _, r in ours.records]
        assert got == expected
