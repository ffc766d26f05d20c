"""Deferrable wait for an SP-API feed: the triggerer polls getFeed, no worker slot is held.

Amazon processes a JSON_LISTINGS_FEED in minutes to hours (up to 8 h under load), so waiting in a
worker would hold a slot for that long. :class:`FeedProcessingTrigger` polls ``getFeed`` through the
shared rate limiter with a growing interval and yields exactly one event::

    {"status": "success" | "error" | "timeout", "feed_id": ..., "processing_status": ...,
     "result_document_id": ..., "message": ...,
     "processing_start_time": ..., "processing_end_time": ...}   # once the feed ended

``success`` means DONE (read the report for per-message results); ``error`` means FATAL, CANCELLED
or a call that cannot succeed (403, 404); ``timeout`` means the deadline passed first. An ended
feed's event carries Amazon's processing times (ISO 8601, ``None`` where Amazon gave none): this
last getFeed is the only answer that has the end time, and nobody asks again. Transient
failures (429, 5xx, timeouts) while polling are retried by the client and then by the poll loop.
Triggers live here, not in the DAG bundle, so the triggerer imports the same code as the workers.

:class:`ReportProcessingTrigger` is the same wait for a report (Reports API ``getReport``)::

    {"status": "success" | "error" | "timeout", "report_id": ..., "processing_status": ...,
     "report_document_id": ..., "message": ..., "processing_start_time": ..., "processing_end_time": ...}

``success`` means DONE; ``error`` FATAL (the document, if any, says why), CANCELLED (cancelled, or
Amazon had no data to report: ``processing_status`` tells them apart from a failed call, which has
none of its own) or a call that cannot succeed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from spapi import feeds, reports
from spapi.errors import SpApiError
from spapi.hooks import SpApiHook
from spapi.models.common import format_datetime

if TYPE_CHECKING:
    from spapi.client import AsyncSpApiClient

TERMINAL_STATUSES = frozenset({"DONE", "FATAL", "CANCELLED"})


class FeedProcessingTrigger(BaseTrigger):
    """Poll ``getFeed`` until the feed is DONE, FATAL or CANCELLED, or the deadline passes.

    :param feed_id: the feed to watch.
    :param spapi_conn_id: the seller's ``spapi`` connection.
    :param poll_interval: seconds before the second poll; grows by ``backoff`` per poll.
    :param max_poll_interval: the interval never grows beyond this.
    :param backoff: growth factor of the interval.
    :param deadline: epoch seconds after which a ``timeout`` event is sent; ``None`` waits forever.
    :param config_overrides: :class:`spapi.config.SpApiConfig` fields that win over the connection.
    """

    def __init__(
        self,
        feed_id: str,
        spapi_conn_id: str = SpApiHook.default_conn_name,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        backoff: float = 1.5,
        deadline: float | None = None,
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.feed_id = feed_id
        self.spapi_conn_id = spapi_conn_id
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.backoff = float(backoff)
        self.deadline = float(deadline) if deadline is not None else None
        self.config_overrides = dict(config_overrides or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "feed_id": self.feed_id,
            "spapi_conn_id": self.spapi_conn_id,
            "poll_interval": self.poll_interval,
            "max_poll_interval": self.max_poll_interval,
            "backoff": self.backoff,
            "deadline": self.deadline,
            "config_overrides": self.config_overrides or None,
        }
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {k: v for k, v in kwargs.items() if v is not None},
        )

    async def make_client(self) -> AsyncSpApiClient:
        hook = SpApiHook(self.spapi_conn_id, config_overrides=self.config_overrides)
        return await hook.aget_async_client()

    def _event(self, status: str, processing_status: str | None, **extra: Any) -> TriggerEvent:
        payload: dict[str, Any] = {
            "status": status,
            "feed_id": self.feed_id,
            "processing_status": processing_status,
            "result_document_id": extra.pop("result_document_id", None),
        }
        payload.update(extra)
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        interval = self.poll_interval
        last_status: str | None = None
        try:
            client = await self.make_client()
        except (SpApiError, ValueError) as err:
            yield self._event("error", None, message=f"cannot build the SP-API client: {err}")
            return
        async with client:
            while True:
                try:
                    feed = await client.call(feeds.get_feed(self.feed_id))
                except SpApiError as err:
                    if not err.retryable:
                        yield self._event(
                            "error", last_status, message=str(err), error_type=type(err).__name__
                        )
                        return
                    self.log.warning("getFeed %s failed for now (%s); polling again", self.feed_id, err)
                else:
                    last_status = feed.processing_status
                    if last_status in TERMINAL_STATUSES:
                        status = "success" if last_status == "DONE" else "error"
                        message = None if status == "success" else f"feed {self.feed_id} ended {last_status}"
                        yield self._event(
                            status,
                            last_status,
                            result_document_id=feed.result_feed_document_id,
                            message=message,
                            **feed.processing_times(),
                        )
                        return
                    self.log.info("feed %s is %s; next poll in %.0fs", self.feed_id, last_status, interval)
                if self.deadline is not None and time.time() + interval > self.deadline:
                    yield self._event(
                        "timeout",
                        last_status,
                        message=f"feed {self.feed_id} still {last_status} at the deadline",
                    )
                    return
                await asyncio.sleep(interval)
                interval = min(self.max_poll_interval, interval * self.backoff)


class ReportProcessingTrigger(BaseTrigger):
    """Poll ``getReport`` until the report is DONE, FATAL or CANCELLED, or the deadline passes.

    Shaped like :class:`FeedProcessingTrigger` (same parameters, same backoff, one event), because
    a report takes minutes to hours at Amazon just as a feed does.

    :param report_id: the report to watch.
    :param spapi_conn_id: the seller's ``spapi`` connection.
    :param poll_interval: seconds before the second poll; grows by ``backoff`` per poll.
    :param max_poll_interval: the interval never grows beyond this.
    :param backoff: growth factor of the interval.
    :param deadline: epoch seconds after which a ``timeout`` event is sent; ``None`` waits forever.
    :param config_overrides: :class:`spapi.config.SpApiConfig` fields that win over the connection.
    """

    def __init__(
        self,
        report_id: str,
        spapi_conn_id: str = SpApiHook.default_conn_name,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        backoff: float = 1.5,
        deadline: float | None = None,
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.report_id = report_id
        self.spapi_conn_id = spapi_conn_id
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.backoff = float(backoff)
        self.deadline = float(deadline) if deadline is not None else None
        self.config_overrides = dict(config_overrides or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "report_id": self.report_id,
            "spapi_conn_id": self.spapi_conn_id,
            "poll_interval": self.poll_interval,
            "max_poll_interval": self.max_poll_interval,
            "backoff": self.backoff,
            "deadline": self.deadline,
            "config_overrides": self.config_overrides or None,
        }
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {k: v for k, v in kwargs.items() if v is not None},
        )

    async def make_client(self) -> AsyncSpApiClient:
        hook = SpApiHook(self.spapi_conn_id, config_overrides=self.config_overrides)
        return await hook.aget_async_client()

    def _event(self, status: str, processing_status: str | None, **extra: Any) -> TriggerEvent:
        payload: dict[str, Any] = {
            "status": status,
            "report_id": self.report_id,
            "processing_status": processing_status,
            "report_document_id": extra.pop("report_document_id", None),
        }
        payload.update(extra)
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        interval = self.poll_interval
        last_status: str | None = None
        try:
            client = await self.make_client()
        except (SpApiError, ValueError) as err:
            yield self._event("error", None, message=f"cannot build the SP-API client: {err}")
            return
        async with client:
            while True:
                try:
                    report = await client.call(reports.get_report(self.report_id))
                except SpApiError as err:
                    if not err.retryable:
                        yield self._event(
                            "error", last_status, message=str(err), error_type=type(err).__name__
                        )
                        return
                    self.log.warning("getReport %s failed for now (%s); polling again", self.report_id, err)
                else:
                    last_status = report.processing_status
                    if report.is_terminal:
                        status = "success" if last_status == "DONE" else "error"
                        start, end = report.processing_start_time, report.processing_end_time
                        yield self._event(
                            status,
                            last_status,
                            report_document_id=report.report_document_id,
                            message=None
                            if status == "success"
                            else f"report {self.report_id} ended {last_status}",
                            processing_start_time=None if start is None else format_datetime(start),
                            processing_end_time=None if end is None else format_datetime(end),
                        )
                        return
                    self.log.info(
                        "report %s is %s; next poll in %.0fs", self.report_id, last_status, interval
                    )
                if self.deadline is not None and time.time() + interval > self.deadline:
                    yield self._event(
                        "timeout",
                        last_status,
                        message=f"report {self.report_id} still {last_status} at the deadline",
                    )
                    return
                await asyncio.sleep(interval)
                interval = min(self.max_poll_interval, interval * self.backoff)
