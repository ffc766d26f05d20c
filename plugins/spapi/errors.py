"""One exception tree for everything the SP-API client raises.

::

    SpApiError                      status, code, message, request id, operation, seller, sku
    ├── ThrottledError              429 QuotaExceeded, after retries ran out (.retry_after)
    ├── UnauthorizedError           401, or 403 after one token refresh did not help
    │   └── ForbiddenError          403 "Unauthorized": missing role or authorisation
    ├── NotFoundError               404
    ├── InvalidRequestError         400/413/415/422: Amazon's error list in .errors
    ├── ServerError                 500/503 after retries ran out
    ├── TransportError              timeouts and connection errors after retries ran out
    ├── LwaError                    the token endpoint refused (.error is LWA's code)
    ├── FeedFatalError              a feed ended FATAL (or CANCELLED when that was not asked for)
    └── SpApiConnectionError        an Airflow connection (or several) cannot be used (.problems)

Why it looks like this: callers decide on the *kind* of failure (retry later, fix credentials,
quarantine the SKU, dead-letter the message), so each kind is its own class. Errors carry only
what Amazon's error list says plus our own context; never a response body, a header or a secret,
because exception text ends up in Airflow task logs and in the warehouse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# LWA access and refresh tokens ("Atza|...", "Atzr|...") are recognisable; Amazon's error text
# sometimes quotes the request, so scrub them before an error message is kept anywhere.
_LWA_TOKEN = re.compile(r"Atz[ar]\|[^\s\"',;]+")


def scrub(text: str) -> str:
    return _LWA_TOKEN.sub("[redacted-token]", text)


@dataclass(frozen=True)
class ApiErrorDetail:
    """One entry of Amazon's ``{"errors": [...]}`` list."""

    code: str
    message: str
    details: str | None = None


class SpApiError(Exception):
    """Base class. ``str()`` is safe to log: it names the operation, status and Amazon's code."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        seller_id: str | None = None,
        sku: str | None = None,
        errors: Sequence[ApiErrorDetail] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.code = code
        self.request_id = request_id
        self.seller_id = seller_id
        self.sku = sku
        self.errors: tuple[ApiErrorDetail, ...] = tuple(errors)

    @property
    def retryable(self) -> bool:
        return False

    def __str__(self) -> str:
        parts = []
        if self.operation:
            parts.append(self.operation)
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        ctx = []
        if self.sku:
            ctx.append(f"sku={self.sku}")
        if self.seller_id:
            ctx.append(f"seller={self.seller_id}")
        if self.request_id:
            ctx.append(f"request_id={self.request_id}")
        tail = f" ({', '.join(ctx)})" if ctx else ""
        return f"{head}: {self.message}{tail}" if head else f"{self.message}{tail}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword context when pickled across processes (Celery, multiprocessing).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[SpApiError], message: str, state: dict[str, Any]) -> SpApiError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ThrottledError(SpApiError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return True


class UnauthorizedError(SpApiError):
    pass


class ForbiddenError(UnauthorizedError):
    pass


class NotFoundError(SpApiError):
    pass


class InvalidRequestError(SpApiError):
    pass


class ServerError(SpApiError):
    @property
    def retryable(self) -> bool:
        return True


class TransportError(SpApiError):
    @property
    def retryable(self) -> bool:
        return True


class LwaError(SpApiError):
    """The LWA token endpoint refused. ``error`` is LWA's code (``invalid_grant``, ...)."""

    RETRYABLE_CODES = frozenset({"server_error", "temporarily_unavailable"})

    def __init__(self, message: str, *, error: str | None = None, **kw: Any) -> None:
        kw.setdefault("code", error)
        super().__init__(message, **kw)
        self.error = error

    @property
    def retryable(self) -> bool:
        return self.error in self.RETRYABLE_CODES or (self.status or 0) >= 500


class FeedFatalError(SpApiError):
    """A feed ended FATAL or CANCELLED. Some, none or all of its messages may have been applied."""

    def __init__(
        self,
        message: str,
        *,
        feed_id: str,
        processing_status: str,
        result_document_id: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.feed_id = feed_id
        self.processing_status = processing_status
        self.result_document_id = result_document_id


@dataclass(frozen=True)
class ConnectionProblem:
    """One thing wrong with one connection: which connection, which field, and why.

    ``field`` is where an operator fixes it (``extra``, ``extra.region``, ``login``...). ``reason``
    never quotes a secret: the code that finds the problem names values only for fields that are
    not secret, and the message goes through :func:`scrub` as a second guard.
    """

    conn_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"connection {self.conn_id!r} field {self.field}: {self.reason}"


class SpApiConnectionError(SpApiError, ValueError):
    """A ``spapi`` connection cannot be used, for every reason found at once.

    One error carries every problem (of one connection, or of all the connections a pipeline run
    needs) so that an operator fixes them in one round instead of one failed run per typo. It is a
    ``ValueError`` too, because callers that validate settings already catch that.
    """

    def __init__(self, problems: Sequence[ConnectionProblem], **kw: Any) -> None:
        if not problems:
            raise ValueError("SpApiConnectionError needs at least one problem")
        self.problems: tuple[ConnectionProblem, ...] = tuple(problems)
        conn_ids = list(dict.fromkeys(p.conn_id for p in self.problems))
        head = (
            f"connection {conn_ids[0]!r} cannot be used"
            if len(conn_ids) == 1
            else f"connections {', '.join(repr(c) for c in conn_ids)} cannot be used"
        )
        count = len(self.problems)
        lines = "".join(f"\n  - {scrub(str(p))}" for p in self.problems)
        super().__init__(f"{head} ({count} problem{'s' if count > 1 else ''}):{lines}", **kw)

    @property
    def conn_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.conn_id for p in self.problems))


def parse_error_list(payload: Any) -> list[ApiErrorDetail]:
    """Read Amazon's ``ErrorList``; anything else yields an empty list rather than raising."""
    if not isinstance(payload, Mapping):
        return []
    raw = payload.get("errors")
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        if isinstance(item, Mapping) and "code" in item:
            details = item.get("details")
            out.append(
                ApiErrorDetail(
                    code=scrub(str(item.get("code"))),
                    message=scrub(str(item.get("message", ""))),
                    details=scrub(str(details)) if details else None,
                )
            )
    return out


STATUS_TO_ERROR: dict[int, type[SpApiError]] = {
    400: InvalidRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: InvalidRequestError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: ThrottledError,
}


def error_for_status(status: int) -> type[SpApiError]:
    if status in STATUS_TO_ERROR:
        return STATUS_TO_ERROR[status]
    if status >= 500:
        return ServerError
    return SpApiError
