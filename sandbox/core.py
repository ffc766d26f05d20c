"""What every SP-API route shares: errors in Amazon's shape, request ids, the per-call gate.

The gate runs, in order: injected latency and dropped connections, the access token
(``x-amz-access-token``), optional SigV4, the seller in the path, injected 5xx and 429s, and the
operation's token bucket. A call it admits is carried out; an injected ``late_answer`` or
``drop_answer`` then holds back or loses its answer (:class:`RequestIdMiddleware`). Answers carry
``x-amzn-RequestId`` always and ``x-amzn-RateLimit-Limit`` on 2xx/400/404 only (never on
403/429/5xx), as Amazon documents.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import CLIENT_ERRORS, INTERNAL_FAILURE, SERVER_ERRORS, Faults
from .product_types import ProductTypes
from .ratelimit import RateLimiter
from .settings import Settings
from .sigv4 import SignatureError, verify
from .store import Store

REQUEST_ID_HEADER = "x-amzn-RequestId"
RATE_HEADER = "x-amzn-RateLimit-Limit"
RATE_HEADER_STATUSES = {200, 201, 202, 204, 400, 404}
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}

QUOTA_EXCEEDED = {
    "code": "QuotaExceeded",
    "message": "You exceeded your quota for the requested resource.",
    "details": "",
}
UNAUTHORIZED = {
    "code": "Unauthorized",
    "message": "Access to requested resource is denied.",
    "details": "The access token you provided is revoked, malformed or invalid.",
}


class ApiError(Exception):
    """An SP-API error answer: ``{"errors": [{"code", "message", "details"}]}``."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def invalid(cls, message: str, details: str = "") -> ApiError:
        return cls(400, "InvalidInput", message, details)

    @classmethod
    def not_found(cls, message: str, details: str = "") -> ApiError:
        return cls(404, "NotFound", message, details)

    @classmethod
    def unauthorized(cls, details: str = UNAUTHORIZED["details"]) -> ApiError:
        return cls(403, UNAUTHORIZED["code"], UNAUTHORIZED["message"], details)

    def body(self) -> dict[str, Any]:
        return {"errors": [{"code": self.code, "message": self.message, "details": self.details}]}


class DroppedConnection(Exception):
    """Raised to close the connection without an answer (a fault)."""


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=orjson.dumps(body) if body is not None else b"",
        status_code=status,
        media_type="application/json" if body is not None else None,
        headers=headers,
    )


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = str(uuid.uuid4())
    return rid


ANSWER_FAULT = "answer_fault"  # request state: (kind, seconds) of a late_answer or drop_answer


class RequestIdMiddleware:
    """Gives every answer an ``x-amzn-RequestId``; turns :class:`DroppedConnection` into a cut line.

    A dropped connection starts the response and then raises: uvicorn then closes the socket without
    sending a complete answer (the client sees a protocol/connection error); an in-process ASGI
    transport raises the exception in the test. A call the gate marked with an answer fault has
    been carried out by the time its answer starts: that answer is then held back ``seconds``
    (``late_answer``) or replaced by a cut line (``drop_answer``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                fault = scope["state"].get(ANSWER_FAULT)
                if fault is not None and fault[0] == "drop_answer":
                    raise DroppedConnection("answer")
                if fault is not None and fault[1] > 0:
                    await asyncio.sleep(fault[1])
                started = True
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-amzn-requestid" for k, _ in headers):
                    headers.append((b"x-amzn-requestid", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except DroppedConnection:
            if not started:
                await send(
                    {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]}
                )
            raise


@dataclass
class Sandbox:
    """Everything a handler needs; one per app (``app.state.sandbox``)."""

    settings: Settings
    store: Store
    schemas: ProductTypes
    limiter: RateLimiter
    faults: Faults

    def base_url(self, request: Request) -> str:
        """Where clients reach the sandbox, for the presigned and schema links it hands out.

        Not the request's Host header while the bound address is known: some clients send it cut
        short (python-amazon-sp-api sets ``host`` to the endpoint minus its first eight characters,
        which over ``http://`` drops the first character of the host), and a link built from it
        points nowhere. Bound to a wildcard address, the sandbox cannot tell which of its
        addresses the client used, so the Host header is all there is; ``public_url`` overrides both.
        """
        settings = self.settings
        if settings.public_url:
            return settings.public_url.rstrip("/")
        if settings.host not in WILDCARD_HOSTS:
            host = f"[{settings.host}]" if ":" in settings.host else settings.host
            return f"http://{host}:{settings.port}"
        return str(request.base_url).rstrip("/")


@dataclass
class Call:
    """One admitted SP-API call: its operation, seller and request id; builds the answers."""

    sandbox: Sandbox
    request: Request
    operation: str
    seller_id: str | None
    region: str | None
    request_id: str

    def headers(self, status: int) -> dict[str, str]:
        headers = {REQUEST_ID_HEADER: self.request_id}
        rate = self.sandbox.limiter.rate_header(self.operation)
        if status in RATE_HEADER_STATUSES and rate is not None:
            headers[RATE_HEADER] = rate
        return headers

    def respond(self, status: int, body: Any = None) -> Response:
        self.sandbox.store.record_call(self.operation, self.seller_id, status, False, None, self.request_id)
        return json_response(status, body, self.headers(status))

    def error(self, error: ApiError) -> Response:
        return self.respond(error.status, error.body())


def error_response(
    sandbox: Sandbox,
    request: Request,
    operation: str,
    seller_id: str | None,
    error: ApiError,
    *,
    throttled: bool = False,
    fault: str | None = None,
) -> Response:
    rid = request_id(request)
    sandbox.store.record_call(operation, seller_id, error.status, throttled, fault, rid)
    headers = {REQUEST_ID_HEADER: rid}
    rate = sandbox.limiter.rate_header(operation)
    if error.status in RATE_HEADER_STATUSES and rate is not None:
        headers[RATE_HEADER] = rate
    if error.status >= 500 or error.status == 403:
        headers["x-amzn-ErrorType"] = error.code
    return json_response(error.status, error.body(), headers)


class GateRefused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def _absolute_url(request: Request) -> str:
    scope = request.scope
    host = request.headers.get("host", "")
    raw = scope.get("raw_path") or scope["path"].encode()
    url = f"{scope.get('scheme', 'http')}://{host}{raw.decode('latin-1')}"
    query = scope.get("query_string", b"")
    return f"{url}?{query.decode('latin-1')}" if query else url


async def gate(sandbox: Sandbox, request: Request, operation: str, path_seller_id: str | None = None) -> Call:
    """Admit one SP-API call or raise :class:`GateRefused` with the answer to send."""
    rid = request_id(request)
    faults = sandbox.faults

    def refuse(
        error: ApiError, seller: str | None, *, throttled: bool = False, fault: str | None = None
    ) -> GateRefused:
        return GateRefused(
            error_response(sandbox, request, operation, seller, error, throttled=throttled, fault=fault)
        )

    latency = faults.draw("latency", operation)
    if latency is not None and latency.seconds > 0:
        await asyncio.sleep(latency.seconds)
    if faults.draw("drop", operation) is not None:
        sandbox.store.record_call(operation, path_seller_id, 0, False, "drop", rid)
        raise DroppedConnection(operation)

    token_value = request.headers.get("x-amz-access-token")
    if not token_value:
        raise refuse(ApiError.unauthorized("Access token is missing in the request header."), path_seller_id)
    token = sandbox.store.token(token_value)
    now = time.time()
    # grantless tokens (no seller) are refused: every operation served here is seller-authorized
    if token is None or token["expires_at"] <= now or token["seller_id"] is None:
        raise refuse(ApiError.unauthorized(), path_seller_id)
    early = faults.active("token_expiry")
    if (
        early is not None
        and now - token["issued_at"] >= early.seconds
        and faults.draw("token_expiry") is not None
    ):
        sandbox.store.execute("UPDATE tokens SET expires_at=? WHERE token=?", (now, token_value))
        raise refuse(ApiError.unauthorized(), path_seller_id, fault="token_expiry")
    seller_id = token["seller_id"]
    seller = sandbox.store.seller(seller_id) if seller_id else None
    if seller is None or seller["revoked"]:
        raise refuse(ApiError.unauthorized(), path_seller_id)

    if sandbox.settings.sigv4:
        body = await request.body()
        try:
            verify(
                request.method, _absolute_url(request), dict(request.headers), body, sandbox.settings.aws_keys
            )
        except SignatureError as exc:
            raise refuse(ApiError(403, exc.code, exc.message), seller_id) from None

    if path_seller_id is not None and path_seller_id != seller_id:
        raise refuse(
            ApiError.unauthorized("The access token was issued for another selling partner."), path_seller_id
        )

    error = faults.draw("error", operation)
    if error is not None:
        code, message = CLIENT_ERRORS.get(error.status) or SERVER_ERRORS.get(error.status) or INTERNAL_FAILURE
        raise refuse(ApiError(error.status, code, message), seller_id, fault="error")
    if faults.draw("throttle", operation) is not None:
        raise refuse(ApiError(429, **QUOTA_EXCEEDED), seller_id, throttled=True, fault="throttle")
    if not sandbox.limiter.acquire(operation, seller_id):
        raise refuse(ApiError(429, **QUOTA_EXCEEDED), seller_id, throttled=True)
    answer = faults.draw("drop_answer", operation) or faults.draw("late_answer", operation)
    if answer is not None:  # the call goes ahead; only its answer is lost or late
        setattr(request.state, ANSWER_FAULT, (answer.kind, answer.seconds))
    return Call(sandbox, request, operation, seller_id, seller["region"], rid)


Handler = Callable[["Sandbox", Call], Awaitable[Response]]


async def run_operation(
    request: Request, operation: str, handler: Handler, path_seller_id: str | None = None
) -> Response:
    """A route's body: the :func:`gate`, then ``handler``; an :class:`ApiError` it raises becomes
    the call's error answer."""
    sandbox: Sandbox = request.app.state.sandbox
    try:
        call = await gate(sandbox, request, operation, path_seller_id)
    except GateRefused as refused:
        return refused.response
    try:
        return await handler(sandbox, call)
    except ApiError as error:
        return call.error(error)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or 400."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError.invalid("Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError.invalid("Request body must be a JSON object.")
    return body


def throttled(call: Call) -> Response:
    """A 429 decided inside a handler (createFeed's feed-type limit)."""
    return error_response(
        call.sandbox,
        call.request,
        call.operation,
        call.seller_id,
        ApiError(429, **QUOTA_EXCEEDED),
        throttled=True,
    )
