"""The transform kinds own their behaviour: a kind parses itself, builds its value from a row, checks
itself against the mapping and the product type's schema, and says what it implies for validation.
The mapping, the transform step and the validation step ask the kind; none of them tests its type,
so that a new kind is one class (plus its place in ``KINDS``)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from listings_pipeline.catalog import specs
from listings_pipeline.catalog.cells import EMPTY, Empty
from listings_pipeline.catalog.columns import ColumnSpec
from listings_pipeline.catalog.mapping import TRANSFORMS, AttributeMapping
from listings_pipeline.catalog.specs import (
    KINDS,
    CodeSet,
    ConstantSpec,
    CopySpec,
    ImageColumn,
    ListSpec,
    SpecKind,
    TemplateSpec,
    TextColumn,
    UnitSpec,
    kind_name,
)

CATALOG = Path(specs.__file__).resolve().parents[1]


class Row:
    """A RowReader over a plain dict, for kinds tested without a mapping."""

    def __init__(self, cells: Mapping[str, Any], *, currency: str | None = "USD") -> None:
        self.cells = cells
        self.marketplace_id = "ATVPDKIKX0DER"
        self._currency = currency

    def raw(self, column: str) -> Any:
        value = self.cells.get(column)
        return EMPTY if value in (None, "") else value

    def text(self, column: str) -> str | Empty:
        value = self.raw(column)
        return value if isinstance(value, Empty) else str(value).strip()

    def currency(self) -> str | None:
        return self._currency

    def relabels(self, column: str) -> Mapping[str, Any]:
        return {"BLK": "Noir"} if column == "relabelled" else {}

    def fail(self, reason: str, column: str | None = None, value: Any = None) -> Exception:
        return ValueError(f"{column}: {reason}")


def spec(raw: dict[str, Any]) -> SpecKind:
    leaf = AttributeMapping.model_validate({"object": raw}).object_
    assert leaf is not None
    return leaf


def test_the_names_follow_from_kinds() -> None:
    assert TRANSFORMS == (
        "copy",
        "template",
        "constant",
        "enum",
        "boolean",
        "integer",
        "decimal",
        "price",
        "currency",
        "unit",
        "dimensions",
        "list",
        "image_url",
    )
    assert {kind_name(kind) for kind in KINDS} == set(TRANSFORMS)


def test_every_kind_is_in_the_union() -> None:
    assert set(KINDS) == set(SpecKind.__subclasses__())


def test_shorthands_parse_to_their_kind() -> None:
    assert spec({"const": "new_new"}) == ConstantSpec(transform="constant", value="new_new")
    assert spec({"column": "title"}) == CopySpec(column="title")


#: (spec, row, value) of one example or more per kind
EXAMPLES: list[tuple[dict[str, Any], dict[str, Any], Any]] = [
    ({"column": "t"}, {"t": " Shirt "}, "Shirt"),
    ({"const": 5}, {}, 5),
    ({"transform": "template", "template": "{b} {t}"}, {"b": "Acme", "t": "Shirt"}, "Acme Shirt"),
    ({"transform": "template", "template": "{b} {t}"}, {"t": "Shirt"}, EMPTY),
    ({"transform": "enum", "column": "c", "values": {"BLK": "Black"}}, {"c": "BLK"}, "Black"),
    (
        {"transform": "enum", "column": "relabelled", "values": {"BLK": "Black"}},
        {"relabelled": "BLK"},
        "Noir",
    ),
    ({"transform": "boolean", "column": "c"}, {"c": "yes"}, True),
    ({"transform": "integer", "column": "c"}, {"c": "12"}, 12),
    ({"transform": "decimal", "column": "c", "multiply": 0.001}, {"c": "1500"}, 1.5),
    ({"transform": "price", "column": "c"}, {"c": "16.99"}, 16.99),
    ({"transform": "currency"}, {}, "USD"),
    ({"transform": "unit", "column": "c", "unit": "grams"}, {"c": "12"}, {"value": 12, "unit": "grams"}),
    (
        {"transform": "dimensions", "column": "c", "unit": "centimeters"},
        {"c": "1x2x3"},
        {
            "length": {"value": 1, "unit": "centimeters"},
            "width": {"value": 2, "unit": "centimeters"},
            "height": {"value": 3, "unit": "centimeters"},
        },
    ),
    ({"transform": "list", "column": "c", "separator": ";"}, {"c": "a; b;"}, ["a", "b"]),
    (
        {"transform": "image_url", "column": "c", "base_url": "https://img.example.com/"},
        {"c": "a.jpg"},
        "https://img.example.com/a.jpg",
    ),
]


@pytest.mark.parametrize(("raw", "cells", "value"), EXAMPLES)
def test_each_kind_builds_its_value(raw: dict[str, Any], cells: dict[str, Any], value: Any) -> None:
    built = spec(raw)
    assert kind_name(type(built)) == raw.get("transform", "constant" if "const" in raw else "copy")
    assert built.apply(Row(cells)) == value


def test_every_kind_has_an_example() -> None:
    shown = {raw.get("transform", "constant" if "const" in raw else "copy") for raw, _, _ in EXAMPLES}
    assert shown == set(TRANSFORMS)


def test_a_kind_fails_through_the_row() -> None:
    with pytest.raises(ValueError, match="c: 'maybe' is not a yes/no value"):
        spec({"transform": "boolean", "column": "c"}).apply(Row({"c": "maybe"}))
    with pytest.raises(ValueError, match="no currency is configured"):
        spec({"transform": "currency"}).apply(Row({}, currency=None))


def test_kinds_check_themselves_against_the_column_declarations() -> None:
    columns = {"n": ColumnSpec(type="string"), "e": ColumnSpec(enum=["A", "B"])}
    integer = spec({"transform": "integer", "column": "n"})
    assert integer.mapping_problems(("x",), columns) == [
        (("x", "column"), "column 'n' is declared as string; the integer transform needs integer")
    ]
    enum = spec({"transform": "enum", "column": "e", "values": {"A": "a"}})
    assert enum.mapping_problems(("x",), columns) == [
        (("x", "values"), "codes ['B'] allowed by columns.e.enum have no translation")
    ]
    unit = spec({"transform": "unit", "column": "w"})
    assert unit.mapping_problems(("x",), {}) == [
        (("x",), "a unit transform needs 'unit', 'unit_column' or a 'units' table")
    ]
    assert CopySpec(column="n").mapping_problems(("x",), columns) == []


def test_kinds_check_their_values_against_the_schema_enum() -> None:
    constant = spec({"const": "used"})
    assert constant.schema_problems(["new_new"], ("p",), "condition_type", {}) == [
        (("p", "value"), "condition_type: 'used' is not one of ['new_new']")
    ]
    enum = spec({"transform": "enum", "column": "c", "values": {"BLK": "Black"}, "default": "Grey"})
    problems = enum.schema_problems(["Black"], ("p",), "color", {"DE": {"c": {"BLK": "Schwarz"}}})
    assert [path for path, _ in problems] == [("marketplaces", "DE", "enums", "c", "BLK"), ("p", "default")]


def test_what_kinds_imply_for_validation() -> None:
    bullets = spec({"transform": "list", "column": "b", "separator": "|"})
    assert bullets.free_text() == [TextColumn("b", "|")]
    template = spec({"transform": "template", "template": "{brand} {title}"})
    assert template.free_text() == [TextColumn("brand"), TextColumn("title")]
    enum = spec({"transform": "enum", "column": "c", "values": {"A": "a"}, "ignore_case": True})
    assert enum.code_set() == CodeSet("c", frozenset({"A"}), True, None, False)
    assert enum.held_codes() == ("c", ("A",))
    boolean = spec({"transform": "boolean", "column": "g", "true_values": ["J"], "false_values": ["N"]})
    assert boolean.yes_no_tokens() == ("g", ("J", "N"))
    image = spec({"transform": "image_url", "column": "i", "base_url": "https://x.example/"})
    assert image.image_columns() == [ImageColumn("i", relative=True)]
    assert spec({"transform": "currency", "column": "cur"}).currency_column() == "cur"
    for quiet in (CopySpec(column="c"), spec({"const": 1})):
        assert quiet.code_set() is None and quiet.image_columns() == [] and quiet.currency_column() is None


def test_where_a_kind_names_a_column() -> None:
    assert ListSpec.model_validate({"transform": "list", "columns": ["a", "b"]}).column_key("b") == (
        "columns",
        1,
    )
    assert TemplateSpec(transform="template", template="{a}").column_key("a") == ("template",)
    unit = UnitSpec(transform="unit", column="w", unit_column="u")
    assert unit.column_key("u") == ("unit_column",) and unit.column_key("w") == ("column",)


_KIND_NAMES = {kind.__name__ for kind in KINDS}


#: Every catalog module outside the kinds' own package.
STEP_MODULES = sorted(
    str(path.relative_to(CATALOG)) for path in CATALOG.rglob("*.py") if path.parent.name != "specs"
)


@pytest.mark.parametrize("module", STEP_MODULES)
def test_no_step_tests_the_type_of_a_kind(module: str) -> None:
    """``isinstance(x, SpecKind)`` tells a transform from an object or a list of fields (the shape of
    a spec); testing for one kind would put that kind's behaviour outside its class again."""
    tree = ast.parse((CATALOG / module).read_text())
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "isinstance"
            and len(node.args) == 2
        ):
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            found.extend(sorted(names & _KIND_NAMES))
    assert found == [], f"{module} tests for kinds {found}"
