"""The attribute shapes the mapping format has a transform of its own for.

A price with its currency, stock, an amount with its unit, dimensions and a barcode with its kind
are not built field by field: each has a transform (``price``, ``unit``, ``dimensions``, ...) that
the draft uses whenever the schema shows that shape, with its options (a unit from the column's
name, a unit column and its table, the barcode kind the marketplace's region uses) decided here.
A yes/no column gets its own words for yes and no when they are not the transform's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from listings_pipeline.scaffold.draft import Leaf, SpecTree
from listings_pipeline.scaffold.enums import propose
from listings_pipeline.scaffold.markets import Market
from listings_pipeline.scaffold.names import normalise, read_column_name
from listings_pipeline.scaffold.picker import Picker
from listings_pipeline.scaffold.profiles import ColumnProfile
from listings_pipeline.scaffold.schema_view import resolve
from listings_pipeline.scaffold.vocabulary import DEFAULTS, SIZE_REGIONS, UNIT_SUFFIXES

__all__ = ["IDENTIFIER_KINDS", "boolean", "dimensions", "identifier", "offer", "stock", "unit"]

#: the barcode kinds the identifier attribute's ``type`` may name
IDENTIFIER_KINDS = ("upc", "ean", "gtin", "isbn")


def offer(p: Picker, name: str, fields: Mapping[str, Any]) -> dict[str, SpecTree]:
    price = p.column_leaf(name, {"type": "number"}, "price", "price")
    currency_best, _ = p.pick(name, fields["currency"], field="currency", role="currency")
    currency = Leaf("currency", currency_best.column if currency_best else None)
    if currency_best:
        p.used.add(currency_best.column)
        p.note(f"{name}.currency", currency_best)
    else:
        currency.comment = "the marketplace's currency (marketplaces.<id>.currency)"
    return {"currency": currency, "our_price": [{"schedule": [{"value_with_tax": price}]}]}


def stock(p: Picker, name: str, fields: Mapping[str, Any]) -> dict[str, SpecTree]:
    channel = fields["fulfillment_channel_code"]
    codes = [str(v) for v in channel.get("enum") or []]
    code = DEFAULTS["fulfillment_channel_code"]
    channel_leaf = (
        Leaf("constant", const=code, comment="the merchant's own stock")
        if not codes or code in codes
        else Leaf("todo", wanted="the fulfillment channel", comment=f"one of: {', '.join(codes)}")
    )
    return {
        "fulfillment_channel_code": channel_leaf,
        "quantity": p.column_leaf(name, {"type": "integer"}, "quantity", "integer"),
    }


def unit(p: Picker, name: str, fields: Mapping[str, Any]) -> Leaf:
    units = [str(u) for u in fields["unit"].get("enum") or []]
    best, top = p.pick(name, fields["value"], role="unit_value")
    if best is None:
        p.scores.append(0.0)
        candidates = ", ".join(f"{c.column} ({c.confidence:.2f})" for c in top) or "none"
        return Leaf("todo", comment=f"best candidates: {candidates}", wanted=f"the number column of {name}")
    p.used.add(best.column)
    p.note(name, best)
    suffix = read_column_name(best.column).unit
    if suffix in units:
        return Leaf(
            "unit",
            best.column,
            options={"unit": suffix},
            comment=f"the unit from the column's name ({suffix})",
        )
    paired = unit_column(p, best.column)
    if paired is not None:
        p.used.add(paired)
        table = {code: _unit_name(code, units) for code in p.profiles[paired].distinct}
        return Leaf(
            "unit",
            best.column,
            options={"unit_column": paired, "units": {k: v or "TODO" for k, v in table.items()}},
            comment=f"the unit from column {paired}",
        )
    if p.profiles[best.column].kind == "number_unit":
        tokens = {"".join(ch for ch in v if ch.isalpha()) for v in p.profiles[best.column].distinct}
        table = {t: _unit_name(t, units) for t in sorted(tokens) if t}
        return Leaf("unit", best.column, options={"units": {k: v or "TODO" for k, v in table.items()}})
    p.scores.append(0.0)
    return Leaf(
        "unit",
        best.column,
        options={"unit": "TODO"},
        comment=f"one of: {', '.join(units)}",
        wanted=f"the unit of {best.column}",
    )


def unit_column(p: Picker, column: str) -> str | None:
    base = read_column_name(column).words
    for other, profile in p.profiles.items():
        if other == column or other in p.used or profile.kind != "code":
            continue
        words = normalise(other).split()
        if (
            words
            and words[-1] in ("unit", "uom", "einheit", "unite", "unidad")
            and (" ".join(words[:-1]) in ("", base) or base.startswith(" ".join(words[:-1])))
        ):
            return other
    return None


def dimensions(p: Picker, name: str, fields: Mapping[str, Any]) -> Leaf:
    first = resolve(p.schema, next(iter(fields.values())))
    unit_node = resolve(p.schema, (first.get("properties") or {}).get("unit") or {})
    units = [str(u) for u in unit_node.get("enum") or []]
    leaf = p.column_leaf(name, {}, "dimensions", "dimensions")
    if leaf.kind == "todo" or leaf.column is None:
        return leaf
    suffix = read_column_name(leaf.column).unit
    if suffix in units:
        leaf.options["unit"] = suffix
        leaf.comment = f"the unit from the column's name ({suffix})"
    else:
        leaf.options["unit"] = "TODO"
        leaf.wanted = f"the unit of {leaf.column}"
        leaf.comment = f"unless the cells carry it; one of: {', '.join(units)}"
    return leaf


def identifier(
    p: Picker, name: str, fields: Mapping[str, Any], kinds: list[str], where: Market
) -> dict[str, SpecTree]:
    region = SIZE_REGIONS.get(where.country)
    order = ("ean", "gtin", "upc") if region in ("EU", "UK") else ("upc", "gtin", "ean")
    for kind in order:
        if kind not in kinds:
            continue
        column = next(
            (
                c
                for c, p in p.profiles.items()
                if p.kind == "barcode" and kind in read_column_name(c).words.split()
            ),
            None,
        )
        if column is not None:
            p.used.add(column)
            p.scores.append(0.9)
            p.evidence.append(f"{name} <- {column}: a column of barcodes named {kind} ({where.country})")
            return {"type": Leaf("constant", const=kind), "value": Leaf("copy", column)}
    best, top = p.pick(name, fields["value"], role="identifier")
    if best is None:
        p.scores.append(0.0)
        candidates = ", ".join(f"{c.column} ({c.confidence:.2f})" for c in top) or "none"
        return {
            "type": Leaf("todo", wanted="the kind of barcode", comment=f"one of: {', '.join(kinds)}"),
            "value": Leaf("todo", wanted="the barcode column", comment=f"best candidates: {candidates}"),
        }
    p.used.add(best.column)
    p.note(name, best)
    return {
        "type": Leaf(
            "todo", wanted=f"the kind of barcode in {best.column}", comment=f"one of: {', '.join(kinds)}"
        ),
        "value": Leaf("copy", best.column),
    }


#: yes and no in the languages of :mod:`.vocabulary` (the boolean transform knows Y/N, yes/no, 1/0)
_YES = ("ja", "oui", "si", "sí", "x", "wahr", "vrai")
_NO = ("nein", "non", "no", "falsch", "faux")
_KNOWN_YES_NO = {"y", "yes", "true", "1", "n", "no", "false", "0"}


def boolean(column: str, profile: ColumnProfile) -> Leaf:
    """A yes/no column; its own words for yes and no when they are not the transform's defaults."""
    words = [v for v in profile.distinct if v.lower() not in _KNOWN_YES_NO]
    if not words:
        return Leaf("boolean", column)
    yes = [v for v in profile.distinct if v.lower() in (*_YES, "y", "yes", "true", "1")]
    no = [v for v in profile.distinct if v.lower() in (*_NO, "n", "false", "0")]
    if len(yes) + len(no) < len(profile.distinct):
        return Leaf("boolean", column, comment=f"check: {', '.join(words)} are not yes/no words")
    return Leaf(
        "boolean",
        column,
        options={"true_values": yes, "false_values": no},
        comment="the column's own yes/no words",
    )


def _unit_name(code: str, units: Sequence[str]) -> str | None:
    named = UNIT_SUFFIXES.get(normalise(code).replace(" ", ""))
    if named in units:
        return named
    return propose(code, units).value
