"""A mapping against its product type's schema (a Product Type Definitions download): attribute
names, selectors, object fields, enum values, required attributes. What a mapping sends must be
what Amazon accepts, and this says so before any row is mapped.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from listings_pipeline.catalog.mapping_model import AttributeMapping, ProductTypeMapping
from listings_pipeline.catalog.mapping_yaml import MappingProblem, key_text
from listings_pipeline.catalog.specs import Problem, SpecKind

__all__ = ["check_against_product_type"]


def _resolve(schema: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    """Follow local ``$ref`` (``#/$defs/...``) once or more."""
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and seen < 10:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            break
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = target
        seen += 1
    return node if isinstance(node, Mapping) else {}


def check_against_product_type(
    mapping: ProductTypeMapping, schema: Mapping[str, Any]
) -> list[MappingProblem]:
    """Check a mapping against its product type's schema (a PTD download or a file in that format).

    Reports attributes the product type does not define, ``language_tag``/``marketplace_id``
    selectors that disagree with the schema, object fields the schema does not define, enum
    translations and constants outside the schema's ``enum``, and required attributes that are not
    mapped (or are omitted in a marketplace). Conditional requirements (``allOf``/``if``) depend on
    the row and are left to the per-message check.
    """
    problems: list[Problem] = []
    properties: Mapping[str, Any] = schema.get("properties") or {}
    for path, name, attribute in mapping.all_attribute_mappings():
        prop = properties.get(name)
        if prop is None:
            close = difflib.get_close_matches(name, list(properties), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append((path, f"{mapping.product_type} has no attribute {name!r}{hint}"))
            continue
        problems.extend(_attribute_problems(mapping, schema, prop, path, name, attribute))
    problems.extend(_required_problems(mapping, schema))
    return [
        MappingProblem(mapping.source, mapping.line_of(path), key_text(path), message)
        for path, message in problems
    ]


def _attribute_problems(
    mapping: ProductTypeMapping,
    schema: Mapping[str, Any],
    prop: Mapping[str, Any],
    path: tuple[Any, ...],
    name: str,
    attribute: AttributeMapping,
) -> list[Problem]:
    """One mapped attribute against its definition: the selectors, then each field it builds."""
    items = _resolve(schema, prop.get("items") or {})
    item_props: Mapping[str, Any] = items.get("properties") or {}
    item_required = set(items.get("required") or [])
    problems: list[Problem] = []
    for selector, wanted in (
        ("language_tag", attribute.language_tag),
        ("marketplace_id", attribute.marketplace_id),
    ):
        defined = selector in item_props
        if defined and selector in item_required and not wanted:
            problems.append(
                (
                    path,
                    f"{name} values need {selector} (selectors {prop.get('selectors')}); set '{selector}: true'",
                )
            )
        elif wanted and not defined:
            problems.append((path, f"{name} values have no {selector}; set '{selector}: false'"))
    for sub, spec in attribute.specs():
        if sub == ("object",):
            continue
        field = "value" if sub[0] == "value" else str(sub[1])
        if field not in item_props:
            problems.append(_missing_field(path, sub, name, item_props))
            continue
        problems.extend(_check_spec(mapping, schema, item_props[field], spec, (*path, *sub), name))
    return problems


def _missing_field(
    path: tuple[Any, ...], sub: tuple[str | int, ...], name: str, item_props: Mapping[str, Any]
) -> Problem:
    if sub[0] == "value":
        return (
            (*path, "value"),
            f"{name} values have no 'value' field; use 'fields' ({', '.join(item_props)})",
        )
    return ((*path, *sub), f"{name} values have no field {str(sub[1])!r} (fields: {', '.join(item_props)})")


def _required_problems(mapping: ProductTypeMapping, schema: Mapping[str, Any]) -> list[Problem]:
    """Amazon rejects a listing without a required attribute: it must be mapped, and sent in every
    marketplace (an ``omit`` there needs an override that sends it)."""
    problems: list[Problem] = []
    for name in schema.get("required") or []:
        if name not in mapping.attributes:
            problems.append(
                (("attributes",), f"{mapping.product_type} requires {name!r}, which is not mapped")
            )
            continue
        for mid, settings in mapping.marketplaces.items():
            if name in settings.omit and name not in settings.attributes:
                where = ("marketplaces", mid, "omit", settings.omit.index(name))
                problems.append((where, f"{mapping.product_type} requires {name!r}; it cannot be omitted"))
    return problems


def _check_spec(
    mapping: ProductTypeMapping,
    schema: Mapping[str, Any],
    node: Any,
    spec: Any,
    path: tuple[Any, ...],
    attribute: str,
) -> list[Problem]:
    """A spec against the schema at its place: objects field by field, lists item by item, and a
    transform's possible values against the schema's ``enum`` there."""
    node = _resolve(schema, node)
    out: list[Problem] = []
    if isinstance(spec, dict):
        props: Mapping[str, Any] = node.get("properties") or {}
        for key, sub in spec.items():
            if key not in props:
                out.append(((*path, key), f"{attribute}: no field {key!r} here (fields: {', '.join(props)})"))
            else:
                out.extend(_check_spec(mapping, schema, props[key], sub, (*path, key), attribute))
        return out
    if isinstance(spec, list):
        items = node.get("items") or {}
        for index, sub in enumerate(spec):
            out.extend(_check_spec(mapping, schema, items, sub, (*path, index), attribute))
        return out
    allowed = node.get("enum")
    if not isinstance(allowed, list):
        return out
    leaf: SpecKind = spec
    return leaf.schema_problems(allowed, path, attribute, mapping.relabels())
