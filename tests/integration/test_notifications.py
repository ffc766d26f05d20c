"""Notifications end to end against the live sandbox and a real SQS (moto's server mode): the
client's grantless and seller calls, the idempotent setup, and a listing change arriving on the
queue in a shape the client's models read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from listings_pipeline.from_amazon.notification_setup import SUBSCRIPTIONS, set_up_seller
from spapi import listings, notifications, reports
from spapi.errors import InvalidRequestError
from spapi.models.notifications import (
    ListingsItemStatusChangeNotification,
    ReportProcessingFinishedNotification,
    parse_notification,
)
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client
from tests.fixtures.sqs import LocalSqs
from tests.sandbox.conftest import luggage_attributes

pytestmark = pytest.mark.integration

OTHER_SELLER = "A2SANDBOXNA0002"
OTHER_TOKEN = "Atzr|sandbox-na-0002"


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox], local_sqs: LocalSqs) -> Sandbox:
    return start_sandbox(sqs_endpoint_url=local_sqs.endpoint_url)


def messages(local_sqs: LocalSqs, url: str, want: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    sqs = local_sqs.client()
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def test_setup_is_idempotent_and_shares_the_destination(sandbox: Sandbox, local_sqs: LocalSqs) -> None:
    _, arn = local_sqs.new_queue()
    with new_client(sandbox) as client:
        first = set_up_seller(client, SELLER, "spapi-listings", arn)
        again = set_up_seller(client, SELLER, "spapi-listings", arn)
        assert first["destination_created"] and not again["destination_created"]
        assert [s["action"] for s in first["subscriptions"]] == ["created"] * len(SUBSCRIPTIONS)
        assert "REPORT_PROCESSING_FINISHED" in {s["notification_type"] for s in first["subscriptions"]}
        reports_finished = client.call(notifications.get_subscription("REPORT_PROCESSING_FINISHED")).payload
        assert reports_finished.destination_id == first["destination_id"]
        assert [s["action"] for s in again["subscriptions"]] == ["kept"] * len(SUBSCRIPTIONS)
        assert [s["subscription_id"] for s in again["subscriptions"]] == [
            s["subscription_id"] for s in first["subscriptions"]
        ]
        (destination,) = client.call(notifications.get_destinations()).payload
        assert destination.resource.sqs is not None and destination.resource.sqs.arn == arn
        # a subscription that points at another queue is moved to this one
        _, other_arn = local_sqs.new_queue()
        moved = set_up_seller(client, SELLER, "other", other_arn)
        assert [s["action"] for s in moved["subscriptions"]] == ["replaced"] * len(SUBSCRIPTIONS)
        by_id = client.call(
            notifications.get_subscription_by_id(
                "FEED_PROCESSING_FINISHED", moved["subscriptions"][0]["subscription_id"]
            )
        ).payload
        assert by_id.destination_id == moved["destination_id"]
        with pytest.raises(InvalidRequestError) as in_use:
            client.call(notifications.delete_destination(moved["destination_id"]))
        assert in_use.value.status == 409
    with new_client(sandbox, refresh_token=OTHER_TOKEN, seller_id=OTHER_SELLER) as other:
        second = set_up_seller(other, OTHER_SELLER, "other", other_arn)
    assert second["destination_id"] == moved["destination_id"] and not second["destination_created"]


def test_a_grantless_only_client_manages_destinations_but_cannot_subscribe(
    sandbox: Sandbox, local_sqs: LocalSqs
) -> None:
    _, arn = local_sqs.new_queue()
    with new_client(sandbox, refresh_token=None) as app:
        created = app.call(notifications.create_destination("app-only", arn)).payload
        assert [d.destination_id for d in app.call(notifications.get_destinations()).payload] == [
            created.destination_id
        ]
        with pytest.raises(ValueError, match="refresh token"):  # the seller's call needs its token
            app.call(
                notifications.create_subscription("FEED_PROCESSING_FINISHED", "1.0", created.destination_id)
            )
        app.call(notifications.delete_destination(created.destination_id))
        assert app.call(notifications.get_destinations()).payload == []


def test_a_listing_change_arrives_on_the_queue(sandbox: Sandbox, local_sqs: LocalSqs) -> None:
    url, arn = local_sqs.new_queue()
    with new_client(sandbox) as client:
        set_up_seller(client, SELLER, "spapi-listings", arn)
        body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()}
        answer = client.call(listings.put_listings_item(SELLER, "NOTIFY-1", US, body))
        assert answer.status == "ACCEPTED"
    arrived = [parse_notification(json.dumps(m)) for m in messages(local_sqs, url, want=1)]
    status = [n for n in arrived if isinstance(n, ListingsItemStatusChangeNotification)]
    assert status and status[0].payload.sku == "NOTIFY-1" and status[0].payload.seller_id == SELLER


def test_a_finished_report_arrives_on_the_queue(sandbox: Sandbox, local_sqs: LocalSqs) -> None:
    """The setup's REPORT_PROCESSING_FINISHED subscription at work: a report the sandbox ends (no
    listing in the marketplace: CANCELLED) is announced in a shape the client's models read."""
    url, arn = local_sqs.new_queue()
    with new_client(sandbox) as client:
        set_up_seller(client, SELLER, "spapi-listings", arn)
        report_id = client.call(reports.create_report("GET_MERCHANT_LISTINGS_ALL_DATA", [US])).report_id
        arrived = [parse_notification(json.dumps(m)) for m in messages(local_sqs, url, want=1)]
        report = client.call(reports.get_report(report_id))
    (finished,) = [n for n in arrived if isinstance(n, ReportProcessingFinishedNotification)]
    payload = finished.payload.report_processing_finished_notification
    assert (payload.report_id, payload.seller_id) == (report_id, SELLER)
    assert payload.processing_status == report.processing_status == "CANCELLED"


def test_a_finished_report_wakes_its_wait_once_taken_in(
    sandbox: Sandbox, local_sqs: LocalSqs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole chain: the sandbox announces the report on the queue, the intake records it once
    (a second delivery is a duplicate), and the waits' check then says the report ended."""
    from listings_pipeline.from_amazon.notifications import QueueMessage, take_in
    from listings_pipeline.from_amazon.processing_signals import processing_finished
    from listings_pipeline.warehouse import db

    url, arn = local_sqs.new_queue()
    warehouse = db.sqlite_url(tmp_path / "warehouse.db")
    db.upgrade(warehouse)
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", warehouse)
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
    with new_client(sandbox) as client:
        set_up_seller(client, SELLER, "spapi-listings", arn)
        report_id = client.call(reports.create_report("GET_MERCHANT_LISTINGS_ALL_DATA", [US])).report_id
    assert not processing_finished("report", report_id)
    sqs = local_sqs.client()
    deadline = time.monotonic() + 10
    raw: list[dict[str, Any]] = []
    while not raw and time.monotonic() < deadline:
        raw = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    (message,) = raw
    delivered = QueueMessage(
        message_id=message["MessageId"], receipt_handle=message["ReceiptHandle"], body=message["Body"]
    )
    engine = db.make_engine(warehouse)
    try:
        first = take_in(engine, [delivered], "run-1")
        again = take_in(engine, [delivered], "run-2")  # SQS delivers at least once
    finally:
        engine.dispose()
    assert [o["outcome"] for o in first["outcomes"]] == ["applied"]
    assert [r["report_id"] for r in first["reports_finished"]] == [report_id]
    assert [o["outcome"] for o in again["outcomes"]] == ["duplicate"]
    assert processing_finished("report", report_id)
    assert not processing_finished("feed", report_id)


def test_destinations_refuse_a_seller_token_at_the_sandbox(sandbox: Sandbox) -> None:
    """The grantless scope is what the sandbox checks, not merely a token."""
    import httpx

    token = httpx.post(
        f"{sandbox.url}/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|sandbox-na-0001",
            "client_id": "amzn1.application-oa2-client.sandbox-demo",
            "client_secret": "sandbox-demo-secret",
        },
    ).json()["access_token"]
    answer = httpx.get(f"{sandbox.url}/notifications/v1/destinations", headers={"x-amz-access-token": token})
    assert answer.status_code == 403
