"""FeedProcessingTrigger's wake check: a FEED_PROCESSING_FINISHED notification ends the wait early,
polling stays the fallback (a check that fails or says no changes nothing)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.airflow

from spapi.client import AsyncSpApiClient  # noqa: E402
from spapi.triggers import FeedProcessingTrigger  # noqa: E402
from tests.unit.spapi.fakes import FakeSpApi, fake_config  # noqa: E402

ASKED: list[tuple[str, str]] = []
HERE = "tests.unit.spapi.test_trigger_wake"


def notified(kind: str, resource_id: str) -> bool:
    ASKED.append((kind, resource_id))
    return True


def silent(kind: str, resource_id: str) -> bool:
    ASKED.append((kind, resource_id))
    return False


def broken(kind: str, resource_id: str) -> bool:
    raise RuntimeError("the warehouse is away")


def feed(status: str) -> httpx.Response:
    body: dict[str, Any] = {
        "feedId": "F1",
        "feedType": "JSON_LISTINGS_FEED",
        "createdTime": "2026-11-23T10:00:00Z",
        "processingStatus": status,
    }
    if status == "DONE":
        body.update(
            processingStartTime="2026-11-23T10:00:05Z",
            processingEndTime="2026-11-23T10:03:00Z",
            resultFeedDocumentId="doc-1",
        )
    return httpx.Response(200, json=body, headers={"x-amzn-RequestId": "r"})


async def run(monkeypatch: pytest.MonkeyPatch, check: str | None) -> tuple[dict[str, Any], list[float]]:
    sleeps: list[float] = []
    clock = [1_800_000_000.0]

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    api = FakeSpApi()
    api.script.extend([feed("IN_PROGRESS"), feed("DONE")])

    async def make_client() -> AsyncSpApiClient:
        return AsyncSpApiClient(
            fake_config(max_attempts=2, rate_scale=1000),
            transport=httpx.MockTransport(api.handle_async),
            sleep=lambda s: None,
        )

    monkeypatch.setattr("spapi.triggers.asyncio.sleep", fake_sleep)
    monkeypatch.setattr("spapi.triggers.time.time", lambda: clock[0])
    monkeypatch.setattr("spapi.triggers.time.monotonic", lambda: clock[0])
    trigger = FeedProcessingTrigger("F1", poll_interval=60, wake_check=check, wake_check_interval=5)
    monkeypatch.setattr(trigger, "make_client", make_client)
    event = await trigger.run().asend(None)
    return event.payload, sleeps


@pytest.mark.asyncio
async def test_a_notification_ends_the_wait_at_the_next_check(monkeypatch: pytest.MonkeyPatch) -> None:
    ASKED.clear()
    payload, sleeps = await run(monkeypatch, f"{HERE}.notified")
    assert payload["status"] == "success" and payload["result_document_id"] == "doc-1"
    assert sleeps == [5]  # not the 60 s poll interval
    assert ASKED == [("feed", "F1")]


@pytest.mark.asyncio
@pytest.mark.parametrize("check", ["silent", "broken", None])
async def test_without_a_notification_polling_goes_on(
    monkeypatch: pytest.MonkeyPatch, check: str | None
) -> None:
    payload, sleeps = await run(monkeypatch, f"{HERE}.{check}" if check else None)
    assert payload["status"] == "success"
    assert sum(sleeps) == 60 and (sleeps == [60] if check is None else sleeps == [5] * 12)


def test_the_check_is_serialized_only_when_given() -> None:
    _, plain = FeedProcessingTrigger("F1").serialize()
    assert "wake_check" not in plain and "wake_check_interval" not in plain
    _, woken = FeedProcessingTrigger("F1", wake_check=f"{HERE}.notified", wake_check_interval=2).serialize()
    assert (woken["wake_check"], woken["wake_check_interval"]) == (f"{HERE}.notified", 2.0)
    assert FeedProcessingTrigger(**woken).serialize()[1] == woken
