"""The SKUs a form names: one rule set for every form that takes them, each bad SKU reported with why.

What Amazon itself says (include/spapi-models): the feed message schemas give a SKU ``minLength: 1``
(``schemas/feeds/listings-feed-message-schema-v2.json``, property ``sku``), and the Listings Items
model has it only as a string path segment (``models/listings-items-api-model/
listingsItems_2021-08-01.json``, parameter ``sku``) that must be percent-encoded, so ``/`` and even
``,`` are allowed (Amazon's search guide warns about SKUs with commas). No model states a maximum
length or a character set. The other rules are ours, each for a stated reason:

- **at most 40 characters**: Amazon's seller SKU limit as Seller Central states it, in no model
  here (docs/spapi-facts.md §11.3);
- **no quotes, no whitespace inside, no control or invisible characters**: a SKU pasted from a
  spreadsheet or JSON brings its quotes along, two SKUs on one line look like one with a space, and
  an invisible character makes a SKU that is not the one on screen. Such a SKU could exist
  (Amazon's models do not forbid it), so a SKU the warehouse already knows passes whatever it
  holds: the rules catch typing and pasting mistakes, not the catalog's own SKUs;
- **empty entries** (``A,,B``): a SKU is missing there. Whitespace around an entry, blank lines and
  separators that begin or end a line are layout, not mistakes, and are dropped.

A SKU cannot hold ``,``, ``;`` or a line break in a form: they separate SKUs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Container, Sequence

from listings_pipeline.forms.problems import FormProblem, problem

MAX_SKU_LENGTH = 40
QUOTES = "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2032\u2033"
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_SPACE_NAMES = {" ": "a space", "\t": "a tab"}


def _character(char: str) -> str:
    name = unicodedata.name(char, "").lower()
    return f"U+{ord(char):04X} {name}".rstrip()


def sku_reasons(sku: str) -> list[str]:
    """Why ``sku`` (one entry, already trimmed) is refused; empty when it is fine."""
    reasons = []
    quotes = "".join(dict.fromkeys(c for c in sku if c in QUOTES))
    if quotes:
        reasons.append(f"has quotes ({quotes}): paste SKUs without them")
    spaces = list(dict.fromkeys(_SPACE_NAMES.get(c) or f"a {_character(c)}" for c in sku if c.isspace()))
    if spaces:
        reasons.append(
            f"has {' and '.join(spaces)} inside: if these are several SKUs, put each on its own line "
            "or separate them with commas"
        )
    hidden = list(
        dict.fromkeys(_character(c) for c in sku if not c.isspace() and unicodedata.category(c) in _INVISIBLE)
    )
    if hidden:
        reasons.append(f"has an invisible or control character ({', '.join(hidden)})")
    if len(sku) > MAX_SKU_LENGTH:
        reasons.append(f"is {len(sku)} characters long; Amazon takes at most {MAX_SKU_LENGTH}")
    return reasons


def check_skus(
    values: Sequence[str], *, field: str = "skus", known: Container[str] = frozenset()
) -> tuple[list[str], list[FormProblem]]:
    """The good SKUs of ``values`` (entries as :func:`~listings_pipeline.forms.fields.entries` reads
    them) once each, in order, and one problem per bad one; ``known`` SKUs pass as they are."""
    good: list[str] = []
    problems: list[FormProblem] = []
    seen: set[str] = set()
    previous = ""
    for position, sku in enumerate(values, start=1):
        if not sku:
            after = f" (after {previous!r})" if previous else ""
            problems.append(problem(field, f"entry {position} is empty{after}: is a SKU missing there?"))
            continue
        previous = sku
        if sku in seen:
            continue
        seen.add(sku)
        reasons = [] if sku in known else sku_reasons(sku)
        if reasons:
            problems.append(problem(field, f"{sku!r} " + "; ".join(reasons)))
        else:
            good.append(sku)
    return good, problems
