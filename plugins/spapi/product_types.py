"""Validate listing attributes against Amazon product-type schemas, offline.

Product-type schemas (``getDefinitionsProductType`` downloads, or our own files in the same format)
are JSON Schema draft 2019-09 with Amazon's vocabulary (docs/spapi-facts.md §9): their ``$schema``
is ``https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1``, which
cannot be fetched, and four keywords a standard validator ignores:

- ``selectors`` with ``minUniqueItems``/``maxUniqueItems``: items of an array are grouped by the
  values of their selector properties (``marketplace_id``, ``language_tag``, ...); each group must
  hold between ``minUniqueItems`` and ``maxUniqueItems`` items. Without ``selectors`` the whole item
  is the key.
- ``minUtf8ByteLength``/``maxUtf8ByteLength``: string length in UTF-8 **bytes**.

The informational keywords (``editable``, ``hidden``, ``enumNames``, ``$lifecycle``) are ignored.
The meta-schema is registered locally under its ``$id`` with ``referencing``; nothing is fetched
from the network. Airflow-free: the pipeline's validation gate uses it (the local sandbox has its own, so that a
bug here shows up as a disagreement with "Amazon").

Errors are reported as Listings-API-style issues (``code``, ``message``, ``severity``,
``attributeNames``, ``categories``) with the small code table :data:`ISSUE_CODES`.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator, FormatChecker, ValidationError, validators
from referencing import Registry
from referencing.jsonschema import DRAFT201909

from spapi.memo_validation import MemoValidator

__all__ = [
    "ISSUE_CODES",
    "META_SCHEMA_ID",
    "AmazonSchemaValidator",
    "Issue",
    "ProductTypeSchemas",
    "check_schema",
    "load_meta_schema",
    "make_validator",
    "validate_attributes",
]

META_SCHEMA_ID = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"

# Our issue code table (Amazon documents no public list; these follow the codes seen in its
# examples: 90220 for a missing attribute, 4000001 for an invalid value).
ISSUE_CODES: dict[str, tuple[str, str]] = {
    # code: (category, meaning)
    "90220": ("MISSING_ATTRIBUTE", "a required attribute (or a required part of one) is not supplied"),
    "4000001": ("INVALID_ATTRIBUTE", "a value is not valid (type, enum, pattern, range, length)"),
    "4000002": ("INVALID_ATTRIBUTE", "too many or too few values for one selector combination"),
    "4000003": ("INVALID_ATTRIBUTE", "an attribute or property that the product type does not define"),
    "4000004": ("INVALID_ATTRIBUTE", "a patch that is not allowed (path, op or value shape)"),
    "4000005": ("INVALID_ATTRIBUTE", "the product type is unknown"),
    "4000006": ("INVALID_ATTRIBUTE", "the listing to patch does not exist"),
}

_SIZE_KEYWORDS = {"minUniqueItems", "maxUniqueItems", "minItems", "maxItems"}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _selector_groups(schema: Mapping[str, Any], instance: list[Any]) -> Counter[Any]:
    """How many values share each combination of selector values; a key is the tuple of the
    values, or their canonical JSON (:func:`_group_text`) when one is not text.

    Two texts are the same JSON exactly when they are equal, and selector values are nearly always
    text (a marketplace, a language), so most groups are counted without writing JSON: this runs
    for every value of every message, and the JSON is only needed to report a group that breaks
    a limit."""
    selectors = schema.get("selectors")
    groups: Counter[Any] = Counter()
    for item in instance:
        if selectors and isinstance(item, dict):
            values = tuple(item.get(name) for name in selectors)
            if all(type(v) is str or v is None for v in values):
                groups[values] += 1
                continue
            groups[_canonical(list(values))] += 1
        else:
            groups[_canonical(item)] += 1
    return groups


def _group_text(key: Any) -> str:
    """A :func:`_selector_groups` key as the canonical JSON an error message shows."""
    return key if isinstance(key, str) else _canonical(list(key))


def _unique_items_bound(
    beyond: Callable[[int, int], bool], bound: str
) -> Callable[[Any, int, Any, Mapping[str, Any]], Iterator[Any]]:
    """``maxUniqueItems`` or ``minUniqueItems`` (``beyond`` says which side of the limit fails, ``bound``
    how the message states the limit, ``{}`` standing for it): one rule in two directions, so the
    keywords cannot drift apart."""

    def check(validator: Any, limit: int, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if not validator.is_type(instance, "array"):
            return
        # A group holds between 1 and len(instance) values; when neither end is beyond the limit,
        # no group is (the common case: one value, at most one per marketplace and language), and
        # the groups need not be counted.
        if not (beyond(1, limit) or beyond(len(instance), limit)):
            return
        for key, count in _selector_groups(schema, instance).items():
            if beyond(count, limit):
                yield ValidationError(
                    f"{count} values share the selector values {_group_text(key)}; {bound.format(limit)} "
                    f"(selectors: {schema.get('selectors')})"
                )

    return check


_max_unique_items = _unique_items_bound(operator.gt, "at most {} allowed")
_min_unique_items = _unique_items_bound(operator.lt, "at least {} required")


def _utf8_length(instance: str) -> int | None:
    """UTF-8 bytes of a string; None for one that has no UTF-8 form (a lone surrogate)."""
    try:
        return len(instance.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _utf8_bound(
    beyond: Callable[[int, int], bool], word: str
) -> Callable[[Any, int, Any, Mapping[str, Any]], Iterator[Any]]:
    """``maxUtf8ByteLength`` or ``minUtf8ByteLength`` (``beyond`` says which side of the limit fails,
    ``word`` how the message says so): one rule in two directions, so that a string with no UTF-8
    form fails both alike and the keywords cannot drift apart."""

    def check(validator: Any, limit: int, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if not validator.is_type(instance, "string"):
            return
        size = _utf8_length(instance)
        if size is None:
            yield ValidationError(f"{instance!r} is not valid Unicode text (it cannot be written as UTF-8)")
        elif beyond(size, limit):
            yield ValidationError(f"{instance!r} is {word} than {limit} UTF-8 bytes")

    return check


_max_utf8 = _utf8_bound(operator.gt, "longer")
_min_utf8 = _utf8_bound(operator.lt, "shorter")


def _multiple_of(validator: Any, step: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    """``multipleOf`` on the decimal numbers the JSON says, not on binary floats: Amazon puts
    ``multipleOf: 0.01`` on prices, and in binary floating point 19.99 is no multiple of 0.01."""
    if not validator.is_type(instance, "number") or isinstance(instance, bool):
        return
    if Decimal(str(instance)) % Decimal(str(step)) != 0:
        yield ValidationError(f"{instance!r} is not a multiple of {step}")


def _ignore(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    return iter(())


AmazonSchemaValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft201909Validator,
    {
        "maxUniqueItems": _max_unique_items,
        "minUniqueItems": _min_unique_items,
        "maxUtf8ByteLength": _max_utf8,
        "minUtf8ByteLength": _min_utf8,
        "multipleOf": _multiple_of,
        # ``selectors`` only modifies min/maxUniqueItems; informational keywords validate nothing
        "selectors": _ignore,
        "editable": _ignore,
        "hidden": _ignore,
        "enumNames": _ignore,
        "$lifecycle": _ignore,
    },
)
"""Draft 2019-09 plus Amazon's validation keywords."""


# --- cheaper forms of Amazon's keywords, for the compiled check (spapi.memo_validation) ------------
# It calls the keywords above back in Python for every new value, which was most of a value's cost.
# Each form below is exact in one direction only, and only for a whole-number limit (what Amazon's
# meta-schema allows); anything else goes to the keyword's own function.
# ``tests/unit/spapi/test_memo_validation.py`` holds each to that.


def _ascii_within(instance: Any, low: float, high: float) -> bool:
    # ASCII text has as many UTF-8 bytes as characters (and no lone surrogate)
    return not isinstance(instance, str) or (instance.isascii() and low <= len(instance) <= high)


def _bytes_at_most(limit: Any, instance: Any) -> bool:
    return type(limit) is int and _ascii_within(instance, 0, limit)


def _bytes_at_least(limit: Any, instance: Any) -> bool:
    return type(limit) is int and _ascii_within(instance, limit, math.inf)


def _groups_at_most(limit: Any, instance: Any) -> bool:
    # no selector group can pass a limit that neither one value nor all of them pass
    return type(limit) is int and (not isinstance(instance, list) or 1 <= limit >= len(instance))


def _groups_at_least(limit: Any, instance: Any) -> bool:
    return type(limit) is int and (not isinstance(instance, list) or 1 >= limit <= len(instance))


#: True only where the keyword's own function surely finds nothing (else: ask the function).
QUICK_PASSES: dict[str, Callable[[Any, Any], bool]] = {
    "maxUtf8ByteLength": _bytes_at_most,
    "minUtf8ByteLength": _bytes_at_least,
    "maxUniqueItems": _groups_at_most,
    "minUniqueItems": _groups_at_least,
}

_ASCII = "^[\\x00-\\x7F]*$"


def _stricter(put: Callable[[int], dict[str, Any] | None]) -> Callable[[Any], dict[str, Any] | None]:
    return lambda limit: put(limit) if type(limit) is int else None


#: Standard keywords that pass less than Amazon's (never more), so that jsonschema-rs answers alone
#: for most values; None where there is no such form (the keyword stays, called back in Python).
STRICTER: dict[str, Callable[[Any], dict[str, Any] | None]] = {
    "maxUtf8ByteLength": _stricter(lambda limit: {"maxLength": limit, "pattern": _ASCII}),
    "minUtf8ByteLength": _stricter(lambda limit: {"minLength": limit, "pattern": _ASCII}),
    "maxUniqueItems": _stricter(lambda limit: {"maxItems": limit} if limit >= 1 else None),
    "minUniqueItems": _stricter(lambda limit: {"minItems": limit} if limit <= 1 else None),
}

#: The keywords whose meaning :data:`AmazonSchemaValidator` defines itself (the rest it ignores).
CHECKED_KEYWORDS = (
    "maxUniqueItems",
    "minUniqueItems",
    "maxUtf8ByteLength",
    "minUtf8ByteLength",
    "multipleOf",
)


# Amazon's schemas use ``format`` for dates (``date``, and ``date-time`` in ``oneOf`` pairs with it).
# Without a checker a format is only an annotation, so any string matched *both* branches of such a
# ``oneOf`` and every date was rejected. jsonschema checks ``date-time`` only with an extra package;
# these two stdlib checks are all the product-type schemas need.
FORMAT_CHECKER = FormatChecker(formats=())
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None and bool(date.fromisoformat(value))


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        return not isinstance(value, str)
    # RFC 3339 allows a leap second (23:59:60); Python's datetime does not, so check the rest with 59
    text = value.upper()
    if text[17:19] == "60" and text[11:16] == "23:59":
        text = text[:17] + "59" + text[19:]
    return bool(datetime.fromisoformat(text))


def load_meta_schema(path: str | Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_bytes())
    if data.get("$id") != META_SCHEMA_ID:
        raise ValueError(
            f"{path} is not Amazon's product type meta-schema v1 (its $id is {data.get('$id')!r})"
        )
    return data


def _registry(meta_schema: Mapping[str, Any] | None) -> Registry:
    registry: Registry = Registry()
    if meta_schema is not None:
        registry = registry.with_resource(META_SCHEMA_ID, DRAFT201909.create_resource(dict(meta_schema)))
    return registry


def make_validator(schema: Mapping[str, Any], meta_schema: Mapping[str, Any] | None = None) -> Any:
    """A validator for one product-type schema; ``meta_schema`` registers Amazon's meta-schema."""
    return AmazonSchemaValidator(schema, registry=_registry(meta_schema), format_checker=FORMAT_CHECKER)


def check_schema(schema: Mapping[str, Any], meta_schema: Mapping[str, Any]) -> list[str]:
    """Validate a product-type schema against Amazon's meta-schema; returns the error messages."""
    meta_validator = Draft201909Validator(meta_schema, registry=_registry(meta_schema))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in meta_validator.iter_errors(schema)
    ]
    if schema.get("$schema") != META_SCHEMA_ID:
        errors.append(f"$schema must be {META_SCHEMA_ID}")
    return errors


@dataclass(frozen=True)
class Issue:
    """An issue in the Listings Items API shape (``attributeNames`` is an array)."""

    code: str
    message: str
    severity: str = "ERROR"
    attribute_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @classmethod
    def of(cls, code: str, message: str, *attribute_names: str, severity: str = "ERROR") -> Issue:
        category = ISSUE_CODES.get(code, ("INVALID_ATTRIBUTE", ""))[0]
        return cls(code, message, severity, tuple(attribute_names), (category,))

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "severity": self.severity}
        if self.attribute_names:
            out["attributeNames"] = list(self.attribute_names)
        out["categories"] = list(self.categories)
        return out


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _issues_for(error: ValidationError) -> Iterator[Issue]:
    path = list(error.absolute_path)
    attribute = str(path[0]) if path else None
    kind = error.validator
    if kind == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        required: list[str] = list(error.validator_value) if isinstance(error.validator_value, list) else []
        missing = [name for name in required if name not in instance]
        for name in missing:
            if attribute is None:
                yield Issue.of("90220", f"'{name}' is required but not supplied.", name)
            else:
                where = "/".join(map(str, path))
                yield Issue.of(
                    "90220",
                    f"'{name}' is required in '{attribute}' but not supplied (at {where}).",
                    attribute,
                )
        return
    if kind in ("additionalProperties", "unevaluatedProperties"):
        if attribute is None:
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            known = schema.get("properties") or {}
            instance_keys = error.instance if isinstance(error.instance, dict) else {}
            extra = [k for k in instance_keys if k not in known]
            for name in extra:
                yield Issue.of("4000003", f"'{name}' is not an attribute of this product type.", name)
            return
        yield Issue.of(
            "4000003",
            _short(f"The value of '{attribute}' has an unknown property: {error.message}"),
            attribute,
        )
        return
    if attribute is None:
        yield Issue.of("4000001", _short(f"The attributes are not valid: {error.message}"))
        return
    if kind in _SIZE_KEYWORDS:
        yield Issue.of(
            "4000002",
            _short(f"The number of values for '{attribute}' is not valid: {error.message}"),
            attribute,
        )
        return
    if kind in ("anyOf", "oneOf") and error.context:
        # report the most relevant branch error rather than "is not valid under any of the given schemas"
        best = min(error.context, key=lambda e: (len(e.absolute_path) * -1, e.validator != "enum"))
        detail = best.message
    elif kind == "enum" and isinstance(error.validator_value, list) and len(error.validator_value) > 10:
        allowed = ", ".join(map(repr, error.validator_value[:10]))
        detail = f"{error.instance!r} is not one of the {len(error.validator_value)} allowed values ({allowed}, ...)"
    else:
        detail = error.message
    where = "/".join(map(str, path))
    yield Issue.of(
        "4000001", _short(f"The value provided for '{attribute}' is not valid ({where}): {detail}"), attribute
    )


@dataclass
class ProductTypeSchemas:
    """Product-type schemas by name, each with a cached validator.

    ``directories`` are searched for ``<PRODUCT_TYPE>.json`` (upper case; ``Product.json`` is
    accepted for ``PRODUCT``). A schema's product type is the last segment of its ``$id``
    (Amazon's ``.../schema/v1/PRODUCT``) or the file name.
    """

    meta_schema_path: Path
    directories: list[Path] = field(default_factory=list)
    _validators: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def meta_schema(self) -> dict[str, Any]:
        return load_meta_schema(self.meta_schema_path)

    @cached_property
    def paths(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for directory in self.directories:
            for path in sorted(Path(directory).glob("*.json")):
                if path.resolve() == self.meta_schema_path.resolve():
                    continue
                try:
                    schema_id = json.loads(path.read_bytes()).get("$id", "")
                except (OSError, ValueError):
                    continue
                name = schema_id.rstrip("/").rsplit("/", 1)[-1] if schema_id else path.stem
                found.setdefault(name.upper(), path)
        return found

    def names(self) -> list[str]:
        return sorted(self.paths)

    def __contains__(self, product_type: object) -> bool:
        return isinstance(product_type, str) and product_type.upper() in self.paths

    def raw(self, product_type: str) -> bytes:
        return self.paths[product_type.upper()].read_bytes()

    def schema(self, product_type: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.raw(product_type))
        return data

    def validator(self, product_type: str) -> Any:
        key = product_type.upper()
        if key not in self._validators:
            # a catalog repeats its values: each distinct one is checked once (same errors, see
            # memo_validation), which is what makes a million messages affordable
            validator = make_validator(self.schema(key), self.meta_schema)
            self._validators[key] = MemoValidator(
                validator,
                meta_schema=self.meta_schema,
                delegated=CHECKED_KEYWORDS,
                quick_passes=QUICK_PASSES,
                stricter=STRICTER,
            )
        return self._validators[key]

    def validate(
        self, product_type: str, attributes: Mapping[str, Any], *, enforce_required: bool = True
    ) -> list[Issue]:
        if product_type not in self:
            return [Issue.of("4000005", f"The product type '{product_type}' is not supported.")]
        return validate_attributes(
            self.validator(product_type), attributes, enforce_required=enforce_required
        )


def validate_attributes(
    validator: Any, attributes: Mapping[str, Any], *, enforce_required: bool = True
) -> list[Issue]:
    """Issues for ``attributes`` (deduplicated, in a stable order).

    ``enforce_required=False`` is Amazon's ``requirementsEnforced=NOT_ENFORCED``: attributes that are
    absent are not reported (partial updates and patches), present ones are still checked in full.
    """
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    errors: Iterable[ValidationError] = validator.iter_errors(dict(attributes))
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))):
        if not enforce_required and error.validator == "required" and not list(error.absolute_path):
            continue
        for issue in _issues_for(error):
            key = (issue.code, issue.message)
            if key not in seen:
                seen.add(key)
                issues.append(issue)
    return issues
