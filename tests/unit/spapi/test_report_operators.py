"""RequestReportOperator: request, then return at once or defer; the trigger's event checked."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.usefixtures("spapi_test_connection")]

from airflow.sdk.exceptions import TaskDeferred  # noqa: E402

from spapi.client import SpApiClient  # noqa: E402
from spapi.operators import ReportFailedError, RequestReportOperator  # noqa: E402
from spapi.ratelimit import MemoryBackend, RateLimiter  # noqa: E402
from spapi.triggers import ReportProcessingTrigger  # noqa: E402
from tests.unit.spapi.fakes import FakeSpApi  # noqa: E402

LISTINGS = "GET_MERCHANT_LISTINGS_ALL_DATA"


class FakeReports(FakeSpApi):
    """createReport, then getReport answering ``status``."""

    def __init__(self, status: str) -> None:
        super().__init__()
        self.status = status
        self.created: list[dict[str, Any]] = []
        self.default = self.route

    def route(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/reports/2021-06-30/reports":
            self.created.append(json.loads(request.read()))
            return httpx.Response(202, json={"reportId": "R1"})
        body: dict[str, Any] = {
            "reportId": "R1",
            "reportType": LISTINGS,
            "createdTime": "2026-12-03T06:00:00Z",
            "processingStatus": self.status,
        }
        if self.status == "DONE":
            body["reportDocumentId"] = "D1"
        return httpx.Response(200, json=body)


class Operator(RequestReportOperator):
    api: FakeReports

    def make_client(self) -> SpApiClient:
        limiter = RateLimiter(MemoryBackend(), scale=1000)  # its own: the memory:// default is shared
        return self.hook.get_client(transport=httpx.MockTransport(self.api), limiter=limiter)


def operator(status: str, **kwargs: Any) -> Operator:
    op = Operator(
        task_id="report",
        report_type=LISTINGS,
        marketplace_ids=["ATVPDKIKX0DER"],
        spapi_conn_id="spapi_test",
        **kwargs,
    )
    op.api = FakeReports(status)
    return op


def test_requests_then_defers_to_the_report_trigger() -> None:
    op = operator("IN_QUEUE")
    with pytest.raises(TaskDeferred) as info:
        op.execute({})  # type: ignore[arg-type]
    assert op.api.created == [{"reportType": LISTINGS, "marketplaceIds": ["ATVPDKIKX0DER"]}]
    trigger = info.value.trigger
    assert isinstance(trigger, ReportProcessingTrigger) and trigger.report_id == "R1"
    assert info.value.method_name == "execute_complete"
    assert "wake_check" not in trigger.serialize()[1]  # no notifications: polling only


def test_the_wake_check_reaches_the_trigger() -> None:
    op = operator("IN_PROGRESS", wake_check="tests.unit.spapi.test_trigger_wake.notified")
    with pytest.raises(TaskDeferred) as info:
        op.execute({})  # type: ignore[arg-type]
    classpath, kwargs = info.value.trigger.serialize()
    assert classpath == "spapi.triggers.ReportProcessingTrigger"
    assert kwargs["wake_check"] == "tests.unit.spapi.test_trigger_wake.notified"
    assert ReportProcessingTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_a_report_already_done_returns_without_deferring() -> None:
    done = operator("DONE").execute({})  # type: ignore[arg-type]
    assert done == {"report_id": "R1", "processing_status": "DONE", "report_document_id": "D1"}


@pytest.mark.parametrize(
    ("event", "returned"),
    [
        (
            {"status": "success", "report_id": "R1", "processing_status": "DONE", "report_document_id": "D1"},
            "DONE",
        ),
        ({"status": "error", "report_id": "R1", "processing_status": "CANCELLED"}, "CANCELLED"),
        ({"status": "error", "report_id": "R1", "processing_status": "FATAL"}, None),
        ({"status": "error", "report_id": "R1", "processing_status": None, "message": "403"}, None),
        ({"status": "timeout", "report_id": "R1", "processing_status": "IN_PROGRESS"}, None),
        ({"unexpected": True}, None),
    ],
)
def test_the_event_ends_the_task(event: dict[str, Any], returned: str | None) -> None:
    op = operator("IN_QUEUE")
    if returned is None:  # FATAL, a failed wait, the deadline, a malformed event: the task fails
        with pytest.raises(ReportFailedError):
            op.execute_complete({}, event)  # type: ignore[arg-type]
        return
    assert op.execute_complete({}, event)["processing_status"] == returned  # type: ignore[arg-type]
