"""Base classes and small helpers shared by the SP-API models and operation modules.

Conventions (every model in this package follows them):

* Python attributes are snake_case; the wire names are Amazon's camelCase, produced by
  ``alias_generator=to_camel``. Either name is accepted on input, and ``model_dump`` /
  ``model_dump_json`` emit Amazon's names by default (``serialize_by_alias``). To produce exactly
  the JSON Amazon expects, use :func:`to_wire` (``mode="json", by_alias=True, exclude_none=True``).
* :class:`ResponseModel` keeps unknown fields (``extra="allow"``): Amazon adds fields without a new
  API version, and a dump must not lose them.
* :class:`RequestModel` forbids unknown fields (``extra="forbid"``): a typo in a request is ours.
* Enums: request fields use strict ``Literal`` types. Response fields that Amazon declares as enums
  are typed ``Literal[...] | str``: the known values are documented, but a value Amazon adds later
  still parses (lenient) instead of failing the whole response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, TypedDict, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

M = TypeVar("M", bound=BaseModel)

_BASE_CONFIG = ConfigDict(
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
)


def format_datetime(value: datetime) -> str:
    """ISO 8601 the way Amazon writes it: UTC as ``Z``, and no more fractional digits than needed
    (``2021-02-01T00:00:00Z``, ``2025-05-28T00:36:48.914Z``), so a parse/dump round trip keeps
    Amazon's text. A naive value is written without an offset, as it came in."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(UTC)
    if value.microsecond == 0:
        timespec = "seconds"
    elif value.microsecond % 1000 == 0:
        timespec = "milliseconds"
    else:
        timespec = "microseconds"
    return value.isoformat(timespec=timespec).replace("+00:00", "Z")


#: A ``datetime`` that serializes to JSON as Amazon writes date-times (see :func:`format_datetime`).
DateTime = Annotated[datetime, PlainSerializer(format_datetime, return_type=str, when_used="json")]


#: A feed's or a report's ``processingStatus`` (Feeds and Reports 2021-06-30 share the enum).
ProcessingStatus = Literal["IN_QUEUE", "IN_PROGRESS", "DONE", "CANCELLED", "FATAL"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"DONE", "CANCELLED", "FATAL"})
PROCESSING_STATUSES: tuple[str, ...] = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")


class ProcessingTimes(TypedDict):
    """getFeed's or getReport's ``processingStartTime`` and ``processingEndTime`` as ISO 8601 text;
    ``None`` where Amazon gives none (a feed or report cancelled in the queue never started)."""

    processing_start_time: str | None
    processing_end_time: str | None


class Processed(Protocol):
    """Something Amazon processes asynchronously and that is polled until it ends: a feed
    (``getFeed``) or a report (``getReport``)."""

    @property
    def processing_status(self) -> str: ...

    @property
    def processing_start_time(self) -> datetime | None: ...

    @property
    def processing_end_time(self) -> datetime | None: ...

    @property
    def is_terminal(self) -> bool: ...

    def processing_times(self) -> ProcessingTimes: ...


class ProcessingState:
    """What :class:`~spapi.models.feeds.Feed` and :class:`~spapi.models.reports.Report` share
    beyond their fields (a mixin: the fields stay on each model, in Amazon's order)."""

    @property
    def is_terminal(self: Processed) -> bool:
        """DONE, CANCELLED or FATAL: polling can stop. FATAL may still have a document."""
        return self.processing_status in TERMINAL_STATUSES

    def processing_times(self: Processed) -> ProcessingTimes:
        """When Amazon started and finished processing, as JSON text (a trigger event and XCom carry
        JSON): only getFeed / getReport know these, and the wait's last answer is the one that has
        both."""
        start, end = self.processing_start_time, self.processing_end_time
        return {
            "processing_start_time": None if start is None else format_datetime(start),
            "processing_end_time": None if end is None else format_datetime(end),
        }


class ResponseModel(BaseModel):
    """Something Amazon sends us. Unknown fields are kept (``extra="allow"``)."""

    model_config = ConfigDict(**_BASE_CONFIG, extra="allow")


class RequestModel(BaseModel):
    """Something we send Amazon. Unknown fields are an error (``extra="forbid"``)."""

    model_config = ConfigDict(**_BASE_CONFIG, extra="forbid")


class ApiError(ResponseModel):
    """One entry of Amazon's ``ErrorList`` (``code`` and ``message`` required)."""

    code: str
    message: str
    details: str | None = None


class ErrorList(ResponseModel):
    """The body of every non-2xx SP-API response: ``{"errors": [...]}``."""

    errors: list[ApiError]


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON Amazon expects: camelCase names, JSON types, no ``null`` for unset fields."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def json_parser(model: type[M]) -> Callable[[httpx.Response], M]:
    """A ``Call.parse`` that validates the response body as ``model``."""

    def parse(response: httpx.Response) -> M:
        return model.model_validate_json(response.content)

    parse.__name__ = f"parse_{model.__name__}"
    parse.__qualname__ = parse.__name__
    return parse


# --- request-parameter helpers used by the operation modules -------------------------------------


def require_text(name: str, value: object) -> str:
    """A required, non-empty string parameter."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def optional_text(name: str, value: object) -> str | None:
    return None if value is None else require_text(name, value)


def next_token_alone(operation: str, next_token: str, others: Mapping[str, object]) -> dict[str, str]:
    """The query of the next page of a list operation whose ``nextToken`` must come *alone*
    (getFeeds, getReports): ``ValueError`` if any of ``others`` (the filters) is given too."""
    require_text("next_token", next_token)
    given = [name for name, value in others.items() if value is not None]
    if given:
        raise ValueError(f"next_token must be the only parameter of {operation}; also given: {given}")
    return {"nextToken": next_token}


def id_list(
    name: str,
    values: Sequence[str] | None,
    *,
    required: bool = False,
    min_items: int = 1,
    max_items: int | None = None,
) -> list[str] | None:
    """A list of ids sent comma-delimited (``collectionFormat: csv``).

    A bare string is refused rather than split into characters, and no value may contain a comma
    (it would silently become two values on the wire).
    """
    if values is None:
        if required:
            raise ValueError(f"{name} is required")
        return None
    if isinstance(values, str | bytes):
        raise ValueError(f"{name} must be a list of strings, not a single string: {values!r}")
    items = list(values)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{name} must contain non-empty strings, got {item!r}")
        if "," in item:
            raise ValueError(f"{name} values must not contain a comma: {item!r}")
    if len(items) < min_items:
        raise ValueError(f"{name} needs at least {min_items} value(s), got {len(items)}")
    if max_items is not None and len(items) > max_items:
        raise ValueError(f"{name} allows at most {max_items} value(s), got {len(items)}")
    return items


def required_ids(
    name: str, values: Sequence[str], *, min_items: int = 1, max_items: int | None = None
) -> list[str]:
    """Like :func:`id_list` for a required parameter."""
    items = id_list(name, values, required=True, min_items=min_items, max_items=max_items)
    if items is None:  # pragma: no cover - id_list raises first
        raise ValueError(f"{name} is required")
    return items


def single_id(name: str, value: str) -> list[str]:
    """Exactly one id, for parameters Amazon limits to one value (``maxItems: 1``)."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be exactly one id (a string), got {value!r}")
    return required_ids(name, [value], max_items=1)


def enum_list(
    name: str, values: Sequence[str] | None, allowed: Sequence[str], *, max_items: int | None = None
) -> list[str] | None:
    """A comma-delimited list whose values come from an Amazon enum."""
    items = id_list(name, values, max_items=max_items)
    if items is None:
        return None
    unknown = [v for v in items if v not in allowed]
    if unknown:
        raise ValueError(f"{name} has unsupported value(s) {unknown}; allowed: {sorted(allowed)}")
    return items


def enum_value(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def int_range(name: str, value: int | None, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def iso8601(name: str, value: datetime | str | None) -> str | None:
    """An ISO 8601 date-time query value in UTC (``2024-03-01T01:30:00.000Z``).

    A naive ``datetime`` is refused: guessing its time zone would shift the filter silently.
    Strings are passed through unchanged (Amazon validates them).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return require_text(name, value)
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime or an ISO 8601 string, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
