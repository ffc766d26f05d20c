"""FeedProcessingTrigger: serialisation round trip and run() over a fake getFeed, as the Amazon
provider tests its triggers (exact classpath and kwargs; ``await run().asend(None)``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.airflow

from spapi.auth import clear_process_cache  # noqa: E402
from spapi.client import AsyncSpApiClient  # noqa: E402
from spapi.config import SpApiConfig  # noqa: E402
from spapi.triggers import FeedProcessingTrigger  # noqa: E402
from tests.unit.spapi.fakes import (  # noqa: E402
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN_URL,
    FakeSpApi,
    api_error,
    throttled,
)


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    clear_process_cache()
    yield
    clear_process_cache()


STARTED, ENDED = "2026-11-23T10:00:05Z", "2026-11-23T10:03:00.250Z"


def feed(status: str, result: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "feedId": "F1",
        "feedType": "JSON_LISTINGS_FEED",
        "createdTime": "2026-11-23T10:00:00Z",
        "processingStatus": status,
    }
    if status in ("IN_PROGRESS", "DONE", "FATAL"):
        body["processingStartTime"] = STARTED
    if status in ("DONE", "FATAL", "CANCELLED"):  # a feed cancelled in the queue never started
        body["processingEndTime"] = ENDED
    if result:
        body["resultFeedDocumentId"] = result
    return httpx.Response(200, json=body, headers={"x-amzn-RequestId": "r"})


def test_serialize_gives_the_classpath_and_primitive_kwargs() -> None:
    trigger = FeedProcessingTrigger("F1", "spapi_seller_a", poll_interval=5, deadline=1_800_000_000.0)
    assert trigger.serialize() == (
        "spapi.triggers.FeedProcessingTrigger",
        {
            "feed_id": "F1",
            "spapi_conn_id": "spapi_seller_a",
            "poll_interval": 5.0,
            "max_poll_interval": 300.0,
            "backoff": 1.5,
            "deadline": 1_800_000_000.0,
        },
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"feed_id": "F1"},
        {"feed_id": "F2", "spapi_conn_id": "x", "poll_interval": 1.0, "deadline": 5.0},
        {"feed_id": "F3", "config_overrides": {"rate_limit_url": "redis://r:6379/0"}},
    ],
    ids=["defaults", "deadline", "overrides"],
)
def test_serialization_round_trip(kwargs: dict[str, Any]) -> None:
    path, kw = FeedProcessingTrigger(**kwargs).serialize()
    again = FeedProcessingTrigger(**json.loads(json.dumps(kw)))
    assert again.serialize() == (path, kw)


def test_the_triggerer_can_import_the_classpath() -> None:
    from airflow.sdk.module_loading import import_string

    path, _ = FeedProcessingTrigger("F1").serialize()
    assert import_string(path) is FeedProcessingTrigger


class FakeFeedTrigger(FeedProcessingTrigger):
    """The real trigger, with the client pointed at a fake SP-API and instant sleeps."""

    api: FakeSpApi

    async def make_client(self) -> AsyncSpApiClient:
        config = SpApiConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN,
            endpoint_url=BASE_URL,
            token_url=TOKEN_URL,
            seller_id="A1SELLER",
            max_attempts=2,
            rate_scale=1000,
        )
        return AsyncSpApiClient(
            config, transport=httpx.MockTransport(self.api.handle_async), sleep=lambda s: None
        )


async def run_trigger(
    api: FakeSpApi, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> tuple[dict[str, Any], list[float]]:
    sleeps: list[float] = []
    clock = [1_800_000_000.0]

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("spapi.triggers.asyncio.sleep", fake_sleep)
    monkeypatch.setattr("spapi.triggers.time.time", lambda: clock[0])
    trigger = FakeFeedTrigger("F1", poll_interval=10, max_poll_interval=30, backoff=2, **kw)
    trigger.api = api
    gen = trigger.run()
    event = await gen.asend(None)
    with pytest.raises(StopAsyncIteration):
        await gen.asend(None)  # exactly one event
    return event.payload, sleeps


@pytest.mark.asyncio
async def test_polls_with_growing_interval_until_done(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.script.extend(
        [
            feed("IN_QUEUE"),
            feed("IN_PROGRESS"),
            feed("IN_PROGRESS"),
            feed("IN_PROGRESS"),
            feed("DONE", "doc-9"),
        ]
    )
    payload, sleeps = await run_trigger(api, monkeypatch)
    assert payload == {
        "status": "success",
        "feed_id": "F1",
        "processing_status": "DONE",
        "result_document_id": "doc-9",
        "message": None,
        "processing_start_time": STARTED,  # the only answer with the end time: nobody asks again
        "processing_end_time": ENDED,
    }
    assert sleeps == [10, 20, 30, 30]
    assert all(r.url.path == "/feeds/2021-06-30/feeds/F1" for r in api.calls)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", ["FATAL", "CANCELLED"])
async def test_fatal_and_cancelled_are_error_events(monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    api = FakeSpApi()
    api.script.append(feed(status, "doc-err" if status == "FATAL" else None))
    payload, _ = await run_trigger(api, monkeypatch)
    assert payload["status"] == "error"
    assert payload["processing_status"] == status
    assert payload["message"] == f"feed F1 ended {status}"
    assert (payload["processing_start_time"], payload["processing_end_time"]) == (
        None if status == "CANCELLED" else STARTED,
        ENDED,
    )


@pytest.mark.asyncio
async def test_deadline_gives_a_timeout_event(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.default = lambda r: feed("IN_PROGRESS")
    payload, sleeps = await run_trigger(api, monkeypatch, deadline=1_800_000_000.0 + 25)
    assert payload["status"] == "timeout"
    assert payload["processing_status"] == "IN_PROGRESS"
    assert "processing_end_time" not in payload  # it has not ended
    assert sleeps == [10]  # polled, slept 10, polled, next sleep (20) would pass the deadline


@pytest.mark.asyncio
async def test_transient_failures_keep_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.script.extend(
        [
            throttled("0"),
            throttled("0"),
            api_error(503, "ServiceUnavailable", "x"),
            api_error(503, "ServiceUnavailable", "x"),
            feed("DONE", "doc-1"),
        ]
    )
    payload, _ = await run_trigger(api, monkeypatch)
    assert payload["status"] == "success"
    assert len(api.calls) == 5


@pytest.mark.asyncio
async def test_a_call_that_cannot_succeed_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.script.append(api_error(404, "NotFound", "The requested feed was not found."))
    payload, _ = await run_trigger(api, monkeypatch)
    assert payload["status"] == "error"
    assert payload["error_type"] == "NotFoundError"
    assert "HTTP 404" in payload["message"]
