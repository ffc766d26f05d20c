"""One corpus of listings through two validators that must agree: "Amazon's" (the sandbox's) and ours.

The sandbox validates with its own code (``sandbox.product_types``) so that a bug in the client's
pre-flight validator (``spapi.product_types``) can show up as a disagreement with "Amazon" (issue 12).
This is where it shows up: every case goes through both, and the test fails when they disagree on
whether the listing is valid or, where both name them, on the attributes at fault.

The corpus is built from the product types the sandbox serves (Amazon's ``PRODUCT`` and the sample
``LUGGAGE``, ``SHIRT`` and ``HEADPHONES``) and from Amazon's example feed: valid listings of each, and
invalid ones for every keyword the schemas use. Each case also states what Amazon should answer and
which attributes it must name; ``test_the_sandbox_judges_every_case_as_amazon_would`` holds the
sandbox to that, so a bug shared by both validators does not pass unnoticed either.

A disagreement that is a bug in the client's validator is kept as a strict xfail with the finding
(``finding=``): it must keep failing until ``spapi.product_types`` is fixed, and then the mark goes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest
from jsonschema import Draft201909Validator

from sandbox.product_types import ProductTypes
from spapi.product_types import ProductTypeSchemas, validate_attributes

from .conftest import CA, MODELS, REPO, US, luggage_attributes, v

DE = "A1PA6795UKMFR9"
META = MODELS / "schemas" / "definitions" / "meta-schema.json"
SERVED = [MODELS / "schemas" / "definitions", REPO / "include" / "product_types"]
EN = {"language_tag": "en_US"}
FULL_WIDTH_DIGITS = {ord(d): 0xFF10 + int(d) for d in "0123456789"}


class Validator(Protocol):
    def validate(
        self, product_type: str, attributes: Mapping[str, Any], *, enforce_required: bool = True
    ) -> Sequence[Any]: ...


@dataclass(frozen=True)
class Case:
    id: str
    product_type: str
    attributes: dict[str, Any]
    valid: bool
    # the keyword(s) an invalid case exercises (the corpus must cover each one the schemas use)
    covers: tuple[str, ...] = ()
    # attributes Amazon must name for an invalid case
    names: tuple[str, ...] = ()
    enforce_required: bool = True
    # a known disagreement that is a bug in spapi.product_types: the case is a strict xfail
    finding: str | None = None


# -- valid listings of each served product type ---------------------------------------------------


def luggage(**overrides: Any) -> dict[str, Any]:
    return luggage_attributes(**overrides)


def without(attributes: dict[str, Any], *names: str) -> dict[str, Any]:
    out = copy.deepcopy(attributes)
    for name in names:
        del out[name]
    return out


def luggage_de() -> dict[str, Any]:
    de = {"language_tag": "de_DE"}
    return luggage_attributes(
        DE,
        item_name=v("Acme Trolley 55 cm", DE, **de),
        brand=v("Acme", DE, **de),
        color=v("Marineblau", DE, **de),
        material=v("Polycarbonat", DE, **de),
        externally_assigned_product_identifier=[
            {"type": "ean", "value": "4006381333931", "marketplace_id": DE}
        ],
        purchasable_offer=[
            {
                "currency": "EUR",
                "marketplace_id": DE,
                "our_price": [{"schedule": [{"value_with_tax": 119.0}]}],
            }
        ],
        fulfillment_availability=[{"fulfillment_channel_code": "AMAZON_EU", "quantity": 3}],
    )


def shirt(**overrides: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "item_name": v("Oxford Shirt", **EN),
        "brand": v("Acme", **EN),
        "product_description": v("A shirt of Oxford cotton.", **EN),
        "bullet_point": v("Cotton", **EN) + v("Button-down collar", **EN),
        "item_type_keyword": v("dress-shirts"),
        "color": v("White", **EN),
        "size": [{"size_system": "as1", "size_class": "alpha", "size": "medium", "marketplace_id": US, **EN}],
        "department": v("mens", **EN),
        "fabric_type": v("100% cotton", **EN),
        "country_of_origin": v("PT"),
        "externally_assigned_product_identifier": [
            {"type": "upc", "value": "012345678905", "marketplace_id": US}
        ],
        "condition_type": v("new_new"),
        "purchasable_offer": [
            {"currency": "USD", "marketplace_id": US, "our_price": [{"schedule": [{"value_with_tax": 39.5}]}]}
        ],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 40}],
    }
    attributes.update(overrides)
    return attributes


def headphones(**overrides: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "item_name": v("Acme Studio Wired Headphones", **EN),
        "brand": v("Acme", **EN),
        "item_type_keyword": v("over-ear-headphones"),
        "model_number": v("AS-100"),
        "headphones_form_factor": v("over_ear", **EN),
        "connectivity_technology": v("wired", **EN),
        "country_of_origin": v("CN"),
        "supplier_declared_dg_hz_regulation": v("not_applicable"),
        "externally_assigned_product_identifier": [
            {"type": "ean", "value": "4006381333931", "marketplace_id": US}
        ],
    }
    attributes.update(overrides)
    return attributes


def bluetooth_headphones(**overrides: Any) -> dict[str, Any]:
    chain = {
        "connectivity_technology": v("bluetooth", **EN),
        "bluetooth_version": v("5.3"),
        "batteries_required": v(True),
        "batteries_included": v(True),
        "battery": [{"cell_composition": [{"value": "lithium_ion"}], "marketplace_id": US}],
        "number_of_lithium_ion_cells": v(1),
    }
    return headphones(**{**chain, **overrides})


def product(**overrides: Any) -> dict[str, Any]:
    """Amazon's own PRODUCT schema (``schemas/definitions/Product.json``)."""
    attributes: dict[str, Any] = {
        "item_name": v("Acme Widget", **EN),
        "brand": v("Acme", **EN),
        "bullet_point": v("Sturdy", **EN),
        "color": v("Red", **EN),
        "country_of_origin": v("US"),
        "item_type_keyword": v("widgets"),
        "product_description": v("A widget.", **EN),
        "supplier_declared_dg_hz_regulation": v("not_applicable"),
        "merchant_suggested_asin": v("B000000001"),
        "condition_type": v("new_new"),
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}],
        "merchant_shipping_group": v("legacy-template-id"),
    }
    attributes.update(overrides)
    return attributes


def amazons_example_feed() -> dict[int, dict[str, Any]]:
    """The attributes of the messages in Amazon's example JSON_LISTINGS_FEED, by messageId."""
    feed = json.loads((MODELS / "schemas" / "feeds" / "listings-feed-schema-v2.example.json").read_bytes())
    return {m["messageId"]: m for m in feed["messages"] if "attributes" in m}


def item(name: str, value: Any) -> dict[str, Any]:
    return {name: value}


def price(amount: Any, currency: str = "USD", marketplace_id: str = US) -> list[dict[str, Any]]:
    return [
        {
            "currency": currency,
            "marketplace_id": marketplace_id,
            "our_price": [{"schedule": [{"value_with_tax": amount}]}],
        }
    ]


VALID = [
    Case("luggage-us", "LUGGAGE", luggage(), True),
    Case(
        "luggage-ca-two-languages",
        "LUGGAGE",
        luggage_attributes(
            CA,
            item_name=v("Valise", CA, language_tag="fr_CA") + v("Suitcase", CA, language_tag="en_CA"),
            purchasable_offer=price(149.0, "CAD", CA),
        ),
        True,
    ),
    Case("luggage-de", "LUGGAGE", luggage_de(), True),
    Case(
        "luggage-product-only",
        "LUGGAGE",
        without(luggage(), "purchasable_offer", "fulfillment_availability", "condition_type"),
        True,
    ),
    Case(
        "luggage-carry-on-with-dimensions",
        "LUGGAGE",
        luggage(
            luggage_size=v("carry_on"),
            item_dimensions=[
                {
                    "length": {"value": 55, "unit": "centimeters"},
                    "width": {"value": 40, "unit": "centimeters"},
                    "height": {"value": 20, "unit": "centimeters"},
                    "marketplace_id": US,
                }
            ],
        ),
        True,
    ),
    Case(
        "luggage-expandable-with-capacity",
        "LUGGAGE",
        luggage(
            is_expandable=v(True), expanded_capacity=[{"value": 44.5, "unit": "liters", "marketplace_id": US}]
        ),
        True,
    ),
    Case(
        "luggage-no-wheels-no-wheel-type",
        "LUGGAGE",
        without(luggage(number_of_wheels=v(0)), "wheel_type"),
        True,
    ),
    Case(
        "luggage-exempt-from-identifier",
        "LUGGAGE",
        without(
            luggage(supplier_declared_has_product_identifier_exemption=v(True)),
            "externally_assigned_product_identifier",
        ),
        True,
    ),
    Case(
        "luggage-suggested-asin-instead-of-identifier",
        "LUGGAGE",
        without(luggage(merchant_suggested_asin=v("B07XYZ1234")), "externally_assigned_product_identifier"),
        True,
    ),
    Case(
        "luggage-five-bullets",
        "LUGGAGE",
        luggage(bullet_point=[{"value": f"Point {i}", "marketplace_id": US, **EN} for i in range(5)]),
        True,
    ),
    Case("luggage-title-200-utf8-bytes", "LUGGAGE", luggage(item_name=v("€" * 66 + "ab", **EN)), True),
    Case("luggage-title-with-emoji", "LUGGAGE", luggage(item_name=v("Acme Spinner 🧳 55 cm", **EN)), True),
    Case(
        "luggage-parent",
        "LUGGAGE",
        without(
            luggage(parentage_level=v("parent"), variation_theme=[{"name": "COLOR"}]),
            "purchasable_offer",
            "fulfillment_availability",
            "condition_type",
        ),
        True,
    ),
    Case(
        "luggage-child",
        "LUGGAGE",
        luggage(
            parentage_level=v("child"),
            variation_theme=[{"name": "COLOR"}],
            child_parent_sku_relationship=[
                {"child_relationship_type": "variation", "parent_sku": "BAG-PARENT", "marketplace_id": US}
            ],
        ),
        True,
    ),
    Case(
        "luggage-zero-stock-and-lead-time",
        "LUGGAGE",
        luggage(
            fulfillment_availability=[
                {"fulfillment_channel_code": "DEFAULT", "quantity": 0, "lead_time_to_ship_max_days": 30}
            ]
        ),
        True,
    ),
    Case(
        "luggage-offers-in-two-currencies",
        "LUGGAGE",
        luggage(purchasable_offer=price(129.99) + price(175.0, "CAD")),
        True,
    ),
    Case("shirt", "SHIRT", shirt(), True),
    Case(
        "shirt-womens-numeric-size",
        "SHIRT",
        shirt(
            department=v("womens", **EN),
            size=[
                {"size_system": "as1", "size_class": "numeric", "size": "medium", "marketplace_id": US, **EN}
            ],
        ),
        True,
    ),
    Case(
        "shirt-long-sleeve-with-cuff",
        "SHIRT",
        shirt(sleeve=[{"type": "long_sleeve", "marketplace_id": US, **EN}], cuff_type=v("barrel", **EN)),
        True,
    ),
    Case("headphones-wired", "HEADPHONES", headphones(), True),
    Case("headphones-bluetooth-battery-chain", "HEADPHONES", bluetooth_headphones(), True),
    Case(
        "headphones-ghs-with-package-weight",
        "HEADPHONES",
        headphones(
            supplier_declared_dg_hz_regulation=v("ghs"),
            item_package_weight=[{"value": 0.35, "unit": "kilograms", "marketplace_id": US}],
        ),
        True,
    ),
    Case("product", "PRODUCT", product(), True),
    Case("product-brand-100-characters-200-bytes", "PRODUCT", product(brand=v("é" * 100, **EN)), True),
    Case("product-release-date", "PRODUCT", product(merchant_release_date=v("2026-11-23")), True),
    Case(
        "product-release-date-time",
        "PRODUCT",
        product(merchant_release_date=v("2026-11-23T10:00:00.250+01:00")),
        True,
    ),
    Case(
        "product-release-date-time-lower-case",
        "PRODUCT",
        product(merchant_release_date=v("2026-11-23t10:00:00z")),
        True,
    ),
    Case(
        "product-release-at-a-leap-second",
        "PRODUCT",
        product(merchant_release_date=v("2016-12-31T23:59:60Z")),
        True,
    ),
    Case(
        "product-list-price-whole-cents",
        "PRODUCT",
        product(list_price=[{"value": 129.99, "currency": "USD", "marketplace_id": US}]),
        True,
    ),
    Case(
        "product-list-price-19.99",
        "PRODUCT",
        product(list_price=[{"value": 19.99, "currency": "USD", "marketplace_id": US}]),
        True,
    ),
    Case(
        "product-child-with-parent-sku",
        "PRODUCT",
        product(
            parentage_level=v("child"),
            child_parent_sku_relationship=[
                {"child_relationship_type": "variation", "parent_sku": "W-PARENT", "marketplace_id": US}
            ],
            variation_theme=[{"name": "COLOR"}],
        ),
        True,
    ),
    Case(
        "amazon-example-partial-update",
        "LUGGAGE",
        amazons_example_feed()[2]["attributes"],
        True,
        enforce_required=False,
    ),
    Case(
        "amazon-example-update-not-enforced",
        "LUGGAGE",
        amazons_example_feed()[3]["attributes"],
        True,
        enforce_required=False,
    ),
    Case(
        "offer-only-not-enforced",
        "LUGGAGE",
        {k: luggage()[k] for k in ("condition_type", "purchasable_offer", "fulfillment_availability")},
        True,
        enforce_required=False,
    ),
]


# -- invalid listings, by keyword -------------------------------------------------------------------

LONG_SLEEVE = {"sleeve": [{"type": "long_sleeve", "marketplace_id": US, **EN}]}
BAD = Case  # an invalid case: valid=False

INVALID = [
    # required: always, and inside an attribute's values
    BAD("missing-brand", "LUGGAGE", without(luggage(), "brand"), False, ("required",), ("brand",)),
    BAD(
        "missing-three",
        "LUGGAGE",
        without(luggage(), "brand", "color", "material"),
        False,
        ("required",),
        ("brand", "color", "material"),
    ),
    BAD("no-attributes-at-all", "SHIRT", {}, False, ("required",), ("brand", "item_name", "size")),
    BAD(
        "title-without-language",
        "LUGGAGE",
        luggage(item_name=[{"value": "Bag", "marketplace_id": US}]),
        False,
        ("required",),
        ("item_name",),
    ),
    BAD(
        "identifier-without-value",
        "LUGGAGE",
        luggage(externally_assigned_product_identifier=[{"type": "upc", "marketplace_id": US}]),
        False,
        ("required",),
        ("externally_assigned_product_identifier",),
    ),
    BAD(
        "shirt-size-without-class",
        "SHIRT",
        shirt(size=[{"size_system": "as1", "size": "medium", "marketplace_id": US, **EN}]),
        False,
        ("required",),
        ("size",),
    ),
    BAD(
        "amazon-example-update-enforced",
        "LUGGAGE",
        amazons_example_feed()[3]["attributes"],
        False,
        ("required",),
        ("brand", "color", "luggage_size", "material", "number_of_wheels"),
    ),
    # enum
    BAD(
        "luggage-size-gigantic",
        "LUGGAGE",
        luggage(luggage_size=v("gigantic")),
        False,
        ("enum",),
        ("luggage_size",),
    ),
    BAD("condition-new", "LUGGAGE", luggage(condition_type=v("new")), False, ("enum",), ("condition_type",)),
    BAD("country-XX", "SHIRT", shirt(country_of_origin=v("XX")), False, ("enum",), ("country_of_origin",)),
    BAD(
        "offer-currency-JPY",
        "LUGGAGE",
        luggage(purchasable_offer=price(129.99, "JPY")),
        False,
        ("enum",),
        ("purchasable_offer",),
    ),
    BAD(
        "channel-AMAZON_JP",
        "HEADPHONES",
        headphones(fulfillment_availability=[{"fulfillment_channel_code": "AMAZON_JP", "quantity": 1}]),
        False,
        ("enum",),
        ("fulfillment_availability",),
    ),
    BAD(
        "bluetooth-version-6",
        "HEADPHONES",
        bluetooth_headphones(bluetooth_version=v("6.0")),
        False,
        ("enum",),
        ("bluetooth_version",),
    ),
    BAD(
        "variation-theme-unknown",
        "LUGGAGE",
        luggage(parentage_level=v("parent"), variation_theme=[{"name": "FLAVOR"}]),
        False,
        ("enum",),
        ("variation_theme",),
    ),
    # type
    BAD(
        "wheels-as-words",
        "LUGGAGE",
        luggage(number_of_wheels=v("four")),
        False,
        ("type",),
        ("number_of_wheels",),
    ),
    BAD(
        "wheels-fractional",
        "LUGGAGE",
        luggage(number_of_wheels=v(2.5)),
        False,
        ("type",),
        ("number_of_wheels",),
    ),
    BAD(
        "quantity-as-text",
        "LUGGAGE",
        luggage(fulfillment_availability=[{"fulfillment_channel_code": "DEFAULT", "quantity": "12"}]),
        False,
        ("type",),
        ("fulfillment_availability",),
    ),
    BAD("title-a-number", "LUGGAGE", luggage(item_name=v(42, **EN)), False, ("type",), ("item_name",)),
    BAD(
        "brand-an-object-not-an-array",
        "LUGGAGE",
        luggage(brand={"value": "Acme", "marketplace_id": US, **EN}),
        False,
        ("type",),
        ("brand",),
    ),
    BAD("color-a-bare-string", "LUGGAGE", luggage(color=["Navy"]), False, ("type",), ("color",)),
    BAD(
        "price-as-text",
        "LUGGAGE",
        luggage(purchasable_offer=price("129.99")),
        False,
        ("type",),
        ("purchasable_offer",),
    ),
    BAD(
        "exemption-as-text",
        "SHIRT",
        without(
            shirt(supplier_declared_has_product_identifier_exemption=v("true")),
            "externally_assigned_product_identifier",
        ),
        False,
        ("type",),
        ("supplier_declared_has_product_identifier_exemption",),
    ),
    # maxLength / minLength (characters, Amazon's PRODUCT)
    BAD(
        "product-brand-101-characters",
        "PRODUCT",
        product(brand=v("A" * 101, **EN)),
        False,
        ("maxLength",),
        ("brand",),
    ),
    BAD("product-brand-empty", "PRODUCT", product(brand=v("", **EN)), False, ("minLength",), ("brand",)),
    BAD(
        "product-asin-11-characters",
        "PRODUCT",
        product(merchant_suggested_asin=v("B0000000011")),
        False,
        ("maxLength",),
        ("merchant_suggested_asin",),
    ),
    # maxUtf8ByteLength / minUtf8ByteLength (bytes)
    BAD(
        "title-201-utf8-bytes",
        "LUGGAGE",
        luggage(item_name=v("€" * 67, **EN)),
        False,
        ("maxUtf8ByteLength",),
        ("item_name",),
    ),
    BAD(
        "title-201-ascii",
        "LUGGAGE",
        luggage(item_name=v("x" * 201, **EN)),
        False,
        ("maxUtf8ByteLength",),
        ("item_name",),
    ),
    BAD(
        "model-number-41-bytes",
        "HEADPHONES",
        headphones(model_number=v("M" * 41)),
        False,
        ("maxUtf8ByteLength",),
        ("model_number",),
    ),
    BAD(
        "product-generic-keyword-250-chars-over-250-bytes",
        "PRODUCT",
        product(generic_keyword=v("ü" * 126, **EN)),
        False,
        ("maxUtf8ByteLength",),
        ("generic_keyword",),
    ),
    BAD(
        "title-empty",
        "LUGGAGE",
        luggage(item_name=v("", **EN)),
        False,
        ("minUtf8ByteLength",),
        ("item_name",),
    ),
    BAD(
        "asin-short",
        "LUGGAGE",
        luggage(merchant_suggested_asin=v("B07")),
        False,
        ("minUtf8ByteLength", "pattern"),
        ("merchant_suggested_asin",),
    ),
    BAD(
        "title-with-a-lone-surrogate",
        "LUGGAGE",
        luggage(item_name=v("Acme Bag \ud83d", **EN)),
        False,
        ("maxUtf8ByteLength",),
        ("item_name",),
    ),
    # selectors with maxUniqueItems
    BAD(
        "two-titles-one-language",
        "LUGGAGE",
        luggage(item_name=v("A", **EN) + v("B", **EN)),
        False,
        ("maxUniqueItems",),
        ("item_name",),
    ),
    BAD(
        "same-title-twice",
        "LUGGAGE",
        luggage(item_name=v("A", **EN) + v("A", **EN)),
        False,
        ("maxUniqueItems",),
        ("item_name",),
    ),
    BAD(
        "same-title-keys-reordered",
        "LUGGAGE",
        luggage(
            item_name=[
                {"value": "A", "marketplace_id": US, **EN},
                {"language_tag": "en_US", "value": "B", "marketplace_id": US},
            ]
        ),
        False,
        ("maxUniqueItems",),
        ("item_name",),
    ),
    BAD(
        "six-bullets",
        "SHIRT",
        shirt(bullet_point=[{"value": f"Point {i}", "marketplace_id": US, **EN} for i in range(6)]),
        False,
        ("maxUniqueItems",),
        ("bullet_point",),
    ),
    BAD(
        "two-stock-entries-one-channel",
        "LUGGAGE",
        luggage(
            fulfillment_availability=[
                {"fulfillment_channel_code": "DEFAULT", "quantity": 1},
                {"fulfillment_channel_code": "DEFAULT", "quantity": 2},
            ]
        ),
        False,
        ("maxUniqueItems",),
        ("fulfillment_availability",),
    ),
    BAD(
        "two-offers-one-currency",
        "LUGGAGE",
        luggage(purchasable_offer=price(129.99) + price(119.99)),
        False,
        ("maxUniqueItems",),
        ("purchasable_offer",),
    ),
    BAD(
        "four-materials",
        "LUGGAGE",
        luggage(material=[{"value": m, "marketplace_id": US, **EN} for m in ("ABS", "PC", "Nylon", "Steel")]),
        False,
        ("maxUniqueItems",),
        ("material",),
    ),
    # minItems / maxItems
    BAD("color-no-values", "LUGGAGE", luggage(color=[]), False, ("minItems",), ("color",)),
    BAD(
        "two-variation-themes",
        "LUGGAGE",
        luggage(parentage_level=v("parent"), variation_theme=[{"name": "COLOR"}, {"name": "SIZE"}]),
        False,
        ("maxItems",),
        ("variation_theme",),
    ),
    BAD(
        "two-prices-in-one-offer",
        "LUGGAGE",
        luggage(
            purchasable_offer=[
                {
                    "currency": "USD",
                    "marketplace_id": US,
                    "our_price": [
                        {"schedule": [{"value_with_tax": 1.0}]},
                        {"schedule": [{"value_with_tax": 2.0}]},
                    ],
                }
            ]
        ),
        False,
        ("maxItems",),
        ("purchasable_offer",),
    ),
    # allOf / if / then: conditional requirements and conditional values
    BAD(
        "wheels-without-wheel-type",
        "LUGGAGE",
        without(luggage(), "wheel_type"),
        False,
        ("if-then",),
        ("wheel_type",),
    ),
    BAD(
        "no-identifier-no-asin-no-exemption",
        "LUGGAGE",
        without(luggage(), "externally_assigned_product_identifier"),
        False,
        ("if-then", "not"),
        ("externally_assigned_product_identifier",),
    ),
    BAD(
        "exemption-false-needs-identifier",
        "SHIRT",
        without(
            shirt(supplier_declared_has_product_identifier_exemption=v(False)),
            "externally_assigned_product_identifier",
        ),
        False,
        ("if-then", "not"),
        ("externally_assigned_product_identifier",),
    ),
    BAD(
        "offer-without-condition-and-stock",
        "LUGGAGE",
        without(luggage(), "condition_type", "fulfillment_availability"),
        False,
        ("if-then",),
        ("condition_type", "fulfillment_availability"),
    ),
    BAD(
        "carry-on-without-dimensions",
        "LUGGAGE",
        luggage(luggage_size=v("carry_on")),
        False,
        ("if-then", "contains"),
        ("item_dimensions",),
    ),
    BAD(
        "expandable-without-capacity",
        "LUGGAGE",
        luggage(is_expandable=v(True)),
        False,
        ("if-then",),
        ("expanded_capacity",),
    ),
    BAD(
        "parent-without-theme",
        "LUGGAGE",
        luggage(parentage_level=v("parent")),
        False,
        ("if-then",),
        ("variation_theme",),
    ),
    BAD(
        "child-without-relationship",
        "SHIRT",
        shirt(parentage_level=v("child")),
        False,
        ("if-then",),
        ("child_parent_sku_relationship", "variation_theme"),
    ),
    BAD("long-sleeve-without-cuff", "SHIRT", shirt(**LONG_SLEEVE), False, ("if-then",), ("cuff_type",)),
    BAD(
        "bluetooth-without-version",
        "HEADPHONES",
        headphones(connectivity_technology=v("bluetooth", **EN)),
        False,
        ("if-then",),
        ("batteries_required", "bluetooth_version"),
    ),
    BAD(
        "batteries-required-without-battery",
        "HEADPHONES",
        without(bluetooth_headphones(), "battery", "batteries_included", "number_of_lithium_ion_cells"),
        False,
        ("if-then",),
        ("batteries_included", "battery"),
    ),
    BAD(
        "lithium-without-cell-count",
        "HEADPHONES",
        without(bluetooth_headphones(), "number_of_lithium_ion_cells"),
        False,
        ("if-then", "contains"),
        ("number_of_lithium_ion_cells",),
    ),
    BAD(
        "ghs-without-package-weight",
        "HEADPHONES",
        headphones(supplier_declared_dg_hz_regulation=v("ghs")),
        False,
        ("if-then",),
        ("item_package_weight",),
    ),
    BAD(
        "product-child-without-parent-sku",
        "PRODUCT",
        product(
            parentage_level=v("child"),
            child_parent_sku_relationship=[{"child_relationship_type": "variation", "marketplace_id": US}],
        ),
        False,
        ("if-then",),
        ("child_parent_sku_relationship",),
    ),
    BAD(
        "product-parent-sku-on-a-non-child",
        "PRODUCT",
        product(
            parentage_level=v("parent"),
            child_parent_sku_relationship=[
                {"child_relationship_type": "variation", "parent_sku": "W-1", "marketplace_id": US}
            ],
        ),
        False,
        ("if-then", "not"),
        ("child_parent_sku_relationship",),
    ),
    BAD(
        "product-not-applicable-and-storage",
        "PRODUCT",
        product(supplier_declared_dg_hz_regulation=v("not_applicable") + v("storage")),
        False,
        ("if-then", "not"),
        ("supplier_declared_dg_hz_regulation",),
    ),
    BAD(
        "product-transportation-without-un-id",
        "PRODUCT",
        product(supplier_declared_dg_hz_regulation=v("transportation")),
        False,
        ("if-then", "contains"),
        ("hazmat",),
    ),
    # additionalProperties
    BAD(
        "unknown-attribute",
        "LUGGAGE",
        luggage(flux_capacitor=v("yes")),
        False,
        ("additionalProperties",),
        ("flux_capacitor",),
    ),
    BAD(
        "two-unknown-attributes",
        "SHIRT",
        shirt(collar_style=v("button_down", **EN), pocket_count=v(1)),
        False,
        ("additionalProperties",),
        ("collar_style", "pocket_count"),
    ),
    BAD(
        "title-with-a-typo-key",
        "LUGGAGE",
        luggage(item_name=[{"value": "Bag", "marketplace_id": US, "language": "en_US", **EN}]),
        False,
        ("additionalProperties",),
        ("item_name",),
    ),
    BAD(
        "schedule-with-extra-key",
        "LUGGAGE",
        luggage(
            purchasable_offer=[
                {
                    "currency": "USD",
                    "marketplace_id": US,
                    "our_price": [{"schedule": [{"value_with_tax": 9.99, "discount": 1}]}],
                }
            ]
        ),
        False,
        ("additionalProperties",),
        ("purchasable_offer",),
    ),
    # minimum / maximum / exclusiveMinimum
    BAD("nine-wheels", "LUGGAGE", luggage(number_of_wheels=v(9)), False, ("maximum",), ("number_of_wheels",)),
    BAD(
        "negative-stock",
        "LUGGAGE",
        luggage(fulfillment_availability=[{"fulfillment_channel_code": "DEFAULT", "quantity": -1}]),
        False,
        ("minimum",),
        ("fulfillment_availability",),
    ),
    BAD(
        "price-zero", "SHIRT", shirt(purchasable_offer=price(0)), False, ("minimum",), ("purchasable_offer",)
    ),
    BAD(
        "weightless-package",
        "HEADPHONES",
        headphones(item_package_weight=[{"value": 0, "unit": "grams", "marketplace_id": US}]),
        False,
        ("exclusiveMinimum",),
        ("item_package_weight",),
    ),
    BAD(
        "lead-time-31-days",
        "LUGGAGE",
        luggage(
            fulfillment_availability=[
                {"fulfillment_channel_code": "DEFAULT", "quantity": 1, "lead_time_to_ship_max_days": 31}
            ]
        ),
        False,
        ("maximum",),
        ("fulfillment_availability",),
    ),
    # pattern
    BAD(
        "upc-with-letters",
        "LUGGAGE",
        luggage(
            externally_assigned_product_identifier=[{"type": "upc", "value": "ABC", "marketplace_id": US}]
        ),
        False,
        ("pattern",),
        ("externally_assigned_product_identifier",),
    ),
    BAD(
        "image-over-http",
        "SHIRT",
        shirt(
            main_product_image_locator=[
                {"media_location": "http://img.example.com/a.jpg", "marketplace_id": US}
            ]
        ),
        False,
        ("pattern",),
        ("main_product_image_locator",),
    ),
    # format in oneOf(date, date-time)
    BAD(
        "release-date-30-february",
        "PRODUCT",
        product(merchant_release_date=v("2026-02-30")),
        False,
        ("format", "oneOf"),
        ("merchant_release_date",),
    ),
    BAD(
        "release-date-in-words",
        "PRODUCT",
        product(merchant_release_date=v("next tuesday")),
        False,
        ("format", "oneOf"),
        ("merchant_release_date",),
    ),
    BAD(
        "release-date-time-without-zone",
        "PRODUCT",
        product(merchant_release_date=v("2026-11-23T10:00:00")),
        False,
        ("format", "oneOf"),
        ("merchant_release_date",),
    ),
    BAD(
        "release-date-full-width-digits",
        "PRODUCT",
        product(merchant_release_date=v("2026-11-23".translate(FULL_WIDTH_DIGITS))),
        False,
        ("format", "oneOf"),
        ("merchant_release_date",),
    ),
    BAD(
        "restock-hour-24",
        "PRODUCT",
        product(
            fulfillment_availability=[
                {"fulfillment_channel_code": "DEFAULT", "quantity": 0, "restock_date": "2026-11-23T24:00:00Z"}
            ]
        ),
        False,
        ("format", "oneOf"),
        ("fulfillment_availability",),
    ),
    # multipleOf
    BAD(
        "product-list-price-tenth-of-a-cent",
        "PRODUCT",
        product(list_price=[{"value": 19.999, "currency": "USD", "marketplace_id": US}]),
        False,
        ("multipleOf",),
        ("list_price",),
    ),
    # requirementsEnforced=NOT_ENFORCED checks what is there in full
    BAD(
        "partial-update-bad-value",
        "LUGGAGE",
        {"luggage_size": v("gigantic")},
        False,
        ("enum",),
        ("luggage_size",),
        enforce_required=False,
    ),
    BAD(
        "partial-update-unknown-attribute",
        "LUGGAGE",
        {"flux_capacitor": v("yes")},
        False,
        ("additionalProperties",),
        ("flux_capacitor",),
        enforce_required=False,
    ),
    BAD(
        "partial-update-nested-required",
        "LUGGAGE",
        {"item_name": [{"value": "Bag", "marketplace_id": US}]},
        False,
        ("required",),
        ("item_name",),
        enforce_required=False,
    ),
    # the product type itself
    BAD("unknown-product-type", "TIME_MACHINE", luggage(), False, ("productType",)),
]

CORPUS = VALID + INVALID

# every validation keyword the served schemas use, and the vocabulary's
KEYWORDS = {
    "required",
    "enum",
    "type",
    "maxLength",
    "minLength",
    "maxUtf8ByteLength",
    "minUtf8ByteLength",
    "maxUniqueItems",
    "minItems",
    "maxItems",
    "if-then",
    "not",
    "contains",
    "additionalProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "pattern",
    "format",
    "oneOf",
    "multipleOf",
}


def params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, raises=AssertionError, reason=case.finding)]
            if case.finding
            else [],
        )
        for case in cases
    ]


@dataclass(frozen=True)
class Verdict:
    valid: bool
    names: frozenset[str]
    all_named: bool
    issues: tuple[str, ...]

    @classmethod
    def of(cls, issues: Sequence[Any]) -> Verdict:
        errors = [i for i in issues if i.severity == "ERROR"]
        return cls(
            not errors,
            frozenset(n for i in errors for n in i.attribute_names),
            all(i.attribute_names for i in errors),
            tuple(f"{i.code} {list(i.attribute_names)} {i.message[:160]}" for i in errors),
        )


def judge(validator: Validator, case: Case) -> Verdict:
    return Verdict.of(
        validator.validate(case.product_type, case.attributes, enforce_required=case.enforce_required)
    )


def disagreement(case: Case, amazon: Validator, ours: Validator) -> str | None:
    """How the client's validator disagrees with the sandbox's on ``case``, or None."""
    expected = judge(amazon, case)
    try:
        got = judge(ours, case)
    except Exception as exc:  # the disagreement is that it cannot answer at all
        return f"the client's validator raised {exc!r}; the sandbox answered {expected.issues or 'valid'}"
    if got.valid != expected.valid:
        return f"validity: sandbox {expected.issues or 'valid'}, client {got.issues or 'valid'}"
    if not got.valid and got.all_named and expected.all_named and got.names != expected.names:
        return f"attribute names: sandbox {sorted(expected.names)}, client {sorted(got.names)}"
    return None


@pytest.fixture(scope="module")
def amazon() -> ProductTypes:
    return ProductTypes(META, SERVED)


@pytest.fixture(scope="module")
def ours() -> ProductTypeSchemas:
    return ProductTypeSchemas(META, SERVED)


@pytest.mark.parametrize("case", params(CORPUS))
def test_both_validators_agree(case: Case, amazon: ProductTypes, ours: ProductTypeSchemas) -> None:
    found = disagreement(case, amazon, ours)
    assert found is None, found


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CORPUS])
def test_the_sandbox_judges_every_case_as_amazon_would(case: Case, amazon: ProductTypes) -> None:
    verdict = judge(amazon, case)
    assert verdict.valid is case.valid, verdict.issues
    assert set(case.names) <= verdict.names, verdict.issues


def test_the_corpus_covers_every_keyword_and_each_product_type() -> None:
    assert len(CORPUS) >= 60 and len({c.id for c in CORPUS}) == len(CORPUS)
    assert len(VALID) >= 20 and len(INVALID) >= 40
    covered = {keyword for case in INVALID for keyword in case.covers}
    assert covered >= KEYWORDS, KEYWORDS - covered
    for product_type in ("LUGGAGE", "SHIRT", "HEADPHONES", "PRODUCT"):
        assert {c.valid for c in CORPUS if c.product_type == product_type} == {True, False}, product_type
    assert all(case.names for case in INVALID if case.product_type != "TIME_MACHINE")


class _Accepting:
    """A validator with a blind spot everywhere: it accepts any listing."""

    def validate(
        self, product_type: str, attributes: Mapping[str, Any], *, enforce_required: bool = True
    ) -> list[Any]:
        return []


class _WithoutAmazonsVocabulary:
    """Plain JSON Schema 2019-09: Amazon's keywords ignored, the mistake the differential exists to catch."""

    def __init__(self, types: ProductTypes) -> None:
        self.types = types

    def validate(
        self, product_type: str, attributes: Mapping[str, Any], *, enforce_required: bool = True
    ) -> list[Any]:
        validator = Draft201909Validator(self.types.schema(product_type))
        return validate_attributes(validator, attributes, enforce_required=enforce_required)


def test_the_comparison_catches_a_validator_that_accepts_everything(amazon: ProductTypes) -> None:
    assert all(disagreement(case, amazon, _Accepting()) for case in INVALID)
    assert not any(disagreement(case, amazon, _Accepting()) for case in VALID)


def test_the_comparison_catches_a_validator_blind_to_amazons_vocabulary(amazon: ProductTypes) -> None:
    caught = {
        case.id
        for case in CORPUS
        if not case.finding and disagreement(case, amazon, _WithoutAmazonsVocabulary(amazon))
    }
    vocabulary = {
        case.id
        for case in INVALID
        if not case.finding
        and set(case.covers) & {"maxUniqueItems", "maxUtf8ByteLength", "minUtf8ByteLength"}
        and "pattern" not in case.covers
    }
    assert vocabulary and vocabulary <= caught, vocabulary - caught


def test_a_name_disagreement_is_caught(amazon: ProductTypes) -> None:
    class Misnaming:
        def validate(
            self, product_type: str, attributes: Mapping[str, Any], *, enforce_required: bool = True
        ) -> list[Any]:
            issues = amazon.validate(product_type, attributes, enforce_required=enforce_required)
            return [type(i)(i.code, i.message, i.severity, ("somewhere_else",), i.categories) for i in issues]

    case = next(c for c in INVALID if c.id == "missing-brand")
    assert "attribute names" in (disagreement(case, amazon, Misnaming()) or "")
