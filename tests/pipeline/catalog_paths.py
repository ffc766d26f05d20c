"""Paths and small helpers shared by the catalog mapping, transform and validation tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAPPINGS_DIR = REPO / "include" / "catalog_mappings"
PRODUCT_TYPES_DIR = REPO / "include" / "product_types"
MODELS = REPO / "include" / "spapi-models"
META_SCHEMA = MODELS / "schemas" / "definitions" / "meta-schema.json"
MESSAGE_SCHEMA = MODELS / "schemas" / "feeds" / "listings-feed-message-schema-v2.json"
POLICY = REPO / "include" / "content_policy.yaml"
SAMPLE_CSV = REPO / "include" / "sample_catalog" / "catalog.csv"
SHIPPED = ("SHIRT", "LUGGAGE", "HEADPHONES")

US, CA, DE = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found {occurrence} time(s)")


#: A mapping for a product type the project does not ship: Amazon's own PRODUCT schema
#: (include/spapi-models/schemas/definitions/Product.json). Writing this one file is all it takes.
PRODUCT_MAPPING = """\
product_type: PRODUCT
description: generic products, to show that a new product type is one file
marketplaces:
  ATVPDKIKX0DER: {language_tag: en_US, currency: USD}
columns:
  title: {type: text, required: true, max_length: 200}
  brand: {type: text, required: true}
  description: {type: text, required: true}
  bullets: {type: text, required: true}
  color: {type: string, required: true}
  country_of_origin: {type: string, required: true, enum: [CN, US]}
  upc: {type: string, required: true, pattern: '^[0-9]{12}$'}
  price: {type: decimal, required: true, min: 0.01}
  quantity: {type: integer, required: true, min: 0}
  weight_kg: {type: decimal, required: true}
  box_cm: {type: dimensions, required: true}
attributes:
  item_name: {language_tag: true, value: {column: title}}
  brand: {language_tag: true, value: {column: brand}}
  product_description: {language_tag: true, value: {column: description}}
  bullet_point: {language_tag: true, value: {transform: list, column: bullets}}
  color:
    language_tag: true
    value: {transform: enum, column: color, values: {R: Red, B: Blue}}
  country_of_origin: {value: {column: country_of_origin}}
  item_type_keyword: {value: {const: widgets}}
  supplier_declared_dg_hz_regulation: {value: {const: not_applicable}}
  externally_assigned_product_identifier:
    fields: {type: {const: upc}, value: {column: upc}}
  list_price:
    fields: {value: {transform: price, column: price}, currency: {transform: currency}}
  condition_type: {value: {const: new_new}}
  fulfillment_availability:
    marketplace_id: false
    fields: {fulfillment_channel_code: {const: DEFAULT}, quantity: {transform: integer, column: quantity}}
  batteries_required: {value: {const: false}}
  item_package_weight: {object: {transform: unit, column: weight_kg, unit: kilograms}}
  item_package_dimensions: {object: {transform: dimensions, column: box_cm, unit: centimeters}}
  merchant_shipping_group: {value: {const: legacy-template-id}}
"""

PRODUCT_ROW = {
    "sku": "WIDGET-1",
    "marketplace_id": "ATVPDKIKX0DER",
    "product_type": "PRODUCT",
    "title": "Acme Widget",
    "brand": "Acme",
    "description": "A sturdy widget.",
    "bullets": "Sturdy|Light",
    "color": "R",
    "country_of_origin": "US",
    "upc": "714532191586",
    "price": "9.99",
    "quantity": "7",
    "weight_kg": "0.4",
    "box_cm": "20x10x5",
}
