"""Amazon's notifications into the warehouse: each recorded once, in the order Amazon saw things.

The ``amazon_notifications`` DAG hands this module the messages its SQS trigger received. For each:

- a body that is not a notification we read (not JSON, another type, a required field missing) is
  **rejected**: counted in ``notification_rejects`` by SQS message id and left on the queue, so
  SQS redelivers it and, after the queue's ``maxReceiveCount`` receives, its redrive policy moves
  it to the dead-letter queue (the status page shows the count);
- a notification already recorded (SQS delivers at least once) is a **duplicate** and changes
  nothing;
- ``LISTINGS_ITEM_STATUS_CHANGE`` moves the listing through :func:`to_amazon.amazon_view.record`,
  the one place Amazon's view becomes ``live`` (buyable or discoverable) or goes back to
  ``accepted`` (suppressed, or ``DELETED``), with ``buyable`` and ``discoverable`` as Amazon said;
- ``LISTINGS_ITEM_ISSUES_CHANGE`` records one ``listing_issues`` row per severity Amazon names
  (source ``notification``; the enforcement actions in its message), or, with ``NONE``, ends the
  listing's current issue batch;
- ``FEED_PROCESSING_FINISHED`` and ``REPORT_PROCESSING_FINISHED`` are recorded with the feed's or
  report's id, which is what a waiting trigger looks for (``from_amazon.processing_signals``);
  they and ``PRODUCT_TYPE_DEFINITIONS_CHANGE`` are also returned for the DAG's later steps (the
  schema refresh) and its log.

SQS does not keep order: a status or issues notification older (``EventTime``) than one already
applied to the same listing is recorded as **stale** and applied to nothing. A listing the warehouse
does not know is **not_ours**. Everything but a rejected message can leave the queue
(:attr:`Intake.done`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from sqlalchemy import func, select, update

from listings_pipeline.warehouse.db import insert_ignoring_conflicts, session_scope
from listings_pipeline.warehouse.models import (
    AmazonNotification,
    IssueSource,
    Listing,
    ListingIssue,
    NotificationReject,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.models.notifications import (
        ListingsItemIssuesChangeNotification,
        ListingsItemStatusChangeNotification,
        Notification,
    )

log = logging.getLogger(__name__)

Outcome = Literal["applied", "stale", "not_ours", "duplicate", "rejected"]
STATUS = "LISTINGS_ITEM_STATUS_CHANGE"
ISSUES = "LISTINGS_ITEM_ISSUES_CHANGE"
FEED = "FEED_PROCESSING_FINISHED"
REPORT = "REPORT_PROCESSING_FINISHED"
PRODUCT_TYPES = "PRODUCT_TYPE_DEFINITIONS_CHANGE"


class QueueMessage(TypedDict):
    """One SQS message as the trigger received it: its id, the handle to delete it by, its body."""

    message_id: str
    receipt_handle: str
    body: str


class FeedFinished(TypedDict):
    seller_id: str | None
    feed_id: str
    processing_status: str
    result_feed_document_id: str | None


class ReportFinished(TypedDict):
    seller_id: str | None
    report_id: str
    report_type: str
    processing_status: str
    report_document_id: str | None


class DefinitionsChanged(TypedDict):
    seller_id: str
    marketplace_id: str | None
    product_type_version: str
    new_product_types: list[str]


class MessageOutcome(TypedDict):
    message_id: str
    notification_id: str | None
    notification_type: str | None
    outcome: Outcome


class Intake(TypedDict):
    """What one batch did; ``done`` are the receipt handles of the messages that may leave the queue."""

    outcomes: list[MessageOutcome]
    done: list[str]
    feeds_finished: list[FeedFinished]
    reports_finished: list[ReportFinished]
    definitions_changed: list[DefinitionsChanged]


def messages_from_events(extras: Iterable[Mapping[str, Any]]) -> list[QueueMessage]:
    """The SQS messages in the asset events an AssetWatcher made of its trigger's events
    (``extra = {"from_trigger": True, "payload": {"status", "message_batch": [...]}}``), each once."""
    seen: dict[str, QueueMessage] = {}
    for extra in extras:
        payload = extra.get("payload")
        batch = payload.get("message_batch") if isinstance(payload, Mapping) else None
        for message in batch or ():
            if not isinstance(message, Mapping):
                continue
            message_id, handle, body = (
                message.get("MessageId"),
                message.get("ReceiptHandle"),
                message.get("Body"),
            )
            if isinstance(message_id, str) and isinstance(handle, str) and isinstance(body, str):
                seen[message_id] = QueueMessage(message_id=message_id, receipt_handle=handle, body=body)
    return list(seen.values())


def take_in(engine: Engine, messages: Iterable[QueueMessage], run_id: str | None) -> Intake:
    """Record a batch of messages, each in a transaction of its own (one bad message spoils nothing)."""
    from spapi.models.notifications import UnreadableNotification, parse_notification

    intake = Intake(outcomes=[], done=[], feeds_finished=[], reports_finished=[], definitions_changed=[])
    for message in messages:
        try:
            notification = parse_notification(message["body"])
        except UnreadableNotification as err:
            _reject(engine, message["message_id"], str(err))
            log.warning("notification message %s rejected: %s", message["message_id"], err)
            intake["outcomes"].append(
                MessageOutcome(
                    message_id=message["message_id"],
                    notification_id=None,
                    notification_type=None,
                    outcome="rejected",
                )
            )
            continue
        with session_scope(engine) as session:
            outcome = _record(session, notification, run_id)
        intake["outcomes"].append(
            MessageOutcome(
                message_id=message["message_id"],
                notification_id=notification.notification_id,
                notification_type=notification.notification_type,
                outcome=outcome,
            )
        )
        intake["done"].append(message["receipt_handle"])
        if outcome == "duplicate":
            continue
        _follow_up(intake, notification)
    counts: dict[str, int] = {}
    for item in intake["outcomes"]:
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
    log.info("notifications taken in: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
    return intake


def _follow_up(intake: Intake, notification: Notification) -> None:
    from spapi.models.notifications import (
        FeedProcessingFinishedNotification,
        ProductTypeDefinitionsChangeNotification,
        ReportProcessingFinishedNotification,
    )

    if isinstance(notification, FeedProcessingFinishedNotification):
        finished = notification.payload.feed_processing_finished_notification
        intake["feeds_finished"].append(
            FeedFinished(
                seller_id=finished.seller_id,
                feed_id=finished.feed_id,
                processing_status=finished.processing_status,
                result_feed_document_id=finished.result_feed_document_id,
            )
        )
    elif isinstance(notification, ReportProcessingFinishedNotification):
        report = notification.payload.report_processing_finished_notification
        intake["reports_finished"].append(
            ReportFinished(
                seller_id=report.seller_id,
                report_id=report.report_id,
                report_type=report.report_type,
                processing_status=report.processing_status,
                report_document_id=report.report_document_id,
            )
        )
    elif isinstance(notification, ProductTypeDefinitionsChangeNotification):
        changed = notification.payload
        intake["definitions_changed"].append(
            DefinitionsChanged(
                seller_id=changed.account_id,
                marketplace_id=changed.marketplace_id,
                product_type_version=changed.product_type_version,
                new_product_types=list(changed.new_product_types or []),
            )
        )


def _reject(engine: Engine, message_id: str, reason: str) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        inserted = session.scalar(
            insert_ignoring_conflicts(session, NotificationReject, ["message_id"])
            .values(message_id=message_id, reason=reason, receives=1, first_seen_at=now, last_seen_at=now)
            .returning(NotificationReject.message_id)
        )
        if inserted is None:
            session.execute(
                update(NotificationReject)
                .where(NotificationReject.message_id == message_id)
                .values(receives=NotificationReject.receives + 1, last_seen_at=now, reason=reason)
            )


def _listing_of(notification: Notification) -> tuple[str | None, str | None, str | None]:
    """(seller, marketplace, SKU) the notification is about, as far as it says."""
    from spapi.models.notifications import (
        FeedProcessingFinishedNotification,
        ListingsItemIssuesChangeNotification,
        ListingsItemStatusChangeNotification,
        ReportProcessingFinishedNotification,
    )

    if isinstance(notification, ListingsItemStatusChangeNotification | ListingsItemIssuesChangeNotification):
        return notification.payload.seller_id, notification.payload.marketplace_id, notification.payload.sku
    if isinstance(notification, FeedProcessingFinishedNotification):
        return notification.payload.feed_processing_finished_notification.seller_id, None, None
    if isinstance(notification, ReportProcessingFinishedNotification):
        return notification.payload.report_processing_finished_notification.seller_id, None, None
    return notification.payload.account_id, notification.payload.marketplace_id, None


def _record(session: Session, notification: Notification, run_id: str | None) -> Outcome:
    """Claim the notification's id (a duplicate stops here), then apply it and say how it went."""
    from spapi.models.notifications import (
        FeedProcessingFinishedNotification,
        ListingsItemIssuesChangeNotification,
        ListingsItemStatusChangeNotification,
        ReportProcessingFinishedNotification,
    )

    seller_id, marketplace_id, sku = _listing_of(notification)
    feed_id = (
        notification.payload.feed_processing_finished_notification.feed_id
        if isinstance(notification, FeedProcessingFinishedNotification)
        else None
    )
    report_id = (
        notification.payload.report_processing_finished_notification.report_id
        if isinstance(notification, ReportProcessingFinishedNotification)
        else None
    )
    claimed = session.scalar(
        insert_ignoring_conflicts(session, AmazonNotification, ["notification_id"])
        .values(
            notification_id=notification.notification_id,
            notification_type=notification.notification_type,
            seller_id=seller_id,
            marketplace_id=marketplace_id,
            sku=sku,
            feed_id=feed_id,
            report_id=report_id,
            event_time=notification.event_time,
            received_at=datetime.now(UTC),
            outcome="applied",
            body=notification.model_dump(mode="json", by_alias=True),
            run_id=run_id,
        )
        .returning(AmazonNotification.notification_id)
    )
    if claimed is None:
        return "duplicate"
    outcome: Outcome = "applied"
    if isinstance(notification, ListingsItemStatusChangeNotification | ListingsItemIssuesChangeNotification):
        outcome = _apply_to_listings(session, notification, run_id)
    if outcome != "applied":
        session.execute(
            update(AmazonNotification)
            .where(AmazonNotification.notification_id == notification.notification_id)
            .values(outcome=outcome)
        )
    return outcome


def _apply_to_listings(
    session: Session,
    notification: ListingsItemStatusChangeNotification | ListingsItemIssuesChangeNotification,
    run_id: str | None,
) -> Outcome:
    from spapi.models.notifications import ListingsItemStatusChangeNotification

    p = notification.payload
    markets = (
        [p.marketplace_id]
        if p.marketplace_id
        else list(
            session.scalars(
                select(Listing.marketplace_id).where(Listing.seller_id == p.seller_id, Listing.sku == p.sku)
            )
        )
    )
    applied = stale = 0
    for marketplace_id in markets:
        newer = session.scalar(
            select(func.count())
            .select_from(AmazonNotification)
            .where(
                AmazonNotification.seller_id == p.seller_id,
                AmazonNotification.marketplace_id == marketplace_id,
                AmazonNotification.sku == p.sku,
                AmazonNotification.notification_type == notification.notification_type,
                AmazonNotification.outcome == "applied",
                AmazonNotification.event_time > notification.event_time,
            )
        )
        if newer:
            stale += 1
            continue
        if isinstance(notification, ListingsItemStatusChangeNotification):
            applied += _apply_status(session, notification, marketplace_id, run_id)
        else:
            applied += _apply_issues(session, notification, marketplace_id, run_id)
    if applied:
        return "applied"
    return "stale" if stale else "not_ours"


def _apply_status(
    session: Session,
    notification: ListingsItemStatusChangeNotification,
    marketplace_id: str,
    run_id: str | None,
) -> int:
    from listings_pipeline.to_amazon.amazon_view import Reading, record

    p = notification.payload
    status = set(p.status)
    reading = Reading(
        p.seller_id,
        marketplace_id,
        p.sku,
        notification.event_time,
        found="DELETED" not in status,
        buyable="BUYABLE" in status and "DELETED" not in status,
        discoverable="DISCOVERABLE" in status and "DELETED" not in status,
        asin=p.asin,
    )
    return record(session, [reading], run_id, cause=f"amazon:{STATUS}", with_issues=False).read


def _apply_issues(
    session: Session,
    notification: ListingsItemIssuesChangeNotification,
    marketplace_id: str,
    run_id: str | None,
) -> int:
    p = notification.payload
    listing = session.scalar(
        select(Listing).where(
            Listing.seller_id == p.seller_id, Listing.marketplace_id == marketplace_id, Listing.sku == p.sku
        )
    )
    if listing is None:
        return 0
    severities = [s for s in p.severities if s in ("ERROR", "WARNING")]
    actions = ", ".join(p.enforcement_actions or ()) or "none"
    if not severities:  # NONE: no issue affects the listing any more; the current batch ends
        listing.amazon_checked_at = max(
            listing.amazon_checked_at or notification.event_time, notification.event_time
        )
        return 1
    for severity in severities:
        session.add(
            ListingIssue(
                source=IssueSource.NOTIFICATION.value,
                seller_id=p.seller_id,
                marketplace_id=marketplace_id,
                sku=p.sku,
                severity=severity,
                message=f"Amazon reports {severity} issue(s) on this listing (enforcement actions: {actions}).",
                attribute_names=[],
                categories=list(p.enforcement_actions or ()),
                observed_at=notification.event_time,
                run_id=run_id,
            )
        )
    return 1


def acknowledge(aws_conn_id: str, queue_url: str, receipt_handles: list[str]) -> int:
    """Delete the handled messages from the queue (in batches of 10, SQS's limit); returns how many
    SQS confirmed. A handle that expired (the message came back meanwhile) is not deleted: its next
    delivery is a duplicate and is acknowledged then."""
    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    client = SqsHook(aws_conn_id=aws_conn_id).get_conn()
    deleted = 0
    for start in range(0, len(receipt_handles), 10):
        chunk = receipt_handles[start : start + 10]
        answer = client.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
        )
        deleted += len(answer.get("Successful", []))
        for failed in answer.get("Failed", []):
            log.warning("SQS did not delete a handled message: %s", failed.get("Code"))
    return deleted


class IntakeSummary(TypedDict):
    """What a run did, for XCom and the log: counts by outcome, and what later steps follow up."""

    counts: dict[str, int]
    acknowledged: int
    feeds_finished: list[FeedFinished]
    reports_finished: list[ReportFinished]
    definitions_changed: list[DefinitionsChanged]


def run(extras: Iterable[Mapping[str, Any]], run_id: str, config_path: str | None = None) -> IntakeSummary:
    """The DAG task: the messages of the run's asset events into the warehouse, then off the queue."""
    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import make_engine, warehouse_url

    config = load_config(config_path)
    if config.notifications is None:
        raise ValueError("the pipeline config has no notifications section: no queue to read")
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        intake = take_in(engine, messages_from_events(extras), run_id)
    finally:
        engine.dispose()
    acknowledged = (
        acknowledge(config.notifications.aws_conn_id, config.notifications.queue_url, intake["done"])
        if intake["done"]
        else 0
    )
    counts: dict[str, int] = {}
    for item in intake["outcomes"]:
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
    return IntakeSummary(
        counts=counts,
        acknowledged=acknowledged,
        feeds_finished=intake["feeds_finished"],
        reports_finished=intake["reports_finished"],
        definitions_changed=intake["definitions_changed"],
    )
