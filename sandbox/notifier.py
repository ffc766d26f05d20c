"""What Amazon tells subscribers, and when: notifications built in Amazon's shapes, sent to SQS.

Amazon pushes a notification to a subscription's destination (here an SQS queue) when something
happens on its side. The sandbox finds those moments by looking at its own state on every pass,
so no route or processor has to remember to announce anything:

- ``FEED_PROCESSING_FINISHED`` when a feed ends ``DONE``, ``FATAL`` or ``CANCELLED``
  (``schemas/notifications/FeedProcessingFinishedNotification.json``: camelCase, payload version
  ``2020-09-04`` inside the notification whatever the subscription's);
- ``REPORT_PROCESSING_FINISHED`` when a report ends the same three ways
  (``ReportProcessingFinishedNotification.json``, spelled like the feed's). This one is not found
  by a pass but told: the report processor calls :meth:`Notifier.report_finished` from
  ``ReportProcessor.move``, the one place a report changes state, so a cancellation through
  cancelReport is announced as surely as a report the processor ended;
- ``LISTINGS_ITEM_STATUS_CHANGE`` when a listing's summary status (``BUYABLE``, ``DISCOVERABLE``,
  as getListingsItem computes it) changes, ``DELETED`` when it goes away
  (``ListingsItemStatusChangeNotification.json``);
- ``LISTINGS_ITEM_ISSUES_CHANGE`` when the severities of its issues or the enforcement actions in
  force change (``ListingsItemIssuesChangeNotification.json``; payload version 1.0 names only
  ``SEARCH_SUPPRESSED``, 2023-12-13 every action);
- ``PRODUCT_TYPE_DEFINITIONS_CHANGE`` when an operator says new definitions were released
  (:meth:`Notifier.product_types_changed`, ``POST /_sandbox/notifications/product-type-change``).

A listing's last announced state is kept per seller, SKU and marketplace, so a pass that sees the
same row twice (passes overlap by :data:`OVERLAP` seconds, to miss no write that committed late)
announces nothing twice, and a listing that existed before its seller subscribed is not announced
until it changes (the subscription records the baseline). Notifications wait in an outbox until SQS
took them: a queue that is down delays delivery, it loses nothing.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .core import Sandbox
from .jobs import Periodic
from .listings import _enforced, _status
from .store import Store

if TYPE_CHECKING:
    from .reports import ReportMoved

log = logging.getLogger("sandbox.notifier")

FEED = "FEED_PROCESSING_FINISHED"
REPORT = "REPORT_PROCESSING_FINISHED"
STATUS = "LISTINGS_ITEM_STATUS_CHANGE"
ISSUES = "LISTINGS_ITEM_ISSUES_CHANGE"
PRODUCT_TYPES = "PRODUCT_TYPE_DEFINITIONS_CHANGE"
#: notification type -> the payload versions a subscription may ask for, the latest last
PAYLOAD_VERSIONS: dict[str, tuple[str, ...]] = {
    FEED: ("1.0",),
    REPORT: ("1.0",),
    STATUS: ("1.0",),
    ISSUES: ("1.0", "2023-12-13"),
    PRODUCT_TYPES: ("1.0",),
}
FEED_DONE = ("DONE", "FATAL", "CANCELLED")
REPORT_DONE = FEED_DONE
#: the camelCase notifications (version 2020-09-04) and the key their payload sits under
CAMEL_PAYLOADS = {
    FEED: "feedProcessingFinishedNotification",
    REPORT: "reportProcessingFinishedNotification",
}
OVERLAP = 5.0  # seconds a pass looks back before the previous one's start
DELIVERY_BATCH = 100
V1_ACTIONS = {"SEARCH_SUPPRESSED"}  # the 1.0 issues schema's EnforcementActions enum


def iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def application_id(client_id: str) -> str:
    """Amazon's ``amzn1.sellerapps.app.<uuid>`` for an LWA client, stable across restarts."""
    return f"amzn1.sellerapps.app.{uuid.uuid5(uuid.NAMESPACE_URL, 'spapi-sandbox:' + client_id)}"


def queue_of(arn: str) -> tuple[str, str, str]:
    """``arn:aws:sqs:<region>:<account>:<name>`` -> (region, account, name)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not all(parts[3:]):
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return parts[3], parts[4], parts[5]


class Sqs:
    """Sends to queues named by ARN at the configured endpoint (boto3, imported on first use)."""

    def __init__(self, endpoint_url: str | None) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._urls: dict[str, str] = {}

    def _client(self, region: str) -> Any:
        if self.endpoint_url is None:
            raise RuntimeError("no SQS endpoint configured (sqs_endpoint_url)")
        client = self._clients.get(region)
        if client is None:
            import boto3

            client = self._clients[region] = boto3.client(
                "sqs",
                endpoint_url=self.endpoint_url,
                region_name=region,
                aws_access_key_id="sandbox",
                aws_secret_access_key="sandbox",
            )
        return client

    def queue_url(self, arn: str) -> str:
        """The queue's URL; raises when the queue does not exist (or SQS cannot be reached)."""
        url = self._urls.get(arn)
        if url is None:
            region, account, name = queue_of(arn)
            answer = self._client(region).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
            url = self._urls[arn] = str(answer["QueueUrl"])
        return url

    def send(self, arn: str, body: str) -> None:
        region, _, _ = queue_of(arn)
        self._client(region).send_message(QueueUrl=self.queue_url(arn), MessageBody=body)


def _listing_view(row: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(status, severities, enforcement actions) of a stored listing, as Amazon would announce them."""
    attributes = json.loads(row["attributes"])
    issues = json.loads(row["issues"])
    status = _status(attributes, row["marketplace_id"], issues)
    severities = sorted({str(i.get("severity")) for i in issues if i.get("severity") in ("ERROR", "WARNING")})
    return status, severities or ["NONE"], sorted(_enforced(issues))


class Notifier(Periodic):
    """Finds what changed since the last pass, queues notifications, delivers them to SQS."""

    task_name = "sandbox-notifier"
    failure = "notifier pass failed"
    log = log

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.sqs = Sqs(sandbox.settings.sqs_endpoint_url)

    @property
    def store(self) -> Store:
        return self.sandbox.store

    # -- subscriptions ------------------------------------------------------------------------

    def subscriptions(self, seller_id: str | None, notification_type: str) -> list[dict[str, Any]]:
        sql = (
            "SELECT s.*, d.arn FROM notification_subscriptions s JOIN notification_destinations d "
            "ON d.destination_id = s.destination_id WHERE s.notification_type=?"
        )
        params: tuple[Any, ...] = (notification_type,)
        if seller_id is not None:
            sql += " AND s.seller_id=?"
            params += (seller_id,)
        return self.store.all(sql + " ORDER BY s.created", params)

    def baseline(self, seller_id: str) -> None:
        """Record the seller's listings as already announced: a new subscriber hears of changes only."""
        rows = self.store.all("SELECT * FROM listings WHERE seller_id=?", (seller_id,))
        with self.store.transaction() as db:
            for row in rows:
                status, severities, actions = _listing_view(row)
                db.execute(
                    "INSERT OR IGNORE INTO notification_listing_state VALUES (?,?,?,?,?,?,?)",
                    (
                        seller_id,
                        row["sku"],
                        row["marketplace_id"],
                        json.dumps(status),
                        json.dumps(severities),
                        json.dumps(actions),
                        row["updated"],
                    ),
                )

    # -- the outbox ---------------------------------------------------------------------------

    def _enqueue(
        self,
        subscription: Mapping[str, Any],
        event_key: str,
        event_time: float,
        payload: Mapping[str, Any],
        now: float,
    ) -> bool:
        """Queue one notification for one subscription; False when ``event_key`` was queued before."""
        notification_id = str(uuid.uuid4())
        kind = subscription["notification_type"]
        metadata = {
            "ApplicationId": application_id(subscription["client_id"]),
            "SubscriptionId": subscription["subscription_id"],
            "PublishTime": iso_ms(now),
            "NotificationId": notification_id,
        }
        if kind in CAMEL_PAYLOADS:
            body: dict[str, Any] = {
                "notificationVersion": "2020-09-04",
                "notificationType": kind,
                "payloadVersion": "2020-09-04",
                "eventTime": iso_ms(event_time),
                "payload": {CAMEL_PAYLOADS[kind]: dict(payload)},
                "notificationMetadata": {k[0].lower() + k[1:]: v for k, v in metadata.items()},
            }
        else:
            body = {
                "NotificationVersion": "1.0",
                "NotificationType": kind,
                "PayloadVersion": subscription["payload_version"],
                "EventTime": iso_ms(event_time),
                "Payload": dict(payload),
                "NotificationMetadata": metadata,
            }
        cursor = self.store.execute(
            "INSERT OR IGNORE INTO notification_outbox(event_key, notification_id, notification_type, "
            "seller_id, arn, body, created) VALUES (?,?,?,?,?,?,?)",
            (
                f"{event_key}|{subscription['subscription_id']}",
                notification_id,
                kind,
                subscription["seller_id"],
                subscription["arn"],
                json.dumps(body),
                now,
            ),
        )
        return cursor.rowcount == 1

    def deliver(self) -> int:
        """Send what waits in the outbox, oldest first; a failure stays queued for the next pass."""
        sent = 0
        pending = self.store.all(
            "SELECT id, arn, body FROM notification_outbox WHERE sent IS NULL ORDER BY id LIMIT ?",
            (DELIVERY_BATCH,),
        )
        for row in pending:
            try:
                self.sqs.send(row["arn"], row["body"])
            except Exception as exc:  # SQS down or the queue gone: try again next pass
                self.store.execute(
                    "UPDATE notification_outbox SET attempts=attempts+1, last_error=? WHERE id=?",
                    (type(exc).__name__, row["id"]),
                )
                continue
            self.store.execute(
                "UPDATE notification_outbox SET sent=?, attempts=attempts+1, last_error=NULL WHERE id=?",
                (time.time(), row["id"]),
            )
            sent += 1
        return sent

    # -- what happened ------------------------------------------------------------------------

    def _since(self, name: str, now: float) -> float:
        since = float(self.store.meta_get(f"notify:{name}", 0.0)) - OVERLAP
        self.store.meta_set(f"notify:{name}", now)
        return since

    def feeds_finished(self, now: float) -> int:
        queued = 0
        since = self._since("feeds", now)
        subscribed = {s["seller_id"] for s in self.subscriptions(None, FEED)}
        if not subscribed:
            return 0
        marks = ",".join("?" * len(FEED_DONE))
        for feed in self.store.all(
            f"SELECT * FROM feeds WHERE ended>=? AND status IN ({marks}) ORDER BY ended",
            (since, *FEED_DONE),
        ):
            if feed["seller_id"] not in subscribed:
                continue
            payload = {
                "sellerId": feed["seller_id"],
                "accountId": f"amzn1.merchant.o.{feed['seller_id']}",
                "feedId": feed["feed_id"],
                "feedType": feed["feed_type"],
                "processingStatus": feed["status"],
            }
            if feed["result_document_id"]:
                payload["resultFeedDocumentId"] = feed["result_document_id"]
            for subscription in self.subscriptions(feed["seller_id"], FEED):
                if feed["ended"] >= subscription["created"]:  # a new subscriber hears of new feeds only
                    queued += self._enqueue(
                        subscription, f"feed:{feed['feed_id']}", feed["ended"], payload, now
                    )
        return queued

    def report_finished(self, moved: ReportMoved) -> int:
        """A :class:`~sandbox.reports.ReportProcessor` listener: queue ``REPORT_PROCESSING_FINISHED``
        for each subscriber of the report's seller once the report ended; delivery is the next pass's.

        Subscribers from before the report ended only, as for feeds; a report ends once, and its id
        keys the outbox row, so telling this twice queues nothing twice."""
        if moved.status not in REPORT_DONE:
            return 0
        payload = {
            "sellerId": moved.seller_id,
            "accountId": f"amzn1.merchant.o.{moved.seller_id}",
            "reportId": moved.report_id,
            "reportType": moved.report_type,
            "processingStatus": moved.status,
        }
        if moved.document_id:
            payload["reportDocumentId"] = moved.document_id
        queued = 0
        for subscription in self.subscriptions(moved.seller_id, REPORT):
            if moved.at >= subscription["created"]:
                queued += self._enqueue(
                    subscription, f"report:{moved.report_id}", moved.at, payload, time.time()
                )
        return queued

    def listings_changed(self, now: float) -> int:
        since = self._since("listings", now)
        sellers = {s["seller_id"] for kind in (STATUS, ISSUES) for s in self.subscriptions(None, kind)}
        queued = 0
        for seller_id in sorted(sellers):
            # a row already looked at in this version (same ``updated``) is skipped unparsed
            for row in self.store.all(
                "SELECT l.* FROM listings l LEFT JOIN notification_listing_state s ON s.seller_id=l.seller_id "
                "AND s.sku=l.sku AND s.marketplace_id=l.marketplace_id "
                "WHERE l.seller_id=? AND l.updated>=? AND (s.updated IS NULL OR s.updated != l.updated)",
                (seller_id, since),
            ):
                queued += self._announce(row, *_listing_view(row), now=now)
            for gone in self.store.all(
                "SELECT s.* FROM notification_listing_state s LEFT JOIN listings l ON l.seller_id=s.seller_id "
                "AND l.sku=s.sku AND l.marketplace_id=s.marketplace_id "
                "WHERE s.seller_id=? AND l.sku IS NULL AND s.status != ?",
                (seller_id, json.dumps(["DELETED"])),
            ):
                queued += self._announce(gone, ["DELETED"], ["NONE"], [], now=now)
        return queued

    def _announce(
        self,
        row: Mapping[str, Any],
        status: list[str],
        severities: list[str],
        actions: list[str],
        *,
        now: float,
    ) -> int:
        key = (row["seller_id"], row["sku"], row["marketplace_id"])
        before = self.store.one(
            "SELECT * FROM notification_listing_state WHERE seller_id=? AND sku=? AND marketplace_id=?", key
        )
        old_status = json.loads(before["status"]) if before else None
        old_issues = (
            (json.loads(before["severities"]), json.loads(before["actions"])) if before else (["NONE"], [])
        )
        self.store.execute(
            "INSERT INTO notification_listing_state VALUES (?,?,?,?,?,?,?) ON CONFLICT(seller_id, sku, "
            "marketplace_id) DO UPDATE SET status=excluded.status, severities=excluded.severities, "
            "actions=excluded.actions, updated=excluded.updated",
            (*key, json.dumps(status), json.dumps(severities), json.dumps(actions), row.get("updated")),
        )
        seller_id, sku, marketplace_id = key
        listing = {"SellerId": seller_id, "MarketplaceId": marketplace_id, "Sku": sku}
        if row.get("asin"):
            listing["Asin"] = row["asin"]
        event_time = float(row["updated"]) if "updated" in row and status != ["DELETED"] else now
        queued = 0
        if status != old_status:
            payload: dict[str, Any] = {**listing, "Status": status}
            if "created" in row:
                payload["CreatedDate"] = iso_ms(float(row["created"]))
            for subscription in self.subscriptions(seller_id, STATUS):
                queued += self._enqueue(subscription, f"status:{uuid.uuid4()}", event_time, payload, now)
        if (severities, actions) != old_issues:
            for subscription in self.subscriptions(seller_id, ISSUES):
                shown = (
                    actions
                    if subscription["payload_version"] != "1.0"
                    else [a for a in actions if a in V1_ACTIONS]
                )
                payload = {**listing, "Severities": severities}
                if shown:
                    payload["EnforcementActions"] = shown
                queued += self._enqueue(subscription, f"issues:{uuid.uuid4()}", event_time, payload, now)
        return queued

    def product_types_changed(
        self,
        product_type_version: str,
        *,
        marketplace_id: str | None = None,
        new_product_types: Sequence[str] = (),
        now: float | None = None,
    ) -> int:
        """Amazon released new product type definitions: tell every subscriber (one per seller)."""
        now = time.time() if now is None else now
        queued = 0
        for subscription in self.subscriptions(None, PRODUCT_TYPES):
            payload: dict[str, Any] = {
                "AccountId": subscription["seller_id"],
                "ProductTypeVersion": product_type_version,
            }
            if marketplace_id:
                payload["MarketplaceId"] = marketplace_id
            if new_product_types:
                payload["NewProductTypes"] = list(new_product_types)
            queued += self._enqueue(subscription, f"product_types:{uuid.uuid4()}", now, payload, now)
        return queued

    # -- passes -------------------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> int:
        """One pass: queue what happened, then deliver; returns how many notifications went out."""
        now = time.time() if now is None else now
        self.feeds_finished(now)
        self.listings_changed(now)
        return self.deliver()
