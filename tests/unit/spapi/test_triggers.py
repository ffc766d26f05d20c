"""FeedProcessingTrigger and ReportProcessingTrigger: serialisation round trip and run() over a fake
getFeed / getReport, as the Amazon provider tests its triggers (exact classpath and kwargs;
``await run().asend(None)``).

Both are :class:`spapi.triggers.ProcessingTrigger`, one poll loop, so each behaviour is tested
once, for each of them (``kind``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.airflow

from spapi.client import AsyncSpApiClient  # noqa: E402
from spapi.triggers import FeedProcessingTrigger, ProcessingTrigger, ReportProcessingTrigger  # noqa: E402
from tests.unit.spapi.fakes import FakeSpApi, api_error, fake_config, throttled  # noqa: E402

STARTED, ENDED = "2026-11-23T10:00:05Z", "2026-11-23T10:03:00.250Z"


def answer(
    kind: str, job_type: str, document_key: str, status: str, document: str | None = None
) -> httpx.Response:
    """getFeed's or getReport's answer (``kind`` ``feed`` or ``report``) for job ``F1`` / ``R1``."""
    body: dict[str, Any] = {
        f"{kind}Id": kind[0].upper() + "1",
        f"{kind}Type": job_type,
        "createdTime": "2026-11-23T10:00:00Z",
        "processingStatus": status,
    }
    if status in ("IN_PROGRESS", "DONE", "FATAL"):
        body["processingStartTime"] = STARTED
    if status in ("DONE", "FATAL", "CANCELLED"):  # one cancelled in the queue never started
        body["processingEndTime"] = ENDED
    if document:
        body[document_key] = document
    return httpx.Response(200, json=body, headers={"x-amzn-RequestId": "r"})


feed = functools.partial(answer, "feed", "JSON_LISTINGS_FEED", "resultFeedDocumentId")
report = functools.partial(answer, "report", "GET_MERCHANT_LISTINGS_ALL_DATA", "reportDocumentId")


@dataclass(frozen=True)
class Kind:
    """What differs between the two triggers: the id, the answer polled, the document's key."""

    trigger: type[ProcessingTrigger[Any]]
    resource_id: str
    id_key: str
    document_key: str
    path: str
    answer: Callable[..., httpx.Response]


FEED = Kind(FeedProcessingTrigger, "F1", "feed_id", "result_document_id", "/feeds/2021-06-30/feeds/F1", feed)
REPORT = Kind(
    ReportProcessingTrigger,
    "R1",
    "report_id",
    "report_document_id",
    "/reports/2021-06-30/reports/R1",
    report,
)
KINDS = pytest.mark.parametrize("kind", [FEED, REPORT], ids=["feed", "report"])


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            FeedProcessingTrigger("F1", "spapi_seller_a", poll_interval=5, deadline=1_800_000_000.0),
            (
                "spapi.triggers.FeedProcessingTrigger",
                {
                    "feed_id": "F1",
                    "spapi_conn_id": "spapi_seller_a",
                    "poll_interval": 5.0,
                    "max_poll_interval": 300.0,
                    "backoff": 1.5,
                    "deadline": 1_800_000_000.0,
                },
            ),
        ),
        (
            ReportProcessingTrigger("R1", "spapi_seller_a", poll_interval=5, deadline=1_800_000_000.0),
            (
                "spapi.triggers.ReportProcessingTrigger",
                {
                    "report_id": "R1",
                    "spapi_conn_id": "spapi_seller_a",
                    "poll_interval": 5.0,
                    "max_poll_interval": 300.0,
                    "backoff": 1.5,
                    "deadline": 1_800_000_000.0,
                },
            ),
        ),
    ],
    ids=["feed", "report"],
)
def test_serialize_gives_the_classpath_and_primitive_kwargs(
    trigger: ProcessingTrigger[Any], expected: tuple[str, dict[str, Any]]
) -> None:
    assert trigger.serialize() == expected


@KINDS
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"spapi_conn_id": "x", "poll_interval": 1.0, "deadline": 5.0},
        {"config_overrides": {"rate_limit_url": "redis://r:6379/0"}},
    ],
    ids=["defaults", "deadline", "overrides"],
)
def test_serialization_round_trip(kind: Kind, kwargs: dict[str, Any]) -> None:
    path, kw = kind.trigger(**{kind.id_key: kind.resource_id}, **kwargs).serialize()
    again = kind.trigger(**json.loads(json.dumps(kw)))
    assert again.serialize() == (path, kw)
    assert getattr(again, kind.id_key) == kind.resource_id


@KINDS
def test_the_triggerer_can_import_the_classpath(kind: Kind) -> None:
    from airflow.sdk.module_loading import import_string

    path, _ = kind.trigger(kind.resource_id).serialize()
    assert import_string(path) is kind.trigger


async def run_trigger(
    kind: Kind, api: FakeSpApi, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> tuple[dict[str, Any], list[float]]:
    """The real trigger, with its client pointed at ``api`` and instant sleeps on a fake clock."""
    sleeps: list[float] = []
    clock = [1_800_000_000.0]

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    async def make_client() -> AsyncSpApiClient:
        config = fake_config(max_attempts=2, rate_scale=1000)
        return AsyncSpApiClient(config, transport=httpx.MockTransport(api.handle_async), sleep=lambda s: None)

    monkeypatch.setattr("spapi.triggers.asyncio.sleep", fake_sleep)
    monkeypatch.setattr("spapi.triggers.time.time", lambda: clock[0])
    trigger = kind.trigger(kind.resource_id, poll_interval=10, max_poll_interval=30, backoff=2, **kw)
    monkeypatch.setattr(trigger, "make_client", make_client)
    gen = trigger.run()
    event = await gen.asend(None)
    with pytest.raises(StopAsyncIteration):
        await gen.asend(None)  # exactly one event
    return event.payload, sleeps


@KINDS
@pytest.mark.asyncio
async def test_polls_with_growing_interval_until_done(kind: Kind, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.script.extend(
        [
            kind.answer("IN_QUEUE"),
            kind.answer("IN_PROGRESS"),
            kind.answer("IN_PROGRESS"),
            kind.answer("IN_PROGRESS"),
            kind.answer("DONE", "doc-9"),
        ]
    )
    payload, sleeps = await run_trigger(kind, api, monkeypatch)
    assert payload == {
        "status": "success",
        kind.id_key: kind.resource_id,
        "processing_status": "DONE",
        kind.document_key: "doc-9",
        "message": None,
        "processing_start_time": STARTED,  # the only answer with the end time: nobody asks again
        "processing_end_time": ENDED,
    }
    order = ["status", kind.id_key, "processing_status", kind.document_key, "message"]
    assert list(payload) == [*order, "processing_start_time", "processing_end_time"]
    assert sleeps == [10, 20, 30, 30]
    assert all(r.url.path == kind.path for r in api.calls)


@KINDS
@pytest.mark.asyncio
@pytest.mark.parametrize("status", ["FATAL", "CANCELLED"])
async def test_fatal_and_cancelled_are_error_events(
    kind: Kind, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    api = FakeSpApi()
    api.script.append(kind.answer(status, "doc-why" if status == "FATAL" else None))
    payload, _ = await run_trigger(kind, api, monkeypatch)
    assert (payload["status"], payload["processing_status"]) == ("error", status)
    assert payload["message"] == f"{kind.id_key[:-3]} {kind.resource_id} ended {status}"
    assert payload[kind.document_key] == ("doc-why" if status == "FATAL" else None)
    assert (payload["processing_start_time"], payload["processing_end_time"]) == (
        None if status == "CANCELLED" else STARTED,
        ENDED,
    )


@KINDS
@pytest.mark.asyncio
async def test_deadline_gives_a_timeout_event(kind: Kind, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.default = lambda r: kind.answer("IN_PROGRESS")
    payload, sleeps = await run_trigger(kind, api, monkeypatch, deadline=1_800_000_000.0 + 25)
    assert (payload["status"], payload["processing_status"]) == ("timeout", "IN_PROGRESS")
    assert payload["message"] == f"{kind.id_key[:-3]} {kind.resource_id} still IN_PROGRESS at the deadline"
    assert payload[kind.document_key] is None
    assert "processing_end_time" not in payload  # it has not ended
    assert sleeps == [10]  # polled, slept 10, polled, next sleep (20) would pass the deadline


@KINDS
@pytest.mark.asyncio
async def test_transient_failures_keep_polling(kind: Kind, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.script.extend(
        [
            throttled("0"),
            throttled("0"),
            api_error(503, "ServiceUnavailable", "x"),
            api_error(503, "ServiceUnavailable", "x"),
            kind.answer("DONE", "doc-1"),
        ]
    )
    payload, _ = await run_trigger(kind, api, monkeypatch)
    assert payload["status"] == "success"
    assert len(api.calls) == 5


@KINDS
@pytest.mark.asyncio
async def test_a_call_that_cannot_succeed_is_an_error_event(
    kind: Kind, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeSpApi()
    api.script.append(api_error(404, "NotFound", "The requested resource was not found."))
    payload, _ = await run_trigger(kind, api, monkeypatch)
    assert (payload["status"], payload["error_type"]) == ("error", "NotFoundError")
    assert payload[kind.id_key] == kind.resource_id and payload["processing_status"] is None
    assert "HTTP 404" in payload["message"]


@pytest.mark.asyncio
async def test_a_client_that_cannot_be_built_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_client() -> AsyncSpApiClient:
        raise ValueError("no such connection")

    trigger = ReportProcessingTrigger("R1")
    monkeypatch.setattr(trigger, "make_client", no_client)
    gen = trigger.run()
    event = await gen.asend(None)
    assert event.payload == {
        "status": "error",
        "report_id": "R1",
        "processing_status": None,
        "report_document_id": None,
        "message": "cannot build the SP-API client: no such connection",
    }
