"""Characters and URL parts that must not pass as they are: into a listing (the content policy
rejects them), into the quarantine table and Data Docs (they are shown escaped or masked), or into
a spreadsheet opening an export (a formula's first character is neutralised).

One module for both, so that what a rule rejects and what a record escapes cannot drift apart.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ANSI",
    "CONTROL",
    "FORMULA_PREFIXES",
    "INVISIBLE",
    "LINE_BREAK",
    "USERINFO",
    "USERINFO_PARTS",
    "char_name",
    "escaped",
    "redacted",
    "shown_char",
    "spreadsheet_cell",
    "storable",
]


# Characters no listing text may hold. Tab, LF and CR are the line-break rule's (a description may
# have them). ESC starts ANSI escape sequences and U+009B is their one-character form, so both are
# caught here; the reason names the sequence.
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")
# Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069) make text display
# differently from what it holds; zero-width characters split or join words unseen (search, the
# banned terms).
INVISIBLE = r"[\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]"
LINE_BREAK = r"[\t\n\r\u2028\u2029]"
# userinfo (user:password@) in a URL; the URL's own path may hold '@' (image@2x.jpg), so only the
# authority part counts. ASCII white space spelt out rather than \s: pandas then runs the pattern
# with RE2 on the whole column, ten times faster than re per cell.
USERINFO = r"[A-Za-z][A-Za-z0-9+.-]*://[^ \t\n\r\f\v/?#@]*@"
USERINFO_PARTS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^ \t\n\r\f\v/?#@]*@")
_SHOWN_ESCAPED = re.compile(f"{CONTROL}|{INVISIBLE}")
# What makes a spreadsheet read a cell as a formula. The content policy rejects listing text that
# starts with one; an export of our own rows (the status page's quarantine CSV) neutralises it.
FORMULA_PREFIXES = ("=", "+", "-", "@")
# A tab or carriage return first is read as a formula's start by some spreadsheets too (OWASP).
_FORMULA_START = (*FORMULA_PREFIXES, "\t", "\r")


_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x09: "TAB",
    0x0A: "LINE FEED",
    0x0B: "VERTICAL TAB",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}


def char_name(char: str) -> str:
    point = ord(char)
    name = _CONTROL_NAMES.get(point) or unicodedata.name(char, "")
    if not name:
        name = "a C0 control" if point < 0x20 else "a C1 control" if 0x80 <= point <= 0x9F else ""
    return f"U+{point:04X}" + (f" {name}" if name else "")


def shown_char(char: str) -> str:
    """The character quoted, or its escape when it has no glyph of its own (U+FE0F, a skin tone)."""
    if unicodedata.category(char) == "So":
        return repr(char)
    return "'" + (f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}") + "'"


def escaped(text: str) -> str:
    """Controls and invisible characters as escapes: PostgreSQL text refuses NUL, and a bidi
    override in the status page would reverse the text around it."""
    return _SHOWN_ESCAPED.sub(
        lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else f"\\u{ord(m.group(0)):04x}",
        text,
    )


def storable(text: str | None) -> str | None:
    """A key cell (SKU, marketplace, product type) as the warehouse can hold it: PostgreSQL refuses
    NUL in text, and one such cell would fail the insert of every quarantine record of the branch.
    Only NUL is escaped, so that any other SKU still names the listing it is."""
    return text.replace("\x00", "\\x00") if text and "\x00" in text else text


def spreadsheet_cell(text: str) -> str:
    """A cell for a CSV a person opens in a spreadsheet: text starting with a formula character
    gets a ``'`` in front, so a quarantined ``=HYPERLINK(...)`` stays text instead of running. Every
    such cell is prefixed, ``-5`` too: a text column loses nothing by it, and no rule about what
    counts as a number can be got wrong."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def redacted(text: str) -> str:
    """A URL's user name and password as ``***``: the quarantine table and Data Docs are read by
    people who must not learn them."""
    return USERINFO_PARTS.sub(r"\1***@", text)
