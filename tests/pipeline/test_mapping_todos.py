"""A mapping with TODO markers (a scaffold's draft) is refused, and the error names every marker."""

from __future__ import annotations

import pytest

from listings_pipeline.catalog.mapping import MappingError, parse_mapping

DRAFT = """\
product_type: KETTLE
marketplaces:
  ATVPDKIKX0DER: {language_tag: en_US, currency: USD}
columns:
  title: {type: text, required: true}
  colour: {type: string}
attributes:
  item_name: {language_tag: true, value: {column: title}}
  item_type_keyword:
    value: {const: TODO}  # TODO: a browse keyword
  color:
    language_tag: true
    value: {transform: enum, column: colour, values: {BLK: Black, XX: TODO}}
  capacity:
    object: {column: TODO}
"""


def test_every_todo_is_named_with_its_line_and_key() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(DRAFT, "KETTLE.yaml")
    problems = caught.value.problems
    assert [(p.line, p.key) for p in problems] == [
        (10, "attributes.item_type_keyword.value.const"),
        (13, "attributes.color.value.values.XX"),
        (15, "attributes.capacity.object.column"),
    ]
    assert all("mapping scaffold" in p.message for p in problems)
    assert "3 problems" in str(caught.value)


def test_a_filled_draft_loads() -> None:
    filled = (
        DRAFT.replace("{const: TODO}", "{const: kettles}")
        .replace("XX: TODO", "XX: Steel")
        .replace("object: {column: TODO}", "object: {transform: unit, column: capacity_l, unit: liters}")
        .replace("  colour: {type: string}", "  colour: {type: string}\n  capacity_l: {type: decimal}")
    )
    mapping = parse_mapping(filled, "KETTLE.yaml")
    assert set(mapping.attributes) == {"item_name", "item_type_keyword", "color", "capacity"}


def test_a_value_that_only_contains_todo_is_not_a_marker() -> None:
    text = DRAFT.split("  item_type_keyword:")[0].replace("column: title", "column: title_todo")
    text = text.replace("  title: {type: text, required: true}", "  title_todo: {type: text, required: true}")
    assert parse_mapping(text, "KETTLE.yaml").attributes["item_name"] is not None
