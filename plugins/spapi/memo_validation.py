"""Product-type validation that checks each distinct value once, with the same errors as a full pass.

A product-type schema is large (hundreds of attribute schemas and conditional rules) and a full
``iter_errors`` re-walks all of it for every message: 2 to 7 ms a message, an hour for a million.
Yet a catalog repeats itself: the same brand, colour, condition or battery facts on thousands of
rows. The schema's structure makes reuse exact rather than approximate:

- an attribute's own schema (``properties[name]``) sees only that attribute's value, so its errors
  are a function of ``(name, value)``;
- the root's other keywords (``required``, ``additionalProperties``, the ``allOf`` of ``if``/``then``
  rules, ...) see which attributes are present and the values of the attributes they name, so their
  errors are a function of the key set and those values.

:class:`MemoValidator` caches both, keyed by canonical JSON, and yields the errors in the order a
full pass would (keyword by keyword, attribute by attribute). Where the schema does something the
analysis does not cover (a root ``$ref``, ``if``, ``patternProperties`` ...) or a value cannot be
put in canonical form, it runs the full pass instead: slower, never different.
``tests/unit/test_memo_validation.py`` runs valid and invalid messages through both and fails on
any difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from jsonschema import ValidationError

__all__ = ["MemoValidator"]

#: Root keywords whose errors depend only on the key set and on the values of the attributes they
#: name (collected by :func:`_named_attributes`); with any other validating keyword at the root the
#: shortcut is off.
_ROOT_KEYWORDS = frozenset(
    {
        "type",
        "required",
        "properties",
        "additionalProperties",
        "unevaluatedProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "dependentRequired",
        "dependentSchemas",
        "minProperties",
        "maxProperties",
    }
)
#: Keywords that hold schemas applying to the root instance itself (so their ``properties`` name
#: attributes); anything else nested (``contains``, ``items``, ...) applies to an attribute's value.
_IN_PLACE = ("allOf", "anyOf", "oneOf")
_IN_PLACE_ONE = ("not", "if", "then", "else")
#: Root errors whose message or instance is the whole message: not reusable for another message.
_WHOLE_MESSAGE_SAFE = frozenset({"required", "additionalProperties", "unevaluatedProperties", None})
_DEFAULT_CACHE_SIZE = 65_536


class _NotAnalysable(Exception):
    """The schema uses a construct whose dependence on the message is not worked out here."""


def _named_attributes(schema: Any, names: set[str]) -> None:
    """Collect the attributes whose values a root-level schema can look at, descending only
    through keywords that apply to the root instance."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, Mapping):
        raise _NotAnalysable("a schema that is not an object")
    if "$ref" in schema or "patternProperties" in schema or "propertyNames" in schema:
        raise _NotAnalysable("a reference or a pattern at the root")
    # ``required`` and ``dependentRequired`` look at presence only, which the key set covers
    for key in ("properties", "dependentSchemas"):
        names.update(schema.get(key) or ())
    for keyword in _IN_PLACE:
        for sub in schema.get(keyword) or ():
            _named_attributes(sub, names)
    for keyword in _IN_PLACE_ONE:
        if keyword in schema:
            _named_attributes(schema[keyword], names)
    for sub in (schema.get("dependentSchemas") or {}).values():
        _named_attributes(sub, names)


def _canonical(value: Any) -> bytes:
    """One spelling per JSON value (sorted keys); ``1`` and ``1.0`` and ``true`` stay apart, as they
    do for the schema's ``type`` checks."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson refuses (a lone surrogate, a non-str key): the slow, exact way
        pass
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError) as err:  # not JSON at all (a Decimal, a set): no key for it
        raise _NotAnalysable(str(err)) from None


class MemoValidator:
    """Wraps a jsonschema validator for one product-type schema; ``iter_errors`` as the wrapped one.

    The caches are bounded (``cache_size`` entries each, emptied when full), so memory does not grow
    with the catalog; only the hit rate does.
    """

    def __init__(self, validator: Any, *, cache_size: int = _DEFAULT_CACHE_SIZE) -> None:
        self.full = validator
        self.cache_size = cache_size
        schema = validator.schema
        self._root: Mapping[str, Any] | None = None
        self._named: frozenset[str] = frozenset()
        self._keywords: list[str] = []
        self._attribute_errors: dict[tuple[str, bytes], list[ValidationError]] = {}
        self._root_errors: dict[tuple[frozenset[str], bytes], dict[str, list[ValidationError]]] = {}
        if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
            return
        validating = [k for k in schema if k in validator.VALIDATORS]
        if any(k not in _ROOT_KEYWORDS for k in validating):
            return
        names: set[str] = set()
        try:
            for keyword in validating:
                if keyword not in ("properties", "required", "type", "additionalProperties"):
                    _named_attributes({keyword: schema[keyword]}, names)
            extra = schema.get("additionalProperties", True)
            if not isinstance(extra, bool) or not isinstance(schema.get("unevaluatedProperties", True), bool):
                raise _NotAnalysable("a schema for additional properties")
        except _NotAnalysable:
            return
        self._root = schema
        self._named = frozenset(names)
        self._keywords = validating
        # the root with every attribute schema reduced to ``true``: the same property names (so
        # additionalProperties decides as before), none of the per-attribute work
        self._rest = validator.evolve(
            schema={**schema, "properties": dict.fromkeys(schema["properties"], True)}
        )

    @property
    def schema(self) -> Any:
        return self.full.schema

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        if self._root is None or not isinstance(instance, dict):
            yield from self.full.iter_errors(instance)
            return
        try:
            errors = self._errors(instance)
        except _NotAnalysable:  # a value with no canonical form
            yield from self.full.iter_errors(instance)
            return
        yield from errors

    def _errors(self, instance: dict[str, Any]) -> list[ValidationError]:
        """All of a message's errors, in the full pass's order, before any is handed out (so that a
        fallback half-way cannot report an error twice)."""
        assert self._root is not None
        root_errors = self._errors_of_the_rest(instance)
        errors: list[ValidationError] = []
        for keyword in self._keywords:
            if keyword == "properties":
                for name, subschema in self._root["properties"].items():
                    if name in instance:
                        errors.extend(self._errors_of_attribute(name, subschema, instance[name]))
            else:
                errors.extend(root_errors.get(keyword, ()))
        return errors

    def _errors_of_attribute(self, name: str, subschema: Any, value: Any) -> list[ValidationError]:
        key = (name, _canonical(value))
        errors = self._attribute_errors.get(key)
        if errors is None:
            errors = []
            for error in self.full.descend(value, subschema, path=name, schema_path=name):
                # what ``iter_errors`` adds to an error coming out of the ``properties`` keyword
                error._set(
                    validator="properties",
                    validator_value=self._root["properties"] if self._root else None,
                    instance=value,
                    schema=self.full.schema,
                    type_checker=self.full.TYPE_CHECKER,
                )
                error.schema_path.appendleft("properties")
                errors.append(error)
            if len(self._attribute_errors) >= self.cache_size:
                self._attribute_errors.clear()
            self._attribute_errors[key] = errors
        return errors

    def _errors_of_the_rest(self, instance: dict[str, Any]) -> dict[str, list[ValidationError]]:
        keys = frozenset(instance)
        named = {name: instance[name] for name in sorted(self._named & keys)}
        key = (keys, _canonical(named))
        cached = self._root_errors.get(key)
        if cached is not None:
            return cached
        grouped: dict[str, list[ValidationError]] = {}
        reusable = True
        for error in self._rest.iter_errors(instance):
            keyword = str(error.relative_schema_path[0]) if error.relative_schema_path else ""
            grouped.setdefault(keyword, []).append(error)
            if not error.path and error.validator not in _WHOLE_MESSAGE_SAFE:
                reusable = False  # its message quotes the whole message: right for this one only
        if reusable:
            if len(self._root_errors) >= self.cache_size:
                self._root_errors.clear()
            self._root_errors[key] = grouped
        return grouped
