"""Content policy rules on characters: controls and ANSI escapes, invisible characters, emoji, line
breaks. Each kind is a rule of its own, so that a reason names what was found and where."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from listings_pipeline.catalog.content_policy import ContentPolicy
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.suite.rule import Explain, Rule, found, make_rule
from listings_pipeline.catalog.suite.scopes import free_columns
from listings_pipeline.catalog.unsafe_text import ANSI, CONTROL, INVISIBLE, LINE_BREAK, char_name, shown_char

__all__ = ["character_rules"]

# Unicode's Extended_Pictographic property as code point ranges (emoji-data.txt, Unicode 16 and
# later, as the regex module 2026.5 has it). The property reserves whole unassigned blocks, so emoji
# added later fall inside. Written out because Python's re has no \p{...}, and pandas runs these
# patterns with re (or with RE2, which has no emoji properties either).
_EXTENDED_PICTOGRAPHIC = """
00A9 00AE 203C 2049 2122 2139 2194-2199 21A9-21AA 231A-231B 2328 23CF 23E9-23F3 23F8-23FA 24C2
25AA-25AB 25B6 25C0 25FB-25FE 2600-2604 260E 2611 2614-2615 2618 261D 2620 2622-2623 2626 262A
262E-262F 2638-263A 2640 2642 2648-2653 265F-2660 2663 2665-2666 2668 267B 267E-267F 2692-2697 2699
269B-269C 26A0-26A1 26A7 26AA-26AB 26B0-26B1 26BD-26BE 26C4-26C5 26C8 26CE-26CF 26D1 26D3-26D4
26E9-26EA 26F0-26F5 26F7-26FA 26FD 2702 2705 2708-270D 270F 2712 2714 2716 271D 2721 2728 2733-2734
2744 2747 274C 274E 2753-2755 2757 2763-2764 2795-2797 27A1 27B0 27BF 2934-2935 2B05-2B07 2B1B-2B1C
2B50 2B55 3030 303D 3297 3299 1F004 1F02C-1F02F 1F094-1F09F 1F0AF-1F0B0 1F0C0 1F0CF-1F0D0 1F0F6-1F0FF
1F170-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AE-1F1E5 1F201-1F20F 1F21A 1F22F 1F232-1F23A 1F23C-1F23F
1F249-1F25F 1F266-1F321 1F324-1F393 1F396-1F397 1F399-1F39B 1F39E-1F3F0 1F3F3-1F3F5 1F3F7-1F3FA
1F400-1F4FD 1F4FF-1F53D 1F549-1F54E 1F550-1F567 1F56F-1F570 1F573-1F57A 1F587 1F58A-1F58D 1F590
1F595-1F596 1F5A4-1F5A5 1F5A8 1F5B1-1F5B2 1F5BC 1F5C2-1F5C4 1F5D1-1F5D3 1F5DC-1F5DE 1F5E1 1F5E3 1F5E8
1F5EF 1F5F3 1F5FA-1F64F 1F680-1F6C5 1F6CB-1F6D2 1F6D5-1F6E5 1F6E9 1F6EB-1F6F0 1F6F3-1F6FF 1F7DA-1F7FF
1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8AF 1F8BC-1F8BF 1F8C2-1F8CF 1F8D9-1F8FF
1F90C-1F93A 1F93C-1F945 1F947-1F9FF 1FA58-1FA5F 1FA6E-1FAFF 1FC00-1FFFD
"""
# What emoji are built from besides those: the keycap (1️⃣), the emoji presentation selector
# (©️ is © asking to be drawn as an emoji), flags' regional indicators, skin tones, tag sequences.
# The zero-width joiner is the invisible-character rule's.
_EMOJI_COMPONENTS = "20E3 FE0F 1F1E6-1F1FF 1F3FB-1F3FF E0020-E007F"


def _code_ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split():
        low, _, high = item.partition("-")
        out.append((int(low, 16), int(high or low, 16)))
    return out


def _char_class(ranges: Iterable[tuple[int, int]], leave_out: Iterable[str] = ()) -> str:
    """A regex character class of code point ranges, with escapes (Data Docs show the pattern)."""
    skip = sorted({ord(c) for c in leave_out})
    pieces: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        start = low
        for point in skip:
            if start <= point <= high:
                if start < point:
                    pieces.append((start, point - 1))
                start = point + 1
        if start <= high:
            pieces.append((start, high))

    def esc(point: int) -> str:
        return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"

    return "[" + "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in pieces) + "]"


def character_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """Characters that do not belong in listing text, each kind a rule of its own so that the
    reason names what was found and where."""
    return [
        *_control_rules(mapping, policy),
        *_invisible_rules(mapping, policy),
        *_emoji_rules(mapping, policy),
        *_line_break_rules(mapping, policy),
    ]


def _forbidden(name: str, column: str, regex: str, description: str, explain: Explain) -> Rule:
    """A content policy rule that no cell of ``column`` may match ``regex``."""
    return make_rule(
        "ExpectColumnValuesToNotMatchRegex",
        column,
        description,
        explain,
        rule=f"content_policy.{name}",
        column=column,
        regex=regex,
    )


def _explain_control(v: Any, r: Mapping[str, Any]) -> str:
    text = str(v)
    ansi = ANSI.search(text)
    if ansi:
        return (
            f"contains the ANSI escape sequence {ansi.group(0)!r} at character {ansi.start() + 1} "
            "(terminal colour or cursor codes, not text)"
        )
    char, at = found(CONTROL, text)
    return f"contains the control character {char_name(char)} at character {at}"


def _control_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    return [
        _forbidden(
            "control_characters",
            column,
            CONTROL,
            f"{column} has no control characters (C0, C1, DEL, ANSI escapes)",
            _explain_control,
        )
        for column in free_columns(mapping, policy.control_characters)
    ]


def _explain_invisible(v: Any, r: Mapping[str, Any]) -> str:
    char, at = found(INVISIBLE, str(v))
    return (
        f"contains the invisible character {char_name(char)} at character {at} (bidi controls and "
        "zero-width characters change how text reads or matches without being seen)"
    )


def _invisible_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    return [
        _forbidden(
            "invisible_characters",
            column,
            INVISIBLE,
            f"{column} has no bidi controls or zero-width characters",
            _explain_invisible,
        )
        for column in free_columns(mapping, policy.invisible_characters)
    ]


def _emoji_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    # the cheap look-ahead first: re tries a class of 150 ranges one range at a time, on every
    # character of every title, while almost all of them are below U+00A9
    emoji = "(?=[\\u00a9-\\U0010ffff])" + _char_class(
        [*_code_ranges(_EXTENDED_PICTOGRAPHIC), *_code_ranges(_EMOJI_COMPONENTS)], policy.emoji.allow
    )
    rules: list[Rule] = []
    for column, attributes in free_columns(mapping, policy.emoji).items():
        fed = ", ".join(attributes)

        def explain_emoji(v: Any, r: Mapping[str, Any], fed: str = fed) -> str:
            char, at = found(emoji, str(v))
            return (
                f"contains the emoji {shown_char(char)} ({char_name(char)}) at character {at}; Amazon allows no "
                f"emoji or pictographs in {fed}"
            )

        rules.append(_forbidden("emoji", column, emoji, f"{column} ({fed}) has no emoji", explain_emoji))
    return rules


def _line_break_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    rules: list[Rule] = []
    for column, attributes in free_columns(mapping, policy.line_breaks).items():
        fed = ", ".join(attributes)

        def explain_break(v: Any, r: Mapping[str, Any], fed: str = fed) -> str:
            char, at = found(LINE_BREAK, str(v))
            what = "a tab" if char == "\t" else "a line break"
            return f"contains {what} ({char_name(char)}) at character {at}; {fed} must be one line"

        rules.append(
            _forbidden(
                "line_breaks",
                column,
                LINE_BREAK,
                f"{column} ({fed}) is one line (no line breaks or tabs)",
                explain_break,
            )
        )
    return rules
