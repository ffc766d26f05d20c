"""The memoised product-type validator against a plain full pass: any difference fails.

``MemoValidator`` reuses errors across messages, so the danger is an error that belongs to another
message (a cache key that misses something the schema looks at). The corpus is the validator
differential's (valid and invalid listings of Amazon's PRODUCT and the three sample types, for every
keyword the schemas use), then the same listings mutated at random; all of them go through one
shared memo validator per product type, warm, in two orders, and each message's errors (path,
keyword, message, schema path) and issues must equal the full pass's exactly.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft201909Validator

from spapi import memo_validation, product_types
from spapi.memo_validation import MemoValidator, SharedValue
from spapi.product_types import (
    QUICK_PASSES,
    STRICTER,
    ProductTypeSchemas,
    make_validator,
    validate_attributes,
)
from tests.sandbox.test_validator_differential import CORPUS, META, SERVED, Case

MUTANTS = 400
KNOWN = {"PRODUCT", "LUGGAGE", "SHIRT", "HEADPHONES"}  # an unknown type is not the validator's business
ODD_VALUES: tuple[Any, ...] = (
    "",
    "x" * 3000,
    "Ünïcödé ✓",
    "\ud800",
    -1,
    0,
    1,
    1.0,
    2.5,
    True,
    None,
    float("nan"),
    float("inf"),
    [],
    {},
)


@pytest.fixture(scope="module")
def schemas() -> ProductTypeSchemas:
    return ProductTypeSchemas(META, list(SERVED))


def _errors(validator: Any, attributes: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (list(e.absolute_path), e.validator, e.message, list(e.relative_schema_path))
        for e in validator.iter_errors(attributes)
    ]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _mutant(rng: random.Random, case: Case, pool: list[Any]) -> dict[str, Any]:
    """A listing changed in one to three ways that schemas care about."""
    attributes = copy.deepcopy(case.attributes)
    for _ in range(rng.randint(1, 3)):
        if not attributes:
            break
        name = rng.choice(sorted(attributes))
        kind = rng.randrange(5)
        if kind == 0:
            del attributes[name]
        elif kind == 1:
            attributes[f"not_an_attribute_{rng.randrange(3)}"] = [{"value": "x"}]
        elif kind == 2 and isinstance(attributes[name], list) and attributes[name]:
            attributes[name].append(copy.deepcopy(rng.choice(attributes[name])))
        else:
            leaves = list(_leaves(attributes[name]))
            if not leaves or not leaves[0][0]:
                attributes[name] = rng.choice(pool)
                continue
            path, _ = rng.choice(leaves)
            target = attributes[name]
            for step in path[:-1]:
                target = target[step]
            if kind == 3 and isinstance(target, dict):
                del target[path[-1]]
            else:
                target[path[-1]] = copy.deepcopy(rng.choice(pool))
    return attributes


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(20261202)
    pool: list[Any] = list(ODD_VALUES)
    for case in CORPUS:
        pool.extend(value for _, value in _leaves(case.attributes))
    known = [case for case in CORPUS if case.product_type.upper() in KNOWN]
    messages = [(case.product_type, case.attributes) for case in known]
    for _ in range(MUTANTS):
        case = rng.choice(known)
        messages.append((case.product_type, _mutant(rng, case, pool)))
    return messages


def _compare(schemas: ProductTypeSchemas, messages: list[tuple[str, dict[str, Any]]]) -> list[str]:
    full = {name: make_validator(schemas.schema(name), schemas.meta_schema) for name in schemas.names()}
    fresh = ProductTypeSchemas(schemas.meta_schema_path, schemas.directories)  # its own caches
    memo = {name: fresh.validator(name) for name in full}
    differences = []
    for round_ in ("cold", "warm", "reversed"):
        ordered = messages[::-1] if round_ == "reversed" else messages
        for index, (product_type, attributes) in enumerate(ordered):
            key = product_type.upper()
            want, got = _errors(full[key], attributes), _errors(memo[key], attributes)
            if want != got:
                differences.append(f"{round_} #{index} {product_type}: full {want} != memo {got}")
            for enforce in (True, False):
                if validate_attributes(
                    full[key], attributes, enforce_required=enforce
                ) != validate_attributes(memo[key], attributes, enforce_required=enforce):
                    differences.append(f"{round_} #{index} {product_type}: issues differ (enforce={enforce})")
    return differences


def test_the_shipped_schemas_take_the_shortcut(schemas: ProductTypeSchemas) -> None:
    for name in schemas.names():
        memo = schemas.validator(name)
        assert isinstance(memo, MemoValidator)
        assert memo._root is not None, f"{name} falls back to the full pass"
        assert memo._quick is not None, f"{name} has no compiled check"


def test_memo_and_full_validation_agree_on_every_listing(schemas: ProductTypeSchemas) -> None:
    messages = _corpus()
    invalid = sum(1 for product_type, a in messages if schemas.validate(product_type, a))
    assert invalid > len(messages) // 3, "the corpus must be mostly invalid listings to mean anything"
    assert _compare(schemas, messages) == []


def test_the_comparison_catches_a_cache_key_that_misses_the_value(
    schemas: ProductTypeSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memo keyed on the attribute name alone reuses one message's errors for another."""
    monkeypatch.setattr(memo_validation, "_canonical", lambda value: b"")
    assert _compare(schemas, _corpus()[: len(CORPUS) // 2])


def test_the_comparison_catches_a_rule_keyed_without_its_attribute(
    schemas: ProductTypeSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conditional rules read attribute values: leaving those out of the key must show."""
    original = MemoValidator.__init__

    def blind(self: MemoValidator, validator: Any, **kw: Any) -> None:
        original(self, validator, **kw)
        self._named = frozenset()

    monkeypatch.setattr(MemoValidator, "__init__", blind)
    assert _compare(schemas, _corpus())


def test_the_comparison_catches_a_compiled_check_that_accepts_too_much(
    schemas: ProductTypeSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the compiled check's "valid" is trusted: one that is wrong about it must show."""

    class Lenient:
        def is_valid(self, instance: Any) -> bool:
            return True

    monkeypatch.setattr(memo_validation, "_compiled_attribute_check", lambda *a: Lenient())
    assert _compare(schemas, _corpus()[: len(CORPUS) // 2])


def test_a_schema_outside_the_analysis_gets_the_full_pass(schemas: ProductTypeSchemas) -> None:
    schema = {
        **schemas.schema("LUGGAGE"),
        "patternProperties": {"^x_": {"type": "array", "maxItems": 1}},
    }
    memo = MemoValidator(make_validator(schema, schemas.meta_schema))
    assert memo._root is None
    listing = {"x_extra": [1, 2]}
    assert _errors(memo, listing) == _errors(make_validator(schema, schemas.meta_schema), listing) != []


def test_the_caches_stay_bounded(schemas: ProductTypeSchemas) -> None:
    memo = MemoValidator(make_validator(schemas.schema("SHIRT"), schemas.meta_schema), cache_size=8)
    for index in range(50):
        list(
            memo.iter_errors({"item_name": [{"value": f"Shirt {index}", "marketplace_id": "ATVPDKIKX0DER"}]})
        )
        list(memo.iter_errors({"item_name": SharedValue([{"value": f"Shirt {index}"}])}))
    assert len(memo._attribute_errors) <= 8
    assert len(memo._root_errors) <= 8
    assert len(memo._shared_errors) <= 8


def test_a_value_with_no_json_form_gets_the_full_pass(schemas: ProductTypeSchemas) -> None:
    from decimal import Decimal

    full = make_validator(schemas.schema("SHIRT"), schemas.meta_schema)
    memo = MemoValidator(make_validator(schemas.schema("SHIRT"), schemas.meta_schema))
    listing = {"item_name": [{"value": Decimal("1.5"), "marketplace_id": "ATVPDKIKX0DER"}]}
    assert _errors(memo, listing) == _errors(full, listing) != []
    assert memo._attribute_errors == {}


def test_nan_and_null_are_different_values(schemas: ProductTypeSchemas) -> None:
    """orjson writes NaN as null: a key built from it alone would give NaN the errors of None."""
    full = make_validator(schemas.schema("SHIRT"), schemas.meta_schema)
    memo = schemas.validator("SHIRT")
    for value in (None, float("nan"), float("inf"), None):
        listing = {"item_name": [{"value": value, "marketplace_id": "ATVPDKIKX0DER"}]}
        assert _errors(memo, listing) == _errors(full, listing) != []


def test_shared_values_get_the_errors_of_equal_plain_ones_and_are_known_by_identity(
    schemas: ProductTypeSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog's attribute memo hands one ``SharedValue`` to every row with the same cells: the
    corpus with each distinct attribute value shared that way must give the full pass's errors, and
    a shared value met again is not spelled and digested again."""
    shared: dict[tuple[str, bytes], SharedValue] = {}

    def sharing(attributes: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in attributes.items():
            if not isinstance(value, list):
                out[name] = value
                continue
            try:
                key = (name, memo_validation._canonical(value))
            except memo_validation._NotAnalysable:
                out[name] = value
                continue
            out[name] = shared.setdefault(key, SharedValue(value))
        return out

    messages = [(product_type, sharing(attributes)) for product_type, attributes in _corpus()]
    assert _compare(schemas, messages) == []

    memo = MemoValidator(make_validator(schemas.schema("SHIRT"), schemas.meta_schema))
    title = SharedValue([{"value": "Shirt", "marketplace_id": "ATVPDKIKX0DER"}])
    spelled: list[Any] = []
    real_key = memo_validation._key
    monkeypatch.setattr(memo_validation, "_key", lambda value: spelled.append(value) or real_key(value))
    first = _errors(memo, {"item_name": title})
    assert title in spelled
    spelled.clear()
    assert _errors(memo, {"item_name": title}) == first
    assert all(value is not title for value in spelled)


def test_the_two_halves_answer_as_the_full_pass(schemas: ProductTypeSchemas) -> None:
    """``value_passes`` and ``rest_passes`` (what the batch mapping asks once per distinct value and
    per distinct root) say yes together exactly where the full pass finds no error."""
    full = {name: make_validator(schemas.schema(name), schemas.meta_schema) for name in schemas.names()}
    fresh = ProductTypeSchemas(schemas.meta_schema_path, schemas.directories)
    clean = 0
    for product_type, attributes in _corpus():
        key = product_type.upper()
        memo = fresh.validator(key)
        assert memo.splits
        halves = memo.rest_passes(attributes) and all(
            memo.value_passes(name, value) for name, value in attributes.items()
        )
        assert halves == (not _errors(full[key], attributes)), (product_type, attributes)
        clean += halves
    assert clean > 20


@pytest.mark.parametrize("keyword", sorted(QUICK_PASSES))
def test_a_quick_pass_never_spares_a_call_that_would_find_an_error(keyword: str) -> None:
    """Each keyword's cheap test says yes only where the keyword's own function finds nothing."""
    validator = make_validator({"type": "object"}, None)
    check = validator.VALIDATORS[keyword]
    texts = ["", "a", "abc", "x" * 10, "é", "éé", "✓✓✓", "\ud800", "a\ud800"]
    lists = [[], [{"value": 1}], [{"value": 1}, {"value": 2}], [{"value": 1}] * 3]
    schema = {"selectors": ["marketplace_id"]}
    spared = 0
    for limit in (0, 1, 2, 3, 5, 10):
        for instance in [*texts, *lists, 7, None, {"a": 1}]:
            if QUICK_PASSES[keyword](limit, instance):
                spared += 1
                assert not list(check(validator, limit, instance, schema) or ()), (limit, instance)
    assert spared > 10


@pytest.mark.parametrize("keyword", sorted(STRICTER))
def test_a_stricter_form_passes_only_what_its_keyword_passes(keyword: str) -> None:
    """What the compiled check is given instead of Amazon's keyword never lets through more."""
    validator = make_validator({"type": "object"}, None)
    check = validator.VALIDATORS[keyword]
    texts = ["", "a", "abc", "x" * 10, "é", "éé", "✓✓✓", "a\tb"]
    lists = [[], [{"value": 1}], [{"value": 1}, {"value": 2}], [{"value": 1}] * 3]
    schema = {"selectors": ["marketplace_id"]}
    passed = 0
    for limit in (0, 1, 2, 3, 5, 10, 2.5, "3"):
        form = STRICTER[keyword](limit)
        if form is None:
            continue
        for instance in [*texts, *lists, 7, None, {"a": 1}]:
            if Draft201909Validator(form).is_valid(instance):
                passed += 1
                assert not list(check(validator, limit, instance, schema) or ()), (limit, instance)
    assert passed > 10


def test_no_stricter_form_where_passing_less_could_pass_more() -> None:
    stricter = {"maxUtf8ByteLength": STRICTER["maxUtf8ByteLength"]}
    plain = {"properties": {"a": {"items": {"properties": {"value": {"maxUtf8ByteLength": 5}}}}}}
    assert memo_validation._stricter_schema(plain, stricter) is not None
    for keyword in ("not", "oneOf", "if", "contains"):
        inner: Any = {"maxUtf8ByteLength": 5}
        wrapped = {"properties": {"a": {keyword: [inner] if keyword == "oneOf" else inner}}}
        assert memo_validation._stricter_schema(wrapped, stricter) is None, keyword
    referenced = {
        "properties": {"a": {"not": {"$ref": "#/$defs/b"}}},
        "$defs": {"b": {"maxUtf8ByteLength": 5}},
    }
    assert memo_validation._stricter_schema(referenced, stricter) is None


def test_the_comparison_catches_a_stricter_form_that_passes_more(
    schemas: ProductTypeSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A form that lets long text through where Amazon's byte limit does not must show."""
    monkeypatch.setattr(
        product_types, "STRICTER", {"maxUtf8ByteLength": lambda limit: {"maxLength": limit * 1000}}
    )
    assert _compare(schemas, _corpus())
