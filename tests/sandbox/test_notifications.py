"""The sandbox's Notifications API against notifications.json, and delivery to a real (moto) SQS.

Destinations are grantless, subscriptions the seller's; what arrives on the queue is checked
against Amazon's notification schemas (``schemas/notifications``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import pytest_asyncio
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.notifier import Notifier
from sandbox.settings import Settings
from tests.fixtures.sqs import LocalSqs

from .conftest import (
    APP_ID,
    APP_SECRET,
    BASE_URL,
    MODELS,
    OTHER_TOKEN,
    SELLER,
    SELLER_TOKEN,
    SUPPRESSION,
    US,
    access_token,
    listings_path,
    luggage_attributes,
)

pytestmark = pytest.mark.asyncio

SCHEMAS = MODELS / "schemas" / "notifications"
BASE = "/notifications/v1"


@pytest.fixture
def settings(tmp_path: Path, local_sqs: LocalSqs) -> Settings:
    return Settings(
        data_dir=tmp_path,
        feed_queue_seconds=0.0,
        feed_processing_seconds=0.0,
        report_queue_seconds=0.0,
        report_processing_seconds=0.0,
        processor_enabled=False,
        rate_limits=False,
        sqs_endpoint_url=local_sqs.endpoint_url,
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        yield c


async def grantless(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/auth/o2/token",
        data={
            "grant_type": "client_credentials",
            "scope": "sellingpartnerapi::notifications",
            "client_id": APP_ID,
            "client_secret": APP_SECRET,
        },
    )
    assert response.status_code == 200, response.text
    return {"x-amz-access-token": response.json()["access_token"]}


async def seller(client: httpx.AsyncClient, token: str = SELLER_TOKEN) -> dict[str, str]:
    return {"x-amz-access-token": await access_token(client, token)}


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return loaded


def received(local_sqs: LocalSqs, url: str) -> list[dict[str, Any]]:
    sqs = local_sqs.client()
    out: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return out
        for message in messages:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


async def test_destinations_are_grantless(client: httpx.AsyncClient, local_sqs: LocalSqs) -> None:
    _, arn = local_sqs.new_queue()
    body = {"name": "listings", "resourceSpecification": {"sqs": {"arn": arn}}}
    refused = await client.post(f"{BASE}/destinations", json=body, headers=await seller(client))
    assert refused.status_code == 403
    headers = await grantless(client)
    created = await client.post(f"{BASE}/destinations", json=body, headers=headers)
    assert created.status_code == 200, created.text
    destination = created.json()["payload"]
    assert destination["name"] == "listings" and destination["resource"] == {"sqs": {"arn": arn}}
    again = await client.post(f"{BASE}/destinations", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "Conflict"
    listed = await client.get(f"{BASE}/destinations", headers=headers)
    assert listed.json() == {"payload": [destination]}
    one = await client.get(f"{BASE}/destinations/{destination['destinationId']}", headers=headers)
    assert one.json() == {"payload": destination}
    # a queue that does not exist, a malformed ARN, EventBridge: refused with the reason
    missing = {"name": "x", "resourceSpecification": {"sqs": {"arn": arn + "-missing"}}}
    assert (await client.post(f"{BASE}/destinations", json=missing, headers=headers)).status_code == 400
    bad = {"name": "x", "resourceSpecification": {"sqs": {"arn": "arn:aws:s3:::bucket"}}}
    assert (await client.post(f"{BASE}/destinations", json=bad, headers=headers)).status_code == 400
    bridge = {
        "name": "x",
        "resourceSpecification": {"eventBridge": {"region": "us-east-1", "accountId": "1"}},
    }
    assert (await client.post(f"{BASE}/destinations", json=bridge, headers=headers)).status_code == 400
    gone = await client.delete(f"{BASE}/destinations/{destination['destinationId']}", headers=headers)
    assert gone.status_code == 200
    assert (await client.get(f"{BASE}/destinations", headers=headers)).json() == {"payload": []}


async def test_subscriptions(client: httpx.AsyncClient, local_sqs: LocalSqs) -> None:
    _, arn = local_sqs.new_queue()
    app_headers = await grantless(client)
    destination = (
        await client.post(
            f"{BASE}/destinations",
            json={"name": "q", "resourceSpecification": {"sqs": {"arn": arn}}},
            headers=app_headers,
        )
    ).json()["payload"]["destinationId"]
    headers = await seller(client)
    path = f"{BASE}/subscriptions/LISTINGS_ITEM_STATUS_CHANGE"
    assert (await client.get(path, headers=headers)).status_code == 404
    body = {"payloadVersion": "1.0", "destinationId": destination}
    assert (await client.post(path, json=body, headers=app_headers)).status_code == 403  # the seller's
    created = await client.post(path, json=body, headers=headers)
    assert created.status_code == 200, created.text
    subscription = created.json()["payload"]
    assert set(subscription) == {"subscriptionId", "payloadVersion", "destinationId"}
    assert (await client.post(path, json=body, headers=headers)).status_code == 409
    assert (await client.get(path, headers=headers)).json() == {"payload": subscription}
    # another seller of the same application has none
    assert (await client.get(path, headers=await seller(client, OTHER_TOKEN))).status_code == 404
    by_id = f"{path}/{subscription['subscriptionId']}"
    assert (await client.get(by_id, headers=app_headers)).json() == {"payload": subscription}
    in_use = await client.delete(f"{BASE}/destinations/{destination}", headers=app_headers)
    assert in_use.status_code == 409
    assert (await client.delete(by_id, headers=app_headers)).status_code == 200
    assert (await client.get(path, headers=headers)).status_code == 404
    # unknown type, unknown payload version, unknown destination
    for bad_path, bad_body in (
        (f"{BASE}/subscriptions/NOT_A_TYPE", body),
        (path, {"payloadVersion": "9.9", "destinationId": destination}),
        (path, {"payloadVersion": "1.0", "destinationId": "nope"}),
    ):
        assert (await client.post(bad_path, json=bad_body, headers=headers)).status_code == 400


async def subscribe_all(client: httpx.AsyncClient, arn: str, issues_version: str = "1.0") -> None:
    app_headers = await grantless(client)
    destination = (
        await client.post(
            f"{BASE}/destinations",
            json={"name": "q", "resourceSpecification": {"sqs": {"arn": arn}}},
            headers=app_headers,
        )
    ).json()["payload"]["destinationId"]
    headers = await seller(client)
    for kind, version in (
        ("FEED_PROCESSING_FINISHED", "1.0"),
        ("LISTINGS_ITEM_STATUS_CHANGE", "1.0"),
        ("LISTINGS_ITEM_ISSUES_CHANGE", issues_version),
        ("PRODUCT_TYPE_DEFINITIONS_CHANGE", "1.0"),
    ):
        answer = await client.post(
            f"{BASE}/subscriptions/{kind}",
            json={"payloadVersion": version, "destinationId": destination},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text


def check_listing_notification(message: dict[str, Any], name: str) -> None:
    """Amazon's schema, less its NotificationType enum: the status schema spells the type
    ``LISTINGS_ITEM_STATUS_CHANGED`` while its own example and the subscription say ``..._CHANGE``."""
    loaded = schema(name)
    loaded["properties"]["NotificationType"].pop("enum", None)
    jsonschema.validate(message, loaded, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


async def test_listing_changes_arrive_in_amazons_shapes(
    app: FastAPI, client: httpx.AsyncClient, local_sqs: LocalSqs
) -> None:
    url, arn = local_sqs.new_queue()
    notifier: Notifier = app.state.notifier
    headers = await seller(client)
    # a listing that exists before the subscription is not announced until it changes
    before = await client.put(
        listings_path("OLD-1"),
        params={"marketplaceIds": US},
        json={"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()},
        headers=headers,
    )
    assert before.json()["status"] == "ACCEPTED", before.text
    await subscribe_all(client, arn)
    put = await client.put(
        listings_path("NEW-1"),
        params={"marketplaceIds": US},
        json={"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()},
        headers=headers,
    )
    assert put.json()["status"] == "ACCEPTED", put.text
    assert notifier.run_once() == 1
    (status,) = received(local_sqs, url)
    check_listing_notification(status, "ListingsItemStatusChangeNotification.json")
    assert status["NotificationType"] == "LISTINGS_ITEM_STATUS_CHANGE"
    assert status["Payload"]["Sku"] == "NEW-1" and status["Payload"]["SellerId"] == SELLER
    assert status["Payload"]["Status"] == ["BUYABLE", "DISCOVERABLE"]
    assert notifier.run_once() == 0  # nothing changed: nothing announced twice

    attached = await client.post(
        f"/_sandbox/listings/{SELLER}/NEW-1/issues",
        params={"marketplaceId": US},
        json={"issues": [SUPPRESSION]},
    )
    assert attached.status_code == 200, attached.text
    assert notifier.run_once() == 2
    by_type = {m["NotificationType"]: m for m in received(local_sqs, url)}
    assert by_type["LISTINGS_ITEM_STATUS_CHANGE"]["Payload"]["Status"] == []
    issues = by_type["LISTINGS_ITEM_ISSUES_CHANGE"]
    jsonschema.validate(issues, schema("ListingsItemIssuesChangeNotification.json"))
    assert issues["Payload"]["Severities"] == ["ERROR"]
    assert issues["Payload"]["EnforcementActions"] == ["SEARCH_SUPPRESSED"]  # all 1.0 can name

    deleted = await client.delete(listings_path("NEW-1"), params={"marketplaceIds": US}, headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert notifier.run_once() == 2
    by_type = {m["NotificationType"]: m for m in received(local_sqs, url)}
    assert by_type["LISTINGS_ITEM_STATUS_CHANGE"]["Payload"]["Status"] == ["DELETED"]
    assert by_type["LISTINGS_ITEM_ISSUES_CHANGE"]["Payload"]["Severities"] == ["NONE"]


async def test_feed_and_product_type_notifications(
    app: FastAPI, client: httpx.AsyncClient, local_sqs: LocalSqs
) -> None:
    url, arn = local_sqs.new_queue()
    notifier: Notifier = app.state.notifier
    await subscribe_all(client, arn)
    now = time.time()
    app.state.sandbox.store.execute(
        "INSERT INTO feeds(feed_id, seller_id, region, feed_type, marketplaces, input_document_id, status, "
        "created, started, ended, result_document_id, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            "50001",
            SELLER,
            "na",
            "JSON_LISTINGS_FEED",
            json.dumps([US]),
            "doc-in",
            "DONE",
            now,
            now,
            now,
            "doc-out",
            1,
        ),
    )
    assert notifier.run_once() == 1
    assert notifier.run_once() == 0  # a feed ends once
    (feed,) = received(local_sqs, url)
    jsonschema.validate(feed, schema("FeedProcessingFinishedNotification.json"))
    finished = feed["payload"]["feedProcessingFinishedNotification"]
    assert finished == {
        "sellerId": SELLER,
        "accountId": f"amzn1.merchant.o.{SELLER}",
        "feedId": "50001",
        "feedType": "JSON_LISTINGS_FEED",
        "processingStatus": "DONE",
        "resultFeedDocumentId": "doc-out",
    }
    changed = await client.post(
        "/_sandbox/notifications/product-type-change",
        json={"marketplaceId": US, "productTypeVersion": "UV-2", "newProductTypes": ["LUGGAGE"]},
    )
    assert changed.json()["sent"] == 1
    (definitions,) = received(local_sqs, url)
    jsonschema.validate(definitions, schema("ProductTypeDefinitionsChangeNotification.json"))
    assert definitions["Payload"] == {
        "AccountId": SELLER,
        "ProductTypeVersion": "UV-2",
        "MarketplaceId": US,
        "NewProductTypes": ["LUGGAGE"],
    }
    ids = {
        feed["notificationMetadata"]["notificationId"],
        definitions["NotificationMetadata"]["NotificationId"],
    }
    assert len(ids) == 2


async def request_report(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post(
        "/reports/2021-06-30/reports",
        json={"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [US]},
        headers=headers,
    )
    assert created.status_code == 202, created.text
    return str(created.json()["reportId"])


async def test_reports_finished_arrive_in_amazons_shape(
    app: FastAPI, client: httpx.AsyncClient, local_sqs: LocalSqs
) -> None:
    """DONE (with its document), CANCELLED by cancelReport, and FATAL each reach the subscriber's
    queue once, valid against Amazon's schema; a report that ended before the subscription does not."""
    url, arn = local_sqs.new_queue()
    notifier: Notifier = app.state.notifier
    processor = app.state.report_processor
    headers = await seller(client)
    before = await request_report(client, headers)
    processor.run_once()
    processor.run_once()  # no listing yet: CANCELLED, before anyone subscribed
    await subscribe_all(client, arn)
    subscribed = await client.post(
        f"{BASE}/subscriptions/REPORT_PROCESSING_FINISHED",
        json={"payloadVersion": "1.0", "destinationId": (await app_destination(client, arn))},
        headers=headers,
    )
    assert subscribed.status_code == 200, subscribed.text
    put = await client.put(
        listings_path("R-1"),
        params={"marketplaceIds": US},
        json={"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()},
        headers=headers,
    )
    assert put.json()["status"] == "ACCEPTED", put.text
    notifier.run_once()
    received(local_sqs, url)  # the listing's own notifications

    done = await request_report(client, headers)
    cancelled = await request_report(client, headers)
    assert (
        await client.delete(f"/reports/2021-06-30/reports/{cancelled}", headers=headers)
    ).status_code == 200
    processor.run_once()
    processor.run_once()
    await client.post("/_sandbox/faults", json={"rules": [{"kind": "report_fatal", "count": 1}]})
    fatal = await request_report(client, headers)
    processor.run_once()
    processor.run_once()
    assert notifier.run_once() == 3
    assert notifier.run_once() == 0  # a report ends once
    messages = received(local_sqs, url)
    report_schema = schema("ReportProcessingFinishedNotification.json")
    for message in messages:
        jsonschema.validate(message, report_schema)
        assert message["notificationType"] == "REPORT_PROCESSING_FINISHED"
        assert message["notificationVersion"] == message["payloadVersion"] == "2020-09-04"
    ended = {
        m["payload"]["reportProcessingFinishedNotification"]["reportId"]: m["payload"][
            "reportProcessingFinishedNotification"
        ]
        for m in messages
    }
    assert before not in ended and set(ended) == {done, cancelled, fatal}
    stored = {
        r["report_id"]: r
        for r in app.state.sandbox.store.all("SELECT report_id, status, document_id FROM reports")
    }
    assert ended[done] == {
        "sellerId": SELLER,
        "accountId": f"amzn1.merchant.o.{SELLER}",
        "reportId": done,
        "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
        "processingStatus": "DONE",
        "reportDocumentId": stored[done]["document_id"],
    }
    assert ended[cancelled]["processingStatus"] == "CANCELLED" and "reportDocumentId" not in ended[cancelled]
    assert ended[fatal]["processingStatus"] == "FATAL"
    assert ended[fatal]["reportDocumentId"] == stored[fatal]["document_id"]  # the document says why
    assert len({m["notificationMetadata"]["notificationId"] for m in messages}) == 3


async def app_destination(client: httpx.AsyncClient, arn: str) -> str:
    listed = await client.get(f"{BASE}/destinations", headers=await grantless(client))
    (destination,) = [d for d in listed.json()["payload"] if d["resource"]["sqs"]["arn"] == arn]
    return str(destination["destinationId"])


async def test_issues_2023_12_13_name_every_action_and_sqs_down_delays_only(
    app: FastAPI, client: httpx.AsyncClient, local_sqs: LocalSqs
) -> None:
    url, arn = local_sqs.new_queue()
    notifier: Notifier = app.state.notifier
    headers = await seller(client)
    await subscribe_all(client, arn, issues_version="2023-12-13")
    await client.put(
        listings_path("S-1"),
        params={"marketplaceIds": US},
        json={"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()},
        headers=headers,
    )
    notifier.run_once()
    received(local_sqs, url)
    await client.post(
        f"/_sandbox/listings/{SELLER}/S-1/issues",
        params={"marketplaceId": US},
        json={"issues": [SUPPRESSION]},
    )
    real_send = notifier.sqs.send

    def down(arn: str, body: str) -> None:
        raise ConnectionError("SQS is down")

    notifier.sqs.send = down  # type: ignore[method-assign]
    assert notifier.run_once() == 0
    notifier.sqs.send = real_send  # type: ignore[method-assign]
    assert notifier.run_once() == 2  # queued, then delivered once SQS is back
    issues = next(
        m for m in received(local_sqs, url) if m["NotificationType"] == "LISTINGS_ITEM_ISSUES_CHANGE"
    )
    jsonschema.validate(issues, schema("ListingsItemIssuesChangeNotification_2023-12-13.json"))
    assert issues["PayloadVersion"] == "2023-12-13"
    assert issues["Payload"]["EnforcementActions"] == ["LISTING_SUPPRESSED", "SEARCH_SUPPRESSED"]
