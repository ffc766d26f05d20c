"""ReportProcessingTrigger: serialisation round trip and run() over a fake getReport, tested the way
test_triggers.py tests the feed trigger it follows."""

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
from spapi.triggers import ReportProcessingTrigger  # noqa: E402
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

STARTED, ENDED = "2026-12-03T10:00:05Z", "2026-12-03T10:03:00.250Z"


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    clear_process_cache()
    yield
    clear_process_cache()


def report(status: str, document: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "reportId": "R1",
        "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
        "createdTime": "2026-12-03T10:00:00Z",
        "processingStatus": status,
    }
    if status in ("IN_PROGRESS", "DONE", "FATAL"):
        body["processingStartTime"] = STARTED
    if status in ("DONE", "FATAL", "CANCELLED"):
        body["processingEndTime"] = ENDED
    if document:
        body["reportDocumentId"] = document
    return httpx.Response(200, json=body, headers={"x-amzn-RequestId": "r"})


def test_serialize_gives_the_classpath_and_primitive_kwargs() -> None:
    trigger = ReportProcessingTrigger("R1", "spapi_seller_a", poll_interval=5, deadline=1_800_000_000.0)
    assert trigger.serialize() == (
        "spapi.triggers.ReportProcessingTrigger",
        {
            "report_id": "R1",
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
        {"report_id": "R1"},
        {"report_id": "R2", "spapi_conn_id": "x", "poll_interval": 1.0, "deadline": 5.0},
        {"report_id": "R3", "config_overrides": {"rate_limit_url": "redis://r:6379/0"}},
    ],
    ids=["defaults", "deadline", "overrides"],
)
def test_serialization_round_trip(kwargs: dict[str, Any]) -> None:
    path, kw = ReportProcessingTrigger(**kwargs).serialize()
    again = ReportProcessingTrigger(**json.loads(json.dumps(kw)))
    assert again.serialize() == (path, kw)


def test_the_triggerer_can_import_the_classpath() -> None:
    from airflow.sdk.module_loading import import_string

    path, _ = ReportProcessingTrigger("R1").serialize()
    assert import_string(path) is ReportProcessingTrigger


class FakeReportTrigger(ReportProcessingTrigger):
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
    trigger = FakeReportTrigger("R1", poll_interval=10, max_poll_interval=30, backoff=2, **kw)
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
        [report("IN_QUEUE"), report("IN_PROGRESS"), report("IN_PROGRESS"), report("DONE", "doc-9")]
    )
    payload, sleeps = await run_trigger(api, monkeypatch)
    assert payload == {
        "status": "success",
        "report_id": "R1",
        "processing_status": "DONE",
        "report_document_id": "doc-9",
        "message": None,
        "processing_start_time": STARTED,
        "processing_end_time": ENDED,
    }
    assert sleeps == [10, 20, 30]
    assert all(r.url.path == "/reports/2021-06-30/reports/R1" for r in api.calls)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", ["FATAL", "CANCELLED"])
async def test_fatal_and_cancelled_are_error_events(monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    api = FakeSpApi()
    api.script.append(report(status, "doc-why" if status == "FATAL" else None))
    payload, _ = await run_trigger(api, monkeypatch)
    assert (payload["status"], payload["processing_status"]) == ("error", status)
    assert payload["message"] == f"report R1 ended {status}"
    assert payload["report_document_id"] == ("doc-why" if status == "FATAL" else None)


@pytest.mark.asyncio
async def test_deadline_gives_a_timeout_event(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.default = lambda r: report("IN_PROGRESS")
    payload, sleeps = await run_trigger(api, monkeypatch, deadline=1_800_000_000.0 + 25)
    assert (payload["status"], payload["processing_status"]) == ("timeout", "IN_PROGRESS")
    assert sleeps == [10]


@pytest.mark.asyncio
async def test_transient_failures_keep_polling_and_a_404_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSpApi()
    api.script.extend(
        [throttled("0"), throttled("0"), api_error(503, "ServiceUnavailable", "x"), report("DONE", "d")]
    )
    payload, _ = await run_trigger(api, monkeypatch)
    assert payload["status"] == "success" and len(api.calls) == 4

    api = FakeSpApi()
    api.script.append(api_error(404, "NotFound", "Report R1 not found."))
    payload, _ = await run_trigger(api, monkeypatch)
    assert (payload["status"], payload["error_type"]) == ("error", "NotFoundError")
