"""Fault injection: 429 storms, 5xx, latency, dropped connections, early token expiry, feed faults."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.core import DroppedConnection

from .conftest import SELLER, US, access_token, listings_path
from .test_feeds import FEEDS, assert_report_valid, download_report, feed_document, submit

pytestmark = pytest.mark.asyncio


async def set_faults(client: httpx.AsyncClient, rules: list[dict[str, Any]], seed: int = 1) -> None:
    r = await client.post("/_sandbox/faults", json={"seed": seed, "rules": rules})
    assert r.status_code == 200, r.text


async def get_item(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get(listings_path("X"), params={"marketplaceIds": US}, headers=headers)


async def test_throttle_next_n_calls(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await set_faults(client, [{"kind": "throttle", "operation": "getListingsItem", "count": 2}])
    statuses = [(await get_item(client, headers)).status_code for _ in range(3)]
    assert statuses == [429, 429, 404]
    assert (await client.get("/_sandbox/faults")).json()["rules"][0]["remaining"] == 0


async def test_throttle_probability_is_deterministic_with_a_seed(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    async def run() -> list[int]:
        await set_faults(client, [{"kind": "throttle", "probability": 0.5}], seed=42)
        return [(await get_item(client, headers)).status_code for _ in range(20)]

    first, second = await run(), await run()
    assert first == second and 429 in first and 404 in first


async def test_5xx(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await set_faults(client, [{"kind": "error", "status": 503, "count": 1}])
    r = await get_item(client, headers)
    assert r.status_code == 503 and r.json()["errors"][0]["code"] == "ServiceUnavailable"
    assert "x-amzn-RateLimit-Limit" not in r.headers
    assert (await get_item(client, headers)).status_code == 404
    bad = await client.post("/_sandbox/faults", json={"rules": [{"kind": "error", "status": 418}]})
    assert bad.status_code == 400


async def test_client_errors_answer_as_amazon_does(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """A 400 carries Amazon's error list and, like every 2xx/400/404, the rate limit header."""
    await set_faults(
        client,
        [
            {"kind": "error", "status": 400, "operation": "getListingsItem", "count": 1},
            {"kind": "error", "status": 403, "operation": "getListingsItem", "count": 1},
        ],
    )
    first, second = await get_item(client, headers), await get_item(client, headers)
    assert (first.status_code, first.json()["errors"][0]["code"]) == (400, "InvalidInput")
    assert "x-amzn-RateLimit-Limit" in first.headers
    assert (second.status_code, second.json()["errors"][0]["code"]) == (403, "Unauthorized")
    assert "x-amzn-RateLimit-Limit" not in second.headers


async def test_latency(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await set_faults(client, [{"kind": "latency", "seconds": 0.3, "count": 1}])
    started = time.monotonic()
    await get_item(client, headers)
    assert time.monotonic() - started >= 0.3


async def test_dropped_connection(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await set_faults(client, [{"kind": "drop", "operation": "getListingsItem", "count": 1}])
    with pytest.raises(DroppedConnection):
        await get_item(client, headers)
    assert (await get_item(client, headers)).status_code == 404


async def test_tokens_expire_early(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await set_faults(client, [{"kind": "token_expiry", "seconds": 0}])
    r = await get_item(client, headers)
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "Unauthorized"
    await client.delete("/_sandbox/faults")
    assert (await get_item(client, headers)).status_code == 403  # that token stays dead
    fresh = {"x-amz-access-token": await access_token(client)}
    assert (await get_item(client, fresh)).status_code == 404


async def _feed(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str], passes: int = 2
) -> dict[str, Any]:
    feed_id = await submit(
        client, headers, feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}])
    )
    for _ in range(passes):
        app.state.processor.run_once()
    return dict((await client.get(f"{FEEDS}/feeds/{feed_id}", headers=headers)).json())


async def test_fatal_and_cancelled_feeds(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    await set_faults(client, [{"kind": "feed_fatal", "count": 1}, {"kind": "feed_cancelled", "count": 1}])
    fatal = await _feed(client, app, headers)
    assert fatal["processingStatus"] == "FATAL"
    report = await download_report(client, headers, fatal)
    assert report["issues"][0]["severity"] == "ERROR"
    cancelled = await _feed(client, app, headers)
    assert cancelled["processingStatus"] == "CANCELLED"
    assert (await _feed(client, app, headers))["processingStatus"] == "DONE"


async def test_stuck_feed(client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]) -> None:
    await set_faults(client, [{"kind": "feed_stuck", "count": 1}])
    feed = await _feed(client, app, headers, passes=5)
    assert feed["processingStatus"] == "IN_PROGRESS"
    await client.delete("/_sandbox/faults")
    app.state.processor.run_once()
    r = await client.get(f"{FEEDS}/feeds/{feed['feedId']}", headers=headers)
    assert r.json()["processingStatus"] == "DONE"


async def test_report_with_unknown_message_ids(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    await set_faults(client, [{"kind": "report_unknown_message_ids", "count": 1}])
    feed = await _feed(client, app, headers)
    report = await download_report(client, headers, feed)
    assert_report_valid(report)
    assert any(i.get("messageId", 0) > 1 for i in report["issues"])


async def test_faults_from_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sandbox.app import create_app
    from sandbox.settings import Settings

    rules = json.loads('[{"kind": "throttle", "operation": "getFeed", "count": 1}]')
    app = create_app(
        Settings(data_dir=tmp_path, faults=tuple(rules), processor_enabled=False, rate_limits=False)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        h = {"x-amz-access-token": await access_token(c)}
        assert (await c.get(f"{FEEDS}/feeds/1", headers=h)).status_code == 429
        assert (await c.get(f"{FEEDS}/feeds/1", headers=h)).status_code == 404
        assert SELLER
