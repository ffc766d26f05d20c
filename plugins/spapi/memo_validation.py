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

:class:`MemoValidator` caches both, keyed by a digest of canonical JSON, and yields the errors in
the order a full pass would (keyword by keyword, attribute by attribute). Where the schema does something the
analysis does not cover (a root ``$ref``, ``if``, ``patternProperties`` ...) or a value cannot be
put in canonical form, it runs the full pass instead: slower, never different.
``tests/unit/spapi/test_memo_validation.py`` runs valid and invalid messages through both and fails
on any difference.

A value not seen before is first put to a compiled validator (jsonschema-rs, a Rust
implementation, with Amazon's keywords and formats delegated to the same Python functions), which
answers in microseconds where jsonschema takes a few hundred. Only its "valid" is trusted, and only
to mean "no errors"; for anything it rejects, the errors come from jsonschema as before, so the
messages stay the ones the pipeline has always written. The differential test holds it to that:
whatever jsonschema rejects, the compiled validator must reject too. A second compiled validator is
asked first, in which Amazon's keywords are standard ones that pass less, never more (given by the
caller: ``spapi.product_types.STRICTER``), so that most values are answered without a call back into
Python; it is not built where such a keyword sits under ``not``, ``oneOf``, ``if`` or ``contains``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import ValidationError

__all__ = ["MemoValidator", "SharedValue"]

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
#: Root keywords that are rules about the whole message: left out of the compiled per-attribute check.
_WHOLE_MESSAGE_RULES = _ROOT_KEYWORDS - {"type", "properties"}


class SharedValue(list[Any]):
    """An attribute's value that its maker hands to many messages and never changes (the catalog's
    attribute memo): the validator remembers its errors by identity, without the canonical spelling
    and digest an equal but separate value needs, which were most of the cost of a value seen before.
    It is a list, so it serialises, compares and validates as the plain one."""

    __slots__ = ()


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


def _key(value: Any) -> bytes:
    """A value's cache key: the BLAKE2b-128 digest of its :func:`_canonical` spelling.

    Why a digest: values can be long (a description, a list of bullets), and a full cache holding
    their spellings took hundreds of MiB per product type. A collision between two of a catalog's
    values is as unlikely as one between two payload hashes, which decide what is sent already.
    """
    return hashlib.blake2b(_canonical(value), digest_size=16).digest()


def _canonical(value: Any) -> bytes:
    """One spelling per JSON value (sorted keys); ``1`` and ``1.0`` and ``true`` stay apart, as they
    do for the schema's ``type`` checks."""
    try:
        fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        # orjson writes NaN and infinities as null, which the schema tells apart from None
        if b"null" not in fast:
            return fast
    except TypeError:  # what orjson refuses (a lone surrogate, a non-str key): the slow, exact way
        pass
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError) as err:  # not JSON at all (a Decimal, a set): no key for it
        raise _NotAnalysable(str(err)) from None


class MemoValidator:
    """Wraps a jsonschema validator for one product-type schema; ``iter_errors`` as the wrapped one.

    ``meta_schema`` and ``delegated`` (the keywords the validator's class implements itself) let
    the compiled check understand Amazon's vocabulary; without them it is not used.

    The caches are bounded (``cache_size`` entries each, emptied when full), so memory does not grow
    with the catalog; only the hit rate does.
    """

    def __init__(
        self,
        validator: Any,
        *,
        meta_schema: Mapping[str, Any] | None = None,
        delegated: tuple[str, ...] = (),
        quick_passes: Mapping[str, Callable[[Any, Any], bool]] | None = None,
        stricter: Mapping[str, Callable[[Any], dict[str, Any] | None]] | None = None,
        cache_size: int = _DEFAULT_CACHE_SIZE,
    ) -> None:
        self.full = validator
        self.cache_size = cache_size
        schema = validator.schema
        self._root: Mapping[str, Any] | None = None
        self._quick: Any = None
        self._strict: Any = None
        self._named: frozenset[str] = frozenset()
        self._keywords: list[str] = []
        self._attribute_errors: dict[tuple[str, bytes], list[ValidationError]] = {}
        # by (attribute, id of a SharedValue): the value is held too, so its id is not reused
        self._shared_errors: dict[tuple[str, int], tuple[SharedValue, list[ValidationError]]] = {}
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
        if meta_schema is not None:
            self._quick = _compiled_attribute_check(validator, meta_schema, delegated, quick_passes or {})
            strict = _stricter_schema(_attribute_rules(schema), stricter or {})
            if self._quick is not None and strict is not None:
                self._strict = _compiled_attribute_check(
                    validator, meta_schema, delegated, quick_passes or {}, strict
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

    # The two halves of ``iter_errors``, for a caller that groups messages by what each half reads
    # (catalog.batch_mapping groups a batch's rows by their cells): they answer True only where the
    # full pass would find no error; False is "errors, or not known", and the caller takes the full
    # pass for that message.

    @property
    def splits(self) -> bool:
        """Whether the schema was analysed: without it, the two halves below are not defined."""
        return self._root is not None

    @property
    def named_attributes(self) -> frozenset[str]:
        """The attributes whose values the root's rules read (the rest only by being there or not)."""
        return self._named

    def value_passes(self, name: str, value: Any) -> bool:
        """Whether the full pass finds no error in the attribute ``name`` holding ``value`` (its own
        schema only; an attribute the schema does not know is the root's to judge)."""
        if self._root is None:
            return False
        subschema = self._root["properties"].get(name)
        if subschema is None:
            return True
        # the compiled checks' "valid" first: cheaper than the cache's key for a value seen once
        # (a title, an identifier), which is most of what a batch asks about
        if self._passes_compiled({name: value}):
            return True
        try:
            return not self._errors_of_attribute(name, subschema, value)
        except _NotAnalysable:
            return False

    def rest_passes(self, instance: dict[str, Any]) -> bool:
        """Whether the full pass finds no error in the root's own rules (which attributes there are,
        and the values of those its rules name), whatever the attributes' own schemas say."""
        if self._root is None:
            return False
        try:
            return not any(self._errors_of_the_rest(instance).values())
        except _NotAnalysable:
            return False

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
        if type(value) is SharedValue:
            shared = self._shared_errors.get((name, id(value)))
            if shared is not None and shared[0] is value:
                return shared[1]
            errors = self._errors_of_value(name, subschema, value)
            if len(self._shared_errors) >= self.cache_size:
                self._shared_errors.clear()
            self._shared_errors[(name, id(value))] = (value, errors)
            return errors
        return self._errors_of_value(name, subschema, value)

    def _errors_of_value(self, name: str, subschema: Any, value: Any) -> list[ValidationError]:
        key = (name, _key(value))
        errors = self._attribute_errors.get(key)
        if errors is None:
            errors = []
            if self._passes_compiled({name: value}):
                self._remember(key, errors)
                return errors
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
            self._remember(key, errors)
        return errors

    def _passes_compiled(self, instance: dict[str, Any]) -> bool:
        """The compiled checks' "valid" (the stricter one first: it seldom calls back into Python).
        Text with no UTF-8 form cannot reach Rust: the full pass judges it."""
        for check in (self._strict, self._quick):
            try:
                if check is not None and check.is_valid(instance):
                    return True
            except UnicodeError:
                return False
        return False

    def _remember(self, key: tuple[str, bytes], errors: list[ValidationError]) -> None:
        if len(self._attribute_errors) >= self.cache_size:
            self._attribute_errors.clear()
        self._attribute_errors[key] = errors

    def _errors_of_the_rest(self, instance: dict[str, Any]) -> dict[str, list[ValidationError]]:
        keys = frozenset(instance)
        named = {name: instance[name] for name in sorted(self._named & keys)}
        key = (keys, _key(named))
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


# --- the compiled per-attribute check --------------------------------------------------------------------


def _delegated_keyword(validator: Any, keyword: str, passes: Callable[[Any, Any], bool] | None) -> type:
    """A jsonschema-rs keyword that runs the Python validator's own function for ``keyword``, so the
    two cannot differ on Amazon's vocabulary (and on ``multipleOf``, which Python reads as decimal).
    ``passes(limit, instance)``, when given, spares the call where the function surely finds nothing
    (it was most of the cost of a new value)."""
    check = validator.VALIDATORS[keyword]

    class Delegated:
        def __init__(self, parent_schema: dict[str, Any], value: Any, schema_path: list[str | int]) -> None:
            self.parent_schema = parent_schema
            self.value = value

        def validate(self, instance: Any) -> None:
            if passes is not None and passes(self.value, instance):
                return
            for error in check(validator, self.value, instance, self.parent_schema) or ():
                raise ValueError(error.message)

    Delegated.__name__ = f"Delegated_{keyword}"
    return Delegated


def _delegated_format(checker: Any, name: str) -> Any:
    def check(value: str) -> bool:
        return bool(checker.conforms(value, name))

    return check


def _attribute_rules(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema without its rules about the whole message: what the compiled checks see."""
    return {k: v for k, v in schema.items() if k not in _WHOLE_MESSAGE_RULES}


#: Keywords under which a stricter subschema could let more through (or change which branch holds)
_NOT_MONOTONE = frozenset({"not", "oneOf", "if", "contains"})


def _stricter_schema(
    schema: dict[str, Any], stricter: Mapping[str, Callable[[Any], dict[str, Any] | None]]
) -> dict[str, Any] | None:
    """``schema`` with each keyword of ``stricter`` put as the standard keywords it gives (which
    pass less than it, never more), so that the compiled check seldom calls back into Python; None
    when there is nothing to put, or when a keyword or a reference sits under ``not``, ``oneOf`` or
    ``if``, where passing less could mean passing more."""
    if not stricter:
        return None
    changed = False

    def under_negation(node: Any) -> bool:
        if isinstance(node, dict):
            return any(k in stricter or k == "$ref" or under_negation(v) for k, v in node.items())
        if isinstance(node, list):
            return any(under_negation(v) for v in node)
        return False

    def rewrite(node: Any) -> Any:
        nonlocal changed
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        added: list[dict[str, Any]] = []
        for key, value in node.items():
            if key in _NOT_MONOTONE and under_negation(value):
                raise _NotAnalysable(f"{key} holds a keyword to put stricter")
            if key in ("enum", "const", "default", "examples"):
                out[key] = value
                continue
            put = stricter[key](value) if key in stricter else None
            if put is not None:
                added.append(put)
                changed = True
            else:
                out[key] = rewrite(value)
        if added:
            out["allOf"] = [*out.get("allOf", ()), *added]
        return out

    try:
        result: dict[str, Any] = rewrite(schema)
    except _NotAnalysable:
        return None
    return result if changed else None


def _compiled_attribute_check(
    validator: Any,
    meta_schema: Mapping[str, Any] | None,
    delegated: tuple[str, ...],
    quick_passes: Mapping[str, Callable[[Any, Any], bool]],
    schema: dict[str, Any] | None = None,
) -> Any:
    """jsonschema-rs over the root's ``properties`` alone (with ``$defs``), or over ``schema`` when
    given, or None when it cannot be built: then every new value goes to jsonschema, slower and the
    same. ``delegated`` are the keywords whose meaning the Python validator defines itself."""
    if schema is None:
        schema = _attribute_rules(validator.schema)
    keywords = {k: _delegated_keyword(validator, k, quick_passes.get(k)) for k in delegated}
    checker = validator.format_checker
    formats = {name: _delegated_format(checker, name) for name in (checker.checkers if checker else {})}
    resources = []
    vocabularies: list[str] = []
    if meta_schema is not None and isinstance(meta_schema.get("$id"), str):
        resources.append((meta_schema["$id"], dict(meta_schema)))
        vocabularies = [v for v in meta_schema.get("$vocabulary") or {} if "json-schema.org" not in v]
    try:
        return jsonschema_rs.Draft201909Validator(
            schema,
            registry=jsonschema_rs.Registry(resources) if resources else None,
            vocabularies=vocabularies or None,
            keywords=keywords,
            formats=formats,
            validate_formats=True,
        )
    except (jsonschema_rs.ValidationError, ValueError, TypeError):
        return None
