"""Subscribe each seller to the notifications the pipeline reads, idempotently.

Amazon sends a notification only to a subscription, and a subscription only to a destination:
the destination (the SQS queue, by ARN) belongs to the application and is created with a grantless
token; each seller then subscribes to each notification type with its own token. Running the
setup again changes nothing: a destination for the queue is looked up before one is created, a
subscription before it is made, and a 409 (someone made it meanwhile) is read back. A subscription
that points at another destination (an old queue) is deleted and made again for this one.

The subscriptions (:data:`SUBSCRIPTIONS`): ``FEED_PROCESSING_FINISHED`` (ends a feed wait early),
``REPORT_PROCESSING_FINISHED`` (the same for a report wait: ``listings_reconcile``,
``seller_performance``),
``LISTINGS_ITEM_STATUS_CHANGE`` (buyable, discoverable, deleted), ``LISTINGS_ITEM_ISSUES_CHANGE``
in payload version 2023-12-13, the one that names every enforcement action (1.0 names only
SEARCH_SUPPRESSED, so a LISTING_SUPPRESSED would go unsaid), and ``PRODUCT_TYPE_DEFINITIONS_CHANGE``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from spapi.client import SpApiClient
    from spapi.models.notifications import Destination, Subscription

log = logging.getLogger(__name__)

SUBSCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("FEED_PROCESSING_FINISHED", "1.0"),
    ("REPORT_PROCESSING_FINISHED", "1.0"),
    ("LISTINGS_ITEM_STATUS_CHANGE", "1.0"),
    ("LISTINGS_ITEM_ISSUES_CHANGE", "2023-12-13"),
    ("PRODUCT_TYPE_DEFINITIONS_CHANGE", "1.0"),
)


class SubscriptionSetup(TypedDict):
    notification_type: str
    payload_version: str
    subscription_id: str
    #: created, kept (it was there), or replaced (it pointed at another destination)
    action: str


class SellerSetup(TypedDict):
    seller_id: str
    destination_id: str
    destination_created: bool
    subscriptions: list[SubscriptionSetup]


def ensure_destination(client: SpApiClient, name: str, queue_arn: str) -> tuple[Destination, bool]:
    """The application's destination for ``queue_arn``, created when missing; (destination, created)."""
    from spapi import notifications
    from spapi.errors import InvalidRequestError

    def find() -> Destination | None:
        for destination in client.call(notifications.get_destinations()).payload:
            if destination.resource.sqs is not None and destination.resource.sqs.arn == queue_arn:
                return destination
        return None

    found = find()
    if found is not None:
        return found, False
    try:
        return client.call(notifications.create_destination(name, queue_arn)).payload, True
    except InvalidRequestError as err:
        if err.status != 409:
            raise
        again = find()  # created by another setup meanwhile
        if again is None:
            raise
        return again, False


def ensure_subscription(
    client: SpApiClient, notification_type: str, payload_version: str, destination_id: str
) -> SubscriptionSetup:
    """The seller's subscription to ``notification_type`` in ``payload_version`` at the destination."""
    from spapi import notifications
    from spapi.errors import InvalidRequestError, NotFoundError

    def current() -> Subscription | None:
        try:
            return client.call(notifications.get_subscription(notification_type, payload_version)).payload
        except NotFoundError:
            return None

    def setup(subscription: Subscription, action: str) -> SubscriptionSetup:
        return SubscriptionSetup(
            notification_type=notification_type,
            payload_version=payload_version,
            subscription_id=subscription.subscription_id,
            action=action,
        )

    existing = current()
    if existing is not None and existing.destination_id == destination_id:
        return setup(existing, "kept")
    action = "created"
    if existing is not None:
        client.call(notifications.delete_subscription_by_id(notification_type, existing.subscription_id))
        action = "replaced"
    try:
        made = client.call(
            notifications.create_subscription(notification_type, payload_version, destination_id)
        )
    except InvalidRequestError as err:
        again = current() if err.status == 409 else None
        if again is None or again.destination_id != destination_id:
            raise
        return setup(again, "kept")
    return setup(made.payload, action)


def set_up_seller(client: SpApiClient, seller_id: str, destination_name: str, queue_arn: str) -> SellerSetup:
    """One seller: the destination (shared by every seller of the application) and its subscriptions."""
    destination, created = ensure_destination(client, destination_name, queue_arn)
    subscriptions = [
        ensure_subscription(client, kind, version, destination.destination_id)
        for kind, version in SUBSCRIPTIONS
    ]
    log.info(
        "notifications for %s: destination %s (%s), subscriptions %s",
        seller_id,
        destination.destination_id,
        "created" if created else "found",
        ", ".join(f"{s['notification_type']} {s['action']}" for s in subscriptions),
    )
    return SellerSetup(
        seller_id=seller_id,
        destination_id=destination.destination_id,
        destination_created=created,
        subscriptions=subscriptions,
    )


def set_up(config_path: str | None, sellers: list[str] | None = None) -> list[SellerSetup]:
    """The setup task: every seller of the config (or those named), each with its own connection."""
    from listings_pipeline.config import load_config
    from spapi.hooks import SpApiHook

    config = load_config(config_path)
    if config.notifications is None:
        raise ValueError("the pipeline config has no notifications section: no queue to subscribe")
    out: list[SellerSetup] = []
    for seller in config.sellers:
        if sellers and seller.seller_id not in sellers:
            continue
        with SpApiHook(seller.spapi_conn_id).get_client() as client:
            out.append(
                set_up_seller(
                    client,
                    seller.seller_id,
                    config.notifications.destination_name,
                    config.notifications.queue_arn,
                )
            )
    return out
