"""Notifications API v1: one function per operation, each returning a :class:`Call`.

Pure: nothing here does I/O. Destinations belong to the application, not a seller, so their
operations (and getSubscriptionById / deleteSubscriptionById) are *grantless*: the client mints a
``client_credentials`` token with scope ``sellingpartnerapi::notifications`` for them. A
subscription is the seller's: createSubscription and getSubscription use the seller's token.

Setting a seller up (``listings_pipeline.from_amazon.notification_setup`` does this idempotently)::

    destination = client.call(notifications.create_destination("listings", queue_arn)).payload
    client.call(notifications.create_subscription("LISTINGS_ITEM_STATUS_CHANGE", "1.0",
                                                  destination.destination_id))

What arrives on the queue is read with :func:`spapi.models.notifications.parse_notification`.
"""

from __future__ import annotations

from .call import Call, no_content, path_part
from .models.common import json_parser, require_text, to_wire
from .models.notifications import (
    NOTIFICATIONS_SCOPE,
    CreateDestinationRequest,
    CreateSubscriptionRequest,
    DestinationResourceSpecification,
    DestinationResponse,
    GetDestinationsResponse,
    SqsResource,
    SubscriptionResponse,
)

BASE = "/notifications/v1"


def create_destination(name: str, sqs_arn: str) -> Call[DestinationResponse]:
    """``createDestination`` (grantless): an SQS queue Amazon may write to. Not idempotent: a second
    call for the same queue is a 409 (look for it with :func:`get_destinations` first)."""
    body = CreateDestinationRequest(
        name=name, resource_specification=DestinationResourceSpecification(sqs=SqsResource(arn=sqs_arn))
    )
    return Call(
        operation="createDestination",
        method="POST",
        path=f"{BASE}/destinations",
        json=to_wire(body),
        parse=json_parser(DestinationResponse),
        idempotent=False,
        grantless_scope=NOTIFICATIONS_SCOPE,
    )


def get_destinations() -> Call[GetDestinationsResponse]:
    """``getDestinations`` (grantless): every destination of the application."""
    return Call(
        operation="getDestinations",
        method="GET",
        path=f"{BASE}/destinations",
        parse=json_parser(GetDestinationsResponse),
        grantless_scope=NOTIFICATIONS_SCOPE,
    )


def delete_destination(destination_id: str) -> Call[None]:
    """``deleteDestination`` (grantless); refused while a subscription uses it."""
    return Call(
        operation="deleteDestination",
        method="DELETE",
        path=f"{BASE}/destinations/{path_part(require_text('destination_id', destination_id))}",
        parse=no_content,
        grantless_scope=NOTIFICATIONS_SCOPE,
    )


def create_subscription(
    notification_type: str, payload_version: str, destination_id: str
) -> Call[SubscriptionResponse]:
    """``createSubscription`` (the seller's token). A second subscription of the seller to the same
    type and payload version is a 409: ask :func:`get_subscription` first."""
    body = CreateSubscriptionRequest(payload_version=payload_version, destination_id=destination_id)
    return Call(
        operation="createSubscription",
        method="POST",
        path=f"{BASE}/subscriptions/{path_part(require_text('notification_type', notification_type))}",
        json=to_wire(body),
        parse=json_parser(SubscriptionResponse),
        idempotent=False,
    )


def get_subscription(
    notification_type: str, payload_version: str | None = None
) -> Call[SubscriptionResponse]:
    """``getSubscription`` (the seller's token): 404 (``NotFoundError``) when there is none."""
    return Call(
        operation="getSubscription",
        method="GET",
        path=f"{BASE}/subscriptions/{path_part(require_text('notification_type', notification_type))}",
        params={"payloadVersion": payload_version},
        parse=json_parser(SubscriptionResponse),
    )


def get_subscription_by_id(notification_type: str, subscription_id: str) -> Call[SubscriptionResponse]:
    """``getSubscriptionById`` (grantless)."""
    kind = path_part(require_text("notification_type", notification_type))
    return Call(
        operation="getSubscriptionById",
        method="GET",
        path=f"{BASE}/subscriptions/{kind}/{path_part(require_text('subscription_id', subscription_id))}",
        parse=json_parser(SubscriptionResponse),
        grantless_scope=NOTIFICATIONS_SCOPE,
    )


def delete_subscription_by_id(notification_type: str, subscription_id: str) -> Call[None]:
    """``deleteSubscriptionById`` (grantless): notifications stop for that subscription."""
    kind = path_part(require_text("notification_type", notification_type))
    return Call(
        operation="deleteSubscriptionById",
        method="DELETE",
        path=f"{BASE}/subscriptions/{kind}/{path_part(require_text('subscription_id', subscription_id))}",
        parse=no_content,
        grantless_scope=NOTIFICATIONS_SCOPE,
    )
