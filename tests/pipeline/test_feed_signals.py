"""The feed wait's shortcut: a FEED_PROCESSING_FINISHED notification taken in is what
``feed_signals.feed_finished`` finds (SQLite warehouse, the deployed config's connection)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from listings_pipeline.from_amazon.feed_signals import feed_finished
from listings_pipeline.from_amazon.notifications import QueueMessage, take_in
from listings_pipeline.warehouse import db


def finished(feed_id: str) -> QueueMessage:
    body = {
        "notificationVersion": "2020-09-04",
        "notificationType": "FEED_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": "2026-12-01T12:00:00.000Z",
        "payload": {
            "feedProcessingFinishedNotification": {
                "sellerId": "A1SELLER",
                "accountId": "amzn1.merchant.o.A1SELLER",
                "feedId": feed_id,
                "feedType": "JSON_LISTINGS_FEED",
                "processingStatus": "DONE",
            }
        },
        "notificationMetadata": {
            "applicationId": "amzn1.sellerapps.app.test",
            "subscriptionId": "s",
            "publishTime": "2026-12-01T12:00:00.000Z",
            "notificationId": str(uuid.uuid4()),
        },
    }
    return QueueMessage(message_id=str(uuid.uuid4()), receipt_handle="h", body=json.dumps(body))


def test_a_recorded_notification_ends_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = db.sqlite_url(tmp_path / "warehouse.db")
    db.upgrade(url)
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
    from listings_pipeline.warehouse.db import warehouse_url

    assert warehouse_url() == url, warehouse_url()
    assert not feed_finished("feed", "70001")
    engine = db.make_engine(url)
    take_in(engine, [finished("70001")], "run-1")
    engine.dispose()
    assert feed_finished("feed", "70001")
    assert not feed_finished("feed", "70002")
    assert not feed_finished("report", "70001")  # a report's wait is not a feed's
