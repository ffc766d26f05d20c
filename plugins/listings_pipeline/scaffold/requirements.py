"""Which attributes a product type requires: always, and for the values the seller's sample holds.

A schema's ``required`` is only half of it: its ``allOf`` rules (``if`` a listing says Bluetooth,
``then`` it needs a Bluetooth version and a battery) add requirements that depend on the values.
The scaffold evaluates each rule's ``if`` against the attributes the draft makes of the sample's
rows, with jsonschema itself, so a rule counts exactly when the seller's own products trigger it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from listings_pipeline.json_types import JsonObject

__all__ = ["Requirement", "conditional", "unconditional"]


@dataclass(frozen=True)
class Requirement:
    """A required attribute and why: ``rule`` is None for the schema's own ``required``."""

    attribute: str
    rule: int | None = None
    rows: int = 0  # sample rows whose values trigger the rule
    of_rows: int = 0

    @property
    def why(self) -> str:
        if self.rule is None:
            return "the schema requires it"
        return (
            f"allOf[{self.rule}] requires it for {self.rows} of the {self.of_rows} sample rows the draft maps"
        )


def unconditional(schema: Mapping[str, Any]) -> list[Requirement]:
    return [Requirement(str(name)) for name in schema.get("required") or []]


def conditional(schema: Mapping[str, Any], listings: Sequence[JsonObject]) -> list[Requirement]:
    """Attributes the ``allOf``/``if``/``then`` rules require for at least one of ``listings``
    (each the ``attributes`` of one sample row's message), first rule first."""
    from jsonschema import Draft201909Validator

    out: dict[str, Requirement] = {}
    for index, rule in enumerate(schema.get("allOf") or []):
        if not isinstance(rule, Mapping) or "if" not in rule or "then" not in rule:
            continue
        names = _required_in(rule["then"])
        if not names:
            continue
        check = Draft201909Validator(rule["if"])
        rows = sum(1 for attributes in listings if check.is_valid(attributes))
        if rows:
            for name in names:
                out.setdefault(name, Requirement(name, index, rows, len(listings)))
    return list(out.values())


def _required_in(then: Any) -> list[str]:
    """``required`` of a ``then``, and of the ``allOf`` inside it (nested conditions are left out)."""
    if not isinstance(then, Mapping):
        return []
    names = [str(n) for n in then.get("required") or []]
    for part in then.get("allOf") or []:
        if isinstance(part, Mapping) and "if" not in part:
            names.extend(_required_in(part))
    return list(dict.fromkeys(names))
