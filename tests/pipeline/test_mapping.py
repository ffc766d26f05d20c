"""Catalog mapping files: the shipped ones load and fit their product types; broken ones are
reported with the file, line and key; a new product type is one new file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from listings_pipeline.catalog.mapping import (
    EnumSpec,
    MappingError,
    ProductTypeMapping,
    check_against_product_type,
    load_mapping,
    load_mappings,
    parse_mapping,
)
from listings_pipeline.catalog.transform import check_against_schema, row_to_message
from spapi.product_types import ProductTypeSchemas

from .catalog_paths import (
    DE,
    MAPPINGS_DIR,
    PRODUCT_MAPPING,
    PRODUCT_ROW,
    SHIPPED,
    US,
    line_of,
)

SHIRT_TEXT = (MAPPINGS_DIR / "SHIRT.yaml").read_text(encoding="utf-8")


def broken(tmp_path: Path, old: str, new: str, name: str = "SHIRT.yaml", text: str = SHIRT_TEXT) -> Path:
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def only_problem(path: Path) -> tuple[str, int | None, str, str]:
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert len(info.value.problems) == 1, info.value
    problem = info.value.problems[0]
    # the message carries all of it, for a log line or an Airflow task failure
    assert f"{path}:{problem.line}: {problem.key}" in str(info.value)
    return problem.file, problem.line, problem.key, problem.message


# --- the shipped mappings -----------------------------------------------------------------------------


def test_every_shipped_mapping_loads() -> None:
    mappings = load_mappings(MAPPINGS_DIR)
    assert set(SHIPPED) <= set(mappings)
    for name in SHIPPED:
        mapping = mappings[name]
        assert mapping.product_type == name
        assert mapping.source == str(MAPPINGS_DIR / f"{name}.yaml")
        assert {US, "A2EUQ1WTGCTBG2", DE} <= set(mapping.marketplaces)
        assert mapping.required_columns()[0] == "sku"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_mapping_fits_its_product_type_schema(schemas: ProductTypeSchemas, name: str) -> None:
    mapping = load_mapping(MAPPINGS_DIR / f"{name}.yaml")
    assert check_against_product_type(mapping, schemas.schema(name)) == []


def test_mapping_knows_the_lines_of_its_keys() -> None:
    mapping = load_mapping(MAPPINGS_DIR / "SHIRT.yaml")
    assert mapping.line_of(("attributes", "color")) == SHIRT_TEXT.splitlines().index("  color:") + 1
    assert mapping.line_of(("attributes", "color", "value", "values", "nope")) == mapping.line_of(
        ("attributes", "color", "value", "values")
    )


def test_per_marketplace_settings() -> None:
    shirt = load_mapping(MAPPINGS_DIR / "SHIRT.yaml")
    headphones = load_mapping(MAPPINGS_DIR / "HEADPHONES.yaml")
    assert "bullet_point" in headphones.attributes_for(US)
    assert "bullet_point" not in headphones.attributes_for(DE)  # omitted on amazon.de
    size_de = shirt.attributes_for(DE)["size"]
    assert size_de is not shirt.attributes["size"]  # replaced on amazon.de (EU sizes)
    color = shirt.attributes["color"].value
    assert isinstance(color, EnumSpec)
    assert shirt.enum_values(color, US)["BLK"] == "Black"
    assert shirt.enum_values(color, DE)["BLK"] == "Schwarz"
    with pytest.raises(KeyError, match="no settings for marketplace A1F83G8C2ARO7P"):
        shirt.settings("A1F83G8C2ARO7P")


def test_codes_that_yaml_1_1_would_turn_into_booleans_stay_text(tmp_path: Path) -> None:
    # Y, N, NO, on, off are catalog codes (a yes/no column, Norway), not booleans
    path = broken(
        tmp_path,
        "values: {M: mens, W: womens, U: unisex-adult}",
        "values: {M: mens, W: womens, U: unisex-adult, Y: mens, N: womens, NO: mens, on: mens}",
    )
    mapping = load_mapping(path)
    department = mapping.attributes["department"].value
    assert isinstance(department, EnumSpec)
    assert {"Y", "N", "NO", "on"} <= set(department.values)


# --- broken mappings: file, line and key -------------------------------------------------------------


def test_unknown_transform(tmp_path: Path) -> None:
    path = broken(tmp_path, "{transform: list, column: bullets", "{transform: bulleted, column: bullets")
    file, line, key, message = only_problem(path)
    assert file == str(path)
    assert line == line_of(path.read_text(), "transform: bulleted")
    assert key == "attributes.bullet_point.value.transform"
    assert "unknown transform 'bulleted'" in message and "list" in message


def test_reference_to_an_undeclared_column(tmp_path: Path) -> None:
    path = broken(tmp_path, "value: {column: title}", "value: {column: titel}")
    _, line, key, message = only_problem(path)
    assert line == line_of(path.read_text(), "column: titel")
    assert key == "attributes.item_name.value.column"
    assert "column 'titel' is not declared under 'columns'" in message
    assert "did you mean 'title'" in message


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        # a Canadian price in US dollars, or German labels on amazon.com, must never be built
        (
            "language_tag: en_CA\n    currency: CAD",
            "language_tag: en_CA\n    currency: USD",
            "marketplaces.A2EUQ1WTGCTBG2.currency",
            "currency USD is not the currency of marketplace A2EUQ1WTGCTBG2 (CA): it sells in CAD",
        ),
        (
            "language_tag: en_US\n    currency: USD",
            "language_tag: de_DE\n    currency: USD",
            "marketplaces.ATVPDKIKX0DER.language_tag",
            "language de_DE is not a language of marketplace ATVPDKIKX0DER (US): one of en_US, es_US",
        ),
    ],
    ids=["currency", "language"],
)
def test_currency_and_language_must_fit_the_marketplace(
    tmp_path: Path, old: str, new: str, key: str, expected: str
) -> None:
    path = broken(tmp_path, old, new)
    _, line, found_key, message = only_problem(path)
    assert found_key == key and message == expected
    assert line is not None


def test_a_second_language_of_the_marketplace_is_fine(tmp_path: Path) -> None:
    path = broken(
        tmp_path, "language_tag: en_CA\n    currency: CAD", "language_tag: fr_CA\n    currency: CAD"
    )
    assert load_mapping(path).settings("A2EUQ1WTGCTBG2").language_tag == "fr_CA"


def test_undeclared_column_in_a_list_of_columns_and_a_template(tmp_path: Path) -> None:
    text = SHIRT_TEXT.replace(
        'value: {transform: list, column: bullets, separator: "|"}',
        "value: {transform: list, columns: [bullets, bullet_2]}",
    ).replace("value: {column: model}", 'value: {transform: template, template: "{brand}-{modell}"}')
    path = tmp_path / "SHIRT.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    found = {(p.key, p.line) for p in info.value.problems}
    assert found == {
        ("attributes.bullet_point.value.columns[1]", line_of(text, "columns: [bullets, bullet_2]")),
        ("attributes.model_number.value.template", line_of(text, "template: ")),
    }


def test_value_of_the_wrong_type(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "price: {type: decimal, required: true, min: 0.01",
        "price: {type: decimal, required: true, min: cheap",
    )
    _, line, key, message = only_problem(path)
    assert line == line_of(path.read_text(), "min: cheap")
    assert key == "columns.price.min"
    assert "valid number" in message and "'cheap'" in message


def test_unknown_column_type_and_required_not_a_boolean(tmp_path: Path) -> None:
    path = broken(tmp_path, "fit: {type: string, required: true", "fit: {type: str, required: maybe")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    line = line_of(path.read_text(), "fit: {type: str")
    assert {(p.key, p.line) for p in info.value.problems} == {
        ("columns.fit.type", line),
        ("columns.fit.required", line),
    }


def test_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    path = broken(tmp_path, "unit_column: weight_unit", "unit_colum: weight_unit")
    _, line, key, message = only_problem(path)
    assert line == line_of(path.read_text(), "unit_colum:")
    assert key == "attributes.item_package_weight.object.unit_colum"
    assert message == "unknown key 'unit_colum' (did you mean 'unit_column'?)"


def test_missing_required_key(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "value: {transform: enum, column: fit, values: {M: mens, W: womens, U: unisex-adult}}",
        "value: {transform: enum, column: fit}",
    )
    _, line, key, message = only_problem(path)
    assert line == line_of(path.read_text(), "value: {transform: enum, column: fit}")
    assert key == "attributes.department.value.values"
    assert message == "required key 'values' is missing"


def test_scalar_where_a_transform_is_expected(tmp_path: Path) -> None:
    path = broken(tmp_path, "value: {column: title}", "value: title")
    _, line, key, message = only_problem(path)
    assert (line, key) == (line_of(path.read_text(), "value: title"), "attributes.item_name.value")
    assert "expected a transform" in message and "str 'title'" in message


def test_attribute_with_two_forms(tmp_path: Path) -> None:
    path = broken(
        tmp_path, "    value: {column: model}\n", "    value: {column: model}\n    object: {column: model}\n"
    )
    _, line, key, message = only_problem(path)
    assert (line, key) == (line_of(path.read_text(), "model_number:"), "attributes.model_number")
    assert "exactly one of 'value', 'fields' or 'object'" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = broken(tmp_path, "  brand:\n    language_tag: true\n", "  brand:\n    language_tag: [true\n")
    _, line, _, message = only_problem(path)
    assert message.startswith("not valid YAML")
    assert line is not None and abs(line - line_of(path.read_text(), "language_tag: [true")) <= 2


def test_duplicate_key_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "  brand:\n    language_tag: true\n",
        "  brand:\n    language_tag: true\n    language_tag: false\n",
    )
    _, line, key, message = only_problem(path)
    first = path.read_text().splitlines().index("  brand:") + 2
    assert (line, key) == (first + 1, "attributes.brand.language_tag")
    assert message == f"duplicate key 'language_tag' (first given on line {first})"


def test_unquoted_label_with_a_comma_is_caught(tmp_path: Path) -> None:
    # in a flow mapping, "60% Cotton, 40% Polyester" would silently become two entries
    path = broken(tmp_path, 'CP6040: "60% Cotton, 40% Polyester"', "CP6040: 60% Cotton, 40% Polyester")
    _, line, key, message = only_problem(path)
    assert key == "attributes.fabric_type.value.values"
    assert "'40% Polyester'" in message and "quote" in message
    assert line == line_of(path.read_text(), "values: {C100: 100% Cotton")


def test_country_code_instead_of_marketplace_id(tmp_path: Path) -> None:
    path = broken(tmp_path, "  A1PA6795UKMFR9:           # amazon.de", "  DE:  # amazon.de")
    _, line, key, message = only_problem(path)
    assert (line, key) == (line_of(path.read_text(), "  DE:"), "marketplaces.DE")
    assert "use the marketplace id A1PA6795UKMFR9" in message


def test_product_type_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "SHIRTS.yaml"
    path.write_text(SHIRT_TEXT)
    _, line, key, message = only_problem(path)
    assert (line, key) == (line_of(SHIRT_TEXT, "product_type: SHIRT"), "product_type")
    assert "expected SHIRTS" in message


def test_column_type_must_suit_the_transform(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "quantity: {type: integer, required: true, min: 0, max: 100000}",
        "quantity: {type: decimal, required: true}",
    )
    _, line, key, message = only_problem(path)
    assert (line, key) == (
        line_of(path.read_text(), "quantity: {transform: integer"),
        "attributes.fulfillment_availability.fields.quantity.column",
    )
    assert "declared as decimal; the integer transform needs integer" in message


def test_enum_relabel_of_an_unknown_code(tmp_path: Path) -> None:
    path = broken(tmp_path, "color: {GRY: Heather Grey}", "color: {GREY: Heather Grey}")
    _, line, key, message = only_problem(path)
    assert (line, key) == (
        line_of(path.read_text(), "color: {GREY"),
        "marketplaces.A2EUQ1WTGCTBG2.enums.color.GREY",
    )
    assert "not in the base translation" in message


def test_all_problems_of_all_files_are_reported_at_once(tmp_path: Path) -> None:
    for name in SHIPPED:
        shutil.copy(MAPPINGS_DIR / f"{name}.yaml", tmp_path)
    broken(tmp_path, "value: {column: title}", "value: {column: titel}")
    luggage = (MAPPINGS_DIR / "LUGGAGE.yaml").read_text()
    broken(tmp_path, "transform: boolean", "transform: yesno", name="LUGGAGE.yaml", text=luggage)
    (tmp_path / "EMPTY.yaml").write_text("# nothing yet\n")
    with pytest.raises(MappingError) as info:
        load_mappings(tmp_path)
    files = sorted(Path(p.file).name for p in info.value.problems)
    assert files == ["EMPTY.yaml", "LUGGAGE.yaml", "SHIRT.yaml"]


# --- cross-field checks and product identifiers ---------------------------------------------------------

LUGGAGE_TEXT = (MAPPINGS_DIR / "LUGGAGE.yaml").read_text(encoding="utf-8")
CAPACITY_CHECK = (
    '{rule: expanded_capacity_ge_capacity, left: expanded_capacity_l, op: ">=", right: capacity_l}'
)


def test_shipped_checks_and_identifiers() -> None:
    mappings = load_mappings(MAPPINGS_DIR)
    [check] = mappings["LUGGAGE"].checks
    assert (check.rule, check.left, check.op, check.right) == (
        "expanded_capacity_ge_capacity",
        "expanded_capacity_l",
        ">=",
        "capacity_l",
    )
    for name in SHIPPED:
        # upc as sent in the US and Canada, ean as sent in Germany (the marketplace override)
        assert mappings[name].identifier_columns() == {"upc": "upc", "ean": "ean"}, name


@pytest.mark.parametrize(
    ("new", "key", "message"),
    [
        (
            '{rule: expanded_capacity_ge_capacity, left: expanded_capacity_l, op: "=>", right: capacity_l}',
            "checks[0].op",
            "Input should be '<', '<=', '>' or '>=' (got '=>')",
        ),
        (
            '{rule: expanded_capacity_ge_capacity, left: expanded_capacity, op: ">=", right: capacity_l}',
            "checks[0].left",
            "column 'expanded_capacity' is not declared under 'columns' (did you mean 'expanded_capacity_l'?)",
        ),
        (
            '{rule: capacity_vs_color, left: capacity_l, op: "<", right: color}',
            "checks[0].right",
            "a check compares numbers (integer, decimal) or dates (date); column 'color' is string",
        ),
        (
            '{rule: same_twice, left: capacity_l, op: "<=", right: capacity_l}',
            "checks[0].right",
            "a check compares two columns; both sides are 'capacity_l'",
        ),
        (
            '{rule: html, left: expanded_capacity_l, op: ">=", right: capacity_l}',
            "checks[0].rule",
            "'html' is a content policy rule name; name the check after what it compares "
            "(e.g. expanded_capacity_l_ge_capacity_l)",
        ),
        (
            '{rule: Expanded-Capacity, left: expanded_capacity_l, op: ">=", right: capacity_l}',
            "checks[0].rule",
            "String should match pattern '^[a-z][a-z0-9_]*$' (got 'Expanded-Capacity')",
        ),
        (
            '{rule: expanded_capacity_ge_capacity, left: expanded_capacity_l, op: ">=", right: capacity_l, '
            "why: bigger}",
            "checks[0].why",
            "unknown key 'why'",
        ),
    ],
    ids=[
        "op",
        "undeclared column",
        "not a number",
        "same column",
        "reserved name",
        "rule name",
        "unknown key",
    ],
)
def test_broken_check(tmp_path: Path, new: str, key: str, message: str) -> None:
    path = broken(tmp_path, CAPACITY_CHECK, new, name="LUGGAGE.yaml", text=LUGGAGE_TEXT)
    _, line, found_key, found = only_problem(path)
    assert (line, found_key) == (line_of(path.read_text(), "  - {rule: "), key)
    assert found.startswith(message), found


def test_checks_of_numbers_and_dates(tmp_path: Path) -> None:
    text = LUGGAGE_TEXT.replace(
        "  dimensions_cm: {type: dimensions}\n",
        "  dimensions_cm: {type: dimensions}\n  sale_start: {type: date}\n  sale_end: {type: date}\n"
        "  sale_price: {type: decimal, min: 0.01}\n",
    ).replace(
        f"  - {CAPACITY_CHECK}\n",
        f"  - {CAPACITY_CHECK}\n"
        '  - {rule: sale_price_below_price, left: sale_price, op: "<", right: price}\n'
        '  - {rule: sale_starts_before_it_ends, left: sale_start, op: "<", right: sale_end}\n'
        '  - {rule: sale_price_below_price, left: sale_start, op: "<", right: price}\n',
    )
    path = tmp_path / "LUGGAGE.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    last = line_of(text, 'left: sale_start, op: "<", right: price')
    assert {(p.line, p.key, p.message) for p in info.value.problems} == {
        (last, "checks[3].rule", "check 'sale_price_below_price' is already defined (checks[1])"),
        (
            last,
            "checks[3]",
            "sale_start < price compares a date with a number; both sides must be numbers or both dates",
        ),
    }
    fixed = text.replace('  - {rule: sale_price_below_price, left: sale_start, op: "<", right: price}\n', "")
    path.write_text(fixed)
    mapping = load_mapping(path)
    assert [c.text for c in mapping.checks] == [
        "expanded_capacity_l >= capacity_l",
        "sale_price < price",
        "sale_start < sale_end",
    ]
    assert mapping.columns["sale_start"].type == "date"


def test_explicit_identifier(tmp_path: Path) -> None:
    text = SHIRT_TEXT.replace(
        "  dimensions_cm: {type: dimensions}\n",
        "  dimensions_cm: {type: dimensions}\n  isbn: {type: string, identifier: isbn}\n",
    )
    mapping = parse_mapping(text, "SHIRT.yaml")
    assert mapping.identifier_columns() == {"isbn": "isbn", "upc": "upc", "ean": "ean"}


@pytest.mark.parametrize(
    ("old", "new", "needle", "key", "message"),
    [
        (
            "upc: {type: string, pattern: '^[0-9]{12}$'}",
            "upc: {type: integer, identifier: upc}",
            "upc: {type: integer",
            "columns.upc.type",
            "column 'upc' holds a product identifier (upc); declare it as type string, not integer "
            "(leading zeros are part of the code)",
        ),
        (
            "upc: {type: string, pattern: '^[0-9]{12}$'}",
            "upc: {type: string, identifier: ean}",
            "upc: {type: string, identifier: ean}",
            "columns.upc.identifier",
            "column 'upc' is declared identifier: ean, but attributes.externally_assigned_product_identifier "
            "sends it as upc",
        ),
        (
            "upc: {type: string, pattern: '^[0-9]{12}$'}",
            "upc: {type: string, identifier: jan}",
            "upc: {type: string, identifier: jan}",
            "columns.upc.identifier",
            "Input should be 'upc', 'ean', 'gtin' or 'isbn' (got 'jan')",
        ),
        (
            "          type: {const: ean}\n          value: {column: ean}",
            "          type: {const: ean}\n          value: {column: upc}",
            "          value: {column: upc}",
            "marketplaces.A1PA6795UKMFR9.attributes.externally_assigned_product_identifier.fields.value.column",
            "column 'upc' is sent as ean here and as upc by attributes.externally_assigned_product_identifier; "
            "one cell cannot be both (use a column per kind)",
        ),
    ],
    ids=["not text", "disagrees with the mapping", "unknown kind", "sent as two kinds"],
)
def test_broken_identifier(tmp_path: Path, old: str, new: str, needle: str, key: str, message: str) -> None:
    path = broken(tmp_path, old, new)
    _, line, found_key, found = only_problem(path)
    assert (line, found_key, found) == (line_of(path.read_text(), needle), key, message)


# --- against the product type --------------------------------------------------------------------------


def problems_against(schemas: ProductTypeSchemas, text: str) -> list[tuple[int | None, str, str]]:
    mapping = parse_mapping(text, "SHIRT.yaml")
    return [(p.line, p.key, p.message) for p in check_against_product_type(mapping, schemas.schema("SHIRT"))]


def test_attribute_the_product_type_does_not_have(schemas: ProductTypeSchemas) -> None:
    text = SHIRT_TEXT.replace("  item_type_keyword:\n", "  item_type_keywords:\n")
    [(line, key, message)] = [
        p for p in problems_against(schemas, text) if "item_type_keyword" in p[2] and "no attribute" in p[2]
    ]
    assert (line, key) == (line_of(text, "item_type_keywords:"), "attributes.item_type_keywords")
    assert "did you mean 'item_type_keyword'" in message


def test_selector_mismatch_and_unknown_field(schemas: ProductTypeSchemas) -> None:
    text = SHIRT_TEXT.replace(
        "  item_name:\n    language_tag: true\n", "  item_name:\n    language_tag: false\n"
    ).replace(
        "      size_class: {const: alpha}\n      size: {transform: enum, column: size, values: {XS: x_small, S: small, M: medium, L: large, XL: x_large, XXL: xx_large}}\n  department:",
        "      size_class: {const: alpha}\n      sizes: {column: size}\n  department:",
    )
    found = problems_against(schemas, text)
    assert (line_of(text, "  item_name:"), "attributes.item_name") in {(p[0], p[1]) for p in found}
    assert any("item_name values need language_tag" in p[2] for p in found)
    assert any(p[1] == "attributes.size.fields.sizes" and "no field 'sizes'" in p[2] for p in found)


def test_translation_outside_the_schema_enum(schemas: ProductTypeSchemas) -> None:
    text = SHIRT_TEXT.replace("{M: mens, W: womens, U: unisex-adult}", "{M: men, W: womens, U: unisex-adult}")
    [(line, key, message)] = problems_against(schemas, text)
    assert (line, key) == (line_of(text, "{M: men,"), "attributes.department.value.values.M")
    assert "'men' (for code 'M') is not one of" in message


def test_required_attribute_not_mapped_or_omitted(schemas: ProductTypeSchemas) -> None:
    text = SHIRT_TEXT.replace("  country_of_origin:\n    value: {column: country_of_origin}\n", "").replace(
        "    enums:\n      color: {GRY: Heather Grey}\n",
        "    omit: [department]\n    enums:\n      color: {GRY: Heather Grey}\n",
    )
    found = problems_against(schemas, text)
    messages = {p[2] for p in found}
    assert "SHIRT requires 'country_of_origin', which is not mapped" in messages
    assert "SHIRT requires 'department'; it cannot be omitted" in messages
    omitted = next(p for p in found if "omitted" in p[2])
    assert omitted[:2] == (line_of(text, "omit: [department]"), "marketplaces.A2EUQ1WTGCTBG2.omit[0]")


# --- a new product type is one file ------------------------------------------------------------------


def test_a_new_product_type_is_one_new_file(tmp_path: Path, schemas: ProductTypeSchemas) -> None:
    for name in SHIPPED:
        shutil.copy(MAPPINGS_DIR / f"{name}.yaml", tmp_path)
    before = load_mappings(tmp_path)
    assert "PRODUCT" not in before
    (tmp_path / "PRODUCT.yaml").write_text(PRODUCT_MAPPING)
    after = load_mappings(tmp_path)
    assert set(after) == set(before) | {"PRODUCT"}
    product = after["PRODUCT"]
    assert isinstance(product, ProductTypeMapping)
    assert check_against_product_type(product, schemas.schema("PRODUCT")) == []
    message = row_to_message(PRODUCT_ROW, product, US)
    assert message["productType"] == "PRODUCT"
    assert check_against_schema(message, schemas) == []
