"""Login with Amazon token endpoint: ``POST /auth/o2/token``.

Grants: ``refresh_token`` (a seller's token) and ``client_credentials`` (grantless, with ``scope``).
Form-encoded like Amazon (JSON accepted too, as the Java SDK sends it). Errors are LWA's
``{"error", "error_description"}``: ``invalid_client`` (401) for unknown or wrong client credentials,
``invalid_grant`` (400) for an unknown or revoked refresh token, ``invalid_scope`` (400),
``unsupported_grant_type`` / ``invalid_request`` (400) for malformed requests. Injected faults
(operation ``lwaToken``, see faults.py) answer before any of that: an LWA outage does not care who asks.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

from .core import DroppedConnection, Sandbox, json_response, request_id
from .faults import LWA_OPERATION, lwa_error_for

router = APIRouter()

GRANTLESS_SCOPES = {"sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation"}


def _lwa_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            data: Any = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def _injected_fault(sandbox: Sandbox) -> Response | None:
    """Latency, a cut line or a 5xx for the token request, when a ``lwaToken`` rule fires."""
    faults = sandbox.faults
    latency = faults.draw("latency", LWA_OPERATION)
    if latency is not None and latency.seconds > 0:
        await asyncio.sleep(latency.seconds)
    if faults.draw("drop", LWA_OPERATION) is not None:
        raise DroppedConnection(LWA_OPERATION)
    error = faults.draw("error", LWA_OPERATION)
    if error is not None:
        return _lwa_error(error.status, *lwa_error_for(error.status))
    return None


def new_access_token() -> str:
    return "Atza|" + secrets.token_urlsafe(48)


@router.post("/auth/o2/token")
async def token(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    request_id(request)
    fault = await _injected_fault(sandbox)
    if fault is not None:
        return fault
    form = await _form(request)
    grant = form.get("grant_type")
    client_id = form.get("client_id")
    client_secret = form.get("client_secret")
    if grant not in ("refresh_token", "client_credentials"):
        if not grant:
            return _lwa_error(
                400, "invalid_request", "The request is missing a required parameter : grant_type"
            )
        return _lwa_error(
            400, "unsupported_grant_type", f"The authorization grant type {grant!r} is not supported"
        )
    if not client_id or not client_secret:
        return _lwa_error(
            400, "invalid_request", "The request is missing a required parameter : client_id or client_secret"
        )
    app = sandbox.store.app(client_id)
    if app is None or not secrets.compare_digest(app["client_secret"], client_secret):
        return _lwa_error(401, "invalid_client", "Client authentication failed")
    lifetime = sandbox.settings.token_lifetime
    if grant == "refresh_token":
        if form.get("scope"):
            return _lwa_error(400, "invalid_request", "Send either refresh_token or scope, not both")
        refresh = form.get("refresh_token")
        if not refresh:
            return _lwa_error(
                400, "invalid_request", "The request is missing a required parameter : refresh_token"
            )
        seller = sandbox.store.seller_by_refresh_token(refresh)
        if seller is None or seller["revoked"] or seller["client_id"] != client_id:
            return _lwa_error(
                400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        access = new_access_token()
        sandbox.store.add_token(access, client_id, seller["seller_id"], None, lifetime)
        return json_response(
            200,
            {
                "access_token": access,
                "refresh_token": refresh,
                "token_type": "bearer",
                "expires_in": int(lifetime),
            },
        )
    scope = form.get("scope", "").strip()
    scopes = scope.split()
    if form.get("refresh_token"):
        return _lwa_error(400, "invalid_request", "Send either refresh_token or scope, not both")
    allowed = set(json.loads(app["scopes"])) or GRANTLESS_SCOPES
    if not scopes or any(s not in allowed for s in scopes):
        return _lwa_error(400, "invalid_scope", "An unknown scope was requested")
    access = new_access_token()
    sandbox.store.add_token(access, client_id, None, scope, lifetime)
    return json_response(
        200, {"access_token": access, "scope": scope, "token_type": "bearer", "expires_in": int(lifetime)}
    )
