"""Translations of a seller's codes into a schema's enum values, and into labels per language.

A column of codes (``SS``, ``LS``) feeds an attribute whose schema lists the allowed values
(``short_sleeve``, ``long_sleeve``) and their display names (``enumNames``: "Short Sleeve"). Each
distinct code of the sample is proposed the value it most plainly names: the same letters in
another case or spacing, a display name, a word the curated code list gives, the initials, or the
start of exactly one value; each proposal says which. A code no rule explains is left for a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from listings_pipeline.scaffold.names import normalise
from listings_pipeline.scaffold.vocabulary import CODE_LABELS, CODE_SYNONYMS

__all__ = ["Proposal", "label_for", "propose"]


@dataclass(frozen=True)
class Proposal:
    """A code's proposed enum value (None: no rule explains it), how it was found and how sure."""

    code: str
    value: str | None
    how: str
    confidence: float


def _key(text: str) -> str:
    return normalise(text).replace(" ", "")


def propose(code: str, values: Sequence[object], names: Sequence[object] | None = None) -> Proposal:
    """The enum value ``code`` stands for, by the first rule that gives exactly one answer."""
    return _propose(code, tuple(str(v) for v in values), tuple(str(n) for n in names or ()))


@lru_cache(maxsize=65536)  # a column's codes are weighed against the same enums again and again
def _propose(code: str, texts: tuple[str, ...], names: tuple[str, ...]) -> Proposal:
    labels = list(names) if len(names) == len(texts) else []
    key = _key(code)
    if code in texts:
        return Proposal(code, code, "an enum value as it is", 1.0)
    exact = [v for v in texts if _key(v) == key]
    if len(exact) == 1:
        return Proposal(code, exact[0], "the enum value in another case or spacing", 0.95)
    by_name = [v for v, n in zip(texts, labels, strict=False) if _key(n) == key]
    if len(by_name) == 1:
        return Proposal(code, by_name[0], "the enum value's display name (enumNames)", 0.9)
    for word in CODE_SYNONYMS.get(key, ()):
        hits = [v for v in texts if _key(v) == _key(word)]
        hits += [v for v, n in zip(texts, labels, strict=False) if _key(n) == _key(word) and v not in hits]
        if len(hits) == 1:
            return Proposal(code, hits[0], f"the code list says {code} = {word}", 0.8)
    initials = [v for v in texts if len(key) >= 2 and "".join(w[0] for w in normalise(v).split()) == key]
    if len(initials) == 1:
        return Proposal(code, initials[0], "the initials of the enum value", 0.6)
    if len(key) >= 3:
        starts = [
            v for v in texts if _key(v).startswith(key) or (len(_key(v)) >= 3 and key.startswith(_key(v)))
        ]
        if len(starts) == 1:
            return Proposal(code, starts[0], "the enum value starts with the code", 0.55)
    return Proposal(code, None, "no enum value matches", 0.0)


def label_for(code: str, language: str) -> Proposal:
    """The label to send for a colour or material code in one language (``de`` of ``de_DE``)."""
    labels = CODE_LABELS.get(_key(code))
    if labels and language in labels:
        return Proposal(code, labels[language], f"the code list's {language} label for {code}", 0.8)
    return Proposal(code, None, f"no {language} label for {code} in the code list", 0.0)
