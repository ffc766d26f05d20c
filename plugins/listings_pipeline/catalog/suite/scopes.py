"""Which catalog columns a content policy rule reads: those feeding the attributes of its scope,
less those whose text cannot reach Amazon as written."""

from __future__ import annotations

from listings_pipeline.catalog.content_policy import RuleScope
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.suite.columns import enum_codes

__all__ = ["free_columns", "known_codes", "list_separators", "scope_columns"]

_PINNED_TYPES = ("integer", "decimal", "boolean", "dimensions", "date")


def _scope_attributes(mapping: ProductTypeMapping, scope: RuleScope) -> list[str]:
    if not scope.enabled:
        return []
    names = list(dict.fromkeys(name for _, name, _ in mapping.all_attribute_mappings()))
    chosen = names if "*" in scope.attributes else [a for a in scope.attributes if a in names]
    return [a for a in chosen if a not in scope.exclude]


def scope_columns(mapping: ProductTypeMapping, scope: RuleScope) -> dict[str, list[str]]:
    """Catalog column -> the attributes of ``scope`` it feeds, in the mapping's order."""
    columns: dict[str, list[str]] = {}
    for attribute in _scope_attributes(mapping, scope):
        for column in mapping.referenced_columns(attribute):
            if column not in ("marketplace_id", "product_type"):  # each has its own set check
                fed = columns.setdefault(column, [])
                if attribute not in fed:
                    fed.append(attribute)
    return columns


def free_columns(mapping: ProductTypeMapping, scope: RuleScope) -> dict[str, list[str]]:
    """The scope's columns whose text can reach Amazon as written.

    A column held to a type (number, yes/no, LxWxH, date) or to a closed list of codes is left out:
    its whole-cell rule rejects any stray character already, and one reason per fault is enough.
    """
    closed = set(enum_codes(mapping))
    return {
        column: attributes
        for column, attributes in scope_columns(mapping, scope).items()
        if mapping.column_spec(column).type not in _PINNED_TYPES
        and not mapping.column_spec(column).enum
        and column not in closed
    }


def known_codes(mapping: ProductTypeMapping, column: str) -> set[str]:
    """Values a column holds as codes (its enum, enum translations, yes/no tokens): "NONE" is a
    lock type, not a placeholder."""
    codes = set(mapping.column_spec(column).enum or ())
    for _, leaf in mapping.leaves():
        held = leaf.held_codes()
        if held is not None and held[0] == column:
            codes |= set(held[1])
    return {c.upper() for c in codes}


def list_separators(mapping: ProductTypeMapping) -> dict[str, str]:
    """Columns split into several values (bullets), by separator: each entry is a value of its own."""
    out: dict[str, str] = {}
    for _, leaf in mapping.leaves():
        for text in leaf.free_text():
            if text.separator is not None:
                out.setdefault(text.column, text.separator)
    return out
