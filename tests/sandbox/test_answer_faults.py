"""Answer faults (``late_answer``, ``drop_answer``): Amazon carries the call out and the answer is
late or lost, so a client cannot tell that a feed was created. ``latency`` and ``drop`` cannot stand
in for this: they act before the call is looked at."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.core import DroppedConnection

from .conftest import US
from .test_faults import set_faults
from .test_feeds import FEEDS, feed_document


async def create_feed(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    r = await client.post(f"{FEEDS}/documents", headers=headers, json={"contentType": "application/json"})
    doc = r.json()
    up = await client.put(
        doc["url"],
        content=feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}]),
        headers={"Content-Type": "application/json"},
    )
    assert up.status_code == 200
    return await client.post(
        f"{FEEDS}/feeds",
        headers=headers,
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [US],
            "inputFeedDocumentId": doc["feedDocumentId"],
        },
    )


async def feeds_created(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await client.get("/_sandbox/state")).json()["feeds"])


@pytest.mark.asyncio
async def test_a_dropped_answer_still_creates_the_feed(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await set_faults(client, [{"kind": "drop_answer", "operation": "createFeed", "count": 1}])
    with pytest.raises(DroppedConnection):
        await create_feed(client, headers)
    [feed] = await feeds_created(client)
    assert feed["status"] == "IN_QUEUE"
    calls = (await client.get("/_sandbox/calls")).json()["byOperation"]["createFeed"]
    assert calls["statuses"] == {"202": 1}  # Amazon answered 202; the line lost it
    assert (await create_feed(client, headers)).status_code == 202  # count 1: the next one is answered


@pytest.mark.asyncio
async def test_a_late_answer_comes_after_the_call_took_effect(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    await set_faults(client, [{"kind": "late_answer", "seconds": 0.4, "operation": "createFeed", "count": 1}])
    started = time.monotonic()
    r = await create_feed(client, headers)
    assert r.status_code == 202 and time.monotonic() - started >= 0.4
    assert [f["feed_id"] for f in await feeds_created(client)] == [r.json()["feedId"]]
    [rule] = (await client.get("/_sandbox/faults")).json()["rules"]
    assert rule["seconds"] == 0.4 and rule["fired"] == 1


@pytest.mark.asyncio
async def test_a_refused_call_is_answered_at_once_and_leaves_the_rule_armed(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await set_faults(
        client,
        [
            {"kind": "throttle", "operation": "createFeed", "count": 1},
            {"kind": "drop_answer", "operation": "createFeed", "count": 1},
        ],
    )
    assert (await create_feed(client, headers)).status_code == 429  # nothing carried out, nothing lost
    assert await feeds_created(client) == []
    with pytest.raises(DroppedConnection):
        await create_feed(client, headers)
    assert len(await feeds_created(client)) == 1


@pytest.mark.asyncio
async def test_answer_faults_do_not_apply_to_the_token_endpoint(client: httpx.AsyncClient) -> None:
    for kind in ("late_answer", "drop_answer"):
        r = await client.post("/_sandbox/faults", json={"rules": [{"kind": kind, "operation": "lwaToken"}]})
        assert r.status_code == 400 and "lwaToken" in r.text


def created_feeds(sandbox: Any) -> int:
    """createFeed calls the sandbox carried out: one the client retried would count twice."""
    entry = sandbox.calls()["byOperation"].get("createFeed", {})
    return int(entry.get("statuses", {}).get("202", 0))


@pytest.mark.integration
def test_a_client_over_http_sees_a_cut_line_or_a_timeout_while_the_feed_exists(
    start_sandbox: Any,
) -> None:
    """Over a real socket (uvicorn), as the pipeline meets it: the errors are transport errors."""
    from spapi import feeds
    from spapi.errors import TransportError
    from tests.fixtures.sandbox import new_client

    sandbox = start_sandbox()
    for rule, overrides in (
        ({"kind": "drop_answer", "operation": "createFeed", "count": 1}, {}),
        (
            {"kind": "late_answer", "seconds": 1.0, "operation": "createFeed", "count": 1},
            {"read_timeout": 0.3},
        ),
    ):
        before = len(sandbox.admin("GET", "/state")["feeds"])
        calls_before = created_feeds(sandbox)
        sandbox.faults(rule)
        with new_client(sandbox, **overrides) as client:
            document = client.call(feeds.create_feed_document("application/json"))
            client.call(
                feeds.upload_feed_document(
                    document.url,
                    feed_document([{"messageId": 1, "sku": "X", "operationType": "DELETE"}]),
                    "application/json",
                )
            )
            with pytest.raises(TransportError):
                client.call(feeds.create_feed("JSON_LISTINGS_FEED", [US], document.feed_document_id))
        # Amazon did create the one feed, and the client, having raised, never asked again
        assert created_feeds(sandbox) == calls_before + 1
        assert len(sandbox.admin("GET", "/state")["feeds"]) == before + 1
