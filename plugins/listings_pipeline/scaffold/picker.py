"""Which column feeds a place of the attribute being drafted, and what was found for it.

The draft decides attributes one after the other; a column one attribute takes is not offered to
the next (:attr:`Picker.used`), and each place's choice leaves its evidence and confidence for the
attribute's comment (:meth:`Picker.start` clears them for the next attribute).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from listings_pipeline.scaffold.draft import Leaf
from listings_pipeline.scaffold.matching import Candidate, rank
from listings_pipeline.scaffold.profiles import ColumnProfile
from listings_pipeline.scaffold.schema_view import title

__all__ = ["REQUIRED_FLOOR", "SHARED_FLOOR", "Picker"]

#: below this a required place is left TODO (the candidates are named in its comment)
REQUIRED_FLOOR = 0.5
#: a required place with no free column may share one this good
SHARED_FLOOR = 0.75


class Picker:
    def __init__(self, schema: Mapping[str, Any], profiles: Mapping[str, ColumnProfile]) -> None:
        self.schema = schema
        self.profiles = profiles
        self.used: set[str] = set()
        self.evidence: list[str] = []
        self.scores: list[float] = []
        self.required = False

    def start(self, *, required: bool) -> None:
        """A new attribute: its own evidence and scores; a required one may share a column."""
        self.evidence = []
        self.scores = []
        self.required = required

    def pick(
        self, attribute: str, node: Mapping[str, Any], *, field: str | None = None, role: str = ""
    ) -> tuple[Candidate | None, list[Candidate]]:
        ranked = rank(
            self.profiles,
            attribute,
            title(self.schema, attribute),
            node,
            field=field,
            role=role,
            exclude=frozenset(self.used),
        )
        best = ranked[0] if ranked and ranked[0].confidence >= REQUIRED_FLOOR else None
        if best is None and self.required:
            # a required place may share a column another attribute reads (the item's dimensions
            # and the package's, from one column), when nothing else fits
            shared = rank(
                self.profiles, attribute, title(self.schema, attribute), node, field=field, role=role
            )
            if shared and shared[0].confidence >= SHARED_FLOOR:
                first = shared[0]
                best = Candidate(
                    first.column, first.confidence, (*first.evidence, "also read by another attribute")
                )
        return best, ranked[:3]

    def column_leaf(self, name: str, node: Mapping[str, Any], role: str, transform: str) -> Leaf:
        best, top = self.pick(name, node, role=role)
        if best is None:
            self.scores.append(0.0)
            candidates = ", ".join(f"{c.column} ({c.confidence:.2f})" for c in top) or "none"
            return Leaf("todo", comment=f"best candidates: {candidates}", wanted=f"the column of {name}")
        self.used.add(best.column)
        self.note(name, best)
        return Leaf(transform, best.column)

    def note(self, place: str, best: Candidate) -> None:
        self.scores.append(best.confidence)
        self.evidence.append(f"{place} <- {best.column} ({best.confidence:.2f}): {'; '.join(best.evidence)}")
