"""``RequestReportOperator``: ask Amazon for a report, wait for it without a worker.

Shaped like :class:`spapi.operators.SubmitFeedOperator` (and the Amazon provider's
``BatchOperator``): ``execute`` calls createReport and reads the report once; an ended report
returns at once, otherwise the task defers to :class:`spapi.triggers.ReportProcessingTrigger` and
``execute_complete`` checks its one event.

Unlike a feed, a report changes nothing at Amazon, so there is no ledger: a retried task simply
asks for a new report (createReport is retried like a read for the same reason).

Returns ``{"report_id", "processing_status", "report_document_id"}``: ``DONE`` with the document
to download, or ``CANCELLED`` (Amazon had nothing to report, or someone cancelled it) with none.
``FATAL``, a failed wait and the deadline raise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from spapi import reports
from spapi.errors import SpApiError
from spapi.hooks import SpApiHook
from spapi.triggers import ReportProcessingTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from spapi.client import SpApiClient


def _aware(value: str | None) -> datetime | None:
    """An ISO 8601 data time as create_report takes it (it refuses a naive one)."""
    return None if value is None else datetime.fromisoformat(value)


class ReportFailedError(SpApiError):
    """The report ended ``FATAL``, or the wait for it failed or ran out of time."""


class RequestReportOperator(BaseOperator):
    """Request one report and wait (deferred) until Amazon has produced it.

    :param report_type: Amazon's report type, e.g. ``GET_MERCHANT_LISTINGS_ALL_DATA``.
    :param marketplace_ids: the report's marketplaces.
    :param spapi_conn_id: the seller's ``spapi`` connection.
    :param report_options: createReport's ``reportOptions``.
    :param data_start_time: createReport's ``dataStartTime``, ISO 8601 with a time zone (templated);
        ``None`` leaves it to Amazon (now, or the report type's default).
    :param data_end_time: createReport's ``dataEndTime``, likewise.
    :param poll_interval: first poll interval of the trigger, growing up to ``max_poll_interval``.
    :param wait_timeout: how long to wait for Amazon.
    :param config_overrides: :class:`spapi.config.SpApiConfig` fields that win over the connection.
    :param wake_check: passed to :class:`ReportProcessingTrigger`: the dotted path of a function
        ``(kind, report_id) -> bool`` asked between polls whether a ``REPORT_PROCESSING_FINISHED``
        notification says the report ended, so the wait polls at once; ``None`` polls only.
    """

    template_fields: Sequence[str] = (
        "report_type",
        "marketplace_ids",
        "report_options",
        "data_start_time",
        "data_end_time",
    )
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        report_type: str,
        marketplace_ids: Sequence[str],
        spapi_conn_id: str = SpApiHook.default_conn_name,
        report_options: dict[str, str] | None = None,
        data_start_time: str | None = None,
        data_end_time: str | None = None,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        wait_timeout: timedelta = timedelta(hours=4),
        config_overrides: dict[str, Any] | None = None,
        wake_check: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_type = report_type
        self.marketplace_ids = list(marketplace_ids)
        self.spapi_conn_id = spapi_conn_id
        self.report_options = report_options
        self.data_start_time = data_start_time
        self.data_end_time = data_end_time
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.wait_timeout = wait_timeout
        self.config_overrides = dict(config_overrides or {})
        self.wake_check = wake_check

    @cached_property
    def hook(self) -> SpApiHook:
        return SpApiHook(self.spapi_conn_id, config_overrides=self.config_overrides)

    def make_client(self) -> SpApiClient:
        """The client of one execution step; a subclass or a test overrides this."""
        return self.hook.get_client()

    def finished(self, context: Context, outcome: dict[str, Any]) -> Any:
        """The task's XCom once the report ended DONE or CANCELLED; a subclass adds what it needs."""
        return outcome

    def execute(self, context: Context) -> Any:
        with self.make_client() as client:
            created = client.call(
                reports.create_report(
                    self.report_type,
                    self.marketplace_ids,
                    report_options=self.report_options,
                    data_start_time=_aware(self.data_start_time),
                    data_end_time=_aware(self.data_end_time),
                )
            )
            report = client.call(reports.get_report(created.report_id))
        self.log.info("requested %s as report %s", self.report_type, created.report_id)
        if report.is_terminal:
            return self._outcome(
                context, report.report_id, report.processing_status, report.report_document_id
            )
        self.defer(
            trigger=ReportProcessingTrigger(
                report_id=created.report_id,
                spapi_conn_id=self.spapi_conn_id,
                poll_interval=self.poll_interval,
                max_poll_interval=self.max_poll_interval,
                deadline=time.time() + self.wait_timeout.total_seconds(),
                config_overrides=self.config_overrides or None,
                wake_check=self.wake_check,
            ),
            method_name="execute_complete",
            timeout=self.wait_timeout + timedelta(minutes=5),
        )
        raise AssertionError("defer() raises TaskDeferred")  # pragma: no cover

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if not event or "status" not in event or "report_id" not in event:
            raise ReportFailedError(
                f"the report trigger sent an unexpected event: {event!r}", operation="getReport"
            )
        report_id, status = str(event["report_id"]), event.get("processing_status")
        if event["status"] == "timeout":
            raise ReportFailedError(
                f"report {report_id} was still {status} after {self.wait_timeout}", operation="getReport"
            )
        if event["status"] == "error" and status not in ("FATAL", "CANCELLED"):
            raise ReportFailedError(
                f"waiting for report {report_id} failed: {event.get('message')}", operation="getReport"
            )
        return self._outcome(context, report_id, str(status), event.get("report_document_id"))

    def _outcome(self, context: Context, report_id: str, status: str, document_id: str | None) -> Any:
        if status == "FATAL":
            raise ReportFailedError(
                f"report {report_id} ({self.report_type}) ended FATAL", operation="getReport"
            )
        return self.finished(
            context, {"report_id": report_id, "processing_status": status, "report_document_id": document_id}
        )
