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

Both are one poll loop, :class:`ProcessingTrigger`; each names its id, its call and its document.
Either may be given a ``wake_check`` that ends a wait between polls early when Amazon's
``FEED_PROCESSING_FINISHED`` or ``REPORT_PROCESSING_FINISHED`` notification has arrived.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar, Unpack

from airflow.triggers.base import BaseTrigger, TriggerEvent

from spapi import feeds, reports
from spapi.errors import SpApiError
from spapi.hooks import SpApiHook
from spapi.models.common import TERMINAL_STATUSES as TERMINAL_STATUSES
from spapi.models.common import Processed

if TYPE_CHECKING:
    from spapi.call import Call
    from spapi.client import AsyncSpApiClient
    from spapi.models.feeds import Feed
    from spapi.models.reports import Report

ProcessedT = TypeVar("ProcessedT", bound=Processed)


class Polling(TypedDict, total=False):
    """How a :class:`ProcessingTrigger` polls (every parameter but the id and the connection)."""

    poll_interval: float
    max_poll_interval: float
    backoff: float
    deadline: float | None
    config_overrides: dict[str, Any] | None
    wake_check: str | None
    wake_check_interval: float | None


DEFAULT_WAKE_CHECK_INTERVAL = 5.0


class ProcessingTrigger(BaseTrigger, Generic[ProcessedT]):
    """Poll a feed or a report until it is DONE, FATAL or CANCELLED, or the deadline passes.

    A subclass names what it waits for (:attr:`kind`, whose id is the ``<kind>_id`` argument and
    event key), the call to poll (:meth:`poll_call`) and the document id its event carries under
    :attr:`document_key` (:meth:`document_id`).

    :param resource_id: the feed or report to watch.
    :param spapi_conn_id: the seller's ``spapi`` connection.
    :param poll_interval: seconds before the second poll; grows by ``backoff`` per poll.
    :param max_poll_interval: the interval never grows beyond this.
    :param backoff: growth factor of the interval.
    :param deadline: epoch seconds after which a ``timeout`` event is sent; ``None`` waits forever.
    :param config_overrides: :class:`spapi.config.SpApiConfig` fields that win over the connection.
    :param wake_check: dotted path of a function ``(kind, resource_id) -> bool`` asked every
        ``wake_check_interval`` seconds (default 5) while the trigger waits between polls; when it
        says the feed or report has ended (a ``FEED_PROCESSING_FINISHED`` or
        ``REPORT_PROCESSING_FINISHED`` notification arrived), the trigger polls at once instead of
        sleeping out its interval. Polling stays the fallback: a check that cannot be imported,
        fails or never says yes changes nothing.
    """

    kind: ClassVar[str]
    document_key: ClassVar[str]

    def __init__(
        self,
        resource_id: str,
        spapi_conn_id: str = SpApiHook.default_conn_name,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        backoff: float = 1.5,
        deadline: float | None = None,
        config_overrides: dict[str, Any] | None = None,
        wake_check: str | None = None,
        wake_check_interval: float | None = None,
    ) -> None:
        super().__init__()
        self.wake_check = wake_check
        self.wake_check_interval = float(wake_check_interval) if wake_check_interval is not None else None
        self.resource_id = resource_id
        self.spapi_conn_id = spapi_conn_id
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.backoff = float(backoff)
        self.deadline = float(deadline) if deadline is not None else None
        self.config_overrides = dict(config_overrides or {})

    @property
    def id_key(self) -> str:
        """The constructor argument and event key of the id: ``feed_id``, ``report_id``."""
        return f"{self.kind}_id"

    @abc.abstractmethod
    def poll_call(self) -> Call[ProcessedT]:
        """The call to poll (``getFeed``, ``getReport``)."""

    @abc.abstractmethod
    def document_id(self, resource: ProcessedT) -> str | None:
        """The id of the ended feed's or report's document, if it has one."""

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            self.id_key: self.resource_id,
            "spapi_conn_id": self.spapi_conn_id,
            "poll_interval": self.poll_interval,
            "max_poll_interval": self.max_poll_interval,
            "backoff": self.backoff,
            "deadline": self.deadline,
            "config_overrides": self.config_overrides or None,
            "wake_check": self.wake_check,
            "wake_check_interval": self.wake_check_interval,
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
            self.id_key: self.resource_id,
            "processing_status": processing_status,
            self.document_key: extra.pop(self.document_key, None),
        }
        payload.update(extra)
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        interval = self.poll_interval
        last_status: str | None = None
        name = f"{self.kind} {self.resource_id}"
        try:
            client = await self.make_client()
        except (SpApiError, ValueError) as err:
            yield self._event("error", None, message=f"cannot build the SP-API client: {err}")
            return
        async with client:
            while True:
                call = self.poll_call()
                try:
                    resource = await client.call(call)
                except SpApiError as err:
                    if not err.retryable:
                        yield self._event(
                            "error", last_status, message=str(err), error_type=type(err).__name__
                        )
                        return
                    self.log.warning(
                        "%s %s failed for now (%s); polling again", call.operation, self.resource_id, err
                    )
                else:
                    last_status = resource.processing_status
                    if resource.is_terminal:
                        status = "success" if last_status == "DONE" else "error"
                        yield self._event(
                            status,
                            last_status,
                            **{self.document_key: self.document_id(resource)},
                            message=None if status == "success" else f"{name} ended {last_status}",
                            **resource.processing_times(),
                        )
                        return
                    self.log.info("%s is %s; next poll in %.0fs", name, last_status, interval)
                if self.deadline is not None and time.time() + interval > self.deadline:
                    yield self._event(
                        "timeout", last_status, message=f"{name} still {last_status} at the deadline"
                    )
                    return
                await self._wait(interval)
                interval = min(self.max_poll_interval, interval * self.backoff)

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when :attr:`wake_check` says the wait is over."""
        check = self._wake_check()
        if check is None:
            await asyncio.sleep(seconds)
            return
        step = self.wake_check_interval or DEFAULT_WAKE_CHECK_INTERVAL
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, step))
            try:
                woken = bool(await asyncio.to_thread(check, self.kind, self.resource_id))
            except Exception as err:  # the check is a shortcut; polling goes on without it
                self.log.warning("wake check for %s %s failed: %s", self.kind, self.resource_id, err)
                woken = False
            if woken:
                self.log.info("%s %s ended, a notification says: polling now", self.kind, self.resource_id)
                return

    def _wake_check(self) -> Callable[[str, str], object] | None:
        """The :attr:`wake_check` function, or ``None`` (none given, or it cannot be found: a trigger
        serialized by an older release may name one that has moved since; it polls without)."""
        if self.wake_check is None:
            return None
        module, _, name = self.wake_check.rpartition(".")
        try:
            check: Callable[[str, str], object] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError) as err:
            self.log.warning("wake check %s not found (%s); polling without it", self.wake_check, err)
            return None
        return check


class FeedProcessingTrigger(ProcessingTrigger["Feed"]):
    """Poll ``getFeed`` until the feed is DONE, FATAL or CANCELLED, or the deadline passes.

    :param feed_id: the feed to watch.
    :param spapi_conn_id: the seller's ``spapi`` connection.
    :param polling: ``poll_interval``, ``max_poll_interval``, ``backoff``, ``deadline``,
        ``config_overrides``, ``wake_check`` and ``wake_check_interval``, as
        :class:`ProcessingTrigger` takes them.
    """

    kind = "feed"
    document_key = "result_document_id"

    def __init__(
        self, feed_id: str, spapi_conn_id: str = SpApiHook.default_conn_name, **polling: Unpack[Polling]
    ) -> None:
        super().__init__(feed_id, spapi_conn_id, **polling)

    @property
    def feed_id(self) -> str:
        return self.resource_id

    def poll_call(self) -> Call[Feed]:
        return feeds.get_feed(self.feed_id)

    def document_id(self, resource: Feed) -> str | None:
        return resource.result_feed_document_id


class ReportProcessingTrigger(ProcessingTrigger["Report"]):
    """Poll ``getReport`` until the report is DONE, FATAL or CANCELLED, or the deadline passes.

    The same wait as :class:`FeedProcessingTrigger` (same parameters, same backoff, one event),
    because a report takes minutes to hours at Amazon just as a feed does.

    :param report_id: the report to watch.
    :param spapi_conn_id: the seller's ``spapi`` connection.
    :param polling: ``poll_interval``, ``max_poll_interval``, ``backoff``, ``deadline``,
        ``config_overrides``, ``wake_check`` and ``wake_check_interval``, as
        :class:`ProcessingTrigger` takes them.
    """

    kind = "report"
    document_key = "report_document_id"

    def __init__(
        self, report_id: str, spapi_conn_id: str = SpApiHook.default_conn_name, **polling: Unpack[Polling]
    ) -> None:
        super().__init__(report_id, spapi_conn_id, **polling)

    @property
    def report_id(self) -> str:
        return self.resource_id

    def poll_call(self) -> Call[Report]:
        return reports.get_report(self.report_id)

    def document_id(self, resource: Report) -> str | None:
        return resource.report_document_id
