"""A sans-IO description of one SP-API request and how to read its answer.

Why: the operation modules (``listings``, ``feeds``, ``definitions``) only *describe* a call. Both the
sync ``SpApiClient`` and the ``AsyncSpApiClient`` execute the same ``Call``, so auth, limiting,
retries, error mapping and logging are written once, and an operation is testable without I/O::

    call = listings.get_listings_item("A1SELLER", "SKU-1", ["ATVPDKIKX0DER"])
    item = client.call(call)            # or: await async_client.call(call)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

T = TypeVar("T")

QueryValue = str | int | float | bool | Sequence[str] | None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request.

    :param operation: Amazon's operationId; keys the rate limiter and every log line.
    :param method: HTTP method.
    :param path: path under the regional endpoint, already percent-encoded (see :func:`path_part`),
        or an absolute URL when ``sp_api`` is False (presigned document URLs).
    :param parse: turns a successful response into the typed result.
    :param success: the status codes Amazon documents as success for this operation.
    :param sp_api: False for calls that must carry no SP-API auth and are not rate limited
        (uploads to and downloads from presigned URLs).
    :param feed_type: for createFeed, the feed type whose second throttle also applies.
    :param grantless_scope: for grantless operations (Notifications destinations, client secret
        rotation), the LWA ``client_credentials`` scope to use instead of the seller's token.
    """

    operation: str
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, QueryValue] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    success: tuple[int, ...] = (200,)
    sp_api: bool = True
    idempotent: bool = True
    feed_type: str | None = None
    grantless_scope: str | None = None
    seller_id: str | None = None
    marketplace_id: str | None = None
    sku: str | None = None

    def query(self) -> list[tuple[str, str]]:
        """Query parameters as Amazon wants them: lists comma-delimited, ``None`` dropped."""
        out: list[tuple[str, str]] = []
        for key, value in self.params.items():
            if value is None:
                continue
            if isinstance(value, bool):
                out.append((key, "true" if value else "false"))
            elif isinstance(value, str | int | float):
                out.append((key, str(value)))
            else:
                items = [str(v) for v in value]
                if items:
                    out.append((key, ",".join(items)))
        return out


def path_part(value: str) -> str:
    """Percent-encode one path segment, reserved characters included (a SKU may contain ``/``)."""
    if not value:
        raise ValueError("a path segment (seller id, SKU, feed id ...) must not be empty")
    return quote(value, safe="")


def no_content(_: httpx.Response) -> None:
    return None
