"""Stateful fakes for ``httpx.MockTransport``: an LWA endpoint and a scriptable SP-API.

Like httpx's own ``DigestApp``, each fake is a callable that counts what it saw, so tests can assert
how many token requests or attempts a behaviour caused.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from spapi.call import Call
from spapi.config import SpApiConfig

TOKEN_URL = "https://lwa.test/auth/o2/token"
BASE_URL = "https://sp.test"
#: the host :func:`respond` puts in front of an SP-API path
HOST = "https://sellingpartnerapi-na.amazon.com"

CLIENT_ID = "amzn1.application-oa2-client.test"
CLIENT_SECRET = "SENTINEL-client-secret-4f1c"
REFRESH_TOKEN = "Atzr|SENTINEL-refresh-token-9b2e"


@dataclass
class FakeLwa:
    """The LWA token endpoint. Issues ``Atza|SENTINEL-access-<n>`` tokens."""

    expires_in: int = 3600
    delay: float = 0.0
    fail_with: deque[tuple[int, str]] = field(default_factory=deque)  # (status, lwa error code)
    requests: list[dict[str, str]] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handles(self, request: httpx.Request) -> bool:
        return str(request.url) == TOKEN_URL

    def issued(self) -> int:
        return len(self.requests)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        with self._lock:
            self.requests.append(form)
            n = next(self._counter)
            failure = self.fail_with.popleft() if self.fail_with else None
        if self.delay:
            time.sleep(self.delay)
        if failure:
            status, code = failure
            return httpx.Response(status, json={"error": code, "error_description": f"fake {code}"})
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return httpx.Response(401, json={"error": "invalid_client", "error_description": "bad client"})
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") != REFRESH_TOKEN:
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "bad grant"})
        return httpx.Response(
            200,
            json={
                "access_token": f"Atza|SENTINEL-access-{n}",
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "refresh_token": form.get("refresh_token", ""),
            },
        )


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeSpApi:
    """Routes token requests to :class:`FakeLwa` and everything else to a script.

    ``script`` holds responses (or exceptions to raise) served in order; when it is empty,
    ``default`` answers. Every SP-API request is kept in ``calls``.
    """

    lwa: FakeLwa = field(default_factory=FakeLwa)
    script: deque[httpx.Response | Exception | Handler] = field(default_factory=deque)
    default: Handler | None = None
    calls: list[httpx.Request] = field(default_factory=list)
    # the auth flow re-sends the same Request object, so tokens are snapshotted as they arrive
    tokens_seen: list[str | None] = field(default_factory=list)
    rejected_tokens: set[str] = field(default_factory=set)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.lwa.handles(request):
            return self.lwa(request)
        self.calls.append(request)
        token = request.headers.get("x-amz-access-token")
        self.tokens_seen.append(token)
        if token is not None and token in self.rejected_tokens:
            return api_error(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided is revoked, malformed or invalid.",
            )
        if self.script:
            item = self.script.popleft()
            if isinstance(item, Exception):
                raise item
            if isinstance(item, httpx.Response):
                return item
            return item(request)
        if self.default is not None:
            return self.default(request)
        return httpx.Response(200, json={"ok": True}, headers={"x-amzn-RequestId": "req-default"})

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self(request)


def api_error(status: int, code: str, message: str, details: str = "", **headers: str) -> httpx.Response:
    body = {"errors": [{"code": code, "message": message, "details": details}]}
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-amzn-RequestId": f"req-{status}", **headers},
    )


def throttled(retry_after: str | None = None) -> httpx.Response:
    extra = {"Retry-After": retry_after} if retry_after is not None else {}
    return api_error(429, "QuotaExceeded", "You exceeded your quota for the requested resource.", **extra)


def fake_config(**overrides: Any) -> SpApiConfig:
    """Seller ``A1SELLER``'s config against :class:`FakeSpApi` (``BASE_URL``, ``TOKEN_URL``)."""
    fields: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "endpoint_url": BASE_URL,
        "token_url": TOKEN_URL,
        "seller_id": "A1SELLER",
        **overrides,
    }
    return SpApiConfig(**fields)


def respond(
    call: Call[Any], status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A response to ``call`` as httpx would hand it to ``call.parse``."""
    content = body if isinstance(body, bytes) else (b"" if body is None else orjson.dumps(body))
    url = call.path if call.path.startswith("http") else HOST + call.path
    return httpx.Response(status, content=content, headers=headers, request=httpx.Request(call.method, url))
