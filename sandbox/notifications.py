"""Notifications API v1: destinations and subscriptions, per ``models/notifications-api-model``.

Destinations belong to the application (the LWA client), not to a seller: ``createDestination``,
``getDestinations``, ``getDestination`` and ``deleteDestination`` are grantless, called with a
``client_credentials`` token of scope ``sellingpartnerapi::notifications``, as are
``getSubscriptionById`` and ``deleteSubscriptionById``. ``createSubscription`` and
``getSubscription`` are the seller's (a refresh-token access token): a subscription says "send
this seller's notifications of this type, in this payload version, to that destination".

Only SQS destinations are served (an EventBridge one is refused with the reason): the queue named
by the ARN must exist at the sandbox's ``sqs_endpoint_url``, as Amazon checks it can write to the
queue before creating the destination. A second destination for the same queue, or a second
subscription of a seller to the same type and payload version, is a 409 ``Conflict``, and so is
deleting a destination that subscriptions still use. What gets delivered, and when, is
:mod:`sandbox.notifier`.

Admin (no auth, local use only, like :mod:`sandbox.admin`):

- ``GET /_sandbox/notifications``: destinations, subscriptions and the outbox (counts, last 50)
- ``POST /_sandbox/notifications/process``: one notifier pass now
- ``POST /_sandbox/notifications/product-type-change``: Amazon released new product type
  definitions (``{"productTypeVersion"?, "marketplaceId"?, "newProductTypes"?: [...]}``)
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from .core import (
    QUOTA_EXCEEDED,
    ApiError,
    Call,
    DroppedConnection,
    GateRefused,
    Sandbox,
    error_response,
    gate,
    json_response,
    request_id,
)
from .faults import CLIENT_ERRORS, INTERNAL_FAILURE, SERVER_ERRORS
from .notifier import PAYLOAD_VERSIONS, Notifier, iso_ms, queue_of

router = APIRouter()

BASE = "/notifications/v1"
SCOPE = "sellingpartnerapi::notifications"
NAME_MAX = 256  # Destination.name maxLength
ARN_MAX = 1000  # SqsResource.arn maxLength


def _notifier(request: Request) -> Notifier:
    return request.app.state.notifier


def _conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict", message)


async def grantless_gate(sandbox: Sandbox, request: Request, operation: str) -> tuple[Call, str]:
    """Admit a grantless call: a live ``client_credentials`` token with the notifications scope.

    Returns the call and the application's client id. Faults and the operation's token bucket
    (keyed by application) apply as in :func:`sandbox.core.gate`.
    """
    rid = request_id(request)
    faults = sandbox.faults

    def refuse(error: ApiError, *, throttled: bool = False, fault: str | None = None) -> GateRefused:
        return GateRefused(
            error_response(sandbox, request, operation, None, error, throttled=throttled, fault=fault)
        )

    latency = faults.draw("latency", operation)
    if latency is not None and latency.seconds > 0:
        await asyncio.sleep(latency.seconds)
    if faults.draw("drop", operation) is not None:
        sandbox.store.record_call(operation, None, 0, False, "drop", rid)
        raise DroppedConnection(operation)
    value = request.headers.get("x-amz-access-token")
    if not value:
        raise refuse(ApiError.unauthorized("Access token is missing in the request header."))
    token = sandbox.store.token(value)
    if (
        token is None
        or token["expires_at"] <= time.time()
        or token["seller_id"] is not None  # a seller's token is not a grantless one
        or SCOPE not in (token["scope"] or "").split()
    ):
        raise refuse(ApiError.unauthorized())
    error = faults.draw("error", operation)
    if error is not None:
        code, message = CLIENT_ERRORS.get(error.status) or SERVER_ERRORS.get(error.status) or INTERNAL_FAILURE
        raise refuse(ApiError(error.status, code, message), fault="error")
    if faults.draw("throttle", operation) is not None:
        raise refuse(ApiError(429, **QUOTA_EXCEEDED), throttled=True, fault="throttle")
    if not sandbox.limiter.acquire(operation, f"app:{token['client_id']}"):
        raise refuse(ApiError(429, **QUOTA_EXCEEDED), throttled=True)
    return Call(sandbox, request, operation, None, None, rid), str(token["client_id"])


async def _grantless(
    request: Request, operation: str, handler: Callable[[Call, str], Awaitable[tuple[int, Any]]]
) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        call, client_id = await grantless_gate(sandbox, request, operation)
    except GateRefused as refused:
        return refused.response
    try:
        status, body = await handler(call, client_id)
    except ApiError as error:
        return call.error(error)
    return call.respond(status, body)


async def _seller(
    request: Request, operation: str, handler: Callable[[Call, str], Awaitable[tuple[int, Any]]]
) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        call = await gate(sandbox, request, operation)
    except GateRefused as refused:
        return refused.response
    token = sandbox.store.token(request.headers["x-amz-access-token"]) or {}
    try:
        status, body = await handler(call, str(token["client_id"]))
    except ApiError as error:
        return call.error(error)
    return call.respond(status, body)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise ApiError.invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError.invalid("The request body must be a JSON object.")
    return body


def _notification_type(value: str) -> str:
    if value not in PAYLOAD_VERSIONS:
        raise ApiError.invalid(
            f"Invalid notificationType: {value}.",
            f"The sandbox delivers {', '.join(sorted(PAYLOAD_VERSIONS))}.",
        )
    return value


# -- destinations ----------------------------------------------------------------------------------


def _destination(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "destinationId": row["destination_id"],
        "name": row["name"],
        "resource": {"sqs": {"arn": row["arn"]}},
    }


def _find_destination(sandbox: Sandbox, client_id: str, destination_id: str) -> dict[str, Any]:
    row = sandbox.store.one(
        "SELECT * FROM notification_destinations WHERE destination_id=? AND client_id=?",
        (destination_id, client_id),
    )
    if row is None:
        raise ApiError.not_found(f"Destination {destination_id} was not found.")
    return row


@router.post(BASE + "/destinations")
async def create_destination(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    notifier = _notifier(request)

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        body = await _body(request)
        name = body.get("name")
        spec = body.get("resourceSpecification")
        if not isinstance(name, str) or not name or len(name) > NAME_MAX:
            raise ApiError.invalid(f"name is required: a string of 1 to {NAME_MAX} characters.")
        if not isinstance(spec, dict) or not spec:
            raise ApiError.invalid("resourceSpecification is required.")
        if "eventBridge" in spec:
            raise ApiError.invalid(
                "Unsupported resource type.", "The sandbox delivers to SQS destinations only."
            )
        sqs = spec.get("sqs")
        arn = sqs.get("arn") if isinstance(sqs, dict) else None
        if not isinstance(arn, str) or len(arn) > ARN_MAX:
            raise ApiError.invalid("resourceSpecification.sqs.arn is required.")
        try:
            queue_of(arn)
        except ValueError:
            raise ApiError.invalid(f"Invalid SQS ARN: {arn}.") from None
        try:
            await asyncio.to_thread(notifier.sqs.queue_url, arn)
        except Exception:  # the queue is missing, or SQS cannot be reached
            raise ApiError.invalid(
                "Unable to access the SQS queue.", "The queue must exist and accept Amazon's messages."
            ) from None
        row = {"destination_id": str(uuid.uuid4()), "name": name, "arn": arn}
        cursor = sandbox.store.execute(
            "INSERT OR IGNORE INTO notification_destinations(destination_id, client_id, name, arn, created) "
            "VALUES (?,?,?,?,?)",
            (row["destination_id"], client_id, name, arn, time.time()),
        )
        if cursor.rowcount != 1:
            raise _conflict("A destination for this resource already exists.")
        return 200, {"payload": _destination(row)}

    return await _grantless(request, "createDestination", handle)


@router.get(BASE + "/destinations")
async def get_destinations(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        rows = sandbox.store.all(
            "SELECT * FROM notification_destinations WHERE client_id=? ORDER BY created", (client_id,)
        )
        return 200, {"payload": [_destination(r) for r in rows]}

    return await _grantless(request, "getDestinations", handle)


@router.get(BASE + "/destinations/{destinationId}")
async def get_destination(request: Request, destinationId: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        return 200, {"payload": _destination(_find_destination(sandbox, client_id, destinationId))}

    return await _grantless(request, "getDestination", handle)


@router.delete(BASE + "/destinations/{destinationId}")
async def delete_destination(request: Request, destinationId: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        _find_destination(sandbox, client_id, destinationId)
        if sandbox.store.one(
            "SELECT 1 FROM notification_subscriptions WHERE destination_id=?", (destinationId,)
        ):
            raise _conflict("The destination is in use by one or more subscriptions.")
        sandbox.store.execute(
            "DELETE FROM notification_destinations WHERE destination_id=?", (destinationId,)
        )
        return 200, {}

    return await _grantless(request, "deleteDestination", handle)


# -- subscriptions ---------------------------------------------------------------------------------


def _subscription(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscriptionId": row["subscription_id"],
        "payloadVersion": row["payload_version"],
        "destinationId": row["destination_id"],
    }


@router.post(BASE + "/subscriptions/{notificationType}")
async def create_subscription(request: Request, notificationType: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    notifier = _notifier(request)

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        kind = _notification_type(notificationType)
        body = await _body(request)
        destination_id = body.get("destinationId")
        version = body.get("payloadVersion")
        if not isinstance(destination_id, str) or not destination_id:
            raise ApiError.invalid("destinationId is required.")
        if not isinstance(version, str) or not version:
            raise ApiError.invalid("payloadVersion is required.")
        if version not in PAYLOAD_VERSIONS[kind]:
            raise ApiError.invalid(
                f"Invalid payloadVersion {version} for {kind}.",
                f"Supported: {', '.join(PAYLOAD_VERSIONS[kind])}.",
            )
        if body.get("processingDirective") is not None:
            raise ApiError.invalid(f"processingDirective is not supported for {kind}.")
        try:
            _find_destination(sandbox, client_id, destination_id)
        except ApiError:
            raise ApiError.invalid(f"Destination {destination_id} was not found.") from None
        assert call.seller_id is not None  # the seller gate admitted a seller's token
        row = {
            "subscription_id": str(uuid.uuid4()),
            "payload_version": version,
            "destination_id": destination_id,
        }
        notifier.baseline(call.seller_id)
        cursor = sandbox.store.execute(
            "INSERT OR IGNORE INTO notification_subscriptions(subscription_id, client_id, seller_id, "
            "notification_type, payload_version, destination_id, created) VALUES (?,?,?,?,?,?,?)",
            (row["subscription_id"], client_id, call.seller_id, kind, version, destination_id, time.time()),
        )
        if cursor.rowcount != 1:
            raise _conflict(f"A subscription to {kind} {version} already exists.")
        return 200, {"payload": _subscription(row)}

    return await _seller(request, "createSubscription", handle)


@router.get(BASE + "/subscriptions/{notificationType}")
async def get_subscription(request: Request, notificationType: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        kind = _notification_type(notificationType)
        version = request.query_params.get("payloadVersion")
        rows = sandbox.store.all(
            "SELECT * FROM notification_subscriptions WHERE client_id=? AND seller_id=? AND notification_type=?",
            (client_id, call.seller_id, kind),
        )
        if version is not None:
            rows = [r for r in rows if r["payload_version"] == version]
        if not rows:
            raise ApiError.not_found(f"No subscription to {kind} was found.")
        latest = max(rows, key=lambda r: PAYLOAD_VERSIONS[kind].index(r["payload_version"]))
        return 200, {"payload": _subscription(latest)}

    return await _seller(request, "getSubscription", handle)


def _find_subscription(sandbox: Sandbox, client_id: str, kind: str, subscription_id: str) -> dict[str, Any]:
    row = sandbox.store.one(
        "SELECT * FROM notification_subscriptions WHERE subscription_id=? AND client_id=? AND notification_type=?",
        (subscription_id, client_id, kind),
    )
    if row is None:
        raise ApiError.not_found(f"Subscription {subscription_id} was not found.")
    return row


@router.get(BASE + "/subscriptions/{notificationType}/{subscriptionId}")
async def get_subscription_by_id(request: Request, notificationType: str, subscriptionId: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        kind = _notification_type(notificationType)
        return 200, {"payload": _subscription(_find_subscription(sandbox, client_id, kind, subscriptionId))}

    return await _grantless(request, "getSubscriptionById", handle)


@router.delete(BASE + "/subscriptions/{notificationType}/{subscriptionId}")
async def delete_subscription_by_id(request: Request, notificationType: str, subscriptionId: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox

    async def handle(call: Call, client_id: str) -> tuple[int, Any]:
        kind = _notification_type(notificationType)
        _find_subscription(sandbox, client_id, kind, subscriptionId)
        sandbox.store.execute(
            "DELETE FROM notification_subscriptions WHERE subscription_id=?", (subscriptionId,)
        )
        return 200, {}

    return await _grantless(request, "deleteSubscriptionById", handle)


# -- admin -----------------------------------------------------------------------------------------


@router.get("/_sandbox/notifications")
async def show(request: Request) -> Response:
    store = _notifier(request).store
    outbox = store.all("SELECT * FROM notification_outbox ORDER BY id DESC LIMIT 50")
    return json_response(
        200,
        {
            "destinations": store.all("SELECT * FROM notification_destinations ORDER BY created"),
            "subscriptions": store.all("SELECT * FROM notification_subscriptions ORDER BY created"),
            "outbox": {
                "queued": (
                    store.one("SELECT COUNT(*) AS n FROM notification_outbox WHERE sent IS NULL") or {}
                )["n"],
                "sent": (
                    store.one("SELECT COUNT(*) AS n FROM notification_outbox WHERE sent IS NOT NULL") or {}
                )["n"],
                "recent": [
                    {**r, "body": json.loads(r["body"]), "created": iso_ms(r["created"])} for r in outbox
                ],
            },
        },
    )


@router.post("/_sandbox/notifications/process")
async def process(request: Request) -> Response:
    sent = await asyncio.to_thread(_notifier(request).run_once)
    return json_response(200, {"sent": sent})


@router.post("/_sandbox/notifications/product-type-change")
async def product_type_change(request: Request) -> Response:
    try:
        body = await _body(request)
    except ApiError as error:
        return json_response(400, error.body())
    version = body.get("productTypeVersion") or f"USANDBOX_{uuid.uuid4().hex[:12].upper()}"
    marketplace_id = body.get("marketplaceId")
    new_types = body.get("newProductTypes") or []
    if not isinstance(new_types, list) or not all(isinstance(t, str) for t in new_types):
        return json_response(400, ApiError.invalid("newProductTypes must be a list of names").body())
    notifier = _notifier(request)
    queued = notifier.product_types_changed(
        str(version), marketplace_id=marketplace_id, new_product_types=new_types
    )
    sent = await asyncio.to_thread(notifier.deliver)
    return json_response(200, {"queued": queued, "sent": sent, "productTypeVersion": version})
