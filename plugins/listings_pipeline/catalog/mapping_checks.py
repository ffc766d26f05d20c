"""Checks of a mapping whose parts are each well formed: between its parts (a column a transform
reads but nobody declared, a marketplace whose currency the mapping contradicts) and against the
marketplaces Amazon has. :func:`cross_check` lists them in file order.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from listings_pipeline.catalog.mapping_model import BUILTIN_COLUMNS, RESERVED_CHECK_NAMES, ProductTypeMapping
from listings_pipeline.catalog.mapping_yaml import key_text
from listings_pipeline.catalog.specs import Problem
from spapi.regions import MARKETPLACE_CURRENCIES, MARKETPLACE_LANGUAGES, MARKETPLACES

__all__ = ["cross_check"]

_MARKETPLACE_BY_COUNTRY = {country: mid for mid, (country, _) in MARKETPLACES.items()}


def cross_check(mapping: ProductTypeMapping, expected: str | None) -> list[Problem]:
    """Problems between parts of a mapping that are each well formed (pydantic checked the shape):
    a column a transform reads but nobody declared, a marketplace whose currency the mapping
    contradicts. Listed in file order, so that the operator reads them top down."""
    declared = set(mapping.columns) | set(BUILTIN_COLUMNS)
    return [
        *_product_type_problems(mapping, expected),
        *_marketplace_problems(mapping),
        *_attribute_name_problems(mapping),
        *_transform_problems(mapping, declared),
        *_check_identifiers(mapping),
        *_check_checks(mapping, declared),
        *_marketplace_use_problems(mapping),
    ]


def _product_type_problems(mapping: ProductTypeMapping, expected: str | None) -> list[Problem]:
    """The file name is how the pipeline finds a product type's mapping: they must agree."""
    if expected is None or mapping.product_type == expected:
        return []
    return [
        (
            ("product_type",),
            f"product type {mapping.product_type} does not match the file name (expected {expected})",
        )
    ]


def _marketplace_problems(mapping: ProductTypeMapping) -> list[Problem]:
    """A price in another currency, or a title in another language, must never reach a
    marketplace: the mapping is where each marketplace's currency and language are decided."""
    out: list[Problem] = []
    for mid, settings in mapping.marketplaces.items():
        if mid not in MARKETPLACES:
            hint = (
                f"; {mid} is a country code, use the marketplace id {_MARKETPLACE_BY_COUNTRY[mid]}"
                if mid in _MARKETPLACE_BY_COUNTRY
                else ""
            )
            out.append((("marketplaces", mid), f"unknown marketplace id {mid!r}{hint}"))
            continue
        country = MARKETPLACES[mid][0]
        currency = MARKETPLACE_CURRENCIES[mid]
        if settings.currency is not None and settings.currency != currency:
            out.append(
                (
                    ("marketplaces", mid, "currency"),
                    f"currency {settings.currency} is not the currency of marketplace {mid} ({country}): "
                    f"it sells in {currency}",
                )
            )
        languages = MARKETPLACE_LANGUAGES[mid]
        if settings.language_tag not in languages:
            out.append(
                (
                    ("marketplaces", mid, "language_tag"),
                    f"language {settings.language_tag} is not a language of marketplace {mid} ({country}): "
                    f"one of {', '.join(languages)}",
                )
            )
    return out


def _attribute_name_problems(mapping: ProductTypeMapping) -> list[Problem]:
    """A misspelt attribute would be sent and ignored by Amazon; the name's form catches most."""
    return [
        (("attributes", name), f"{name!r} is not an Amazon attribute name (lower_snake_case)")
        for name in mapping.attributes
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name)
    ]


def _transform_problems(mapping: ProductTypeMapping, declared: set[str]) -> list[Problem]:
    """Every transform against the column declarations: the columns it reads are declared (the
    validation suite is built from them), and what the transform itself asks of them."""
    out: list[Problem] = []
    for path, leaf in mapping.leaves():
        for column in leaf.columns():
            if column not in declared:
                close = difflib.get_close_matches(column, sorted(declared), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                key = (*path, *leaf.column_key(column))
                out.append((key, f"column {column!r} is not declared under 'columns'{hint}"))
        out.extend(leaf.mapping_problems(path, mapping.columns))
    return out


def _marketplace_use_problems(mapping: ProductTypeMapping) -> list[Problem]:
    """Marketplace settings against the transforms that use them: a currency where one is sent,
    relabels of codes the base translation has, omissions of attributes that exist."""
    uses_currency = any(leaf.needs_currency for _, leaf in mapping.leaves())
    enum_columns: dict[str, set[str]] = {}
    for _, leaf in mapping.leaves():
        table = leaf.relabel_table()
        if table is not None:
            enum_columns.setdefault(table[0], set()).update(table[1])
    out: list[Problem] = []
    for mid, settings in mapping.marketplaces.items():
        if uses_currency and settings.currency is None:
            out.append(
                (("marketplaces", mid), "'currency' is required: the attributes use the currency transform")
            )
        for column, codes in settings.enums.items():
            if column not in enum_columns:
                out.append(
                    (("marketplaces", mid, "enums", column), f"no enum transform reads column {column!r}")
                )
                continue
            unknown = [code for code in codes if code not in enum_columns[column]]
            if unknown:
                out.append(
                    (
                        ("marketplaces", mid, "enums", column, unknown[0]),
                        f"codes {unknown} are not in the base translation of column {column!r}",
                    )
                )
        out.extend(
            (("marketplaces", mid, "omit", index), f"cannot omit {name!r}: it is not a mapped attribute")
            for index, name in enumerate(settings.omit)
            if name not in mapping.attributes
        )
    return out


_TEXT_TYPES = ("string", "text")
_NUMBER_TYPES = ("integer", "decimal")


def _check_identifiers(mapping: ProductTypeMapping) -> list[Problem]:
    out: list[Problem] = []
    for name, spec in mapping.columns.items():
        if spec.identifier and spec.type not in _TEXT_TYPES:
            out.append(
                (
                    ("columns", name, "type"),
                    f"column {name!r} holds a product identifier ({spec.identifier}); declare it as "
                    f"type string, not {spec.type} (leading zeros are part of the code)",
                )
            )
    sent: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for path, column, kind in mapping.identifier_sources():
        where = key_text(path[: path.index("fields")])
        declared = mapping.columns[column].identifier if column in mapping.columns else None
        if declared and declared != kind:
            out.append(
                (
                    ("columns", column, "identifier"),
                    f"column {column!r} is declared identifier: {declared}, but {where} sends it as {kind}",
                )
            )
        if column in sent and sent[column][0] != kind:
            first_kind, first_path = sent[column]
            out.append(
                (
                    path,
                    f"column {column!r} is sent as {kind} here and as {first_kind} by "
                    f"{key_text(first_path[: first_path.index('fields')])}; one cell cannot be both "
                    "(use a column per kind)",
                )
            )
        sent.setdefault(column, (kind, path))
    return out


def _check_checks(mapping: ProductTypeMapping, declared: set[str]) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for index, check in enumerate(mapping.checks):
        path: tuple[Any, ...] = ("checks", index)
        if check.rule in RESERVED_CHECK_NAMES:
            out.append(
                (
                    (*path, "rule"),
                    f"{check.rule!r} is a content policy rule name; name the check after what it "
                    f"compares (e.g. {check.left}_{_OP_WORDS[check.op]}_{check.right})",
                )
            )
        if check.rule in seen:
            out.append(
                ((*path, "rule"), f"check {check.rule!r} is already defined (checks[{seen[check.rule]}])")
            )
        seen.setdefault(check.rule, index)
        kinds: dict[str, str] = {}
        for side in ("left", "right"):
            column = getattr(check, side)
            if column not in mapping.columns:
                close = difflib.get_close_matches(column, sorted(declared), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                out.append(((*path, side), f"column {column!r} is not declared under 'columns'{hint}"))
                continue
            column_type = mapping.columns[column].type
            if column_type in _NUMBER_TYPES:
                kinds[side] = "number"
            elif column_type == "date":
                kinds[side] = "date"
            else:
                out.append(
                    (
                        (*path, side),
                        f"a check compares numbers (integer, decimal) or dates (date); column {column!r} "
                        f"is {column_type}",
                    )
                )
        if check.left == check.right:
            out.append(((*path, "right"), f"a check compares two columns; both sides are {check.left!r}"))
        elif len(kinds) == 2 and kinds["left"] != kinds["right"]:
            out.append(
                (
                    path,
                    f"{check.text} compares a {kinds['left']} with a {kinds['right']}; both sides must be "
                    "numbers or both dates",
                )
            )
    return out


_OP_WORDS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
