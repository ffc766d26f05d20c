"""The waits' shortcut: a FEED_PROCESSING_FINISHED or REPORT_PROCESSING_FINISHED notification taken
in is what ``processing_signals.processing_finished`` finds for that kind and id (SQLite warehouse,
the deployed config's connection)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from listings_pipeline.from_amazon.notifications import QueueMessage, take_in
from listings_pipeline.from_amazon.processing_signals import WAKE_CHECK, processing_finished, wake_check_for
from listings_pipeline.warehouse import db


def finished(feed_id: str) -> QueueMessage:
    return camel(
        "FEED_PROCESSING_FINISHED",
        "feedProcessingFinishedNotification",
        {"feedId": feed_id, "feedType": "JSON_LISTINGS_FEED"},
    )


def report_finished(report_id: str) -> QueueMessage:
    return camel(
        "REPORT_PROCESSING_FINISHED",
        "reportProcessingFinishedNotification",
        {"reportId": report_id, "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA"},
    )


def camel(kind: str, key: str, ids: dict[str, str]) -> QueueMessage:
    body = {
        "notificationVersion": "2020-09-04",
        "notificationType": kind,
        "payloadVersion": "2020-09-04",
        "eventTime": "2026-12-01T12:00:00.000Z",
        "payload": {
            key: {
                "sellerId": "A1SELLER",
                "accountId": "amzn1.merchant.o.A1SELLER",
                **ids,
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
    assert not processing_finished("feed", "70001")
    assert not processing_finished("report", "60001")
    engine = db.make_engine(url)
    take_in(engine, [finished("70001"), report_finished("60001")], "run-1")
    engine.dispose()
    assert processing_finished("feed", "70001")
    assert not processing_finished("feed", "70002")
    assert not processing_finished("report", "70001")  # a report's wait is not a feed's
    assert processing_finished("report", "60001")
    assert not processing_finished("report", "60002")
    assert not processing_finished("feed", "60001")  # nor a feed's a report's
    assert not processing_finished("listing", "60001")


def test_the_check_is_given_only_with_a_notifications_queue() -> None:
    from listings_pipeline.config import NotificationsConfig, PipelineConfig

    queue = NotificationsConfig(
        queue_arn="arn:aws:sqs:us-east-1:000000000000:n", queue_url="http://127.0.0.1:1/000000000000/n"
    )
    seller = {"seller_id": "A1SELLER", "spapi_conn_id": "spapi_na", "marketplaces": ["ATVPDKIKX0DER"]}
    plain = PipelineConfig.model_validate({"sellers": [{**seller, "catalog": "catalog.csv"}]})
    assert wake_check_for(plain) is None
    assert wake_check_for(plain.model_copy(update={"notifications": queue})) == WAKE_CHECK


def test_both_report_waits_are_given_the_check() -> None:
    """listings_reconcile's and seller_performance's mapped report tasks carry the check (or None)."""
    from datetime import date

    from listings_pipeline.branch import Branch
    from listings_pipeline.from_amazon import listings_report, performance_reports

    branch: Branch = {
        "seller_id": "A1SELLER",
        "marketplace_id": "ATVPDKIKX0DER",
        "spapi_conn_id": "spapi_na",
        "region": "na",
    }
    listings = listings_report.report_kwargs([branch], 1.0, wake_check=WAKE_CHECK)
    performance = performance_reports.report_kwargs([branch], date(2026, 12, 1), 1.0, wake_check=WAKE_CHECK)
    assert [k["wake_check"] for k in [*listings, *performance]] == [WAKE_CHECK] * 3
    assert listings_report.report_kwargs([branch], 1.0)[0]["wake_check"] is None
    assert {k["wake_check"] for k in performance_reports.report_kwargs([branch], date(2026, 12, 1), 1.0)} == {
        None
    }
    # what the mapped task receives reaches the operator, and from it the trigger
    operator = listings_report.ListingsReportOperator(task_id="r", **listings[0])
    assert operator.wake_check == WAKE_CHECK
