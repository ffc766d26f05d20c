"""Feeds API 2021-06-30: documents, feeds, the processor, reports, cancel, paging."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft7Validator

from .conftest import CA, MODELS, SELLER, US, gunzip_json, listings_path, luggage_attributes, v

pytestmark = pytest.mark.asyncio

FEEDS = "/feeds/2021-06-30"
REPORT_SCHEMA = json.loads(
    (MODELS / "schemas" / "feeds" / "listings-feed-processing-report-schema-v2.json").read_bytes()
)


def assert_report_valid(report: dict[str, Any]) -> None:
    errors = [e.message for e in Draft7Validator(REPORT_SCHEMA).iter_errors(report)]
    assert errors == [], errors


def feed_document(messages: list[dict[str, Any]], **header: Any) -> bytes:
    return json.dumps(
        {"header": {"sellerId": SELLER, "version": "2.0", **header}, "messages": messages}
    ).encode()


async def submit(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    *,
    content_type: str = "application/json",
    marketplaces: list[str] | None = None,
) -> str:
    r = await client.post(f"{FEEDS}/documents", headers=headers, json={"contentType": content_type})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (
        set(doc) == {"feedDocumentId", "url"}
        and "X-Amz-Signature=" in doc["url"]
        and "X-Amz-Expires=300" in doc["url"]
    )
    up = await client.put(doc["url"], content=content, headers={"Content-Type": content_type})
    assert up.status_code == 200, up.text
    r = await client.post(
        f"{FEEDS}/feeds",
        headers=headers,
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": marketplaces or [US],
            "inputFeedDocumentId": doc["feedDocumentId"],
        },
    )
    assert r.status_code == 202, r.text
    return str(r.json()["feedId"])


async def finish(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str], feed_id: str
) -> dict[str, Any]:
    r = await client.get(f"{FEEDS}/feeds/{feed_id}", headers=headers)
    assert r.json()["processingStatus"] == "IN_QUEUE"
    processor = app.state.processor
    processor.run_once()
    r = await client.get(f"{FEEDS}/feeds/{feed_id}", headers=headers)
    assert r.json()["processingStatus"] == "IN_PROGRESS" and "processingStartTime" in r.json()
    processor.run_once()
    r = await client.get(f"{FEEDS}/feeds/{feed_id}", headers=headers)
    return dict(r.json())


async def download_report(
    client: httpx.AsyncClient, headers: dict[str, str], feed: dict[str, Any]
) -> dict[str, Any]:
    r = await client.get(f"{FEEDS}/documents/{feed['resultFeedDocumentId']}", headers=headers)
    assert r.status_code == 200
    doc = r.json()
    assert doc["compressionAlgorithm"] == "GZIP"
    raw = await client.get(doc["url"])
    assert raw.status_code == 200 and "content-encoding" not in raw.headers
    report = gunzip_json(raw.content)
    assert_report_valid(report)
    return dict(report)


async def test_round_trip(client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]) -> None:
    # an existing listing to PATCH, PARTIAL_UPDATE and DELETE
    for sku in ("OLD-1", "OLD-2", "OLD-3"):
        r = await client.put(
            listings_path(sku),
            params={"marketplaceIds": US},
            headers=headers,
            json={"productType": "LUGGAGE", "attributes": luggage_attributes()},
        )
        assert r.json()["status"] == "ACCEPTED"
    bad = luggage_attributes(luggage_size=v("gigantic"))
    del bad["brand"]
    content = feed_document(
        [
            {
                "messageId": 1,
                "sku": "NEW-1",
                "operationType": "UPDATE",
                "productType": "LUGGAGE",
                "requirements": "LISTING",
                "attributes": luggage_attributes(),
            },
            {
                "messageId": 2,
                "sku": "NEW-2",
                "operationType": "UPDATE",
                "productType": "LUGGAGE",
                "attributes": bad,
            },
            {
                "messageId": 3,
                "sku": "OLD-1",
                "operationType": "PATCH",
                "productType": "LUGGAGE",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
                    }
                ],
            },
            {
                "messageId": 4,
                "sku": "OLD-2",
                "operationType": "PARTIAL_UPDATE",
                "productType": "LUGGAGE",
                "attributes": {"color": [{"value": "Red", "language_tag": "en_US", "marketplace_id": US}]},
            },
            {"messageId": 5, "sku": "OLD-3", "operationType": "DELETE"},
        ],
        report={"includedData": ["summaries", "issues"], "apiVersion": "2021-08-01"},
    )
    feed_id = await submit(client, headers, content)
    feed = await finish(client, app, headers, feed_id)
    assert feed["processingStatus"] == "DONE" and feed["resultFeedDocumentId"] and "processingEndTime" in feed
    report = await download_report(client, headers, feed)
    assert report["header"] == {
        "sellerId": SELLER,
        "version": "2.0",
        "feedId": feed_id,
        "report": {"includedData": ["summaries", "issues"], "apiVersion": "2021-08-01"},
    }
    summary = report["summary"]
    assert (summary["messagesProcessed"], summary["messagesAccepted"], summary["messagesInvalid"]) == (
        5,
        4,
        1,
    )
    assert summary["errors"] == 2 and summary["warnings"] == 0  # errors count issues, not messages
    assert {(i["messageId"], i["code"], i.get("attributeName")) for i in report["issues"]} == {
        (2, "90220", "brand"),
        (2, "4000001", "luggage_size"),
    }
    assert sorted(i["sku"] for i in report["items"]) == ["NEW-1", "OLD-1", "OLD-2"]
    assert summary["itemSummary"] == {"items": 3, "errors": 0, "warnings": 0}
    # the same engine as the Listings API: the state changed accordingly
    get = await client.get(listings_path("NEW-1"), params={"marketplaceIds": US}, headers=headers)
    assert get.status_code == 200
    assert (
        await client.get(listings_path("NEW-2"), params={"marketplaceIds": US}, headers=headers)
    ).status_code == 404
    assert (
        await client.get(listings_path("OLD-3"), params={"marketplaceIds": US}, headers=headers)
    ).status_code == 404
    old2 = await client.get(
        listings_path("OLD-2"), params={"marketplaceIds": US, "includedData": "attributes"}, headers=headers
    )
    assert old2.json()["attributes"]["color"][0]["value"] == "Red"
    old1 = await client.get(listings_path("OLD-1"), params={"marketplaceIds": US}, headers=headers)
    assert old1.json()["summaries"][0]["status"] == ["DISCOVERABLE"]  # quantity 0: not buyable


async def test_amazons_example_feed_is_processed(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    example = json.loads((MODELS / "schemas" / "feeds" / "listings-feed-schema-v2.example.json").read_bytes())
    example["header"]["sellerId"] = SELLER
    feed = await finish(client, app, headers, await submit(client, headers, json.dumps(example).encode()))
    assert feed["processingStatus"] == "DONE"
    report = await download_report(client, headers, feed)
    assert report["summary"]["messagesProcessed"] == 5
    # message 3 (UPDATE with only item_name) lacks required LUGGAGE attributes
    assert any(i["messageId"] == 3 and i["code"] == "90220" for i in report["issues"])


@pytest.mark.parametrize(
    "content",
    [
        b"not json at all",
        json.dumps({"header": {"sellerId": SELLER, "version": "2.0"}}).encode(),
        feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE", "productType": "LUGGAGE"}]),
        feed_document([{"messageId": 0, "sku": "X", "operationType": "DELETE"}]),
        feed_document(
            [
                {"messageId": 1, "sku": "X", "operationType": "DELETE"},
                {"messageId": 1, "sku": "Y", "operationType": "DELETE"},
            ]
        ),
        feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}], version="1.0"),
    ],
)
async def test_malformed_documents_are_fatal(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str], content: bytes
) -> None:
    feed = await finish(client, app, headers, await submit(client, headers, content))
    assert feed["processingStatus"] == "FATAL"
    report = await download_report(client, headers, feed)
    assert report["issues"] and all(
        "messageId" not in i and i["severity"] == "ERROR" for i in report["issues"]
    )
    assert report["summary"]["messagesProcessed"] == 0


async def test_upload_url_rules(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.post(f"{FEEDS}/documents", headers=headers, json={"contentType": "application/json"})
    url = r.json()["url"]
    wrong_type = await client.put(url, content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 403 and b"SignatureDoesNotMatch" in wrong_type.content
    tampered = await client.put(
        url.replace("X-Amz-Expires=300", "X-Amz-Expires=9999"),
        content=b"{}",
        headers={"Content-Type": "application/json"},
    )
    assert tampered.status_code == 403
    no_auth = await client.put(url.split("?")[0], content=b"{}", headers={"Content-Type": "application/json"})
    assert no_auth.status_code == 403
    wrong_method = await client.get(url)
    assert wrong_method.status_code == 403
    # no x-amz-access-token needed on the presigned URL
    ok = await client.put(url, content=b"{}", headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.headers["ETag"]


async def test_expired_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sandbox.app import create_app
    from sandbox.settings import Settings

    from .conftest import access_token

    app = create_app(Settings(data_dir=tmp_path, presign_ttl=0, processor_enabled=False, rate_limits=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        h = {"x-amz-access-token": await access_token(c)}
        url = (
            await c.post(f"{FEEDS}/documents", headers=h, json={"contentType": "application/json"})
        ).json()["url"]
        import asyncio
        import time
        from datetime import UTC, datetime
        from urllib.parse import parse_qs, urlsplit

        # The URL expires at its X-Amz-Date (whole seconds) plus X-Amz-Expires (0 here): waiting for the
        # clock to pass exactly that usually takes no time, where a fixed sleep had to cover a second.
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        issued = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        expires_at = issued + float(query["X-Amz-Expires"])
        while time.time() <= expires_at:
            await asyncio.sleep(0.01)
        r = await c.put(url, content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == 403 and b"Request has expired" in r.content


async def test_content_encoding_header_option(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    feed = await finish(client, app, headers, await submit(client, headers, b"oops"))
    r = await client.get(
        f"{FEEDS}/documents/{feed['resultFeedDocumentId']}",
        headers=headers,
        params={"enableContentEncodingUrlHeader": "true"},
    )
    raw = await client.get(r.json()["url"])
    assert raw.headers["content-encoding"] == "gzip"
    assert json.loads(raw.content)["header"]["feedId"] == feed["feedId"]  # httpx decoded it: no double gunzip


async def test_create_feed_validation(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    doc = (
        await client.post(f"{FEEDS}/documents", headers=headers, json={"contentType": "application/json"})
    ).json()
    cases = [
        {
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [],
            "inputFeedDocumentId": doc["feedDocumentId"],
        },
        {
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [US],
            "inputFeedDocumentId": "amzn1.tortuga.nothing",
        },
        {
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["A1PA6795UKMFR9"],
            "inputFeedDocumentId": doc["feedDocumentId"],
        },
        {"marketplaceIds": [US], "inputFeedDocumentId": doc["feedDocumentId"]},
    ]
    for body in cases:
        r = await client.post(f"{FEEDS}/feeds", headers=headers, json=body)
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "InvalidInput", body
    r = await client.post(f"{FEEDS}/documents", headers=headers, json={})
    assert r.status_code == 400
    assert (await client.get(f"{FEEDS}/feeds/999", headers=headers)).status_code == 404
    assert (await client.get(f"{FEEDS}/documents/nope", headers=headers)).status_code == 404


async def test_cancel_only_in_queue(client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]) -> None:
    first = await submit(
        client, headers, feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}])
    )
    r = await client.delete(f"{FEEDS}/feeds/{first}", headers=headers)
    assert r.status_code == 200 and r.content == b""
    feed = (await client.get(f"{FEEDS}/feeds/{first}", headers=headers)).json()
    assert feed["processingStatus"] == "CANCELLED" and "resultFeedDocumentId" not in feed
    second = await submit(
        client, headers, feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}])
    )
    app.state.processor.run_once()  # now IN_PROGRESS
    r = await client.delete(f"{FEEDS}/feeds/{second}", headers=headers)
    assert r.status_code == 400 and "IN_PROGRESS" in r.json()["errors"][0]["details"]
    app.state.processor.run_once()  # now DONE: a finished feed cannot be cancelled either
    r = await client.delete(f"{FEEDS}/feeds/{second}", headers=headers)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "InvalidInput"
    assert "DONE" in r.json()["errors"][0]["details"]
    feed = (await client.get(f"{FEEDS}/feeds/{second}", headers=headers)).json()
    assert feed["processingStatus"] == "DONE" and "resultFeedDocumentId" in feed
    r = await client.delete(f"{FEEDS}/feeds/{first}", headers=headers)  # cancelling twice
    assert r.status_code == 400 and "CANCELLED" in r.json()["errors"][0]["details"]
    assert (await client.delete(f"{FEEDS}/feeds/404404", headers=headers)).status_code == 404


async def test_get_feeds_filters_and_paging(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    doc = feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}])
    ids = [await submit(client, headers, doc, marketplaces=[US] if i % 2 == 0 else [CA]) for i in range(5)]
    r = await client.get(
        f"{FEEDS}/feeds", headers=headers, params={"feedTypes": "JSON_LISTINGS_FEED", "pageSize": 2}
    )
    assert r.status_code == 200
    body = r.json()
    seen = [f["feedId"] for f in body["feeds"]]
    while "nextToken" in body:
        bad = await client.get(
            f"{FEEDS}/feeds", headers=headers, params={"nextToken": body["nextToken"], "pageSize": 2}
        )
        assert bad.status_code == 400  # nextToken must be alone
        body = (
            await client.get(f"{FEEDS}/feeds", headers=headers, params={"nextToken": body["nextToken"]})
        ).json()
        seen += [f["feedId"] for f in body["feeds"]]
    assert seen == list(reversed(ids))  # newest first
    r = await client.get(
        f"{FEEDS}/feeds", headers=headers, params={"feedTypes": "JSON_LISTINGS_FEED", "marketplaceIds": CA}
    )
    assert sorted(f["feedId"] for f in r.json()["feeds"]) == sorted(ids[1::2])
    app.state.processor.run_once()
    r = await client.get(
        f"{FEEDS}/feeds",
        headers=headers,
        params={"feedTypes": "JSON_LISTINGS_FEED", "processingStatuses": "IN_QUEUE"},
    )
    assert r.json()["feeds"] == []
    r = await client.get(
        f"{FEEDS}/feeds",
        headers=headers,
        params={"feedTypes": "JSON_LISTINGS_FEED", "createdUntil": "2001-01-01T00:00:00Z"},
    )
    assert r.json()["feeds"] == []
    assert (await client.get(f"{FEEDS}/feeds", headers=headers)).status_code == 400  # feedTypes required
    assert (
        await client.get(
            f"{FEEDS}/feeds", headers=headers, params={"feedTypes": "JSON_LISTINGS_FEED", "pageSize": 101}
        )
    ).status_code == 400


async def test_background_processor_runs_with_the_app(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from sandbox.app import create_app
    from sandbox.settings import Settings

    from .conftest import access_token

    app = create_app(
        Settings(
            data_dir=tmp_path,
            feed_queue_seconds=0.02,
            feed_processing_seconds=0.02,
            processor_interval=0.02,
            rate_limits=False,
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        h = {"x-amz-access-token": await access_token(c)}
        feed_id = await submit(c, h, feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}]))
        for _ in range(200):
            status = (await c.get(f"{FEEDS}/feeds/{feed_id}", headers=h)).json()["processingStatus"]
            if status == "DONE":
                break
            await asyncio.sleep(0.02)
        assert status == "DONE"
