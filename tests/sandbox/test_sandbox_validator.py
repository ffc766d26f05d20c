"""The sandbox's own product-type validator: built from Amazon's meta-schema, and what it refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.product_types import (
    AMAZON_KEYWORDS,
    META_SCHEMA_ID,
    ProductTypes,
    UnsupportedMetaSchema,
    amazon_dialect,
)

from .conftest import MODELS, REPO, US, luggage_attributes, v

META = MODELS / "schemas" / "definitions" / "meta-schema.json"
SERVED = [MODELS / "schemas" / "definitions", REPO / "include" / "product_types"]


@pytest.fixture(scope="module")
def types() -> ProductTypes:
    return ProductTypes(META, SERVED)


def meta_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(META.read_bytes())
    return data


def test_serves_amazons_product_and_the_sample_types(types: ProductTypes) -> None:
    assert types.names() == ["HEADPHONES", "LUGGAGE", "PRODUCT", "SHIRT"]
    assert "luggage" in types and "TIME_MACHINE" not in types


@pytest.mark.parametrize("name", ["PRODUCT", "SHIRT", "LUGGAGE", "HEADPHONES"])
def test_every_served_schema_conforms_to_the_meta_schema(types: ProductTypes, name: str) -> None:
    assert types.conformance(types.schema(name)) == []


def test_conformance_reports_a_bad_keyword_value(types: ProductTypes) -> None:
    bad = copy.deepcopy(types.schema("LUGGAGE"))
    bad["maxUniqueItems"] = "one"
    bad["properties"]["item_name"]["type"] = "arrayy"
    # Amazon's keywords are typed at the root of its meta-schema only; the sandbox applies their
    # definitions wherever they appear
    bad["properties"]["brand"]["items"]["properties"]["value"]["maxUtf8ByteLength"] = "long"
    bad["allOf"][0]["then"]["selectors"] = "marketplace_id"
    problems = types.conformance(bad)
    assert any(p.startswith("/maxUniqueItems") for p in problems), problems
    assert any(p.startswith("/properties/item_name/type") for p in problems), problems
    assert any(p.startswith("/properties/brand/items/properties/value/maxUtf8ByteLength") for p in problems)
    assert any(p.startswith("/allOf/0/then/selectors") for p in problems), problems
    assert len(problems) == 4, problems


def test_a_schema_that_breaks_the_meta_schema_is_refused_not_half_enforced(tmp_path: Path) -> None:
    schema = copy.deepcopy(json.loads((REPO / "include" / "product_types" / "LUGGAGE.json").read_bytes()))
    schema["properties"]["item_name"]["maxUniqueItems"] = "one"
    (tmp_path / "LUGGAGE.json").write_text(json.dumps(schema))
    types = ProductTypes(META, [tmp_path])
    with pytest.raises(ValueError, match="does not conform"):
        types.validate("LUGGAGE", luggage_attributes())


def test_the_vocabulary_is_read_from_the_meta_schema() -> None:
    # every keyword the meta-schema defines has a meaning here, and nothing more is assumed
    assert set(meta_schema()["properties"]) == set(AMAZON_KEYWORDS)
    dialect = amazon_dialect(meta_schema())
    assert {"maxUniqueItems", "minUniqueItems", "maxUtf8ByteLength", "minUtf8ByteLength"} <= set(
        dialect.VALIDATORS
    )
    assert not {"selectors", "editable", "hidden", "enumNames", "$lifecycle"} & set(dialect.VALIDATORS)
    assert dialect.META_SCHEMA["$id"] == META_SCHEMA_ID


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["properties"].update(maxWords={"type": "integer"}), "cannot enforce.*maxWords"),
        (lambda m: m["$vocabulary"].update({"https://example.com/vocab/more": True}), "does not know"),
        (lambda m: m.update(allOf=[{"$ref": "https://json-schema.org/draft-07/schema"}]), "not 2019-09"),
        (lambda m: m.update({"$id": "https://example.com/meta"}), "not Amazon's"),
    ],
)
def test_a_meta_schema_the_sandbox_cannot_enforce_is_refused(change: Any, message: str) -> None:
    """A new Amazon keyword must not be ignored silently: the sandbox would accept what Amazon refuses."""
    meta = meta_schema()
    change(meta)
    with pytest.raises(UnsupportedMetaSchema, match=message):
        amazon_dialect(meta)


def test_an_optional_vocabulary_it_does_not_know_is_no_reason_to_refuse() -> None:
    meta = meta_schema()
    meta["$vocabulary"]["https://example.com/vocab/hints"] = False
    amazon_dialect(meta)


def test_issues_in_the_listings_api_shape(types: ProductTypes) -> None:
    attrs = luggage_attributes(luggage_size=v("gigantic"))
    del attrs["brand"]
    issues = [i.to_api() for i in types.validate("LUGGAGE", attrs)]
    assert [(i["code"], i["attributeNames"], i["categories"], i["severity"]) for i in issues] == [
        ("90220", ["brand"], ["MISSING_ATTRIBUTE"], "ERROR"),
        ("4000001", ["luggage_size"], ["INVALID_ATTRIBUTE"], "ERROR"),
    ]
    # the attribute's title from the schema, as Amazon's messages name it
    assert "'Brand Name'" in issues[0]["message"] and "gigantic" in issues[1]["message"]
    unknown = types.validate("TIME_MACHINE", {})
    assert [(i.code, i.attribute_names) for i in unknown] == [("4000005", ())]


def test_not_enforced_skips_absent_attributes_only(types: ProductTypes) -> None:
    attrs = {"item_name": v("€" * 67, language_tag="en_US"), "number_of_wheels": v(4)}
    issues = types.validate("LUGGAGE", attrs, enforce_required=False)
    # wheel_type (conditionally required) and brand (always) are absent: no issue; the title is too long
    assert [(i.code, i.attribute_names) for i in issues] == [("4000001", ("item_name",))]
    assert {"brand", "wheel_type"} <= {n for i in types.validate("LUGGAGE", attrs) for n in i.attribute_names}


def test_selector_values_compare_as_json(types: ProductTypes) -> None:
    # key order inside an item does not make it another selection
    twice = [
        {"value": "A", "language_tag": "en_US", "marketplace_id": US},
        {"marketplace_id": US, "value": "B", "language_tag": "en_US"},
    ]
    issues = types.validate("LUGGAGE", luggage_attributes(item_name=twice))
    assert [(i.code, i.attribute_names) for i in issues] == [("4000002", ("item_name",))]


def test_text_without_a_utf8_form_is_refused(types: ProductTypes) -> None:
    issues = types.validate("LUGGAGE", luggage_attributes(item_name=v("Bag \ud83d", language_tag="en_US")))
    assert [(i.code, i.attribute_names) for i in issues] == [("4000001", ("item_name",))]


def test_a_schema_referring_to_the_meta_schema_resolves_locally(tmp_path: Path) -> None:
    schema = {
        "$schema": META_SCHEMA_ID,
        "$id": "https://schemas.amazon.com/selling-partners/definitions/product-types/schema/v1/META_REF",
        "type": "object",
        "properties": {"rules": {"$ref": META_SCHEMA_ID}},
    }
    (tmp_path / "META_REF.json").write_text(json.dumps(schema))
    types = ProductTypes(META, [tmp_path])
    assert types.validate("META_REF", {"rules": {"selectors": ["marketplace_id"]}}) == []
    assert [i.attribute_names for i in types.validate("META_REF", {"rules": {"selectors": "x"}})] == [
        ("rules",)
    ]


def test_rules_over_the_whole_listing_name_their_attributes(tmp_path: Path) -> None:
    """Amazon's schemas state most rules per attribute; one over several must still say which."""
    text = {"type": "array", "items": {"type": "string"}}
    schema = {
        "$schema": META_SCHEMA_ID,
        "$id": "https://schemas.amazon.com/selling-partners/definitions/product-types/schema/v1/RULES",
        "type": "object",
        "properties": {
            n: text for n in ("batteries_included", "battery", "color", "size", "upc", "ean", "a", "b")
        },
        "dependentRequired": {"batteries_included": ["battery"], "color": ["size"]},
        "anyOf": [{"required": ["upc"]}, {"required": ["ean"]}],
        "not": {"required": ["a", "b"]},
    }
    (tmp_path / "RULES.json").write_text(json.dumps(schema))
    types = ProductTypes(META, [tmp_path])

    issues = types.validate("RULES", {"batteries_included": ["yes"]})
    assert sorted((i.code, i.attribute_names) for i in issues) == [
        ("90220", ("battery",)),  # color is absent, so size is not asked for
        ("90220", ("upc", "ean")),  # one of them
    ]
    issues = types.validate("RULES", {"upc": ["1"], "a": ["x"], "b": ["y"]})
    assert [(i.code, i.attribute_names) for i in issues] == [("4000001", ("a", "b"))]
    # NOT_ENFORCED: dependent requirements are requirements too
    assert (
        types.validate("RULES", {"batteries_included": ["yes"], "upc": ["1"]}, enforce_required=False) == []
    )
