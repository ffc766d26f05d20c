"""The Amazon-vocabulary validator and the shipped product types."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from spapi.product_types import ProductTypeSchemas, check_schema, make_validator, validate_attributes

from .conftest import MODELS, REPO, US, luggage_attributes, v

META = MODELS / "schemas" / "definitions" / "meta-schema.json"


@pytest.fixture(scope="module")
def schemas() -> ProductTypeSchemas:
    return ProductTypeSchemas(META, [MODELS / "schemas" / "definitions", REPO / "include" / "product_types"])


def test_ships_amazons_product_and_our_types(schemas: ProductTypeSchemas) -> None:
    assert {"PRODUCT", "SHIRT", "LUGGAGE", "HEADPHONES"} <= set(schemas.names())


@pytest.mark.parametrize("name", ["PRODUCT", "SHIRT", "LUGGAGE", "HEADPHONES"])
def test_every_schema_conforms_to_amazons_meta_schema(schemas: ProductTypeSchemas, name: str) -> None:
    schema = schemas.schema(name)
    assert check_schema(schema, schemas.meta_schema) == []
    if name != "PRODUCT":
        # written in Amazon's format: selectors, unique-item bounds, byte lengths, conditionals
        text = schemas.raw(name).decode()
        for keyword in (
            "selectors",
            "minUniqueItems",
            "maxUniqueItems",
            "maxUtf8ByteLength",
            "enumNames",
            "editable",
            "hidden",
        ):
            assert f'"{keyword}"' in text, keyword
        assert schema["required"] and len(schema["allOf"]) >= 4


def test_meta_schema_check_rejects_a_bad_keyword_value(schemas: ProductTypeSchemas) -> None:
    # Amazon's meta-schema types its keywords at the root (it sets no $recursiveAnchor), and
    # nested subschemas are checked by the draft 2019-09 meta-schema it extends
    bad = copy.deepcopy(schemas.schema("LUGGAGE"))
    bad["maxUniqueItems"] = "one"
    bad["properties"]["item_name"]["type"] = "arrayy"
    errors = check_schema(bad, schemas.meta_schema)
    assert any(e.startswith("maxUniqueItems") for e in errors), errors
    assert any(e.startswith("properties/item_name/type") for e in errors), errors


def test_valid_luggage_has_no_issues(schemas: ProductTypeSchemas) -> None:
    assert schemas.validate("LUGGAGE", luggage_attributes()) == []


def test_missing_required_attribute_is_90220(schemas: ProductTypeSchemas) -> None:
    attrs = luggage_attributes()
    del attrs["brand"]
    issues = schemas.validate("LUGGAGE", attrs)
    assert [(i.code, i.attribute_names, i.categories) for i in issues] == [
        ("90220", ("brand",), ("MISSING_ATTRIBUTE",))
    ]
    # NOT_ENFORCED (partial updates) does not ask for absent attributes
    assert schemas.validate("LUGGAGE", attrs, enforce_required=False) == []


def test_invalid_enum_is_4000001(schemas: ProductTypeSchemas) -> None:
    issues = schemas.validate("LUGGAGE", luggage_attributes(luggage_size=v("gigantic")))
    assert [(i.code, i.attribute_names) for i in issues] == [("4000001", ("luggage_size",))]
    assert issues[0].to_api()["categories"] == ["INVALID_ATTRIBUTE"]


def test_conditional_requirement(schemas: ProductTypeSchemas) -> None:
    attrs = luggage_attributes()
    del attrs["wheel_type"]  # required because number_of_wheels >= 1
    assert [i.attribute_names for i in schemas.validate("LUGGAGE", attrs)] == [("wheel_type",)]
    attrs["number_of_wheels"] = v(0)
    assert schemas.validate("LUGGAGE", attrs) == []
    del attrs["externally_assigned_product_identifier"]  # required unless exempt or ASIN given
    assert [i.code for i in schemas.validate("LUGGAGE", attrs)] == ["90220"]
    attrs["supplier_declared_has_product_identifier_exemption"] = v(True)
    assert schemas.validate("LUGGAGE", attrs) == []


def test_selectors_and_max_unique_items(schemas: ProductTypeSchemas) -> None:
    two_titles = v("A", language_tag="en_US") + v("B", language_tag="en_US")
    issues = schemas.validate("LUGGAGE", luggage_attributes(item_name=two_titles))
    assert [(i.code, i.attribute_names) for i in issues] == [("4000002", ("item_name",))]
    # the same attribute in two languages is two selector combinations: allowed
    per_language = v("A", language_tag="en_US") + v("B", language_tag="fr_CA")
    assert schemas.validate("LUGGAGE", luggage_attributes(item_name=per_language)) == []


def test_utf8_byte_length_counts_bytes_not_characters(schemas: ProductTypeSchemas) -> None:
    # 67 characters, 201 bytes: over LUGGAGE's item_name limit of 200 bytes
    title = "€" * 67
    issues = schemas.validate("LUGGAGE", luggage_attributes(item_name=v(title, language_tag="en_US")))
    assert [(i.code, i.attribute_names) for i in issues] == [("4000001", ("item_name",))]
    assert schemas.validate("LUGGAGE", luggage_attributes(item_name=v("€" * 66, language_tag="en_US"))) == []


def test_unknown_attribute_and_unknown_product_type(schemas: ProductTypeSchemas) -> None:
    issues = schemas.validate("LUGGAGE", luggage_attributes(flux_capacitor=v("yes")))
    assert [(i.code, i.attribute_names) for i in issues] == [("4000003", ("flux_capacitor",))]
    assert [i.code for i in schemas.validate("TIME_MACHINE", {})] == ["4000005"]


def test_amazons_product_schema_validates_real_shapes(schemas: ProductTypeSchemas) -> None:
    lang = {"language_tag": "en_US"}
    attrs = {
        "item_name": v("Widget", **lang),
        "brand": v("Acme", **lang),
        "bullet_point": v("Sturdy", **lang),
        "color": v("Red", **lang),
        "country_of_origin": v("US"),
        "item_type_keyword": v("widgets"),
        "product_description": v("A widget", **lang),
        "supplier_declared_dg_hz_regulation": v("not_applicable"),
    }
    missing = {i.attribute_names[0] for i in schemas.validate("PRODUCT", attrs)}
    assert "externally_assigned_product_identifier" in missing or "merchant_suggested_asin" in missing
    assert [i.code for i in schemas.validate("PRODUCT", attrs, enforce_required=False)] == []


def test_headphones_battery_chain(schemas: ProductTypeSchemas) -> None:
    lang = {"language_tag": "en_US"}
    attrs = {
        "item_name": v("Acme Buds", **lang),
        "brand": v("Acme", **lang),
        "item_type_keyword": v("earbud-headphones"),
        "model_number": v("AB-1"),
        "headphones_form_factor": v("in_ear", **lang),
        "connectivity_technology": v("bluetooth", **lang),
        "country_of_origin": v("CN"),
        "supplier_declared_dg_hz_regulation": v("not_applicable"),
        "supplier_declared_has_product_identifier_exemption": v(True),
    }
    names = sorted(n for i in schemas.validate("HEADPHONES", attrs) for n in i.attribute_names)
    assert names == ["batteries_required", "bluetooth_version"]
    attrs |= {"bluetooth_version": v("5.3"), "batteries_required": v(True)}
    names = sorted(n for i in schemas.validate("HEADPHONES", attrs) for n in i.attribute_names)
    assert names == ["batteries_included", "battery"]
    attrs |= {
        "batteries_included": v(True),
        "battery": [{"cell_composition": [{"value": "lithium_ion"}], "marketplace_id": US}],
    }
    names = [n for i in schemas.validate("HEADPHONES", attrs) for n in i.attribute_names]
    assert names == ["number_of_lithium_ion_cells"]
    attrs["number_of_lithium_ion_cells"] = v(1)
    assert schemas.validate("HEADPHONES", attrs) == []


def test_shirt_sleeve_conditional(schemas: ProductTypeSchemas) -> None:
    lang = {"language_tag": "en_US"}
    attrs = {
        "item_name": v("Oxford Shirt", **lang),
        "brand": v("Acme", **lang),
        "product_description": v("A shirt", **lang),
        "bullet_point": v("Cotton", **lang),
        "item_type_keyword": v("dress-shirts"),
        "color": v("White", **lang),
        "size": [
            {
                "size_system": "as1",
                "size_class": "alpha",
                "size": "medium",
                "language_tag": "en_US",
                "marketplace_id": US,
            }
        ],
        "department": v("mens", **lang),
        "fabric_type": v("100% cotton", **lang),
        "country_of_origin": v("PT"),
        "merchant_suggested_asin": v("B000000001"),
        "sleeve": [{"type": "long_sleeve", "language_tag": "en_US", "marketplace_id": US}],
    }
    assert [i.attribute_names for i in schemas.validate("SHIRT", attrs)] == [("cuff_type",)]
    attrs["cuff_type"] = v("barrel", **lang)
    assert schemas.validate("SHIRT", attrs) == []


def test_meta_schema_is_resolved_locally_without_network(schemas: ProductTypeSchemas) -> None:
    # a schema that $refs into the meta-schema by its $id resolves from the local registry
    schema = {"$schema": schemas.meta_schema["$id"], "$ref": schemas.meta_schema["$id"]}
    validator = make_validator(schema, schemas.meta_schema)
    assert validate_attributes(validator, {"selectors": ["marketplace_id"]}) == []
    assert validate_attributes(validator, {"selectors": "marketplace_id"}) != []


def test_schema_paths_do_not_depend_on_shared_dir() -> None:
    assert META.is_file() and not str(META).startswith(str(REPO.parent / "shared"))
    assert Path(REPO / "include" / "spapi-models" / "LICENSE").is_file()


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-11-23", True),
        ("2026-11-23T10:00:00Z", True),
        ("2026-11-23T10:00:00.250+01:00", True),
        ("2026-02-30", False),
        ("2026-11-23T10:00:00", False),  # RFC 3339 wants a zone
        ("next tuesday", False),
    ],
)
def test_dates_in_amazons_one_of_date_or_date_time(value: str, valid: bool) -> None:
    """Amazon's schemas accept a date *or* a date-time through ``oneOf``; without format checks every
    string matched both branches and was rejected."""
    from spapi.product_types import make_validator

    schema = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "type": "object",
        "properties": {
            "start_at": {
                "oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
            }
        },
    }
    errors = list(make_validator(schema).iter_errors({"start_at": value}))
    assert (errors == []) is valid, errors


def test_unique_item_bounds_fail_exactly_where_a_selector_group_is_beyond_them() -> None:
    """The bounds skip counting the groups when no group can be beyond them; every case a group
    count in 1..len decides is checked against a count made here."""
    from collections import Counter

    from spapi.product_types import _max_unique_items, _min_unique_items

    class Arrays:
        @staticmethod
        def is_type(instance: object, kind: str) -> bool:
            return isinstance(instance, list)

    schema = {"selectors": ["marketplace_id"]}
    us, ca = {"value": "a", "marketplace_id": "US"}, {"value": "b", "marketplace_id": "CA"}
    for instance in ([], [us], [us, us], [us, ca], [us, us, ca]):
        counts = Counter(item["marketplace_id"] for item in instance).values()
        for limit in range(4):
            too_many = list(_max_unique_items(Arrays(), limit, instance, schema))
            too_few = list(_min_unique_items(Arrays(), limit, instance, schema))
            assert bool(too_many) == any(n > limit for n in counts), (instance, limit)
            assert bool(too_few) == any(n < limit for n in counts), (instance, limit)
