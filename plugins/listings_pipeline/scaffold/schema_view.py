"""What the scaffold reads of a product-type schema: an attribute's fields, selectors and leaves.

Amazon's schemas wrap every attribute in an array of objects whose ``$ref`` s point into ``$defs``;
the scaffold needs the object inside (its fields, which are required, the enum of a leaf), resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from listings_pipeline.json_types import JsonObject

__all__ = ["SELECTORS", "attribute_fields", "attribute_item", "has_selector", "leaf_type", "resolve", "title"]

#: Fields the mapping adds from the marketplace's settings, never from a column.
SELECTORS = ("marketplace_id", "language_tag")


def resolve(schema: Mapping[str, Any], node: Any) -> JsonObject:
    """Follow local ``$ref`` s (``#/$defs/...``)."""
    for _ in range(10):
        if not (isinstance(node, Mapping) and "$ref" in node and str(node["$ref"]).startswith("#/")):
            break
        target: Any = schema
        for part in str(node["$ref"])[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = target
    return dict(node) if isinstance(node, Mapping) else {}


def attribute_item(schema: Mapping[str, Any], name: str) -> JsonObject:
    """The object one value of attribute ``name`` is (its ``items``)."""
    prop = (schema.get("properties") or {}).get(name) or {}
    return resolve(schema, resolve(schema, prop).get("items") or {})


def attribute_fields(schema: Mapping[str, Any], name: str) -> dict[str, JsonObject]:
    """The fields of one value, selectors left out, each resolved."""
    item = attribute_item(schema, name)
    return {
        field: resolve(schema, node)
        for field, node in (item.get("properties") or {}).items()
        if field not in SELECTORS
    }


def has_selector(schema: Mapping[str, Any], name: str, selector: str) -> bool:
    return selector in (attribute_item(schema, name).get("properties") or {})


def title(schema: Mapping[str, Any], name: str) -> str | None:
    prop = (schema.get("properties") or {}).get(name) or {}
    text = prop.get("title") if isinstance(prop, Mapping) else None
    return str(text) if text else None


def leaf_type(node: Mapping[str, Any]) -> str:
    """``enum``, ``boolean``, ``integer``, ``number``, ``string``, ``object`` or ``array``."""
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "boolean":  # Amazon lists [false, true] as an enum too: a yes/no column, not codes
        return "boolean"
    if isinstance(node.get("enum"), list):
        return "enum"
    return str(kind or ("object" if "properties" in node else "string"))
