"""The waits' wake check: a FEED_PROCESSING_FINISHED or REPORT_PROCESSING_FINISHED notification ends
a FeedProcessingTrigger's or ReportProcessingTrigger's wait early, polling stays the fallback (a
check that cannot be found, fails or says no changes nothing)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.airflow

from spapi.client import AsyncSpApiClient  # noqa: E402
from spapi.triggers import FeedProcessingTrigger, ProcessingTrigger, ReportProcessingTrigger  # noqa: E402
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


def report(status: str) -> httpx.Response:
    body: dict[str, Any] = {
        "reportId": "R1",
        "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
        "createdTime": "2026-11-23T10:00:00Z",
        "processingStatus": status,
    }
    if status == "DONE":
        body.update(
            processingStartTime="2026-11-23T10:00:05Z",
            processingEndTime="2026-11-23T10:03:00Z",
            reportDocumentId="doc-1",
        )
    return httpx.Response(200, json=body, headers={"x-amzn-RequestId": "r"})


#: kind -> (trigger class, its id, getFeed / getReport answers, the event's document key)
KINDS: dict[str, tuple[type[ProcessingTrigger[Any]], str, Any, str]] = {
    "feed": (FeedProcessingTrigger, "F1", feed, "result_document_id"),
    "report": (ReportProcessingTrigger, "R1", report, "report_document_id"),
}


async def run(
    monkeypatch: pytest.MonkeyPatch, check: str | None, kind: str = "feed"
) -> tuple[dict[str, Any], list[float]]:
    sleeps: list[float] = []
    clock = [1_800_000_000.0]

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    trigger_class, resource_id, answer, _ = KINDS[kind]
    api = FakeSpApi()
    api.script.extend([answer("IN_PROGRESS"), answer("DONE")])

    async def make_client() -> AsyncSpApiClient:
        return AsyncSpApiClient(
            fake_config(max_attempts=2, rate_scale=1000),
            transport=httpx.MockTransport(api.handle_async),
            sleep=lambda s: None,
        )

    monkeypatch.setattr("spapi.triggers.asyncio.sleep", fake_sleep)
    monkeypatch.setattr("spapi.triggers.time.time", lambda: clock[0])
    monkeypatch.setattr("spapi.triggers.time.monotonic", lambda: clock[0])
    trigger = trigger_class(resource_id, poll_interval=60, wake_check=check, wake_check_interval=5)
    monkeypatch.setattr(trigger, "make_client", make_client)
    event = await trigger.run().asend(None)
    return event.payload, sleeps


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
async def test_a_notification_ends_the_wait_at_the_next_check(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    ASKED.clear()
    _, resource_id, _, document_key = KINDS[kind]
    payload, sleeps = await run(monkeypatch, f"{HERE}.notified", kind)
    assert payload["status"] == "success" and payload[document_key] == "doc-1"
    assert payload[f"{kind}_id"] == resource_id
    assert sleeps == [5]  # not the 60 s poll interval
    assert [(kind, resource_id)] == ASKED


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("check", ["silent", "broken", "missing", None])
async def test_without_a_notification_polling_goes_on(
    monkeypatch: pytest.MonkeyPatch, check: str | None, kind: str
) -> None:
    """No notification, a check that raises, or one that cannot be imported (a trigger serialized
    before its module moved): the wait sleeps out its interval and polls, as without a check."""
    path = {None: None, "missing": "listings_pipeline.from_amazon.feed_signals.feed_finished"}.get(
        check, f"{HERE}.{check}"
    )
    payload, sleeps = await run(monkeypatch, path, kind)
    assert payload["status"] == "success" and payload[KINDS[kind][3]] == "doc-1"
    assert sum(sleeps) == 60 and (sleeps == [60] if check in (None, "missing") else sleeps == [5] * 12)


@pytest.mark.parametrize("kind", KINDS)
def test_the_check_is_serialized_only_when_given(kind: str) -> None:
    trigger_class, resource_id, _, _ = KINDS[kind]
    _, plain = trigger_class(resource_id).serialize()
    assert "wake_check" not in plain and "wake_check_interval" not in plain
    _, woken = trigger_class(resource_id, wake_check=f"{HERE}.notified", wake_check_interval=2).serialize()
    assert (woken["wake_check"], woken["wake_check_interval"]) == (f"{HERE}.notified", 2.0)
    assert trigger_class(**woken).serialize()[1] == woken
