"""Content policy rules on what a shopper reads: banned terms, HTML, lengths, image URLs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from listings_pipeline.catalog.content_policy import ContentPolicy
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.specs import TextColumn
from listings_pipeline.catalog.suite.content import content_rules
from listings_pipeline.catalog.suite.rule import Rule, make_rule, quoted

__all__ = ["HTML", "policy_rules", "text_columns"]

HTML = r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?\s*>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);"


def text_columns(mapping: ProductTypeMapping, attribute: str) -> list[TextColumn]:
    """The columns whose text the transforms feeding ``attribute`` send as written."""
    out: dict[TextColumn, None] = {}
    for _, leaf in mapping.leaves(attribute):
        for text in leaf.free_text():
            out[text] = None
    return list(out)


def policy_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """The content policy on the columns that feed its attributes (the mapping says which)."""
    return [
        *_word_rules(mapping, policy),
        *_length_limit_rules(mapping, policy),
        *_image_rules(mapping, policy),
        *content_rules(mapping, policy),
    ]


def _explain_html(v: Any, r: Mapping[str, Any]) -> str:
    match = re.search(HTML, str(v))
    return f"contains HTML markup {match.group(0)!r}" if match else "contains HTML markup"


def _word_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """Banned terms and HTML in the text attributes: what a shopper would read."""
    shown: dict[str, None] = {}
    for attribute in policy.text_attributes:
        for column, _ in text_columns(mapping, attribute):
            shown.setdefault(column, None)
    banned = policy.banned_regex()
    rules: list[Rule] = []
    for column in shown:
        if banned:

            def explain_banned(v: Any, r: Mapping[str, Any], banned: str = banned) -> str:
                found = sorted({m.group(0).lower() for m in re.finditer(banned, str(v))})
                return (
                    f"contains the banned term{'s' if len(found) > 1 else ''} {', '.join(map(repr, found))}"
                )

            rules.append(
                make_rule(
                    "ExpectColumnValuesToNotMatchRegex",
                    column,
                    f"{column} has none of the banned terms",
                    explain_banned,
                    rule="content_policy.banned_terms",
                    column=column,
                    regex=banned,
                )
            )
        if policy.forbid_html:
            rules.append(
                make_rule(
                    "ExpectColumnValuesToNotMatchRegex",
                    column,
                    f"{column} has no HTML tags or entities",
                    _explain_html,
                    rule="content_policy.html",
                    column=column,
                    regex=HTML,
                )
            )
    return rules


def _length_limit_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """``max_lengths``: on the whole cell, or on each entry of a cell that holds several values
    (bullets), since Amazon limits each value."""
    rules: list[Rule] = []
    for attribute, limit in policy.max_lengths.items():
        for column, separator in text_columns(mapping, attribute):
            if separator is None:
                rules.append(_cell_length_rule(column, attribute, limit))
            else:
                rules.append(_entry_length_rule(column, separator, attribute, limit))
    return rules


def _cell_length_rule(column: str, attribute: str, limit: int) -> Rule:
    return make_rule(
        "ExpectColumnValueLengthsToBeBetween",
        column,
        f"{column} ({attribute}) is at most {limit} characters",
        lambda v, r: (
            f"is {len(str(v))} characters long; the content policy allows at most {limit} for {attribute}"
        ),
        rule="content_policy.max_length",
        column=column,
        max_value=limit,
    )


def _entry_length_rule(column: str, separator: str, attribute: str, limit: int) -> Rule:
    def explain_entry(v: Any, r: Mapping[str, Any]) -> str:
        longest = max((len(p.strip()) for p in str(v).split(separator)), default=0)
        return (
            f"a {attribute} entry is {longest} characters long; the content policy allows at most "
            f"{limit} per entry"
        )

    sep = re.escape(separator)
    return make_rule(
        "ExpectColumnValuesToNotMatchRegex",
        column,
        f"each {separator!r}-separated entry of {column} ({attribute}) is at most {limit} characters",
        explain_entry,
        rule="content_policy.max_length",
        column=column,
        regex=rf"[^{sep}]{{{limit + 1},}}",
    )


def _image_rules(mapping: ProductTypeMapping, policy: ContentPolicy) -> list[Rule]:
    """Image URLs Amazon can fetch; a relative path is let through where a base URL completes it."""
    rules: list[Rule] = []
    for attribute in policy.image_attributes:
        for image in (image for _, leaf in mapping.leaves(attribute) for image in leaf.image_columns()):
            pattern = policy.image_url_pattern
            if image.relative:
                pattern = rf"(?:{pattern})|^(?![A-Za-z][A-Za-z0-9+.-]*:)\S+$"
            rules.append(
                make_rule(
                    "ExpectColumnValuesToMatchRegex",
                    image.column,
                    f"{image.column} ({attribute}) is an https:// image URL",
                    lambda v, r: (
                        f"{quoted(v)} is not an https:// URL of an image file (.jpg, .png, .gif, .tif)"
                    ),
                    rule="content_policy.image_url",
                    column=image.column,
                    regex=pattern,
                )
            )
    return rules
