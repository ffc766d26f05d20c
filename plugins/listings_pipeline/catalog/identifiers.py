"""Product identifiers (UPC, EAN, GTIN, ISBN): their lengths and check digits.

A wrong digit in a barcode lists the product under another one's page, or gets the listing
suppressed; the validation step checks every identifier column with these before anything is sent.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "IDENTIFIER_LENGTHS",
    "gtin_check_digit",
    "identifier_problem",
    "identifier_verdicts",
    "isbn10_check_digit",
]

#: Lengths each kind of identifier may have: UPC-A is GTIN-12; an EAN is EAN-13 or EAN-8; a GTIN
#: any of GTIN-8/12/13/14; an ISBN is ISBN-10 or ISBN-13 (an EAN-13 starting 978 or 979).
IDENTIFIER_LENGTHS: dict[str, tuple[int, ...]] = {
    "upc": (12,),
    "ean": (13, 8),
    "gtin": (8, 12, 13, 14),
    "isbn": (10, 13),
}
_IDENTIFIER_NAMES = {"upc": "a UPC", "ean": "an EAN", "gtin": "a GTIN", "isbn": "an ISBN"}


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits before it (any GTIN length): weights 3 and 1
    alternate from the rightmost digit, which weighs 3."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def isbn10_check_digit(body: str) -> str:
    """The ISBN-10 check character for its first nine digits: mod 11, weights 10 down to 2, 'X' for 10."""
    remainder = (11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11) % 11
    return "X" if remainder == 10 else str(remainder)


def identifier_problem(code: str, kind: str) -> str | None:
    """What is wrong with ``code`` as a ``kind`` (upc, ean, gtin, isbn), or None when it is valid."""
    name = _IDENTIFIER_NAMES[kind]
    lengths = IDENTIFIER_LENGTHS[kind]
    allowed = (
        ", ".join(str(n) for n in lengths[:-1]) + (" or " if len(lengths) > 1 else "") + str(lengths[-1])
    )
    if kind == "isbn" and len(code) == 10 and re.fullmatch(r"[0-9]{9}[0-9Xx]", code):
        expected = isbn10_check_digit(code[:9])
        if code[9].upper() != expected:
            return f"the check digit is {code[9]}, but the nine digits before it give {expected}"
        return None
    if not re.fullmatch(r"[0-9]+", code):
        return f"{name} is digits only" + (" (and X as the last of ten)" if kind == "isbn" else "")
    if len(code) not in lengths:
        return f"it has {len(code)} digits; {name} has {allowed}"
    if kind == "isbn" and not code.startswith(("978", "979")):
        return "an ISBN-13 starts with 978 or 979"
    expected_digit = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected_digit:
        return (
            f"the check digit is {code[-1]}, but the {len(code) - 1} digits before it give {expected_digit}"
        )
    return None


def identifier_verdicts(values: Any, kind: str) -> Any:
    """Per cell of a column: None when empty, ``"valid"``, or what is wrong (:func:`identifier_problem`).

    The check digits are computed on the whole column at once (a digit matrix per length), since a
    catalog may have a million rows; only the cells that fail are looked at one by one. The cells
    are picked by a compiled pattern over a plain list of their texts: pandas' string methods on an
    object column cost more in calls than the matching itself.
    """
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]

    series = pd.Series(values, dtype=object)
    out = np.full(len(series), None, dtype=object)
    present = np.flatnonzero(series.notna().to_numpy())
    texts = [str(value) for value in series.to_numpy()[present]]  # astype(str), as GX reads a cell
    valid = np.zeros(len(texts), dtype=bool)
    for length in IDENTIFIER_LENGTHS[kind]:
        if kind == "isbn" and length == 10:
            shape = _ISBN10
            weights = np.arange(10, 0, -1)
            modulus = 11
        else:
            shape = re.compile(f"[0-9]{{{length}}}")
            weights = np.array([3 if (length - 1 - i) % 2 else 1 for i in range(length)])
            modulus = 10
        picked = [i for i, text in enumerate(texts) if shape.fullmatch(text)]
        if kind == "isbn" and length != 10:
            picked = [i for i in picked if texts[i].startswith(("978", "979"))]
        if not picked:
            continue
        joined = "".join(texts[i] for i in picked)
        if modulus == 11:
            joined = joined.upper().replace("X", ":")  # ':' is '0' + 10
        digits = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, length) - 48
        valid[picked] = (digits.astype(np.int64) @ weights) % modulus == 0
    out[present[valid]] = "valid"
    for i in np.flatnonzero(~valid):
        out[present[i]] = identifier_problem(texts[i], kind) or "valid"
    return pd.Series(out, index=series.index, dtype=object)


_ISBN10 = re.compile(r"[0-9]{9}[0-9Xx]")
