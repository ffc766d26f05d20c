"""Catalog rows -> JSON_LISTINGS_FEED messages: Amazon's message schema, the product type schemas,
per-marketplace overrides, transforms, and errors that name the SKU, attribute and reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from demo.sample_catalog import BAD_ROWS, generate_rows
from listings_pipeline.catalog.mapping import ProductTypeMapping, parse_mapping
from listings_pipeline.catalog.transform import (
    AttributeMemo,
    TransformError,
    _Context,
    check_against_schema,
    is_empty,
    iter_messages,
    map_rows,
    row_to_message,
)
from spapi.models.feeds import ListingsFeed, ListingsFeedMessage
from spapi.product_types import ProductTypeSchemas, make_validator

from .catalog_paths import CA, DE, MESSAGE_SCHEMA, US


@pytest.fixture(scope="module")
def message_validator() -> Any:
    schema = json.loads(MESSAGE_SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def good_rows() -> Iterator[dict[str, Any]]:
    bad = {(b.sku, b.marketplace_id) for b in BAD_ROWS}
    for row in generate_rows():
        if (row["sku"], row["marketplace_id"]) not in bad:
            yield {k: (v or None) for k, v in row.items()}


def row(sku: str, marketplace_id: str = US) -> dict[str, Any]:
    return next(r for r in good_rows() if r["sku"] == sku and r["marketplace_id"] == marketplace_id)


def values(message: dict[str, Any], attribute: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = message["attributes"][attribute]
    return result


# --- every good sample row ---------------------------------------------------------------------------


def test_every_good_sample_row_gives_a_valid_message(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas, message_validator: Any
) -> None:
    seen: set[tuple[str, str]] = set()
    for number, r in enumerate(good_rows(), 1):
        message = row_to_message(r, mappings[r["product_type"]], r["marketplace_id"], message_id=number)
        # Amazon's JSON_LISTINGS_FEED message schema (draft-07, with its operationType oneOf)
        errors = [e.message for e in message_validator.iter_errors(message)]
        assert errors == [], (r["sku"], errors)
        # our strict pydantic model of the same message
        ListingsFeedMessage.model_validate(message)
        # the product type's schema, with Amazon's vocabulary (selectors, UTF-8 byte lengths)
        assert check_against_schema(message, schemas) == [], r["sku"]
        seen.add((r["product_type"], r["marketplace_id"]))
    assert seen == {(t, m) for t in ("SHIRT", "LUGGAGE", "HEADPHONES") for m in (US, CA, DE)}


def test_messages_fit_in_a_feed_document(mappings: dict[str, ProductTypeMapping]) -> None:
    rows = [r for r in good_rows() if r["marketplace_id"] == CA and r["product_type"] == "LUGGAGE"]
    messages = list(iter_messages(rows, mappings["LUGGAGE"], CA))
    feed = ListingsFeed.model_validate(
        {
            "header": {"sellerId": "A1SELLER", "version": "2.0"},
            "messages": [dict(m, messageId=i) for i, m in enumerate(messages, 1)],
        }
    )
    assert len(feed.messages) == len(rows) > 10


def test_check_with_a_single_validator(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas
) -> None:
    validator = make_validator(schemas.schema("LUGGAGE"), schemas.meta_schema)
    message = row_to_message(row("TT-01-CABIN-" + row_color("TT-01-CABIN-")), mappings["LUGGAGE"], US)
    assert check_against_schema(message, validator) == []


def row_color(prefix: str) -> str:
    sku: str = next(r["sku"] for r in good_rows() if r["sku"].startswith(prefix))
    return sku[len(prefix) :]


# --- shape and selectors ---------------------------------------------------------------------------


def test_message_shape_and_selectors(mappings: dict[str, ProductTypeMapping]) -> None:
    message = row_to_message(row("NW-01M-BLK-M"), mappings["SHIRT"], US)
    assert list(message) == ["sku", "operationType", "productType", "requirements", "attributes"]
    assert (message["sku"], message["operationType"], message["productType"], message["requirements"]) == (
        "NW-01M-BLK-M",
        "UPDATE",
        "SHIRT",
        "LISTING",
    )
    # text attributes carry language_tag and marketplace_id (the schema's selectors) ...
    assert values(message, "item_name") == [
        {
            "value": "Northwind Apparel Men's Classic Crew Tee, Black, Size M",
            "language_tag": "en_US",
            "marketplace_id": US,
        }
    ]
    # ... others only marketplace_id, fulfillment_availability neither
    assert values(message, "country_of_origin") == [{"value": "PT", "marketplace_id": US}]
    assert values(message, "fulfillment_availability")[0].keys() == {"fulfillment_channel_code", "quantity"}
    assert "messageId" not in message
    assert row_to_message(row("NW-01M-BLK-M"), mappings["SHIRT"], US, message_id=7)["messageId"] == 7


def test_list_of_bullets_gives_one_value_each(mappings: dict[str, ProductTypeMapping]) -> None:
    r = dict(row("NW-01M-BLK-M"), bullets=" Soft cotton | |Tagless|  Machine washable ")
    bullets = values(row_to_message(r, mappings["SHIRT"], US), "bullet_point")
    assert [b["value"] for b in bullets] == ["Soft cotton", "Tagless", "Machine washable"]
    assert {b["language_tag"] for b in bullets} == {"en_US"}


# --- per-marketplace overrides ---------------------------------------------------------------------


def test_german_marketplace_overrides(mappings: dict[str, ProductTypeMapping]) -> None:
    sku = next(
        r["sku"] for r in good_rows() if r["marketplace_id"] == DE and r["sku"].startswith("NW-01M-BLK")
    )
    message = row_to_message(row(sku, DE), mappings["SHIRT"], DE)
    assert values(message, "color") == [{"value": "Schwarz", "language_tag": "de_DE", "marketplace_id": DE}]
    assert values(message, "fabric_type")[0]["value"] == "100% Baumwolle"
    # replaced attribute: EU size system
    assert values(message, "size")[0]["size_system"] == "as3"
    # replaced attribute: EAN instead of UPC
    [identifier] = values(message, "externally_assigned_product_identifier")
    assert identifier["type"] == "ean" and len(identifier["value"]) == 13
    # currency from the marketplace
    assert values(message, "purchasable_offer")[0]["currency"] == "EUR"


def test_canadian_relabel_and_currency(mappings: dict[str, ProductTypeMapping]) -> None:
    sku = next(
        r["sku"]
        for r in good_rows()
        if r["marketplace_id"] == CA and "-GRY-" in r["sku"] and r["sku"].startswith("NW")
    )
    us_message = row_to_message(row(sku, US), mappings["SHIRT"], US)
    ca_message = row_to_message(row(sku, CA), mappings["SHIRT"], CA)
    assert values(us_message, "color")[0]["value"] == "Heather Gray"
    assert values(ca_message, "color")[0] == {
        "value": "Heather Grey",
        "language_tag": "en_CA",
        "marketplace_id": CA,
    }
    assert values(ca_message, "purchasable_offer")[0]["currency"] == "CAD"


def test_omitted_attribute(mappings: dict[str, ProductTypeMapping]) -> None:
    r = dict(row("SA-03-BLK", US), marketplace_id=DE, currency="EUR")
    assert "bullet_point" in row_to_message(row("SA-03-BLK", US), mappings["HEADPHONES"], US)["attributes"]
    assert "bullet_point" not in row_to_message(r, mappings["HEADPHONES"], DE)["attributes"]


# --- transforms --------------------------------------------------------------------------------------


def test_enum_translation_with_separator(mappings: dict[str, ProductTypeMapping]) -> None:
    message = row_to_message(row("SA-03-BLK"), mappings["HEADPHONES"], US)  # Sonora Move: BT|WIRED
    assert [v["value"] for v in values(message, "connectivity_technology")] == ["bluetooth", "wired"]
    assert values(message, "headphones_form_factor")[0]["value"] == "on_ear"
    assert values(message, "battery") == [
        {"cell_composition": [{"value": "lithium_ion"}], "marketplace_id": US}
    ]


def test_units_and_dimensions(mappings: dict[str, ProductTypeMapping]) -> None:
    shirt = row_to_message(row("NW-01M-BLK-M"), mappings["SHIRT"], US)
    [weight] = values(shirt, "item_package_weight")
    assert weight["unit"] == "grams" and isinstance(weight["value"], int)
    luggage = row_to_message(row("TT-01-CABIN-" + row_color("TT-01-CABIN-")), mappings["LUGGAGE"], US)
    assert values(luggage, "item_package_weight")[0]["unit"] == "kilograms"
    assert values(luggage, "item_dimensions")[0] == {
        "length": {"value": 55, "unit": "centimeters"},
        "width": {"value": 40, "unit": "centimeters"},
        "height": {"value": 23, "unit": "centimeters"},
        "marketplace_id": US,
    }
    assert values(luggage, "capacity")[0] == {"value": 38, "unit": "liters", "marketplace_id": US}
    # a unit written in the cell wins over the unit column
    r = dict(row("NW-01M-BLK-M"), weight="0.5 lb", weight_unit="G")
    assert values(row_to_message(r, mappings["SHIRT"], US), "item_package_weight")[0]["value"] == 0.5
    assert values(row_to_message(r, mappings["SHIRT"], US), "item_package_weight")[0]["unit"] == "pounds"


def test_price_boolean_integer(mappings: dict[str, ProductTypeMapping]) -> None:
    r = dict(row("TT-01-CABIN-" + row_color("TT-01-CABIN-")), price="129.5", expandable="y", wheels="4")
    message = row_to_message(r, mappings["LUGGAGE"], US)
    assert values(message, "purchasable_offer")[0]["our_price"] == [{"schedule": [{"value_with_tax": 129.5}]}]
    assert values(message, "is_expandable")[0]["value"] is True
    assert values(message, "number_of_wheels")[0]["value"] == 4


@pytest.mark.parametrize("price", ["17.999", "0.001", "129.505"])
def test_a_price_is_never_rounded(mappings: dict[str, ProductTypeMapping], price: str) -> None:
    r = dict(row("TT-01-CABIN-" + row_color("TT-01-CABIN-")), price=price)
    with pytest.raises(TransformError) as info:
        row_to_message(r, mappings["LUGGAGE"], US)
    assert info.value.column == "price" and info.value.value == price
    assert "more than 2 decimal places" in str(info.value)


def test_a_spreadsheet_float_artifact_is_the_price_it_stands_for(
    mappings: dict[str, ProductTypeMapping],
) -> None:
    r = dict(row("TT-01-CABIN-" + row_color("TT-01-CABIN-")), price="16.990000000001")
    message = row_to_message(r, mappings["LUGGAGE"], US)
    assert values(message, "purchasable_offer")[0]["our_price"] == [{"schedule": [{"value_with_tax": 16.99}]}]


def test_typed_values_from_parquet_or_sql(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas
) -> None:
    r: dict[str, Any] = dict(row("TT-01-CABIN-" + row_color("TT-01-CABIN-")))
    r |= {"price": 129.99, "wheels": 4.0, "quantity": 12, "expandable": True, "capacity_l": float("nan")}
    message = row_to_message(r, mappings["LUGGAGE"], US)
    assert values(message, "number_of_wheels")[0]["value"] == 4
    assert values(message, "is_expandable")[0]["value"] is True
    assert "capacity" not in message["attributes"]  # NaN is empty
    assert check_against_schema(message, schemas) == []


def test_empty_optional_columns_leave_the_attribute_out(mappings: dict[str, ProductTypeMapping]) -> None:
    r = dict(row("NW-01M-BLK-M"), cuff=None, upc="  ", model=None)
    message = row_to_message(r, mappings["SHIRT"], US)
    # the identifier has a constant part (type: upc) but no value: left out entirely
    for attribute in ("cuff_type", "externally_assigned_product_identifier", "model_number"):
        assert attribute not in message["attributes"]
    assert is_empty(None) and is_empty(float("nan")) and is_empty(" ") and not is_empty(0)


def test_template_and_image_base_url() -> None:
    mapping = parse_mapping(
        """
product_type: DEMO
marketplaces: {ATVPDKIKX0DER: {language_tag: en_US}}
columns: {brand: {}, name: {}, image: {}}
attributes:
  item_name: {language_tag: true, value: {transform: template, template: "{brand} {name}"}}
  main_product_image_locator:
    fields: {media_location: {transform: image_url, column: image, base_url: "https://cdn.example.com/img/"}}
""",
        "DEMO.yaml",
    )
    message = row_to_message(
        {"sku": "D1", "brand": "Acme", "name": "Widget", "image": "/d1.jpg"}, mapping, US
    )
    assert values(message, "item_name")[0]["value"] == "Acme Widget"
    assert (
        values(message, "main_product_image_locator")[0]["media_location"]
        == "https://cdn.example.com/img/d1.jpg"
    )
    message = row_to_message(
        {"sku": "D1", "brand": "Acme", "name": None, "image": "https://x.example/a.png"}, mapping, US
    )
    assert "item_name" not in message["attributes"]


# --- errors name the SKU, attribute, column and reason -----------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "attribute", "reason"),
    [
        ("color", "PNK", "color", "'PNK' has no translation (known codes: BLK, WHT"),
        ("quantity", "12.5", "fulfillment_availability", "'12.5' is not a whole number"),
        ("price", "12,99", "purchasable_offer", "'12,99' is not a number"),
        ("weight_unit", "STONE", "item_package_weight", "unknown unit 'STONE' (known: KG, G, LB, OZ)"),
        ("dimensions_cm", "30 by 25", "item_package_dimensions", "is not in the form LxWxH"),
        (
            "currency",
            "EUR",
            "purchasable_offer",
            "the row's currency EUR is not the currency of marketplace ATVPDKIKX0DER (USD)",
        ),
        (
            "image_url",
            "ftp://img.example/x.jpg",
            "main_product_image_locator",
            "is not an https:// image URL",
        ),
    ],
)
def test_bad_value_names_sku_attribute_column_and_reason(
    mappings: dict[str, ProductTypeMapping], column: str, value: str, attribute: str, reason: str
) -> None:
    r = dict(row("NW-01M-BLK-M"), **{column: value})
    with pytest.raises(TransformError) as info:
        row_to_message(r, mappings["SHIRT"], US)
    error = info.value
    assert (error.sku, error.attribute, error.column, error.value) == (
        "NW-01M-BLK-M",
        attribute,
        column,
        value,
    )
    assert reason in error.reason
    assert str(error).startswith(f"SKU 'NW-01M-BLK-M', attribute '{attribute}', column '{column}': ")
    record = error.to_quarantine()
    assert record["rule"] == "mapping" and record["column_name"] == column and record["value"] == value


def test_boolean_error(mappings: dict[str, ProductTypeMapping]) -> None:
    r = dict(row("TT-01-CABIN-" + row_color("TT-01-CABIN-")), expandable="maybe")
    with pytest.raises(
        TransformError, match=r"attribute 'is_expandable', column 'expandable': 'maybe' is not a yes/no value"
    ):
        row_to_message(r, mappings["LUGGAGE"], US)


def test_row_of_another_marketplace_or_product_type(mappings: dict[str, ProductTypeMapping]) -> None:
    with pytest.raises(TransformError, match="the row is for marketplace ATVPDKIKX0DER, not A2EUQ1WTGCTBG2"):
        row_to_message(row("NW-01M-BLK-M"), mappings["SHIRT"], CA)
    with pytest.raises(TransformError, match="the row is product type SHIRT"):
        row_to_message(row("NW-01M-BLK-M"), mappings["LUGGAGE"], US)
    with pytest.raises(TransformError, match="no settings for marketplace A1F83G8C2ARO7P"):
        row_to_message(dict(row("NW-01M-BLK-M"), marketplace_id=None), mappings["SHIRT"], "A1F83G8C2ARO7P")
    with pytest.raises(TransformError, match="the row has no SKU"):
        row_to_message(dict(row("NW-01M-BLK-M"), sku=" "), mappings["SHIRT"], US)


def test_schema_issue_names_sku_attribute_and_reason(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas
) -> None:
    # "€" is 3 UTF-8 bytes: 67 of them pass a 200-character check but not Amazon's 200-byte limit
    r = dict(row("NW-01M-BLK-M"), title="€" * 67)
    message = row_to_message(r, mappings["SHIRT"], US)
    [issue] = check_against_schema(message, schemas)
    assert (issue.sku, issue.attribute, issue.code, issue.severity) == (
        "NW-01M-BLK-M",
        "item_name",
        "4000001",
        "ERROR",
    )
    assert "longer than 200 UTF-8 bytes" in issue.reason
    assert str(issue).startswith("SKU 'NW-01M-BLK-M', attribute 'item_name': ")


def test_iter_messages_collects_errors(mappings: dict[str, ProductTypeMapping]) -> None:
    rows = [row("NW-01M-BLK-M"), dict(row("NW-01M-BLK-L"), color="PNK"), row("NW-01M-WHT-M")]
    errors: list[TransformError] = []
    messages = list(iter_messages(rows, mappings["SHIRT"], US, errors=errors))
    assert [m["sku"] for m in messages] == ["NW-01M-BLK-M", "NW-01M-WHT-M"]
    assert [(e.sku, e.column) for e in errors] == [("NW-01M-BLK-L", "color")]
    with pytest.raises(TransformError):
        list(iter_messages(rows, mappings["SHIRT"], US))


def test_map_rows_quarantines_what_cannot_be_sent(
    mappings: dict[str, ProductTypeMapping], schemas: ProductTypeSchemas
) -> None:
    rows: list[dict[str, Any]] = [
        {k: (v or None) for k, v in r.items()} for r in generate_rows() if r["marketplace_id"] == US
    ]
    validate_stage = {b.sku for b in BAD_ROWS if b.stage == "validate" and b.marketplace_id == US}
    rows = [r for r in rows if r["sku"] not in validate_stage]  # what the validation step lets through
    rows.append(dict(rows[0], sku="SOCK-1", product_type="SOCKS"))
    rows.append(dict(rows[0], sku="NW-X", color="PNK", _source_file="catalog.csv", _source_row=77))
    result = map_rows(rows, mappings, US, schemas=schemas)
    by_sku = {q["sku"]: q for q in result.quarantined}
    [schema_bad] = [b for b in BAD_ROWS if b.stage == "schema"]
    assert set(by_sku) == {schema_bad.sku, "SOCK-1", "NW-X"}
    assert by_sku[schema_bad.sku] | {"reason": None} == {
        "sku": schema_bad.sku,
        "marketplace_id": US,
        "product_type": "HEADPHONES",
        "column_name": "bt_version",
        "value": None,
        "rule": "product_type_schema.90220",
        "reason": None,
        "source_file": None,
        "source_line": None,
    }
    assert "'bluetooth_version' is required" in by_sku[schema_bad.sku]["reason"]
    # where the row is in the seller's file, for the operator who has to fix it
    assert (by_sku["NW-X"]["source_file"], by_sku["NW-X"]["source_line"]) == ("catalog.csv", 77)
    assert by_sku["NW-X"]["reason"].startswith("line 77, SKU 'NW-X'")
    assert by_sku["SOCK-1"]["rule"] == "mapping.unknown_product_type"
    assert by_sku["NW-X"]["column_name"] == "color" and by_sku["NW-X"]["value"] == "PNK"
    assert len(result.messages) == len(rows) - 3
    assert result.rule_counts == {
        "product_type_schema.90220": 1,
        "mapping.unknown_product_type": 1,
        "mapping": 1,
    }


# --- the attribute memo ------------------------------------------------------------------------------


def test_the_memo_builds_the_messages_that_building_every_value_builds(
    mappings: dict[str, ProductTypeMapping],
) -> None:
    """Rows that share cells share attribute values; every message is still the one its own row
    makes, in every marketplace (the memo's key holds the marketplace and each cell's type)."""
    rows = [dict(row) for row in generate_rows()]
    rows += [{**row, "quantity": 7, "sku": f"{row['sku']}-INT"} for row in rows[:40]]  # 7 is not "7"
    memo = AttributeMemo()
    compared = 0
    for row in rows:
        mapping = mappings.get(str(row.get("product_type") or "").upper())
        if mapping is None or row.get("marketplace_id") not in mapping.marketplaces:
            continue
        try:
            plain = row_to_message(row, mapping, row["marketplace_id"])
        except TransformError as err:
            with pytest.raises(TransformError) as again:
                row_to_message(row, mapping, row["marketplace_id"], memo=memo)
            assert str(again.value) == str(err)
            continue
        assert row_to_message(row, mapping, row["marketplace_id"], memo=memo) == plain
        compared += 1
    assert compared > 400


def test_a_value_reading_a_column_its_spec_does_not_declare_is_refused_under_a_memo(
    mappings: dict[str, ProductTypeMapping],
) -> None:
    ctx = _Context(
        {"color": "BLK", "size": "M"}, mappings["SHIRT"], US, "SKU-1", "color", frozenset({"color"})
    )
    assert ctx.text("color") == "BLK"
    with pytest.raises(RuntimeError, match="reads column 'size'"):
        ctx.text("size")
