"""Faults on the LWA token endpoint (operation ``lwaToken``): an LWA outage while SP-API stays up."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.core import DroppedConnection

from .conftest import APP_ID, APP_SECRET, SELLER_TOKEN, US, listings_path

pytestmark = pytest.mark.asyncio


async def set_faults(client: httpx.AsyncClient, *rules: dict[str, Any]) -> httpx.Response:
    return await client.post("/_sandbox/faults", json={"seed": 1, "rules": list(rules)})


async def token(client: httpx.AsyncClient) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": SELLER_TOKEN,
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
    }
    return await client.post("/auth/o2/token", data=form)


async def get_item(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    r = await client.get(listings_path("X"), params={"marketplaceIds": US}, headers=headers)
    return r.status_code


async def test_5xx_for_n_token_requests_while_sp_api_stays_up(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await set_faults(
        client,
        {"kind": "error", "status": 503, "operation": "lwaToken", "count": 2},
        {"kind": "error", "status": 500, "operation": "lwaToken", "count": 1},
    )
    assert r.status_code == 200, r.text
    answers = [await token(client) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 503, 500, 200]
    assert [a.json().get("error") for a in answers[:3]] == [
        "temporarily_unavailable",
        "temporarily_unavailable",
        "server_error",
    ]
    assert "access_token" not in answers[0].json() and answers[0].headers["x-amzn-RequestId"]
    assert await get_item(client, headers) == 404  # a token minted before the outage still works
    rules = (await client.get("/_sandbox/faults")).json()["rules"]
    assert [(r["fired"], r["remaining"]) for r in rules] == [(2, 0), (1, 0)]


async def test_wildcard_rules_leave_the_token_endpoint_alone(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await set_faults(
        client, {"kind": "error", "status": 503}, {"kind": "drop", "operation": "*", "probability": 1}
    )
    assert (await token(client)).status_code == 200
    with pytest.raises(DroppedConnection):
        await get_item(client, headers)


async def test_an_outage_for_a_period(client: httpx.AsyncClient, app: FastAPI) -> None:
    now = [1000.0]
    app.state.sandbox.faults.clock = lambda: now[0]
    await set_faults(client, {"kind": "error", "status": 503, "operation": "lwaToken", "duration": 30})
    assert [(await token(client)).status_code for _ in range(3)] == [503, 503, 503]
    now[0] += 29.0
    [rule] = (await client.get("/_sandbox/faults")).json()["rules"]
    assert (rule["duration"], rule["remaining_seconds"], rule["fired"]) == (30.0, 1.0, 3)
    assert (await token(client)).status_code == 503
    now[0] += 1.0
    assert (await token(client)).status_code == 200
    assert (await client.get("/_sandbox/faults")).json()["rules"][0]["remaining_seconds"] == 0


async def test_dropped_token_requests(client: httpx.AsyncClient) -> None:
    await set_faults(client, {"kind": "drop", "operation": "lwaToken", "count": 1})
    with pytest.raises(DroppedConnection):
        await token(client)
    assert (await token(client)).status_code == 200


@pytest.mark.slow  # timing-based: a latency fault must delay one request and only one
@pytest.mark.timing
async def test_slow_token_requests(client: httpx.AsyncClient) -> None:
    await set_faults(client, {"kind": "latency", "seconds": 0.3, "operation": "lwaToken", "count": 1})
    started = time.monotonic()
    assert (await token(client)).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await token(client)
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"kind": "throttle", "operation": "lwaToken"}, "takes only"),
        ({"kind": "feed_fatal", "operation": "lwaToken"}, "takes only"),
        ({"kind": "error", "status": 400, "operation": "lwaToken"}, "must be 5xx"),
        ({"kind": "error", "status": 503, "operation": "lwaToken", "duration": 0}, "duration must be > 0"),
    ],
)
async def test_faults_the_token_endpoint_cannot_take_are_refused(
    client: httpx.AsyncClient, rule: dict[str, Any], words: str
) -> None:
    r = await set_faults(client, rule)
    assert r.status_code == 400 and words in r.text
