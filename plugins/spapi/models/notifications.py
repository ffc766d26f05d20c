"""Notifications API v1 models, and the notifications Amazon puts on the queue.

Sources: ``models/notifications-api-model/notifications.json`` (destinations and subscriptions)
and ``schemas/notifications/*.json`` (what arrives on the SQS queue). Two spellings meet here:
``FEED_PROCESSING_FINISHED`` and ``REPORT_PROCESSING_FINISHED`` are camelCase (``notificationType``,
``payload``...), the listings and
product-type notifications are PascalCase (``NotificationType``, ``Payload``...), so each family
has its own base. Every notification model keeps unknown fields, as Amazon adds some without a
new version. :func:`parse_notification` reads a queue message's body into the right model.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_pascal

from .common import DateTime, RequestModel, ResponseModel

FEED_PROCESSING_FINISHED = "FEED_PROCESSING_FINISHED"
REPORT_PROCESSING_FINISHED = "REPORT_PROCESSING_FINISHED"
LISTINGS_ITEM_STATUS_CHANGE = "LISTINGS_ITEM_STATUS_CHANGE"
LISTINGS_ITEM_ISSUES_CHANGE = "LISTINGS_ITEM_ISSUES_CHANGE"
PRODUCT_TYPE_DEFINITIONS_CHANGE = "PRODUCT_TYPE_DEFINITIONS_CHANGE"
NotificationType = Literal[
    "FEED_PROCESSING_FINISHED",
    "REPORT_PROCESSING_FINISHED",
    "LISTINGS_ITEM_STATUS_CHANGE",
    "LISTINGS_ITEM_ISSUES_CHANGE",
    "PRODUCT_TYPE_DEFINITIONS_CHANGE",
]
#: The grantless scope of destinations and of subscriptions read or deleted by id.
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"


# -- the API ------------------------------------------------------------------------------------


class SqsResource(RequestModel):
    """An SQS queue named by its ARN (``^arn:aws:sqs:\\S+:\\S+:\\S+``, at most 1000 characters)."""

    arn: Annotated[str, Field(pattern=r"^arn:aws:sqs:\S+:\S+:\S+", max_length=1000)]


class DestinationResourceSpecification(RequestModel):
    sqs: SqsResource


class CreateDestinationRequest(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    resource_specification: DestinationResourceSpecification


class SqsDestination(ResponseModel):
    arn: str


class DestinationResource(ResponseModel):
    """Where notifications go: an SQS queue (or an EventBridge source, kept as Amazon sent it)."""

    sqs: SqsDestination | None = None


class Destination(ResponseModel):
    destination_id: str
    name: str
    resource: DestinationResource


class DestinationResponse(ResponseModel):
    """createDestination's and getDestination's answer."""

    payload: Destination


class GetDestinationsResponse(ResponseModel):
    payload: list[Destination] = []


class CreateSubscriptionRequest(RequestModel):
    payload_version: Annotated[str, Field(min_length=1)]
    destination_id: Annotated[str, Field(min_length=1)]


class Subscription(ResponseModel):
    subscription_id: str
    payload_version: str
    destination_id: str


class SubscriptionResponse(ResponseModel):
    """createSubscription's, getSubscription's and getSubscriptionById's answer."""

    payload: Subscription


# -- what arrives on the queue ------------------------------------------------------------------


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="allow")


class _Pascal(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, validate_by_name=True, extra="allow")


class CamelMetadata(_Camel):
    application_id: str
    subscription_id: str
    publish_time: DateTime
    notification_id: str


class PascalMetadata(_Pascal):
    application_id: str
    subscription_id: str
    publish_time: DateTime
    notification_id: str


class FeedProcessingFinished(_Camel):
    seller_id: str | None = None  # absent for vendors, who have an accountId only
    account_id: str
    feed_id: str
    feed_type: str
    processing_status: Literal["CANCELLED", "DONE", "FATAL"] | str
    result_feed_document_id: str | None = None


class FeedProcessingFinishedPayload(_Camel):
    feed_processing_finished_notification: FeedProcessingFinished


class FeedProcessingFinishedNotification(_Camel):
    notification_version: str
    notification_type: Literal["FEED_PROCESSING_FINISHED"]
    payload_version: str
    event_time: DateTime
    payload: FeedProcessingFinishedPayload
    notification_metadata: CamelMetadata

    @property
    def notification_id(self) -> str:
        return self.notification_metadata.notification_id


class ReportProcessingFinished(_Camel):
    seller_id: str | None = None  # absent for vendors, who have an accountId only
    account_id: str
    report_id: str
    report_type: str
    processing_status: Literal["CANCELLED", "DONE", "FATAL"] | str
    #: DONE: the report; FATAL: a document saying why, when Amazon wrote one; CANCELLED: none
    report_document_id: str | None = None


class ReportProcessingFinishedPayload(_Camel):
    report_processing_finished_notification: ReportProcessingFinished


class ReportProcessingFinishedNotification(_Camel):
    notification_version: str
    notification_type: Literal["REPORT_PROCESSING_FINISHED"]
    payload_version: str
    event_time: DateTime
    payload: ReportProcessingFinishedPayload
    notification_metadata: CamelMetadata

    @property
    def notification_id(self) -> str:
        return self.notification_metadata.notification_id


class ListingsItemStatus(_Pascal):
    seller_id: str
    marketplace_id: str | None = None
    asin: str | None = None
    sku: str
    created_date: DateTime | None = None
    #: BUYABLE, DISCOVERABLE, DELETED; a state not named does not hold (an empty list: neither)
    status: list[Literal["BUYABLE", "DISCOVERABLE", "DELETED"] | str]


class ListingsItemStatusChangeNotification(_Pascal):
    notification_version: str
    notification_type: Literal["LISTINGS_ITEM_STATUS_CHANGE"]
    payload_version: str
    event_time: DateTime
    payload: ListingsItemStatus
    notification_metadata: PascalMetadata

    @property
    def notification_id(self) -> str:
        return self.notification_metadata.notification_id


class ListingsItemIssues(_Pascal):
    seller_id: str
    marketplace_id: str | None = None
    asin: str | None = None
    sku: str
    #: ERROR and/or WARNING, or NONE when no issue affects the listing
    severities: list[Literal["NONE", "ERROR", "WARNING"] | str]
    enforcement_actions: list[str] | None = None


class ListingsItemIssuesChangeNotification(_Pascal):
    notification_version: str
    notification_type: Literal["LISTINGS_ITEM_ISSUES_CHANGE"]
    payload_version: str
    event_time: DateTime
    payload: ListingsItemIssues
    notification_metadata: PascalMetadata

    @property
    def notification_id(self) -> str:
        return self.notification_metadata.notification_id


class ProductTypeDefinitions(_Pascal):
    account_id: str
    marketplace_id: str | None = None
    product_type_version: str
    new_product_types: list[str] | None = None


class ProductTypeDefinitionsChangeNotification(_Pascal):
    notification_version: str
    notification_type: Literal["PRODUCT_TYPE_DEFINITIONS_CHANGE"]
    payload_version: str
    event_time: DateTime
    payload: ProductTypeDefinitions
    notification_metadata: PascalMetadata

    @property
    def notification_id(self) -> str:
        return self.notification_metadata.notification_id


Notification = (
    FeedProcessingFinishedNotification
    | ReportProcessingFinishedNotification
    | ListingsItemStatusChangeNotification
    | ListingsItemIssuesChangeNotification
    | ProductTypeDefinitionsChangeNotification
)
_MODELS: dict[str, type[Notification]] = {
    FEED_PROCESSING_FINISHED: FeedProcessingFinishedNotification,
    REPORT_PROCESSING_FINISHED: ReportProcessingFinishedNotification,
    LISTINGS_ITEM_STATUS_CHANGE: ListingsItemStatusChangeNotification,
    LISTINGS_ITEM_ISSUES_CHANGE: ListingsItemIssuesChangeNotification,
    PRODUCT_TYPE_DEFINITIONS_CHANGE: ProductTypeDefinitionsChangeNotification,
}


class UnreadableNotification(ValueError):
    """A message that is not one of the notifications we subscribe to (or not JSON at all)."""


def parse_notification(body: str | bytes) -> Notification:
    """A queue message's body as its notification model; :class:`UnreadableNotification` when it
    is not JSON, names a type we do not read, or lacks what Amazon's schema requires. The error
    says what was wrong, never the body (which names the seller's SKUs)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UnreadableNotification("the message body is not JSON") from None
    if not isinstance(data, dict):
        raise UnreadableNotification("the message body is not a JSON object")
    kind = data.get("notificationType", data.get("NotificationType"))
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise UnreadableNotification(f"not a notification type we read: {str(kind)[:64]!r}")
    try:
        return model.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError; its text quotes input values
        fields = sorted({".".join(map(str, e["loc"])) for e in getattr(exc, "errors", list)()})
        raise UnreadableNotification(f"{kind} is missing or has invalid {fields}") from None
