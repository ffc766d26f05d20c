"""Which catalog column best feeds one place of an attribute, with the evidence and a confidence.

A candidate column is weighed by its name (:mod:`.names`) and by what it holds against what the
schema wants there (:mod:`.profiles`): numbers for a number, barcodes for an identifier, codes that
translate into the schema's enum (:mod:`.enums`). A column whose cells cannot be what the schema
wants keeps little of its name's score, so ``size`` holding ``S``/``M`` beats ``luggage_size`` for a
shirt's size only by what it holds, and a column called ``Farbe`` wins a colour by its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from listings_pipeline.scaffold.enums import propose
from listings_pipeline.scaffold.names import name_score, read_column_name
from listings_pipeline.scaffold.profiles import ColumnProfile
from listings_pipeline.scaffold.schema_view import leaf_type

__all__ = ["Candidate", "rank", "type_fit"]

#: how much of the confidence the name carries; the rest is what the cells hold
NAME_WEIGHT = 0.65


@dataclass(frozen=True)
class Candidate:
    column: str
    confidence: float
    evidence: tuple[str, ...]


def type_fit(node: Mapping[str, Any], profile: ColumnProfile, role: str) -> tuple[float, str]:
    """0..1: how well the cells fit what the schema wants at this place, and why."""
    kind = profile.kind
    if kind == "empty":
        return 0.0, "the column is empty in the sample"
    wanted = {
        "image": ("url",),
        "dimensions": ("dimensions",),
        "identifier": ("barcode",),
        "price": ("number", "integer"),
        "currency": ("currency",),
        "quantity": ("integer",),
        "unit_value": ("number", "integer", "number_unit"),
    }.get(role)
    if wanted is not None:
        ok = kind in wanted
        return (1.0 if ok else 0.0), f"cells are {kind}" + ("" if ok else f", not {' or '.join(wanted)}")
    schema_type = leaf_type(node)
    if schema_type == "enum":
        values = list(node.get("enum") or [])
        names = list(node.get("enumNames") or [])
        codes = [
            c for v in profile.distinct for c in (v.split(profile.separator) if profile.separator else [v])
        ]
        codes = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
        if not codes:
            return 0.0, "no values"
        hits = sum(1 for c in codes if propose(c, values, names).value is not None)
        return hits / len(codes), f"{hits} of {len(codes)} distinct values translate into the schema's enum"
    if schema_type == "boolean":
        zero_one = kind == "integer" and set(profile.distinct) <= {"0", "1"}
        return (1.0 if kind == "boolean" else 0.8 if zero_one else 0.0), f"cells are {kind}"
    if schema_type == "integer":
        return {"integer": 1.0, "number": 0.4}.get(kind, 0.0), f"cells are {kind}"
    if schema_type == "number":
        return (1.0 if kind in ("integer", "number", "number_unit") else 0.0), f"cells are {kind}"
    fit = {"text": 0.8, "code": 0.7, "number": 0.5, "integer": 0.4}.get(kind, 0.3)
    return fit, f"cells are {kind}"


def rank(
    profiles: Mapping[str, ColumnProfile],
    attribute: str,
    title: str | None,
    node: Mapping[str, Any],
    *,
    field: str | None = None,
    role: str = "",
    exclude: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Every column not in ``exclude``, best first."""
    out = []
    for column, profile in profiles.items():
        if column in exclude:
            continue
        name = name_score(read_column_name(column), attribute, title, field)
        fit, why = type_fit(node, profile, role)
        confidence = NAME_WEIGHT * name.score + (1 - NAME_WEIGHT) * fit
        if fit == 0.0:
            confidence *= 0.4
        evidence = (
            f"name {column!r} ~ {name.how} {name.matched!r} ({name.score:.2f})"
            if name.matched
            else "no name match",
            f"{why} ({fit:.2f})",
        )
        out.append(Candidate(column, round(confidence, 2), evidence))
    return sorted(out, key=lambda c: (-c.confidence, c.column))
