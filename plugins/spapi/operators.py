"""``SubmitFeedOperator``: upload a feed document, create the feed, wait for it without a worker.

Shaped like the Amazon provider's ``BatchOperator``: ``execute`` submits, then reads the status; a
terminal status returns (or raises) at once, otherwise the task defers to
:class:`spapi.triggers.FeedProcessingTrigger` and ``execute_complete`` validates the one event.

Submitting twice must never happen: a feed applies its messages whatever we do next. Two override
points make the operator idempotent against a ledger: :meth:`find_submitted_feed` (a retried or
resumed task finds the feed its earlier try created) and :meth:`before_create_feed` /
:meth:`after_create_feed` (record the attempt *before* Amazon is called, then its feed id). The
pipeline's subclass implements them with the warehouse's ``publish_attempts`` table; on its own,
this operator only guarantees that the client never retries createFeed when Amazon may have acted.

A third, :meth:`submit_failed`, runs when the task's last try fails before a feed outcome, and is
told whether a feed certainly does not exist (:class:`FeedCreation`): only then may the pipeline
hand the document's SKUs to the next run instead of waiting for a feed that was never created.

``RequestReportOperator``: ask Amazon for a report and wait for it the same way (createReport, one
getReport, then :class:`spapi.triggers.ReportProcessingTrigger`). A report changes nothing at
Amazon, so it has no ledger: a retried task simply asks for a new report (createReport is retried
like a read for the same reason). It returns ``{"report_id", "processing_status",
"report_document_id"}``: ``DONE`` with the document to download, or ``CANCELLED`` (Amazon had
nothing to report, or someone cancelled it) with none; ``FATAL``, a failed wait and the deadline
raise. Both live here because this module (with hooks and triggers) is where the client meets Airflow.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, AirflowTaskTimeout

from spapi import feeds, reports
from spapi.errors import FeedFatalError, LwaError, SpApiError, ThrottledError
from spapi.hooks import SpApiHook
from spapi.triggers import TERMINAL_STATUSES, FeedProcessingTrigger, ReportProcessingTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from spapi.client import SpApiClient
    from spapi.models.feeds import Feed, ProcessingTimes


class FeedWaitTimeoutError(SpApiError):
    """The feed did not finish before ``wait_timeout``. It may still finish: nothing was cancelled."""


class FeedCreation(StrEnum):
    """What a try knows, when it fails, about a feed for its document.

    Only ``NONE`` allows acting as if nothing was submitted; everything else must assume a feed
    may be applied later.
    """

    UNKNOWN = "unknown"  # the try failed before the ledger said whether a feed exists
    NONE = "none"  # certainly no feed: createFeed was never sent, or Amazon refused it
    MAYBE = "maybe"  # createFeed was sent and its answer is unknown (timeout, 500, crash)
    EXISTS = "exists"


def create_feed_may_have_acted(error: BaseException) -> bool:
    """Whether Amazon may have created a feed although createFeed raised ``error``.

    A throttle, a refused token, a 503 or another 4xx means Amazon turned the request away. A 500
    or a transport error means the request may have arrived and only the answer was lost; even a
    connection error counts, because the error that reaches us no longer says whether it was sent.
    """
    if isinstance(error, ThrottledError | LwaError):
        return False
    if not isinstance(error, SpApiError) or error.status is None:
        return True
    return not (error.status == 503 or 400 <= error.status < 500)


def is_last_try(task: BaseOperator, context: Context, error: BaseException) -> bool:
    """Whether Airflow will fail the task for good on ``error`` instead of retrying it.

    The task runner's own rule (Task SDK ``_handle_current_task_failed``): no retry after
    :class:`AirflowFailException` or when the task's retry policy says FAIL, else a retry while
    ``try_number <= max_tries``. Without a task instance (called outside Airflow) nothing retries.
    A task cleared while running is retried whatever this says; the ledger copes with that.
    """
    if isinstance(error, AirflowFailException):
        return True
    ti = context.get("ti") if hasattr(context, "get") else None
    if ti is None:
        return True
    try_number = int(ti.try_number)
    max_tries = getattr(ti, "max_tries", None)
    max_tries = int(task.retries or 0) if max_tries is None else int(max_tries)
    policy = getattr(task, "retry_policy", None)
    if policy is not None:
        from airflow.sdk.definitions.retry_policy import RetryAction

        try:
            decision = policy.evaluate(
                exception=error, try_number=try_number, max_tries=max_tries, context=context
            )
        except Exception:  # the runner falls back to the default rule too
            decision = None
        if decision is not None and decision.action == RetryAction.FAIL:
            return True
    return max_tries == 0 or try_number > max_tries


class SubmitFeedOperator(BaseOperator):
    """Submit one feed document to SP-API and wait (deferred) until Amazon has processed it.

    Returns ``{"feed_id", "processing_status", "result_document_id", "document_hash",
    "processing_start_time", "processing_end_time"}`` as XCom (the times as Amazon's getFeed wrote
    them, ``None`` where it gave none).

    :param document_path: the document to upload, exactly as it should be sent.
    :param marketplace_ids: the feed's marketplaces (1..25).
    :param spapi_conn_id: the seller's ``spapi`` connection.
    :param feed_type: Amazon's feed type.
    :param content_type: must match between createFeedDocument and the upload.
    :param feed_options: createFeed's ``feedOptions``.
    :param poll_interval: first poll interval of the trigger, growing up to ``max_poll_interval``.
    :param wait_timeout: how long to wait for Amazon (it can take up to 8 hours under load).
    :param deferrable: wait in the triggerer (default); ``False`` polls in the worker.
    :param fail_on_fatal: raise :class:`FeedFatalError` on FATAL/CANCELLED (else return the outcome,
        for a downstream task that dead-letters the messages).
    :param config_overrides: :class:`spapi.config.SpApiConfig` fields that win over the connection.
    :param wake_check: passed to :class:`FeedProcessingTrigger`: a function that says, between
        polls, whether a notification already told that the feed ended (polling stays the fallback).
    :param quota_defer_after: when the shared limiter says createFeed (5 feeds per 5 minutes per
        region) is further away than this many seconds, the task defers until then instead of
        sleeping in a worker slot.
    """

    template_fields: Sequence[str] = ("document_path", "marketplace_ids", "feed_type", "feed_options")
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        document_path: str,
        marketplace_ids: Sequence[str],
        spapi_conn_id: str = SpApiHook.default_conn_name,
        feed_type: str = "JSON_LISTINGS_FEED",
        content_type: str = "application/json",
        feed_options: dict[str, str] | None = None,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        wait_timeout: timedelta = timedelta(hours=12),
        deferrable: bool = True,
        fail_on_fatal: bool = True,
        config_overrides: dict[str, Any] | None = None,
        quota_defer_after: float = 60.0,
        wake_check: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.document_path = document_path
        self.marketplace_ids = list(marketplace_ids)
        self.spapi_conn_id = spapi_conn_id
        self.feed_type = feed_type
        self.content_type = content_type
        self.feed_options = feed_options
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.wait_timeout = wait_timeout
        self.deferrable = deferrable
        self.fail_on_fatal = fail_on_fatal
        self.config_overrides = dict(config_overrides or {})
        self.quota_defer_after = quota_defer_after
        self.wake_check = wake_check

    @cached_property
    def hook(self) -> SpApiHook:
        return SpApiHook(self.spapi_conn_id, config_overrides=self.config_overrides)

    # ---- override points (the pipeline's ledger) -----------------------------------------------

    def find_submitted_feed(self, context: Context, document_hash: str) -> str | None:
        """The feed id an earlier try created for this document, if any."""
        return None

    def before_create_feed(self, context: Context, document_hash: str, feed_document_id: str) -> None:
        """Called after the upload, right before createFeed: record the attempt durably here."""

    def after_create_feed(self, context: Context, document_hash: str, feed_id: str) -> None:
        """Called as soon as Amazon has answered createFeed."""

    def after_feed_finished(self, context: Context, outcome: dict[str, Any]) -> None:
        """Called once the feed is DONE, FATAL or CANCELLED (before a FATAL raises)."""

    def submit_failed(
        self, context: Context, error: BaseException, document_hash: str | None, creation: FeedCreation
    ) -> None:
        """Called when the last try fails before the feed's outcome, right before the error is
        raised to Airflow: with ``creation == NONE`` nothing was submitted and whatever waits for
        this document can be let go. An error raised here is logged, never raised instead."""

    # ---- execution --------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        self._try_hash: str | None = None
        self._try_creation = FeedCreation.UNKNOWN
        try:
            return self._submit_and_wait(context)
        except AirflowSkipException:
            raise  # nothing to send: not a failed submit
        except (Exception, AirflowTaskTimeout) as error:
            if is_last_try(self, context, error):
                try:
                    self.submit_failed(context, error, self._try_hash, self._try_creation)
                except Exception:
                    self.log.exception("handling the failed submit failed too; the first error follows")
            raise
        finally:
            self.close()

    def make_client(self) -> SpApiClient:
        """The client of one execution step; a subclass overrides this to observe its calls."""
        return self.hook.get_client()

    def _step_client(self) -> SpApiClient:
        if "client" not in self.hook.__dict__:
            self.hook.__dict__["client"] = self.make_client()
        return self.hook.client

    def close(self) -> None:
        """Release the HTTP client; each execution step (and each resumption) opens its own."""
        client = self.hook.__dict__.pop("client", None)
        if client is not None:
            client.close()

    def _document_hash(self) -> str:
        return hashlib.sha256(Path(self.document_path).read_bytes()).hexdigest()

    def _submit_and_wait(self, context: Context) -> dict[str, Any]:
        data = Path(self.document_path).read_bytes()
        document_hash = self._try_hash = hashlib.sha256(data).hexdigest()
        client = self._step_client()
        feed_id = self.find_submitted_feed(context, document_hash)
        self._try_creation = FeedCreation.NONE if feed_id is None else FeedCreation.EXISTS
        if feed_id is not None:
            self.log.info(
                "document %s was already submitted as feed %s; not submitting again",
                document_hash[:12],
                feed_id,
            )
        else:
            self._defer_while_over_quota(client)
            document = client.call(feeds.create_feed_document(self.content_type))
            client.call(feeds.upload_feed_document(document.url, data, self.content_type))
            self.before_create_feed(context, document_hash, document.feed_document_id)
            self._try_creation = FeedCreation.MAYBE
            try:
                created = client.call(
                    feeds.create_feed(
                        self.feed_type,
                        self.marketplace_ids,
                        document.feed_document_id,
                        feed_options=self.feed_options,
                    )
                )
            except SpApiError as error:
                if not create_feed_may_have_acted(error):
                    self._try_creation = FeedCreation.NONE
                raise
            self._try_creation = FeedCreation.EXISTS
            feed_id = created.feed_id
            self.after_create_feed(context, document_hash, feed_id)
            self.log.info("created feed %s (%d bytes, sha256 %s)", feed_id, len(data), document_hash[:12])

        feed = client.call(feeds.get_feed(feed_id))
        if feed.processing_status in TERMINAL_STATUSES:
            return self._outcome(
                context,
                feed_id,
                feed.processing_status,
                feed.result_feed_document_id,
                document_hash,
                feed.processing_times(),
            )
        if not self.deferrable:
            return self._poll_here(context, feed_id, document_hash)
        self.defer(
            trigger=FeedProcessingTrigger(
                feed_id=feed_id,
                spapi_conn_id=self.spapi_conn_id,
                poll_interval=self.poll_interval,
                max_poll_interval=self.max_poll_interval,
                deadline=time.time() + self.wait_timeout.total_seconds(),
                config_overrides=self.config_overrides or None,
                wake_check=self.wake_check,
            ),
            method_name="execute_complete",
            kwargs={"document_hash": document_hash},
            timeout=self.wait_timeout + timedelta(minutes=5),
        )
        raise AssertionError("defer() raises TaskDeferred")  # pragma: no cover

    def _defer_while_over_quota(self, client: SpApiClient) -> None:
        config = client.config
        keys = client.limiter.keys_for(config.account_key, config.region, "createFeed", self.feed_type)
        wait = client.limiter.time_until_available(keys)
        if wait > self.quota_defer_after:
            self.log.info(
                "createFeed quota is used up for %.0fs; deferring instead of holding a worker", wait
            )
            self.defer(
                trigger=DateTimeTrigger(moment=datetime.now(UTC) + timedelta(seconds=wait)),
                method_name="resume_after_quota",
            )

    def resume_after_quota(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Back from the quota wait: start over (the ledger check runs again first)."""
        return self.execute(context)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, document_hash: str = ""
    ) -> dict[str, Any]:
        try:
            return self._complete(context, event, document_hash)
        finally:
            self.close()

    def _complete(self, context: Context, event: dict[str, Any] | None, document_hash: str) -> dict[str, Any]:
        if not event or "status" not in event or "feed_id" not in event:
            raise SpApiError(f"the feed trigger sent an unexpected event: {event!r}")
        feed_id = str(event["feed_id"])
        if event["status"] == "timeout":
            raise FeedWaitTimeoutError(
                f"feed {feed_id} was still {event.get('processing_status')} after {self.wait_timeout}",
                operation="getFeed",
            )
        if event["status"] == "error" and event.get("processing_status") not in ("FATAL", "CANCELLED"):
            raise SpApiError(
                f"waiting for feed {feed_id} failed: {event.get('message')}", operation="getFeed"
            )
        # the document is the source of truth for its hash; resumption kwargs are only a shortcut
        return self._outcome(
            context,
            feed_id,
            str(event["processing_status"]),
            event.get("result_document_id"),
            document_hash or self._document_hash(),
            {
                "processing_start_time": event.get("processing_start_time"),
                "processing_end_time": event.get("processing_end_time"),
            },
        )

    def _poll_here(self, context: Context, feed_id: str, document_hash: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.wait_timeout.total_seconds()
        interval = self.poll_interval
        while True:
            time.sleep(interval)
            feed: Feed = self.hook.client.call(feeds.get_feed(feed_id))
            if feed.processing_status in TERMINAL_STATUSES:
                return self._outcome(
                    context,
                    feed_id,
                    feed.processing_status,
                    feed.result_feed_document_id,
                    document_hash,
                    feed.processing_times(),
                )
            if time.monotonic() + interval > deadline:
                raise FeedWaitTimeoutError(
                    f"feed {feed_id} was still {feed.processing_status} after {self.wait_timeout}",
                    operation="getFeed",
                )
            interval = min(self.max_poll_interval, interval * 1.5)

    def _outcome(
        self,
        context: Context,
        feed_id: str,
        status: str,
        result_document_id: str | None,
        document_hash: str,
        times: ProcessingTimes,
    ) -> dict[str, Any]:
        outcome = {
            "feed_id": feed_id,
            "processing_status": status,
            "result_document_id": result_document_id,
            "document_hash": document_hash,
            **times,
        }
        self.after_feed_finished(context, outcome)
        if status != "DONE" and self.fail_on_fatal:
            raise FeedFatalError(
                f"feed {feed_id} ended {status}; some, none or all of its messages may have been applied",
                feed_id=feed_id,
                processing_status=status,
                result_document_id=result_document_id,
                operation="getFeed",
            )
        return outcome


# --- reports ----------------------------------------------------------------------------------------


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
