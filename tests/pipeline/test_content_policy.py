"""The content policy's character, placeholder, formula, credential, identifier and cross-field rules.

Every bad cell is quarantined under ``content_policy.<rule>`` with its column, the value as shown
(controls escaped, credentials masked) and a reason naming the line, SKU and column; the look-alikes
that are fine pass. Each table of cases is validated as one frame (one row per case), so the suite
runs once per table: GX is slow to set up, not to run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from demo.sample_catalog import BAD_ROWS, read_catalog_csv
from listings_pipeline.catalog.mapping import (
    RESERVED_CHECK_NAMES,
    MappingError,
    ProductTypeMapping,
    parse_mapping,
)
from listings_pipeline.catalog.validation import (
    ContentPolicy,
    EmojiRule,
    RuleScope,
    ValidationOutcome,
    build_suite,
    gtin_check_digit,
    identifier_problem,
    identifier_verdicts,
    isbn10_check_digit,
    load_policy,
    suite_rules,
    validate_frame,
)

from .catalog_paths import POLICY, PRODUCT_MAPPING, PRODUCT_ROW, SAMPLE_CSV, line_of

SOURCE = "exports/catalog.csv"
FIRST_LINE = 2  # line 1 is the header


@dataclass(frozen=True)
class Case:
    """One row: ``column`` set to ``value`` (and ``also_set``); ``rule`` None means it must pass."""

    id: str
    column: str
    value: str | None
    rule: str | None
    reason: str = ""  # a part of the reason after "column '...': "
    shown: str | None = None  # the value as the quarantine record shows it, when not ``value``
    also_set: dict[str, str | None] = field(default_factory=dict)
    also: frozenset[str] = frozenset()  # other rules the row fails too (a type rule, say)

    @property
    def expected_value(self) -> str | None:
        return self.shown if self.shown is not None else self.value


TYPE_RULE = frozenset({"expect_column_values_to_match_regex"})

# LUGGAGE rows of the sample catalog (shipped mappings and content policy)
SHIPPED_CASES = [
    # control characters: C0, C1, DEL, ANSI escapes; tab and newline belong to the line-break rule
    Case(
        "NUL in title",
        "title",
        "Trailhead\x00 Cabin Case",
        "content_policy.control_characters",
        "contains the control character U+0000 NUL at character 10",
        shown="Trailhead\\x00 Cabin Case",
    ),
    Case(
        "BEL in brand",
        "brand",
        "Trail\x07head",
        "content_policy.control_characters",
        "U+0007 BELL",
        "Trail\\x07head",
    ),
    Case(
        "ANSI escape in description",
        "description",
        "A \x1b[31mred\x1b[0m case",
        "content_policy.control_characters",
        "contains the ANSI escape sequence '\\x1b[31m' at character 3",
        shown="A \\x1b[31mred\\x1b[0m case",
    ),
    Case(
        "C1 control in a bullet",
        "bullets",
        "Light|Str\x9aong",
        "content_policy.control_characters",
        "U+009A a C1 control",
        shown="Light|Str\\x9aong",
    ),
    Case(
        "DEL in model", "model", "TT\x7f01", "content_policy.control_characters", "U+007F DELETE", "TT\\x7f01"
    ),
    Case("description may have tabs and newlines", "description", "Line one\nLine two\tand a tab", None),
    Case("non-ASCII text is text", "title", "Trailhead Koffer \u2013 Größe M, 55\u00a0cm", None),
    # bidi controls and zero-width characters
    Case(
        "RLO in title",
        "title",
        "Trailhead \u202eesac nibac",
        "content_policy.invisible_characters",
        "contains the invisible character U+202E RIGHT-TO-LEFT OVERRIDE at character 11",
        shown="Trailhead \\u202eesac nibac",
    ),
    Case(
        "zero-width space in brand",
        "brand",
        "Trail\u200bhead",
        "content_policy.invisible_characters",
        "U+200B ZERO WIDTH SPACE",
        shown="Trail\\u200bhead",
    ),
    Case(
        "isolates in a bullet",
        "bullets",
        "Light|\u2066Strong\u2069",
        "content_policy.invisible_characters",
        "U+2066 LEFT-TO-RIGHT ISOLATE",
        shown="Light|\\u2066Strong\\u2069",
    ),
    Case(
        "BOM in description",
        "description",
        "A case\ufeff for trips",
        "content_policy.invisible_characters",
        "U+FEFF ZERO WIDTH NO-BREAK SPACE",
        shown="A case\\ufeff for trips",
    ),
    Case("a left-to-right mark is not an override", "title", "Trailhead Case \u200e55 L", None),
    # emoji in titles; the trademark signs are text
    Case(
        "emoji in title",
        "title",
        "Trailhead Cabin Case 😀",
        "content_policy.emoji",
        "contains the emoji '😀' (U+1F600 GRINNING FACE) at character 22; Amazon allows no emoji or "
        "pictographs in item_name",
    ),
    Case("pictograph in title", "title", "Trailhead ✈ Cabin Case", "content_policy.emoji", "U+2708 AIRPLANE"),
    Case(
        "emoji presentation of ©",
        "title",
        "Trailhead©\ufe0f Cabin Case",
        "content_policy.emoji",
        "contains the emoji '\\ufe0f' (U+FE0F VARIATION SELECTOR-16)",
    ),
    Case(
        "flag in title",
        "title",
        "Trailhead Cabin Case 🇩🇪",
        "content_policy.emoji",
        "REGIONAL INDICATOR SYMBOL LETTER D",
    ),
    Case("trademark signs in title", "title", "Trailhead™ Cabin Case ® ©", None),
    Case("emoji outside the title", "description", "Made for trips ✈ and weekends 😀", None),
    # line breaks and tabs in one-line attributes
    Case(
        "newline in title",
        "title",
        "Trailhead\nCabin Case",
        "content_policy.line_breaks",
        "contains a line break (U+000A LINE FEED) at character 10; item_name must be one line",
    ),
    Case("CR in brand", "brand", "Trail\rhead", "content_policy.line_breaks", "U+000D CARRIAGE RETURN"),
    Case(
        "line separator in a bullet",
        "bullets",
        "Light|Strong\u2028and tough",
        "content_policy.line_breaks",
        "U+2028 LINE SEPARATOR) at character 13; bullet_point must be one line",
    ),
    Case(
        "tab in title",
        "title",
        "Trailhead\tCabin Case",
        "content_policy.line_breaks",
        "contains a tab (U+0009 TAB)",
    ),
    Case("description spans lines", "description", "Line one\r\nLine two\u2029Line three", None),
    # placeholders, whole cell or whole list entry, case-insensitive, codes exempt
    Case("N/A model", "model", "N/A", "content_policy.placeholders", "'N/A' is a placeholder, not a value"),
    Case("tbd title", "title", "tbd", "content_policy.placeholders", "'tbd' is a placeholder"),
    Case(
        "spreadsheet error as title",
        "title",
        "#VALUE!",
        "content_policy.placeholders",
        "'#VALUE!' is a placeholder",
    ),
    Case(
        "placeholder bullet",
        "bullets",
        "Light|n/a|Strong",
        "content_policy.placeholders",
        "the entry 'n/a' is a placeholder, not a value",
    ),
    Case("placeholder SKU", "sku", "TBD", "content_policy.placeholders", "'TBD' is a placeholder"),
    Case(
        "placeholder price",
        "price",
        "NULL",
        "content_policy.placeholders",
        "'NULL' is a placeholder",
        also=TYPE_RULE,
    ),
    Case("a code that looks like one", "lock", "NONE", None),
    Case("placeholder inside a value", "model", "NA-100", None),
    Case("placeholder word in a title", "title", "None of the hassle: Trailhead Cabin Case", None),
    # spreadsheet formula prefixes in text columns
    Case(
        "formula title",
        "title",
        '=HYPERLINK("https://evil.example","Click")',
        "content_policy.formula_prefixes",
        "it starts with '=': a spreadsheet that opens the listing data",
    ),
    Case("@ brand", "brand", "@Trailhead", "content_policy.formula_prefixes", "starts with '@'"),
    Case("+ model", "model", "+1-800-TRAIL", "content_policy.formula_prefixes", "starts with '+'"),
    Case(
        "- bullet entry",
        "bullets",
        "Light|-Strong|Tough",
        "content_policy.formula_prefixes",
        "the entry '-Strong' starts with '-'",
    ),
    Case(
        "formula after white space",
        "title",
        " \t=1+1",
        "content_policy.formula_prefixes",
        "starts with '='",
        shown="=1+1",
    ),
    Case("negative number in a text column", "model", "-5", None),
    Case("dash inside a text", "title", "Trailhead Cabin Case - 55 cm, -20% lighter", None),
    # credentials in URLs, masked wherever they are shown
    Case(
        "password in image URL",
        "image_url",
        "https://user:s3cret@images.trailhead.example/TT-01.jpg",
        "content_policy.url_credentials",
        "holds a URL with a user name or password ('https://***@images.trailhead.example/TT-01.jpg')",
        shown="https://***@images.trailhead.example/TT-01.jpg",
    ),
    Case(
        "token in image URL",
        "image_url",
        "https://s3cret-token@images.trailhead.example/TT-01.jpg",
        "content_policy.url_credentials",
        "https://***@images",
        shown="https://***@images.trailhead.example/TT-01.jpg",
    ),
    Case(
        "URL with a password in a description",
        "description",
        "Specs: https://admin:s3cret@cdn.trailhead.example/spec.pdf",
        "content_policy.url_credentials",
        "'https://***@cdn.trailhead.example/spec.pdf'",
        shown="Specs: https://***@cdn.trailhead.example/spec.pdf",
    ),
    Case("@ in an image path", "image_url", "https://images.trailhead.example/TT-01@2x.jpg", None),
    Case("an e-mail address", "description", "Questions? Write to help@trailhead.example.", None),
    # product identifiers: length and check digit
    Case(
        "UPC check digit",
        "upc",
        "036000291453",
        "content_policy.product_identifiers",
        "'036000291453' is not a valid UPC: the check digit is 3, but the 11 digits before it give 2",
    ),
    Case(
        "EAN check digit",
        "ean",
        "4006381333932",
        "content_policy.product_identifiers",
        "is not a valid EAN: the check digit is 2, but the 12 digits before it give 1",
    ),
    Case(
        "UPC too short",
        "upc",
        "03600029145",
        "content_policy.product_identifiers",
        "it has 11 digits; a UPC has 12",
        also=TYPE_RULE,
    ),
    Case("valid UPC", "upc", "036000291452", None),
    Case("valid EAN-13", "ean", "4006381333931", None),
    # the LUGGAGE mapping's cross-field check, evaluated when both cells hold a value
    Case(
        "expanded below capacity",
        "expanded_capacity_l",
        "30",
        "content_policy.expanded_capacity_ge_capacity",
        "'30' is not >= capacity_l '40' (check expanded_capacity_ge_capacity, expanded_capacity_l >= capacity_l)",
        also_set={"capacity_l": "40"},
    ),
    Case("expanded equal to capacity", "expanded_capacity_l", "40", None, also_set={"capacity_l": "40"}),
    Case("no expanded capacity", "expanded_capacity_l", None, None, also_set={"capacity_l": "40"}),
]

# A mapping of our own (Amazon's PRODUCT type, see catalog_paths) with the kinds of column the sample
# lacks, and a policy with other scopes.
WIDGET_MAPPING = PRODUCT_MAPPING.replace(
    "  box_cm: {type: dimensions, required: true}\n",
    "  box_cm: {type: dimensions, required: true}\n"
    "  gtin: {type: string, identifier: gtin}\n"
    "  isbn: {type: string, identifier: isbn}\n"
    "  sale_price: {type: decimal, min: 0.01}\n"
    "  sale_start: {type: date}\n"
    "  sale_end: {type: date}\n",
).replace(
    "attributes:\n",
    "checks:\n"
    '  - {rule: sale_price_below_price, left: sale_price, op: "<", right: price}\n'
    '  - {rule: sale_starts_before_it_ends, left: sale_start, op: "<", right: sale_end,'
    " description: a sale ends after it starts}\n"
    "attributes:\n",
    1,
)
WIDGET_POLICY = ContentPolicy(
    emoji=EmojiRule(attributes=["item_name", "brand"], allow=[]),
    control_characters=RuleScope(enabled=False),
)

WIDGET_CASES = [
    Case("GTIN-14", "gtin", "10036000291459", None),
    Case("GTIN-14 of a padded UPC", "gtin", "00036000291452", None),
    Case("GTIN-8", "gtin", "96385074", None),
    Case(
        "GTIN of 7 digits",
        "gtin",
        "9638507",
        "content_policy.product_identifiers",
        "'9638507' is not a valid GTIN: it has 7 digits; a GTIN has 8, 12, 13 or 14",
    ),
    Case(
        "GTIN-14 check digit",
        "gtin",
        "10036000291458",
        "content_policy.product_identifiers",
        "the check digit is 8, but the 13 digits before it give 9",
    ),
    Case("ISBN-13", "isbn", "9780306406157", None),
    Case("ISBN-10", "isbn", "0306406152", None),
    Case("ISBN-10 ending in X", "isbn", "080442957X", None),
    Case(
        "ISBN-13 check digit",
        "isbn",
        "9780306406158",
        "content_policy.product_identifiers",
        "the check digit is 8, but the 12 digits before it give 7",
    ),
    Case(
        "ISBN-10 check digit",
        "isbn",
        "0306406153",
        "content_policy.product_identifiers",
        "the check digit is 3, but the nine digits before it give 2",
    ),
    Case(
        "EAN-13 that is no ISBN",
        "isbn",
        "4006381333931",
        "content_policy.product_identifiers",
        "an ISBN-13 starts with 978 or 979",
    ),
    Case(
        "ISBN with hyphens",
        "isbn",
        "978-0-306-40615-7",
        "content_policy.product_identifiers",
        "an ISBN is digits only (and X as the last of ten)",
    ),
    Case(
        "sale price above price",
        "sale_price",
        "12.00",
        "content_policy.sale_price_below_price",
        "'12.00' is not < price '9.99' (check sale_price_below_price, sale_price < price)",
    ),
    Case(
        "sale price equal to price", "sale_price", "9.99", "content_policy.sale_price_below_price", "is not <"
    ),
    Case("sale price below price", "sale_price", "5", None),
    Case(
        "sale ends before it starts",
        "sale_start",
        "2025-12-01",
        "content_policy.sale_starts_before_it_ends",
        "'2025-12-01' is not < sale_end '2025-11-01' (check sale_starts_before_it_ends, sale_start < sale_end: "
        "a sale ends after it starts)",
        also_set={"sale_end": "2025-11-01"},
    ),
    Case(
        "sale starts and ends at once",
        "sale_start",
        "2025-11-01T10:00:00Z",
        "content_policy.sale_starts_before_it_ends",
        "is not <",
        also_set={"sale_end": "2025-11-01T12:00:00+02:00"},
    ),
    Case("sale of a day", "sale_start", "2025-11-01", None, also_set={"sale_end": "2025-11-01T10:00:00Z"}),
    Case("sale without an end", "sale_start", "2025-11-01", None, also_set={"sale_end": None}),
    Case(
        "no such day",
        "sale_start",
        "2025-02-30",
        "expect_column_values_to_be_in_set",
        "'2025-02-30' is not a date (YYYY-MM-DD",
        also_set={"sale_end": "2025-03-30"},
    ),
    # the policy's own scopes: emoji in brands too, no exceptions; control characters switched off
    Case(
        "emoji in brand",
        "brand",
        "Acme 😀",
        "content_policy.emoji",
        "Amazon allows no emoji or pictographs in brand",
    ),
    Case(
        "trademark sign not allowed here",
        "title",
        "Acme™ Widget",
        "content_policy.emoji",
        "U+2122 TRADE MARK SIGN",
    ),
    Case("control characters allowed here", "title", "Acme\x00 Widget", None),
]


def case_frame(base: pd.DataFrame, cases: list[Case]) -> pd.DataFrame:
    assert len(base) >= len(cases), "not enough good rows for the cases"
    frame = base.head(len(cases)).copy().reset_index(drop=True).astype(object)
    frame["_source_file"] = SOURCE
    frame["_source_row"] = range(FIRST_LINE, FIRST_LINE + len(frame))
    for index, case in enumerate(cases):
        for column, value in {**case.also_set, case.column: case.value}.items():
            frame.at[index, column] = value
    return frame


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy_docs")


@pytest.fixture(scope="module")
def shipped_frame() -> pd.DataFrame:
    catalog = read_catalog_csv(SAMPLE_CSV)
    bad = {b.sku for b in BAD_ROWS}
    luggage = catalog[(catalog["product_type"] == "LUGGAGE") & ~catalog["sku"].isin(bad)]
    return case_frame(luggage, SHIPPED_CASES)


@pytest.fixture(scope="module")
def shipped(
    shipped_frame: pd.DataFrame,
    mappings: dict[str, ProductTypeMapping],
    policy: ContentPolicy,
    gx_context: Any,
    docs_dir: Path,
) -> ValidationOutcome:
    return validate_frame(shipped_frame, mappings, policy, context=gx_context, data_docs_dir=docs_dir)


@pytest.fixture(scope="module")
def widget_mapping() -> ProductTypeMapping:
    return parse_mapping(WIDGET_MAPPING, "PRODUCT.yaml", expected_product_type="PRODUCT")


@pytest.fixture(scope="module")
def widget_frame() -> pd.DataFrame:
    base = pd.DataFrame(
        [
            dict(
                PRODUCT_ROW,
                sku=f"WIDGET-{i}",
                gtin=None,
                isbn=None,
                sale_price=None,
                sale_start=None,
                sale_end=None,
            )
            for i in range(len(WIDGET_CASES))
        ]
    )
    return case_frame(base, WIDGET_CASES)


@pytest.fixture(scope="module")
def widget(
    widget_frame: pd.DataFrame, widget_mapping: ProductTypeMapping, gx_context: Any
) -> ValidationOutcome:
    return validate_frame(widget_frame, widget_mapping, WIDGET_POLICY, context=gx_context)


def check_case(outcome: ValidationOutcome, frame: pd.DataFrame, cases: list[Case], case: Case) -> None:
    index = cases.index(case)
    line = FIRST_LINE + index
    entries = [q for q in outcome.quarantined if q["source_line"] == line]
    if case.rule is None:
        assert entries == [], f"{case.id}: a good row was quarantined: {entries}"
        return
    matching = [q for q in entries if q["rule"] == case.rule]
    assert len(matching) == 1, f"{case.id}: expected one {case.rule} record, got {entries}"
    [entry] = matching
    sku = frame.at[index, "sku"]
    assert (entry["column_name"], entry["value"], entry["sku"]) == (case.column, case.expected_value, sku)
    assert (entry["source_file"], entry["source_line"]) == (SOURCE, line)
    assert entry["reason"].startswith(f"line {line}, SKU '{sku}', column '{case.column}': "), entry["reason"]
    assert case.reason in entry["reason"], entry["reason"]
    assert {q["rule"] for q in entries} - {case.rule} <= case.also, entries


@pytest.mark.parametrize("case", SHIPPED_CASES, ids=[c.id for c in SHIPPED_CASES])
def test_shipped_policy(shipped: ValidationOutcome, shipped_frame: pd.DataFrame, case: Case) -> None:
    check_case(shipped, shipped_frame, SHIPPED_CASES, case)


@pytest.mark.parametrize("case", WIDGET_CASES, ids=[c.id for c in WIDGET_CASES])
def test_identifiers_dates_and_scopes(
    widget: ValidationOutcome, widget_frame: pd.DataFrame, case: Case
) -> None:
    check_case(widget, widget_frame, WIDGET_CASES, case)


def test_source_columns_are_the_extract_steps() -> None:
    from listings_pipeline.catalog import extract, validation

    assert (validation.SOURCE_FILE_COLUMN, validation.SOURCE_ROW_COLUMN) == (
        extract.SOURCE_FILE_COLUMN,
        extract.SOURCE_ROW_COLUMN,
    )


def test_every_bad_row_is_set_aside_and_only_those(shipped: ValidationOutcome) -> None:
    bad_lines = {FIRST_LINE + i for i, c in enumerate(SHIPPED_CASES) if c.rule}
    assert {FIRST_LINE + int(i) for i in shipped.rejected.index} == bad_lines
    assert shipped.failing_rows == len(bad_lines)
    assert len(shipped.good) == len(SHIPPED_CASES) - len(bad_lines)


def test_credentials_are_shown_nowhere(shipped: ValidationOutcome, docs_dir: Path) -> None:
    assert not [q for q in shipped.quarantined if "s3cret" in str(q)]
    pages = list(docs_dir.rglob("*.html"))
    assert pages
    text = "".join(page.read_text(encoding="utf-8") for page in pages)
    assert "***@images.trailhead.example" in text  # the failing value, masked
    assert "s3cret" not in text


# --- the suite -----------------------------------------------------------------------------------------


def test_rules_are_expectations_in_the_suite(
    mappings: dict[str, ProductTypeMapping], policy: ContentPolicy
) -> None:
    suite = build_suite(mappings["LUGGAGE"], policy)
    found = {(e.expectation_type, e.meta["rule"], e.meta["column"]) for e in suite.expectations}
    regex = "expect_column_values_to_not_match_regex"
    assert {
        (regex, "content_policy.control_characters", "title"),
        (regex, "content_policy.invisible_characters", "bullets"),
        (regex, "content_policy.emoji", "title"),
        (regex, "content_policy.line_breaks", "brand"),
        (regex, "content_policy.placeholders", "sku"),
        (regex, "content_policy.placeholders", "price"),
        (regex, "content_policy.formula_prefixes", "model"),
        (regex, "content_policy.url_credentials", "image_url"),
        ("expect_column_values_to_be_in_set", "content_policy.product_identifiers", "upc"),
        ("expect_column_values_to_be_in_set", "content_policy.product_identifiers", "ean"),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            "content_policy.expanded_capacity_ge_capacity",
            "expanded_capacity_l",
        ),
    } <= found
    # a description may span lines and hold emoji; pinned columns get no character rules
    assert (regex, "content_policy.line_breaks", "description") not in found
    assert (regex, "content_policy.emoji", "description") not in found
    assert not {
        f for f in found if f[1] == "content_policy.control_characters" and f[2] in ("price", "color")
    }


def test_codes_are_not_placeholders(mappings: dict[str, ProductTypeMapping], policy: ContentPolicy) -> None:
    [lock] = [
        r
        for r in suite_rules(mappings["LUGGAGE"], policy)
        if r.rule == "content_policy.placeholders" and r.column == "lock"
    ]
    assert "NONE" not in lock.kwargs["regex"] and "N/A" in lock.kwargs["regex"]


def test_check_names_cannot_take_a_policy_rule_name(
    mappings: dict[str, ProductTypeMapping], policy: ContentPolicy
) -> None:
    names = {
        r.rule.removeprefix("content_policy.")
        for m in mappings.values()
        for r in suite_rules(m, policy)
        if r.rule.startswith("content_policy.")
    }
    checks = {c.rule for m in mappings.values() for c in m.checks}
    assert names - checks <= RESERVED_CHECK_NAMES
    assert {"control_characters", "emoji", "placeholders", "product_identifiers"} <= names


def test_switched_off(mappings: dict[str, ProductTypeMapping]) -> None:
    off = ContentPolicy(
        control_characters=RuleScope(enabled=False),
        invisible_characters=RuleScope(enabled=False),
        emoji=EmojiRule(enabled=False),
        line_breaks=RuleScope(enabled=False),
        placeholders=ContentPolicy().placeholders.model_copy(update={"enabled": False}),
        formula_prefixes=ContentPolicy().formula_prefixes.model_copy(update={"enabled": False}),
        url_credentials=RuleScope(enabled=False),
        product_identifiers=False,
    )
    names = {r.rule for r in suite_rules(mappings["LUGGAGE"], off)}
    assert {n for n in names if n.startswith("content_policy.")} == {
        "content_policy.html",
        "content_policy.max_length",
        "content_policy.image_url",
        "content_policy.expanded_capacity_ge_capacity",  # the mapping's, not the policy's
    }


# --- the policy file -----------------------------------------------------------------------------------


def test_shipped_policy_is_the_default() -> None:
    shipped = load_policy(POLICY)
    default = ContentPolicy()
    for key in (
        "control_characters",
        "invisible_characters",
        "emoji",
        "line_breaks",
        "placeholders",
        "formula_prefixes",
        "url_credentials",
        "product_identifiers",
    ):
        assert getattr(shipped, key) == getattr(default, key), key
    assert shipped.emoji.allow == ["©", "®", "™"] and shipped.line_breaks.exclude == ["product_description"]


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('  allow: ["©", "®", "™"]', '  allow: ["(c)"]', "emoji.allow", "each entry must be one character"),
        (
            "  exclude: [product_description]",
            "  exclude: [Product Description]",
            "line_breaks.exclude",
            "not Amazon attribute names",
        ),
        (
            '  prefixes: ["=", "+", "-", "@"]',
            '  prefixes: ["=", "=="]',
            "formula_prefixes.prefixes",
            "one character",
        ),
        ('  values: ["NULL", ', '  values: [" ", ', "placeholders.values", "must not be empty"),
        (
            "product_identifiers: true",
            "product_identifiers: sometimes",
            "product_identifiers",
            "valid boolean",
        ),
        (
            "url_credentials:\n  attributes:",
            "url_credentials:\n  atributes:",
            "url_credentials.atributes",
            "unknown key 'atributes'",
        ),
    ],
    ids=["emoji allow", "attribute name", "prefix", "empty placeholder", "boolean", "misspelt key"],
)
def test_broken_policy_file(tmp_path: Path, old: str, new: str, key: str, message: str) -> None:
    text = POLICY.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "content_policy.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_policy(path)
    [problem] = info.value.problems
    assert problem.key.startswith(key), problem
    assert message in problem.message, problem
    assert problem.line == line_of(path.read_text(encoding="utf-8"), new.splitlines()[-1].strip())


# --- check digits ----------------------------------------------------------------------------------------

VALID = [
    ("upc", "036000291452"),  # UPC-A, the usual textbook example
    ("upc", "012345678905"),
    ("ean", "4006381333931"),  # EAN-13
    ("ean", "5901234123457"),
    ("ean", "96385074"),  # EAN-8
    ("ean", "0036000291452"),  # a UPC as EAN-13
    ("gtin", "10036000291459"),  # GTIN-14
    ("gtin", "00036000291452"),
    ("gtin", "036000291452"),
    ("gtin", "96385074"),
    ("isbn", "9780306406157"),  # ISBN-13
    ("isbn", "9791234567896"),  # 979 prefix
    ("isbn", "0306406152"),  # ISBN-10
    ("isbn", "080442957X"),  # ISBN-10 with X
    ("isbn", "080442957x"),
]
INVALID = [
    ("upc", "036000291453", "the check digit is 3, but the 11 digits before it give 2"),
    ("upc", "36000291452", "it has 11 digits; a UPC has 12"),
    ("upc", "4006381333931", "it has 13 digits; a UPC has 12"),
    ("upc", "03600029145A", "a UPC is digits only"),
    (
        "upc",
        "\uff10\uff13\uff16\uff10\uff10\uff10\uff12\uff19\uff11\uff14\uff15\uff12",
        "a UPC is digits only",
    ),  # fullwidth digits are not ASCII digits
    ("ean", "4006381333932", "the check digit is 2, but the 12 digits before it give 1"),
    ("ean", "96385075", "the check digit is 5, but the 7 digits before it give 4"),
    ("ean", "036000291452", "it has 12 digits; an EAN has 13 or 8"),
    ("gtin", "10036000291458", "the check digit is 8, but the 13 digits before it give 9"),
    ("gtin", "1003600029145", "the check digit is 5"),
    ("gtin", "123456789", "it has 9 digits; a GTIN has 8, 12, 13 or 14"),
    ("isbn", "9780306406158", "the check digit is 8, but the 12 digits before it give 7"),
    ("isbn", "0306406153", "the check digit is 3, but the nine digits before it give 2"),
    ("isbn", "0804429570", "the check digit is 0, but the nine digits before it give X"),
    ("isbn", "4006381333931", "an ISBN-13 starts with 978 or 979"),
    ("isbn", "X306406152", "an ISBN is digits only (and X as the last of ten)"),
    ("isbn", "030640615", "it has 9 digits; an ISBN has 10 or 13"),
]


@pytest.mark.parametrize(("kind", "code"), VALID)
def test_valid_identifiers(kind: str, code: str) -> None:
    assert identifier_problem(code, kind) is None
    assert identifier_verdicts(pd.Series([code, None]), kind).tolist() == ["valid", None]


@pytest.mark.parametrize(("kind", "code", "problem"), INVALID)
def test_invalid_identifiers(kind: str, code: str, problem: str) -> None:
    found = identifier_problem(code, kind)
    assert found is not None and found.startswith(problem), found
    assert identifier_verdicts(pd.Series([code]), kind).tolist() == [found]


def test_check_digit_functions() -> None:
    assert gtin_check_digit("03600029145") == 2
    assert gtin_check_digit("400638133393") == 1
    assert gtin_check_digit("9638507") == 4
    assert gtin_check_digit("1003600029145") == 9
    assert isbn10_check_digit("030640615") == "2"
    assert isbn10_check_digit("080442957") == "X"


def test_column_verdicts_agree_with_one_code_at_a_time() -> None:
    rng = random.Random(11)
    codes: list[str | None] = []
    for _ in range(3000):
        length = rng.choice([8, 10, 12, 13, 14])
        code = "".join(rng.choice("0123456789") for _ in range(length))
        if rng.random() < 0.3:
            code = code[:-1] + rng.choice("0123456789X")
        if rng.random() < 0.1:
            code = rng.choice(["978", "979"]) + code[3:]
        codes.append(code if rng.random() > 0.05 else None)
    # a lower-case ISBN x, digits that are not ASCII, padding, a letter O, an empty cell
    codes += ["030640615x", "080442957X", "\u0660" * 12, " 012345678905", "0123456789O5", ""]
    series = pd.Series(codes, index=range(100, 100 + len(codes)))
    for kind in ("upc", "ean", "gtin", "isbn"):
        verdicts = identifier_verdicts(series, kind)
        assert list(verdicts.index) == list(series.index)
        expected = [None if c is None else identifier_problem(c, kind) or "valid" for c in codes]
        assert verdicts.tolist() == expected, kind
        assert 0 < expected.count("valid") < len(codes)


SUITE_DUMP = """
import sys
sys.path.insert(0, sys.argv[1])
from tests.pipeline.catalog_paths import MAPPINGS_DIR, POLICY
from listings_pipeline.catalog.mapping import load_mappings
from listings_pipeline.catalog.suite import suite_rules
from listings_pipeline.catalog.validation import load_policy
policy = load_policy(POLICY)
for name, mapping in sorted(load_mappings(MAPPINGS_DIR).items()):
    for rule in suite_rules(mapping, policy):
        print(name, rule.expectation, rule.rule, rule.column, sorted(rule.kwargs.items(), key=str), rule.description)
"""


def test_the_suite_is_the_same_in_every_process() -> None:
    """Set order changes with the hash seed; the suite (and the Data Docs that show it) must not."""
    import os
    import subprocess
    import sys

    repo = str(Path(__file__).resolve().parents[2])
    dumps = {
        subprocess.run(
            [sys.executable, "-c", SUITE_DUMP, repo],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(dumps) == 1 and next(iter(dumps)).strip()
