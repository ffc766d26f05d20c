"""Product-type schemas and listing validation as Amazon does it, written for the sandbox alone.

The client checks listings before it sends them (``spapi.product_types``). Were the sandbox to answer
with that same code, a bug in it would sit on both sides of every call and no test could ever see it
(issue 12). So this validator is built only from Amazon's documents: the product-type meta-schema
(``include/spapi-models/schemas/definitions/meta-schema.json``, JSON Schema 2019-09 plus Amazon's
vocabulary, each keyword explained in its ``$comment``) and the product-type schemas the sandbox
serves. ``tests/sandbox/test_validator_differential.py`` puts one corpus of listings through both
validators and fails where they disagree.

The validator class is derived from the meta-schema itself: its ``allOf`` names the JSON Schema
draft it extends, its ``$vocabulary`` and ``properties`` name the keywords. A meta-schema that asks
for a vocabulary or a keyword this module cannot enforce is refused at start, because a sandbox
that silently ignores a new Amazon rule would accept listings Amazon rejects.

Amazon's keywords, as the meta-schema and docs/spapi-facts.md §9.4 describe them:

- ``selectors`` name the properties whose values, together, identify an item of an array (one
  title per ``marketplace_id`` and ``language_tag``); ``minUniqueItems`` / ``maxUniqueItems`` bound
  how many items may share one such combination. Values are compared as JSON values (``1`` and
  ``1.0`` are the same number, key order does not matter); an item without a selector property
  shares the combination of the other items that lack it.
- ``minUtf8ByteLength`` / ``maxUtf8ByteLength`` bound a string's length in UTF-8 bytes (``maxLength``
  counts characters). A string that has no UTF-8 form (a lone surrogate) fails them.
- ``editable``, ``hidden``, ``enumNames`` and ``$lifecycle`` serve user interfaces and deprecation
  notices; they assert nothing.

``multipleOf`` is decided on the numbers as JSON writes them (decimal), not as binary floats.
Formats are asserted for ``date`` and ``date-time`` (RFC 3339), the only two Amazon's schemas pair in
``oneOf``: as mere annotations every date would match both branches and be refused. Other formats
(``uri``) stay annotations, as JSON Schema 2019-09 leaves them by default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker, ValidationError, validators
from jsonschema.exceptions import best_match
from referencing import Registry, Specification
from referencing.jsonschema import specification_with

__all__ = [
    "META_SCHEMA_ID",
    "Issue",
    "ProductTypes",
    "UnsupportedMetaSchema",
    "amazon_dialect",
]

META_SCHEMA_ID = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"
AMAZON_VOCABULARY = "https://schemas.amazon.com/selling-partners/definitions/product-types/vocabulary/v1"
_DRAFT_2019_09 = "https://json-schema.org/draft/2019-09/"
# the 2019-09 vocabularies jsonschema's draft 2019-09 keywords implement
_BASE_VOCABULARIES = {
    f"{_DRAFT_2019_09}vocab/{name}"
    for name in ("core", "applicator", "validation", "meta-data", "format", "content")
}

# Amazon publishes no list of issue codes. These follow the codes its examples show for each kind of
# problem and are what the sandbox has always answered (docs/spapi-facts.md §11.4); the pipeline
# files listing issues by them.
MISSING = "90220"
INVALID_VALUE = "4000001"
VALUE_COUNT = "4000002"
UNKNOWN_PROPERTY = "4000003"
BAD_PATCH = "4000004"
UNKNOWN_PRODUCT_TYPE = "4000005"
NO_SUCH_LISTING = "4000006"
_CATEGORY = {MISSING: "MISSING_ATTRIBUTE"}
_COUNT_KEYWORDS = {"minItems", "maxItems", "minUniqueItems", "maxUniqueItems"}
_MESSAGE_LIMIT = 300


class UnsupportedMetaSchema(ValueError):
    """The meta-schema asks for something this validator cannot enforce."""


@dataclass(frozen=True)
class Issue:
    """One problem with a submission, in the Listings Items API's shape (``attributeNames`` a list)."""

    code: str
    message: str
    severity: str = "ERROR"
    attribute_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @classmethod
    def of(cls, code: str, message: str, *attribute_names: str) -> Issue:
        return cls(code, message, "ERROR", attribute_names, (_CATEGORY.get(code, "INVALID_ATTRIBUTE"),))

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "severity": self.severity}
        if self.attribute_names:
            out["attributeNames"] = list(self.attribute_names)
        out["categories"] = list(self.categories)
        return out


# -- Amazon's vocabulary ------------------------------------------------------------------------

Check = Callable[[Any, Any, Any, Mapping[str, Any]], Iterator[ValidationError]]
_ABSENT = ("absent",)


def _json_identity(value: Any) -> Any:
    """A hashable stand-in for a JSON value that is equal exactly when the JSON values are equal."""
    if isinstance(value, bool):  # before numbers: True == 1 in Python, not in JSON
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", value)  # 1 == 1.0 and hash(1) == hash(1.0)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_json_identity(v) for v in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, _json_identity(v)) for k, v in value.items()))
    return ("null",)


def _selections(schema: Mapping[str, Any], items: list[Any]) -> dict[Any, list[Any]]:
    """The array's items grouped by their selector values (by their whole value without selectors)."""
    selectors = schema.get("selectors") or []
    groups: dict[Any, list[Any]] = {}
    for item in items:
        if selectors and isinstance(item, dict):
            key: Any = tuple(_json_identity(item[s]) if s in item else _ABSENT for s in selectors)
        else:
            key = _json_identity(item)
        groups.setdefault(key, []).append(item)
    return groups


def _describe(schema: Mapping[str, Any], item: Any) -> str:
    selectors = schema.get("selectors") or []
    if selectors and isinstance(item, dict):
        return ", ".join(f"{s}={json.dumps(item.get(s), ensure_ascii=False)}" for s in selectors)
    return json.dumps(item, ensure_ascii=False)[:80]


def _max_unique_items(
    validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "array"):
        return
    for items in _selections(schema, instance).values():
        if len(items) > limit:
            yield ValidationError(
                f"{len(items)} values are given for {_describe(schema, items[0])}; at most {limit} may be"
            )


def _min_unique_items(
    validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "array"):
        return
    for items in _selections(schema, instance).values():
        if len(items) < limit:
            yield ValidationError(
                f"{len(items)} values are given for {_describe(schema, items[0])}; at least {limit} must be"
            )


def _utf8_length(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form
        return None


def _max_utf8_bytes(
    validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    length = _utf8_length(instance)
    if length is None:
        yield ValidationError(f"{instance!r} is not valid Unicode text (it has no UTF-8 form)")
    elif length > limit:
        yield ValidationError(f"the text is {length} UTF-8 bytes long; at most {limit} are allowed")


def _min_utf8_bytes(
    validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    length = _utf8_length(instance)
    if length is None:
        yield ValidationError(f"{instance!r} is not valid Unicode text (it has no UTF-8 form)")
    elif length < limit:
        yield ValidationError(f"the text is {length} UTF-8 bytes long; at least {limit} are required")


# Every keyword Amazon's vocabulary may define, with what it asserts (None: an annotation only).
AMAZON_KEYWORDS: dict[str, Check | None] = {
    "maxUniqueItems": _max_unique_items,
    "minUniqueItems": _min_unique_items,
    "maxUtf8ByteLength": _max_utf8_bytes,
    "minUtf8ByteLength": _min_utf8_bytes,
    "selectors": None,  # read by min/maxUniqueItems
    "editable": None,
    "hidden": None,
    "enumNames": None,
    "$lifecycle": None,
}


def _multiple_of(
    validator: Any, divisor: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``multipleOf`` on the numbers as JSON writes them, in decimal.

    Amazon's prices carry ``multipleOf: 0.01``; in binary floating point 19.99 / 0.01 is not a whole
    number, so a float division would refuse most prices Amazon accepts.
    """
    if not validator.is_type(instance, "number"):
        return
    if (_exact(instance) / _exact(divisor)).denominator != 1:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor!r}")


def _exact(number: float) -> Fraction:
    # repr gives the shortest text that reads back as the same float: the number as JSON wrote it
    return Fraction(repr(number)) if isinstance(number, float) else Fraction(number)


# -- formats ------------------------------------------------------------------------------------

FORMATS = FormatChecker(formats=())
_FULL_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)


@FORMATS.checks("date")
def _is_full_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _FULL_DATE.fullmatch(value)
    if match is None:
        return False
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:  # a day the month does not have
        return False
    return True


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    """RFC 3339 §5.6, leap second (``:60``) included: ``T`` and ``Z`` in either case, a zone required."""
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.fullmatch(value)
    if match is None or not _is_full_date(match.group(1)):
        return False
    hour, minute, second = (int(match.group(i)) for i in (2, 3, 4))
    offset_hour, offset_minute = (int(g) if g else 0 for g in match.group(5, 6))
    return hour <= 23 and minute <= 59 and second <= 60 and offset_hour <= 23 and offset_minute <= 59


# -- the dialect --------------------------------------------------------------------------------


def _base_dialect(meta_schema: Mapping[str, Any]) -> str:
    """The JSON Schema draft the meta-schema extends (``allOf: [{"$ref": <draft meta-schema>}]``)."""
    refs = [part.get("$ref") for part in meta_schema.get("allOf", []) if isinstance(part, Mapping)]
    drafts = [ref for ref in refs if isinstance(ref, str) and ref.startswith("https://json-schema.org/")]
    if drafts != [f"{_DRAFT_2019_09}schema"]:
        raise UnsupportedMetaSchema(
            f"the meta-schema extends {drafts or 'no JSON Schema draft'}, not 2019-09"
        )
    return drafts[0]


def amazon_dialect(meta_schema: Mapping[str, Any]) -> Any:
    """A jsonschema validator class for schemas written in the dialect ``meta_schema`` defines."""
    if meta_schema.get("$id") != META_SCHEMA_ID:
        raise UnsupportedMetaSchema(
            f"not Amazon's product-type meta-schema v1: $id {meta_schema.get('$id')!r}"
        )
    base = validators.validator_for({"$schema": _base_dialect(meta_schema)})
    vocabularies = meta_schema.get("$vocabulary", {})
    unknown = sorted(
        v
        for v, required in vocabularies.items()
        if required and v not in _BASE_VOCABULARIES | {AMAZON_VOCABULARY}
    )
    if unknown:
        raise UnsupportedMetaSchema(
            f"the meta-schema requires vocabularies the sandbox does not know: {unknown}"
        )
    keywords = set(meta_schema.get("properties", {}))
    strangers = sorted(keywords - set(AMAZON_KEYWORDS))
    if strangers:
        raise UnsupportedMetaSchema(
            f"the meta-schema defines keywords the sandbox cannot enforce: {strangers}"
        )
    checks = {k: check for k, check in AMAZON_KEYWORDS.items() if k in keywords and check is not None}
    return validators.create(
        meta_schema=dict(meta_schema),
        validators={**base.VALIDATORS, "multipleOf": _multiple_of, **checks},
        type_checker=base.TYPE_CHECKER,
        format_checker=FORMATS,
    )


def _specification(meta_schema: Mapping[str, Any]) -> Specification[Any]:
    """How ``$id``, ``$anchor`` and ``$ref`` behave in the dialect: those of the draft it extends."""
    return specification_with(_base_dialect(meta_schema))


# -- issues -------------------------------------------------------------------------------------


def _short(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _pointer(path: Iterable[Any]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _missing(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    wanted = error.validator_value if isinstance(error.validator_value, list) else []
    return [name for name in wanted if name not in instance]


def _undefined(error: ValidationError) -> list[str]:
    """The properties of the failing object its schema does not define."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = set(schema.get("properties") or {})
    patterns = [re.compile(p) for p in schema.get("patternProperties") or {}]
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]


def _detail(error: ValidationError) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        chosen = best_match(error.context)
        if chosen is not None:
            return str(chosen.message)
    if (
        error.validator == "enum"
        and isinstance(error.validator_value, list)
        and len(error.validator_value) > 8
    ):
        shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in error.validator_value[:8])
        return f"{json.dumps(error.instance, ensure_ascii=False)} is not an allowed value ({shown}, …)"
    return error.message


class ProductTypeValidator:
    """Validates listing attributes against one product type's schema."""

    def __init__(
        self, name: str, schema: Mapping[str, Any], meta_schema: Mapping[str, Any], dialect: Any
    ) -> None:
        self.name = name
        self.schema = schema
        specification = _specification(meta_schema)
        uri = schema.get("$id") or f"urn:sandbox:product-type:{name}"
        # the schema is reached through a $ref so that it is resolved as a resource of its own draft
        # (``referencing`` knows the draft, not Amazon's dialect), with the meta-schema beside it:
        # nothing is ever fetched
        registry: Registry[Any] = Registry().with_resources(
            [
                (META_SCHEMA_ID, specification.create_resource(dict(meta_schema))),
                (uri, specification.create_resource(dict(schema))),
            ]
        )
        self._validator = dialect({"$ref": uri}, registry=registry, format_checker=FORMATS)
        self._titles = {
            key: value.get("title")
            for key, value in (schema.get("properties") or {}).items()
            if isinstance(value, Mapping) and isinstance(value.get("title"), str)
        }

    def _label(self, attribute: str) -> str:
        title = self._titles.get(attribute)
        return f"'{title}' ({attribute})" if title else f"'{attribute}'"

    def issues(self, attributes: Mapping[str, Any], *, enforce_required: bool = True) -> list[Issue]:
        """Every issue, once each, ordered by attribute.

        ``enforce_required=False`` is ``requirementsEnforced=NOT_ENFORCED`` (partial updates, offer-only
        listings): an attribute that is absent is no issue, whether the schema always or only
        conditionally requires it; what is present is checked in full.
        """
        found: dict[tuple[str, str], Issue] = {}
        for error in self._validator.iter_errors(dict(attributes)):
            if (
                not enforce_required
                and not error.absolute_path
                and error.validator in ("required", "dependentRequired")
            ):
                continue
            for issue in self._explain(error):
                found.setdefault((issue.code, issue.message), issue)
        return sorted(found.values(), key=lambda i: (i.attribute_names, i.code, i.message))

    def _explain(self, error: ValidationError) -> Iterator[Issue]:
        path = list(error.absolute_path)
        if not path:
            yield from self._explain_listing(error)
            return
        attribute = str(path[0])
        label, where = self._label(attribute), _pointer(path)
        keyword = error.validator
        if keyword == "required":
            for name in _missing(error):
                yield Issue.of(
                    MISSING, f"{label}: '{name}' is required at {where} but not supplied.", attribute
                )
        elif keyword in ("additionalProperties", "unevaluatedProperties"):
            extra = ", ".join(_undefined(error)) or error.message
            yield Issue.of(
                UNKNOWN_PROPERTY,
                _short(f"{label}: {where} has properties the product type does not define: {extra}."),
                attribute,
            )
        elif keyword in _COUNT_KEYWORDS:
            yield Issue.of(
                VALUE_COUNT, _short(f"{label} has the wrong number of values: {error.message}."), attribute
            )
        else:
            yield Issue.of(
                INVALID_VALUE,
                _short(f"The value of {label} at {where} is invalid: {_detail(error)}."),
                attribute,
            )

    def _explain_listing(self, error: ValidationError) -> Iterator[Issue]:
        """Errors about the attributes as a whole: a rule between attributes, or one that is missing."""
        keyword = error.validator
        if keyword == "required":
            for name in _missing(error):
                yield Issue.of(MISSING, f"{self._label(name)} is required but not supplied.", name)
        elif keyword == "dependentRequired":
            dependencies = error.validator_value if isinstance(error.validator_value, Mapping) else {}
            present = set(error.instance) if isinstance(error.instance, dict) else set()
            wanted = {n for trigger, names in dependencies.items() if trigger in present for n in names}
            for name in sorted(wanted - present):
                yield Issue.of(
                    MISSING, f"{self._label(name)} is required with the attributes supplied.", name
                )
        elif keyword in ("additionalProperties", "unevaluatedProperties"):
            for name in _undefined(error):
                yield Issue.of(
                    UNKNOWN_PROPERTY, f"'{name}' is not an attribute of product type {self.name}.", name
                )
        else:
            names = self._named_in(error)
            code = MISSING if keyword in ("anyOf", "oneOf") and _only_missing(error) else INVALID_VALUE
            yield Issue.of(
                code,
                _short(f"The attributes break a rule of product type {self.name}: {_detail(error)}."),
                *names,
            )

    def _named_in(self, error: ValidationError) -> tuple[str, ...]:
        """The attributes a rule over the whole listing is about, as far as the error tells."""
        names: list[str] = []
        if error.validator == "not" and isinstance(error.validator_value, Mapping):
            present = error.instance if isinstance(error.instance, dict) else {}
            names += [n for n in error.validator_value.get("required", []) if n in present]
        for sub in error.context or []:
            if sub.absolute_path:
                names.append(str(sub.absolute_path[0]))
            elif sub.validator == "required":
                names += _missing(sub)
        return tuple(dict.fromkeys(names))


def _only_missing(error: ValidationError) -> bool:
    return bool(error.context) and all(
        sub.validator == "required" and not sub.absolute_path for sub in error.context or []
    )


# -- the catalog --------------------------------------------------------------------------------

FileKey = tuple[str, int, int]  # path, mtime, size: one version of a file


def _key(path: Path) -> FileKey:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int, size: int) -> tuple[bytes, Any]:
    """A file's bytes and parsed JSON, read once per version of the file (tests make many apps)."""
    data = Path(path).read_bytes()
    return data, json.loads(data)


@lru_cache(maxsize=8)
def _dialect(meta_key: FileKey) -> Any:
    return amazon_dialect(_read(*meta_key)[1])


# keywords whose value is a subschema, a list of them, or a map of names to them (JSON Schema 2019-09)
_ONE_SUBSCHEMA = (
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "not",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")


def _subschemas(
    schema: Any, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    if not isinstance(schema, Mapping):
        return
    yield path, schema
    for keyword in _ONE_SUBSCHEMA:
        if keyword in schema:
            yield from _subschemas(schema[keyword], (*path, keyword))
    items = schema.get("items")
    if isinstance(items, list):
        for index, item in enumerate(items):
            yield from _subschemas(item, (*path, "items", index))
    elif items is not None:
        yield from _subschemas(items, (*path, "items"))
    for keyword in _SUBSCHEMA_LISTS:
        for index, sub in enumerate(schema.get(keyword) or []):
            yield from _subschemas(sub, (*path, keyword, index))
    for keyword in _SUBSCHEMA_MAPS:
        subs = schema.get(keyword)
        if isinstance(subs, Mapping):
            for name, sub in subs.items():
                yield from _subschemas(sub, (*path, keyword, name))


def _conformance(meta_key: FileKey, schema: Mapping[str, Any]) -> list[str]:
    """Errors against the meta-schema, and Amazon's keywords checked wherever they appear.

    The meta-schema types Amazon's keywords at the root only (it sets no ``$recursiveAnchor``, so
    subschemas are checked by the plain 2019-09 meta-schema); applying each keyword's definition
    to every subschema is what its ``$comment``s mean, and it keeps a mistyped ``maxUniqueItems``
    deep in a schema from reaching the validator.
    """
    dialect = _dialect(meta_key)
    meta_schema = dialect.META_SCHEMA
    problems = [
        f"{_pointer(e.absolute_path)}: {e.message}"
        for e in dialect(meta_schema, registry=Registry()).iter_errors(schema)
    ]
    definitions = meta_schema.get("properties", {})
    for path, subschema in _subschemas(schema):
        if not path:
            continue  # the root: checked above
        for keyword in definitions.keys() & subschema.keys():
            keyword_validator = dialect(definitions[keyword], registry=Registry())
            problems += [
                f"{_pointer((*path, keyword, *e.absolute_path))}: {e.message}"
                for e in keyword_validator.iter_errors(subschema[keyword])
            ]
    return problems


@lru_cache(maxsize=64)
def _validator(meta_key: FileKey, schema_key: FileKey, name: str) -> ProductTypeValidator:
    """Amazon serves only schemas that conform to its meta-schema; one that does not is a broken file
    in the sandbox's setup, refused loudly here rather than half-enforced."""
    schema = _read(*schema_key)[1]
    problems = _conformance(meta_key, schema)
    if problems:
        raise ValueError(f"{schema_key[0]} does not conform to Amazon's meta-schema: {problems[:5]}")
    return ProductTypeValidator(name, schema, _read(*meta_key)[1], _dialect(meta_key))


class ProductTypes:
    """The product types the sandbox serves, by name.

    A JSON file in one of ``directories`` is a product type when its ``$schema`` is Amazon's
    meta-schema; its name is the last segment of its ``$id`` (Amazon's ``.../schema/v1/LUGGAGE``),
    else the file name. The first directory that has a name wins. Parsed schemas are shared between
    instances and must not be changed.
    """

    def __init__(self, meta_schema_path: str | Path, directories: Iterable[str | Path]) -> None:
        self.meta_schema_path = Path(meta_schema_path)
        self._meta_key = _key(self.meta_schema_path)
        _dialect(self._meta_key)  # a meta-schema the sandbox cannot enforce is refused at start
        self._paths: dict[str, Path] = {}
        for directory in directories:
            for path in sorted(Path(directory).glob("*.json")):
                if path.resolve() == self.meta_schema_path.resolve():
                    continue
                try:
                    schema = _read(*_key(path))[1]
                except (OSError, ValueError):
                    continue
                if not isinstance(schema, dict) or schema.get("$schema") != META_SCHEMA_ID:
                    continue
                schema_id = schema.get("$id")
                name = schema_id.rstrip("/").rsplit("/", 1)[-1] if isinstance(schema_id, str) else path.stem
                self._paths.setdefault(name.upper(), path)

    @property
    def meta_schema(self) -> dict[str, Any]:
        data: dict[str, Any] = _read(*self._meta_key)[1]
        return data

    def names(self) -> list[str]:
        return sorted(self._paths)

    def __contains__(self, product_type: object) -> bool:
        return isinstance(product_type, str) and product_type.upper() in self._paths

    def raw(self, product_type: str) -> bytes:
        return _read(*_key(self._paths[product_type.upper()]))[0]

    def schema(self, product_type: str) -> dict[str, Any]:
        data: dict[str, Any] = _read(*_key(self._paths[product_type.upper()]))[1]
        return data

    def conformance(self, schema: Mapping[str, Any]) -> list[str]:
        """Where ``schema`` breaks Amazon's meta-schema (empty: it conforms)."""
        return _conformance(self._meta_key, schema)

    def validator(self, product_type: str) -> ProductTypeValidator:
        name = product_type.upper()
        return _validator(self._meta_key, _key(self._paths[name]), name)

    def validate(
        self, product_type: str, attributes: Mapping[str, Any], *, enforce_required: bool = True
    ) -> list[Issue]:
        if product_type not in self:
            return [Issue.of(UNKNOWN_PRODUCT_TYPE, f"The product type '{product_type}' is not supported.")]
        return self.validator(product_type).issues(attributes, enforce_required=enforce_required)
