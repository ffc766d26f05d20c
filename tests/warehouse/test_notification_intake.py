"""Amazon's notifications into the warehouse (``from_amazon.notifications``) on SQLite and PostgreSQL:
a status change moves the listing through the lifecycle (live, back to accepted when suppressed or
deleted), issues are recorded and cleared, a second delivery and an older notification change
nothing, an unknown listing is not ours, and a poison message is counted and stays on the queue."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.from_amazon.notifications import QueueMessage, messages_from_events, take_in
from listings_pipeline.warehouse import db, lifecycle

from .conftest import SELLER, US

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pascal(
    kind: str, payload: dict[str, Any], at: datetime, notification_id: str | None = None
) -> dict[str, Any]:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": kind,
        "PayloadVersion": "1.0",
        "EventTime": iso(at),
        "Payload": payload,
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.test",
            "SubscriptionId": "sub-1",
            "PublishTime": iso(at),
            "NotificationId": notification_id or str(uuid.uuid4()),
        },
    }


def status(sku: str, states: list[str], at: datetime, notification_id: str | None = None) -> dict[str, Any]:
    payload = {"SellerId": SELLER, "MarketplaceId": US, "Sku": sku, "Asin": "B0TEST0001", "Status": states}
    return pascal("LISTINGS_ITEM_STATUS_CHANGE", payload, at, notification_id)


def issues(sku: str, severities: list[str], at: datetime, actions: list[str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"SellerId": SELLER, "MarketplaceId": US, "Sku": sku, "Severities": severities}
    if actions:
        payload["EnforcementActions"] = actions
    return pascal("LISTINGS_ITEM_ISSUES_CHANGE", payload, at)


def message(body: dict[str, Any] | str) -> QueueMessage:
    text = body if isinstance(body, str) else json.dumps(body)
    return QueueMessage(message_id=str(uuid.uuid4()), receipt_handle=f"handle-{uuid.uuid4()}", body=text)


def accepted(engine: Engine, sku: str) -> None:
    with db.session_scope(engine) as s:
        for to in ("ready", "submitted", "accepted"):
            lifecycle.transition(
                s, SELLER, US, sku, to, "setup", payload_hash="1" * 64, at=T0 - timedelta(hours=1)
            )


def view(engine: Engine, sku: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM v_listing_status WHERE sku = :sku"), {"sku": sku}).one()


def events(engine: Engine, sku: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.to_status, r.cause)
            for r in conn.execute(
                sa.text(
                    "SELECT e.to_status, e.cause FROM listing_events e JOIN listings l ON l.id = e.listing_id "
                    "WHERE l.sku = :sku ORDER BY e.id"
                ),
                {"sku": sku},
            )
        ]


@pytest.fixture
def engine(warehouse_engine: Engine) -> Engine:
    return warehouse_engine


def test_status_moves_the_listing_once_and_in_amazons_order(engine: Engine) -> None:
    accepted(engine, "BAG-1")
    live = message(status("BAG-1", ["BUYABLE", "DISCOVERABLE"], T0, notification_id="n-live"))
    intake = take_in(engine, [live], "run-1")
    assert [o["outcome"] for o in intake["outcomes"]] == ["applied"]
    assert intake["done"] == [live["receipt_handle"]]
    row = view(engine, "BAG-1")
    assert (row.status, row.buyable, row.discoverable, row.asin) == ("live", 1, 1, "B0TEST0001")
    assert events(engine, "BAG-1")[-1] == ("live", "amazon:LISTINGS_ITEM_STATUS_CHANGE")

    again = message(status("BAG-1", ["BUYABLE", "DISCOVERABLE"], T0, notification_id="n-live"))  # redelivered
    older = message(status("BAG-1", [], T0 - timedelta(minutes=5)))  # arrives late
    intake = take_in(engine, [again, older], "run-2")
    assert [o["outcome"] for o in intake["outcomes"]] == ["duplicate", "stale"]
    assert len(intake["done"]) == 2
    assert view(engine, "BAG-1").status == "live" and len(events(engine, "BAG-1")) == 4

    suppressed = message(status("BAG-1", [], T0 + timedelta(minutes=5)))
    take_in(engine, [suppressed], "run-3")
    row = view(engine, "BAG-1")
    assert (row.status, row.buyable, row.discoverable) == ("accepted", 0, 0)

    take_in(engine, [message(status("BAG-1", ["DISCOVERABLE"], T0 + timedelta(minutes=6)))], "run-4")
    assert (view(engine, "BAG-1").status, view(engine, "BAG-1").discoverable) == ("live", 1)
    take_in(engine, [message(status("BAG-1", ["DELETED"], T0 + timedelta(minutes=7)))], "run-5")
    assert view(engine, "BAG-1").status == "accepted"
    with engine.connect() as conn:
        recorded = conn.execute(
            sa.text(
                "SELECT outcome, COUNT(*) AS n FROM amazon_notifications GROUP BY outcome ORDER BY outcome"
            )
        ).all()
    assert [(r.outcome, r.n) for r in recorded] == [("applied", 4), ("stale", 1)]


def test_issues_are_recorded_and_cleared(engine: Engine) -> None:
    accepted(engine, "BAG-2")
    take_in(
        engine,
        [message(issues("BAG-2", ["ERROR", "WARNING"], T0, ["LISTING_SUPPRESSED", "SEARCH_SUPPRESSED"]))],
        "run-1",
    )
    row = view(engine, "BAG-2")
    assert (row.issue_count, row.error_count, row.warning_count) == (2, 1, 1)
    with engine.connect() as conn:
        sources = conn.execute(sa.text("SELECT DISTINCT source, categories FROM listing_issues")).all()
    assert [s.source for s in sources] == ["notification"]
    take_in(engine, [message(issues("BAG-2", ["NONE"], T0 + timedelta(minutes=1)))], "run-2")
    assert view(engine, "BAG-2").issue_count == 0


def test_unknown_listings_poison_and_the_other_types(engine: Engine) -> None:
    unknown = message(status("NOT-OURS", ["BUYABLE"], T0))
    poison = message("{not json")
    missing = message(pascal("LISTINGS_ITEM_STATUS_CHANGE", {"SellerId": SELLER}, T0))
    feed = message(
        {
            "notificationVersion": "2020-09-04",
            "notificationType": "FEED_PROCESSING_FINISHED",
            "payloadVersion": "2020-09-04",
            "eventTime": iso(T0),
            "payload": {
                "feedProcessingFinishedNotification": {
                    "sellerId": SELLER,
                    "accountId": f"amzn1.merchant.o.{SELLER}",
                    "feedId": "50001",
                    "feedType": "JSON_LISTINGS_FEED",
                    "processingStatus": "DONE",
                    "resultFeedDocumentId": "doc-1",
                }
            },
            "notificationMetadata": {
                "applicationId": "amzn1.sellerapps.app.test",
                "subscriptionId": "sub-2",
                "publishTime": iso(T0),
                "notificationId": "n-feed",
            },
        }
    )
    definitions = message(
        pascal(
            "PRODUCT_TYPE_DEFINITIONS_CHANGE",
            {
                "AccountId": SELLER,
                "MarketplaceId": US,
                "ProductTypeVersion": "V2",
                "NewProductTypes": ["LUGGAGE"],
            },
            T0,
        )
    )
    intake = take_in(engine, [unknown, poison, missing, feed, definitions], "run-1")
    assert [o["outcome"] for o in intake["outcomes"]] == [
        "not_ours",
        "rejected",
        "rejected",
        "applied",
        "applied",
    ]
    assert poison["receipt_handle"] not in intake["done"] and missing["receipt_handle"] not in intake["done"]
    assert intake["feeds_finished"] == [
        {
            "seller_id": SELLER,
            "feed_id": "50001",
            "processing_status": "DONE",
            "result_feed_document_id": "doc-1",
        }
    ]
    assert intake["definitions_changed"] == [
        {
            "seller_id": SELLER,
            "marketplace_id": US,
            "product_type_version": "V2",
            "new_product_types": ["LUGGAGE"],
        }
    ]
    take_in(engine, [poison], "run-2")  # SQS delivers it again
    with engine.connect() as conn:
        rejects = {
            r.message_id: r.receives for r in conn.execute(sa.text("SELECT * FROM notification_rejects"))
        }
        reason = conn.execute(
            sa.text("SELECT reason FROM notification_rejects WHERE message_id = :m"),
            {"m": missing["message_id"]},
        ).scalar_one()
    assert rejects == {poison["message_id"]: 2, missing["message_id"]: 1}
    assert "Payload.Sku" in reason and "Payload.Status" in reason


def report_finished(report_id: str, status: str, at: datetime, document_id: str | None) -> dict[str, Any]:
    finished: dict[str, Any] = {
        "sellerId": SELLER,
        "accountId": f"amzn1.merchant.o.{SELLER}",
        "reportId": report_id,
        "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
        "processingStatus": status,
    }
    if document_id:
        finished["reportDocumentId"] = document_id
    return {
        "notificationVersion": "2020-09-04",
        "notificationType": "REPORT_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": iso(at),
        "payload": {"reportProcessingFinishedNotification": finished},
        "notificationMetadata": {
            "applicationId": "amzn1.sellerapps.app.test",
            "subscriptionId": "sub-3",
            "publishTime": iso(at),
            "notificationId": f"n-report-{report_id}",
        },
    }


def test_a_report_finished_is_recorded_once_by_its_report_id(engine: Engine) -> None:
    done = report_finished("60001", "DONE", T0, "amzn1.spdoc.1.4.na.doc")
    cancelled = report_finished("60002", "CANCELLED", T0, None)
    first = take_in(engine, [message(done), message(cancelled)], "run-1")
    assert [o["outcome"] for o in first["outcomes"]] == ["applied", "applied"]
    assert first["reports_finished"] == [
        {
            "seller_id": SELLER,
            "report_id": "60001",
            "report_type": "GET_MERCHANT_LISTINGS_ALL_DATA",
            "processing_status": "DONE",
            "report_document_id": "amzn1.spdoc.1.4.na.doc",
        },
        {
            "seller_id": SELLER,
            "report_id": "60002",
            "report_type": "GET_MERCHANT_LISTINGS_ALL_DATA",
            "processing_status": "CANCELLED",
            "report_document_id": None,
        },
    ]
    again = message(done)  # SQS delivers it a second time, under another message id
    second = take_in(engine, [again], "run-2")
    assert [o["outcome"] for o in second["outcomes"]] == ["duplicate"]
    assert second["done"] == [again["receipt_handle"]] and second["reports_finished"] == []
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT notification_id, notification_type, seller_id, report_id, feed_id, run_id "
                "FROM amazon_notifications ORDER BY notification_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("n-report-60001", "REPORT_PROCESSING_FINISHED", SELLER, "60001", None, "run-1"),
        ("n-report-60002", "REPORT_PROCESSING_FINISHED", SELLER, "60002", None, "run-1"),
    ]


def test_messages_from_asset_events() -> None:
    batch = [
        {"MessageId": "m1", "ReceiptHandle": "h1", "Body": "{}", "MD5OfBody": "x"},
        {"MessageId": "m2", "ReceiptHandle": "h2", "Body": "[]"},
    ]
    extras = [
        {"from_trigger": True, "payload": {"status": "success", "message_batch": batch}},
        {"from_trigger": True, "payload": {"status": "success", "message_batch": batch[:1]}},  # seen twice
        {"note": "an event of another kind"},
    ]
    assert messages_from_events(extras) == [
        {"message_id": "m1", "receipt_handle": "h1", "body": "{}"},
        {"message_id": "m2", "receipt_handle": "h2", "body": "[]"},
    ]
