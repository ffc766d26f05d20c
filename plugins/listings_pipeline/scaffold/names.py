"""How alike a catalog column's name is to an attribute: words, abbreviations, unit suffixes, languages.

Column names in sellers' exports are short, mixed-language and carry units (``Gewicht_kg``,
``qty``, ``cap_l``); attribute names are Amazon's snake case. Both are reduced to plain words
first, then compared with the attribute's name, its title and the curated names of
:mod:`.vocabulary`; :func:`name_score` says which of them matched and how well.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from listings_pipeline.scaffold.vocabulary import ABBREVIATIONS, ATTRIBUTE_NAMES, UNIT_SUFFIXES

__all__ = ["ColumnName", "NameScore", "name_score", "normalise", "read_column_name"]


@lru_cache(maxsize=65536)  # the same few hundred names are compared thousands of times
def normalise(text: str) -> str:
    """Lower case, accents and ``ß`` folded, words separated by single spaces (camelCase split)."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = text.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("Ä", "ae").replace("Ö", "oe").replace("Ü", "ue")
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"[a-z0-9]+", folded))


@dataclass(frozen=True)
class ColumnName:
    """A column's name read as words: abbreviations spelt out, a trailing unit taken off."""

    column: str
    words: str
    unit: str | None  # Amazon's unit name of a suffix such as _kg, else None


def read_column_name(column: str) -> ColumnName:
    parts = normalise(column).split()
    unit = None
    if len(parts) > 1 and parts[-1] in UNIT_SUFFIXES:
        unit = UNIT_SUFFIXES[parts[-1]]
        parts = parts[:-1]
    words = " ".join(ABBREVIATIONS.get(p, p) for p in parts)
    return ColumnName(column, words, unit)


@dataclass(frozen=True)
class NameScore:
    """0..1, and the name that matched (for the evidence)."""

    score: float
    matched: str
    how: str


def name_score(column: ColumnName, attribute: str, title: str | None, field: str | None = None) -> NameScore:
    """The best of: the attribute's name (and a field's), its schema title, and its curated names."""
    candidates: list[tuple[str, str]] = [(normalise(attribute), "attribute name")]
    if field:
        candidates.append((normalise(f"{attribute} {field}"), "attribute and field name"))
        candidates.append((normalise(field), "field name"))
    if title:
        candidates.append((normalise(title), "schema title"))
    candidates.extend((normalise(n), "synonym") for n in ATTRIBUTE_NAMES.get(attribute, ()))
    if field:
        candidates.extend((normalise(n), "synonym of the field") for n in ATTRIBUTE_NAMES.get(field, ()))
    best = NameScore(0.0, "", "")
    for name, how in candidates:
        score = _similarity(column.words, name)
        if score > best.score:
            best = NameScore(score, name, how)
    return best


@lru_cache(maxsize=65536)
def _similarity(a: str, b: str) -> float:
    """Equal words score 1; otherwise the closer of the letters' ratio and the shared words."""
    if not a or not b:
        return 0.0
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return 1.0
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    wa, wb = set(a.split()), set(b.split())
    overlap = len(wa & wb) / max(len(wa), len(wb))
    return max(ratio * 0.9, overlap * 0.85)
