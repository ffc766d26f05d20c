"""Reports API 2021-06-30 (reports and report documents; schedules are not served) and the report
processor.

createReport (202, IN_QUEUE) -> the processor moves it IN_PROGRESS, then DONE with a GZIP report
document after the configured latencies; a report with nothing to return ends CANCELLED (Amazon's
"automatic cancellation if there is no data to return"), one drawn by a ``report_fatal`` fault
FATAL with a small JSON document saying why. cancelReport cancels an IN_QUEUE report only.

Every change of a report's ``processingStatus`` goes through :meth:`ReportProcessor.move`, which
then tells each of :attr:`ReportProcessor.listeners`: the app registers the notifier's
:meth:`~sandbox.notifier.Notifier.report_finished` there, which queues ``REPORT_PROCESSING_FINISHED``
for an ended report.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from . import merchant_listings, seller_performance
from .core import ApiError, Call, Sandbox, json_body, run_operation
from .jobs import Periodic, advance, document_answer, list_filters, list_page, own_row, with_times
from .listings import iso
from .published import (
    CREATE_REPORT_MARKETPLACES,
    GET_REPORTS_MAX_MARKETPLACES,
    GET_REPORTS_MAX_REPORT_TYPES,
    GET_REPORTS_PAGE_SIZE,
    region_of,
)

log = logging.getLogger("sandbox.reports")

router = APIRouter()

BASE = "/reports/2021-06-30"
SUPPORTED_REPORT_TYPES = (merchant_listings.REPORT_TYPE, *seller_performance.REPORT_TYPES)
RETENTION_SECONDS = 90 * 24 * 3600
TERMINAL = frozenset({"DONE", "CANCELLED", "FATAL"})


# -- rendering ---------------------------------------------------------------------------------


def render_report(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "reportId": row["report_id"],
        "reportType": row["report_type"],
        "marketplaceIds": json.loads(row["marketplaces"]),
        "dataStartTime": iso(row["data_start"]),
        "dataEndTime": iso(row["data_end"]),
        "createdTime": iso(row["created"]),
        "processingStatus": row["status"],
    }
    return with_times(out, row, "reportDocumentId", "document_id")


def new_report_document_id(region: str) -> str:
    """The shape of Amazon's report document ids (``amzn1.spdoc.1.4.<region>.<uuid>...``)."""
    return (
        f"amzn1.spdoc.1.4.{region}.{uuid.uuid4()}.T{uuid.uuid4().hex[:14].upper()}.{int(time.time()) % 10000}"
    )


# -- routes ------------------------------------------------------------------------------------


def _time(name: str, value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError.invalid(f"Invalid {name}: an ISO 8601 date-time string is required.", name)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError.invalid(f"Invalid {name}: {value!r} is not an ISO 8601 date-time.", name) from None
    if parsed.tzinfo is None:
        raise ApiError.invalid(f"Invalid {name}: {value!r} has no time zone.", name)
    return parsed.timestamp()


@dataclass(frozen=True)
class ReportRequest:
    """A createReport body the sandbox accepted."""

    report_type: str
    marketplace_ids: list[str]
    options: dict[str, str] | None
    data_start: float
    data_end: float


def _check_create(body: dict[str, Any], region: str | None, now: float) -> ReportRequest:
    """createReport's body, refused with 400 where the model's definition refuses it."""
    report_type = body.get("reportType")
    ids = body.get("marketplaceIds")
    options = body.get("reportOptions")
    if not isinstance(report_type, str) or not report_type:
        raise ApiError.invalid("Invalid request body: reportType is required.", "reportType")
    fewest, most = CREATE_REPORT_MARKETPLACES
    if (
        not isinstance(ids, list)
        or not fewest <= len(ids) <= most
        or not all(isinstance(i, str) for i in ids)
    ):
        raise ApiError.invalid(
            f"Invalid request body: marketplaceIds must hold {fewest} to {most} marketplace ids.",
            "marketplaceIds",
        )
    if options is not None and (
        not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values())
    ):
        raise ApiError.invalid("Invalid request body: reportOptions must map strings to strings.")
    start = _time("dataStartTime", body.get("dataStartTime"))
    end = _time("dataEndTime", body.get("dataEndTime"))
    for name, value in (("dataStartTime", start), ("dataEndTime", end)):
        if value is not None and value > now:
            raise ApiError.invalid(f"Invalid {name}: it must not be in the future.", name)
    if start is not None and end is not None and start > end:
        raise ApiError.invalid("Invalid dataStartTime: it is after dataEndTime.", "dataStartTime")
    if report_type not in SUPPORTED_REPORT_TYPES:
        raise ApiError.invalid(
            f"Invalid reportType {report_type!r}.",
            f"The sandbox supports {', '.join(SUPPORTED_REPORT_TYPES)} only.",
        )
    seller_performance.check_options(report_type, options)
    bad = [m for m in ids if region_of(m) != region]
    if bad:
        raise ApiError.invalid(
            f"Invalid marketplaceIds: {', '.join(bad)}",
            f"Marketplaces must belong to the seller's region {region}.",
        )
    if report_type == merchant_listings.REPORT_TYPE and len(ids) != 1:
        # the flat file has no marketplace column: rows of two marketplaces could not be told apart
        raise ApiError.invalid(
            f"Invalid marketplaceIds: {report_type} is requested for one marketplace at a time.",
            "marketplaceIds",
        )
    return ReportRequest(
        report_type,
        list(ids),
        dict(options) if options else None,
        start if start is not None else (end if end is not None else now),
        end if end is not None else now,
    )


def _own_report(sandbox: Sandbox, call: Call, report_id: str) -> dict[str, Any]:
    return own_row(sandbox, call, "reports", "report_id", report_id, "Report")


@router.post(BASE + "/reports")
async def create_report(request: Request) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        now = time.time()
        spec = _check_create(await json_body(request), call.region, now)
        fault = "report_fatal" if sandbox.faults.draw("report_fatal", "createReport") is not None else None
        seq = sandbox.store.next_seq("report")
        report_id = str(60_000_000_000 + seq)
        sandbox.store.execute(
            "INSERT INTO reports(report_id, seller_id, region, report_type, marketplaces, options, data_start, "
            "data_end, status, created, fault, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                report_id,
                call.seller_id,
                call.region,
                spec.report_type,
                json.dumps(spec.marketplace_ids),
                json.dumps(spec.options) if spec.options else None,
                spec.data_start,
                spec.data_end,
                "IN_QUEUE",
                now,
                fault,
                seq,
            ),
        )
        return call.respond(202, {"reportId": report_id})

    return await run_operation(request, "createReport", handle)


@router.get(BASE + "/reports/{reportId}")
async def get_report(request: Request, reportId: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        return call.respond(200, render_report(_own_report(sandbox, call, reportId)))

    return await run_operation(request, "getReport", handle)


@router.delete(BASE + "/reports/{reportId}")
async def cancel_report(request: Request, reportId: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        row = _own_report(sandbox, call, reportId)
        processor: ReportProcessor = request.app.state.report_processor
        if not processor.move(row, "IN_QUEUE", "CANCELLED", time.time()):
            current = sandbox.store.one("SELECT status FROM reports WHERE report_id=?", (reportId,))
            status = current["status"] if current else "unknown"
            raise ApiError.invalid(
                f"Report {reportId} cannot be cancelled.",
                f"Only IN_QUEUE reports can be cancelled; this one is {status}.",
            )
        return call.respond(200, None)

    return await run_operation(request, "cancelReport", handle)


def _report_filters(request: Request, now: float) -> dict[str, Any]:
    """getReports' filters, refused with 400 where the model's parameter definitions refuse them."""
    return list_filters(
        request,
        now,
        types="reportTypes",
        most=(GET_REPORTS_MAX_REPORT_TYPES, GET_REPORTS_MAX_MARKETPLACES),
        page_size=GET_REPORTS_PAGE_SIZE,
        retention=RETENTION_SECONDS,
        parse_time=_time,
    )


def _decode_token(token: str) -> dict[str, Any]:
    try:
        filters = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise ApiError.invalid("Invalid nextToken.", "nextToken") from None
    if not isinstance(filters, dict) or not {"reportTypes", "since", "until", "pageSize", "offset"} <= set(
        filters
    ):
        raise ApiError.invalid("Invalid nextToken.", "nextToken")
    return filters


@router.get(BASE + "/reports")
async def get_reports(request: Request) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        params = request.query_params
        token = params.get("nextToken")
        if token is not None:
            if len(params) > 1:
                raise ApiError.invalid("nextToken must be the only parameter when it is given.", "nextToken")
            filters = _decode_token(token)
        else:
            filters = _report_filters(request, time.time())
        page = list_page(
            sandbox,
            call,
            filters,
            table="reports",
            types="reportTypes",
            type_column="report_type",
            key="reports",
            render=render_report,
        )
        return call.respond(200, page)

    return await run_operation(request, "getReports", handle)


@router.get(BASE + "/documents/{reportDocumentId}")
async def get_report_document(request: Request, reportDocumentId: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        answer = document_answer(
            sandbox,
            request,
            call,
            reportDocumentId,
            key="reportDocumentId",
            kind="report",
            label="Report document",
        )
        return call.respond(200, answer)

    return await run_operation(request, "getReportDocument", handle)


# -- processor ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportMoved:
    """A report changed ``processingStatus``: what a notification would carry."""

    report_id: str
    seller_id: str
    report_type: str
    status: str
    document_id: str | None
    at: float


ReportListener = Callable[[ReportMoved], None]


class ReportProcessor(Periodic):
    """Moves reports through their states; ``run_once`` is one pass (tests call it directly)."""

    task_name = "sandbox-report-processor"
    failure = "report processor pass failed"
    log = log

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.listeners: list[ReportListener] = []

    def move(
        self,
        row: dict[str, Any],
        expected: str,
        status: str,
        now: float,
        document: tuple[bytes, str] | None = None,
    ) -> bool:
        """The one state change: ``expected`` -> ``status``, with the document of an ended report
        (its GZIP-compressed content and content type). False when the report was no longer in
        ``expected`` (cancelled meanwhile, or moved by another pass)."""
        document_id = new_report_document_id(row["region"]) if document is not None else None
        with self.sandbox.store.transaction() as db:
            if status == "IN_PROGRESS":
                cursor = db.execute(
                    "UPDATE reports SET status=?, started=? WHERE report_id=? AND status=?",
                    (status, now, row["report_id"], expected),
                )
            else:
                cursor = db.execute(
                    "UPDATE reports SET status=?, ended=?, document_id=? WHERE report_id=? AND status=?",
                    (status, now, document_id, row["report_id"], expected),
                )
            if cursor.rowcount != 1:
                return False
            if document is not None:
                content, content_type = document
                db.execute(
                    "INSERT INTO documents(document_id, seller_id, kind, content_type, content, compression, "
                    "created, uploaded) VALUES (?,?,?,?,?,?,?,?)",
                    (document_id, row["seller_id"], "report", content_type, content, "GZIP", now, now),
                )
        event = ReportMoved(row["report_id"], row["seller_id"], row["report_type"], status, document_id, now)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a listener must not undo or stop a state change
                log.exception("report listener failed for %s", row["report_id"])
        return True

    def run_once(self, now: float | None = None) -> int:
        """Advance every due report; returns how many reports changed state."""
        now = time.time() if now is None else now
        settings = self.sandbox.settings

        def start(row: dict[str, Any]) -> int:
            return self.move(row, "IN_QUEUE", "IN_PROGRESS", now)

        def finish(row: dict[str, Any]) -> int:
            try:
                status, document = self.outcome(row)
            except Exception:  # a bug must not stop the processor; the report ends FATAL
                log.exception("processing report %s failed", row["report_id"])
                status, document = "FATAL", _error_document("Internal error while processing the report.")
            return self.move(row, "IN_PROGRESS", status, now, document)

        latencies = (settings.report_queue_seconds, settings.report_processing_seconds)
        return advance(self.sandbox, "reports", now, latencies, start, finish)

    def outcome(self, row: dict[str, Any]) -> tuple[str, tuple[bytes, str] | None]:
        """How an IN_PROGRESS report ends, and its document."""
        if row["fault"] == "report_fatal":
            return "FATAL", _error_document("The report could not be generated (injected fault).")
        if row["report_type"] in seller_performance.REPORT_TYPES:
            return seller_performance.outcome(self.sandbox.store, row, time.time())
        (marketplace_id,) = json.loads(row["marketplaces"])
        content = merchant_listings.build(self.sandbox.store, row["seller_id"], marketplace_id)
        if content is None:
            return "CANCELLED", None
        return "DONE", (gzip.compress(content, mtime=0), merchant_listings.content_type_for(marketplace_id))


def _error_document(message: str) -> tuple[bytes, str]:
    """A FATAL report's document: Amazon puts the reason in one, as JSON ``errorDetails``."""
    return gzip.compress(json.dumps({"errorDetails": message}).encode(), mtime=0), "application/json"
