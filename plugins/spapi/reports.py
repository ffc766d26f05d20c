"""Reports API 2021-06-30: one function per operation, each returning a :class:`Call`.

Pure: nothing here does I/O. The flow (report schedules are not covered)::

    created = client.call(reports.create_report("GET_MERCHANT_LISTINGS_ALL_DATA", [mp]))   # 202
    report = client.call(reports.get_report(created.report_id))   # poll until report.is_terminal
    document = client.call(reports.get_report_document(report.report_document_id))
    content = client.call(reports.download_report_document(document))   # decompressed, with charset
    rows = flat_files.parse_merchant_listings(content)

The download goes to a presigned URL (``sp_api=False``: no SP-API auth header, not rate limited)
that expires after 5 minutes, so request it right before use. A report ends DONE, FATAL (its
document, if any, says why) or CANCELLED (by cancelReport, or by Amazon when there was no data).

Paging ``getReports``: call :func:`get_reports` with filters, then ``get_reports(next_token=...)``
with the token *alone* until ``GetReportsResponse.next_token`` is ``None``
(``client.paginate(get_reports(...), next_page)`` does this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx

from . import documents
from .call import Call, QueryValue, no_content, path_part
from .documents import GZIP_MAGIC as GZIP_MAGIC
from .models.common import (
    enum_list,
    id_list,
    int_range,
    iso8601,
    json_parser,
    next_token_alone,
    require_text,
    required_ids,
    to_wire,
)
from .models.reports import (
    MAX_CREATE_REPORT_MARKETPLACES,
    PROCESSING_STATUSES,
    CreateReportResponse,
    CreateReportSpecification,
    GetReportsResponse,
    Report,
    ReportContent,
    ReportDocument,
)

BASE = "/reports/2021-06-30"
MAX_GET_REPORTS_FILTER_ITEMS = 10
MAX_GET_REPORTS_PAGE_SIZE = 100


def create_report(
    report_type: str,
    marketplace_ids: Sequence[str],
    *,
    report_options: Mapping[str, str] | None = None,
    data_start_time: datetime | None = None,
    data_end_time: datetime | None = None,
) -> Call[CreateReportResponse]:
    """``createReport`` (202). Not idempotent: a repeat asks Amazon for a second report, which
    costs a createReport token and a report nobody reads, never a change to the seller's data (the
    client may therefore retry it like a read, see ``spapi.client.SAFE_TO_REPEAT``).

    Data times must be timezone-aware: a naive one would shift the report's window silently.
    """
    ids = required_ids("marketplace_ids", marketplace_ids, max_items=MAX_CREATE_REPORT_MARKETPLACES)
    for name, value in (("data_start_time", data_start_time), ("data_end_time", data_end_time)):
        if value is not None and not isinstance(value, datetime):
            raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
        iso8601(name, value)  # refuses a naive one
    body = CreateReportSpecification(
        report_type=require_text("report_type", report_type),
        marketplace_ids=ids,
        report_options=dict(report_options) if report_options is not None else None,
        data_start_time=data_start_time,
        data_end_time=data_end_time,
    )
    return Call(
        operation="createReport",
        method="POST",
        path=f"{BASE}/reports",
        json=to_wire(body),
        parse=json_parser(CreateReportResponse),
        success=(202,),
        idempotent=False,
        marketplace_id=",".join(ids),
    )


def get_report(report_id: str) -> Call[Report]:
    """``getReport`` (2 per second): the call to poll."""
    return Call(
        operation="getReport",
        method="GET",
        path=f"{BASE}/reports/{path_part(require_text('report_id', report_id))}",
        parse=json_parser(Report),
    )


def get_reports(
    *,
    report_types: Sequence[str] | None = None,
    processing_statuses: Sequence[str] | None = None,
    marketplace_ids: Sequence[str] | None = None,
    page_size: int | None = None,
    created_since: datetime | str | None = None,
    created_until: datetime | str | None = None,
    next_token: str | None = None,
) -> Call[GetReportsResponse]:
    """``getReports`` (1 call per 45 s). Either ``report_types`` (1..10) or ``next_token`` is
    required, and ``next_token`` must be the only argument. ``page_size`` is 1..100 (Amazon's
    default 10); reports are kept 90 days (the default ``createdSince``)."""
    params: dict[str, QueryValue]
    if next_token is not None:
        others = {
            "report_types": report_types,
            "processing_statuses": processing_statuses,
            "marketplace_ids": marketplace_ids,
            "page_size": page_size,
            "created_since": created_since,
            "created_until": created_until,
        }
        params = {**next_token_alone("getReports", next_token, others)}
    else:
        if report_types is None:
            raise ValueError("report_types is required unless next_token is given")
        params = {
            "reportTypes": required_ids("report_types", report_types, max_items=MAX_GET_REPORTS_FILTER_ITEMS),
            "processingStatuses": enum_list("processing_statuses", processing_statuses, PROCESSING_STATUSES),
            "marketplaceIds": id_list(
                "marketplace_ids", marketplace_ids, max_items=MAX_GET_REPORTS_FILTER_ITEMS
            ),
            "pageSize": int_range("page_size", page_size, 1, MAX_GET_REPORTS_PAGE_SIZE),
            "createdSince": iso8601("created_since", created_since),
            "createdUntil": iso8601("created_until", created_until),
        }
    return Call(
        operation="getReports",
        method="GET",
        path=f"{BASE}/reports",
        params=params,
        parse=json_parser(GetReportsResponse),
    )


def next_page(page: GetReportsResponse, _call: Call[GetReportsResponse]) -> Call[GetReportsResponse] | None:
    """The ``getReports`` call for the page after ``page`` (``nextToken`` alone), or ``None``."""
    return get_reports(next_token=page.next_token) if page.next_token else None


def cancel_report(report_id: str) -> Call[None]:
    """``cancelReport``: 200 with no body. Only ``IN_QUEUE`` reports can be cancelled; the report
    stays, ``CANCELLED``, in getReport and getReports."""
    return Call(
        operation="cancelReport",
        method="DELETE",
        path=f"{BASE}/reports/{path_part(require_text('report_id', report_id))}",
        parse=no_content,
    )


def get_report_document(
    report_document_id: str, *, enable_content_encoding_url_header: bool | None = None
) -> Call[ReportDocument]:
    """``getReportDocument`` (1 call per 60 s). The URL it returns expires after 5 minutes.

    ``enable_content_encoding_url_header=True`` makes the download answer with
    ``Content-Encoding: gzip`` so HTTP clients decompress on the fly; :func:`download_report_document`
    handles both cases.
    """
    return documents.get_document(
        "getReportDocument",
        f"{BASE}/documents",
        "report_document_id",
        report_document_id,
        ReportDocument,
        enable_content_encoding_url_header,
    )


def decode_report_document(document: ReportDocument, response: httpx.Response) -> ReportContent:
    """The document's plain bytes (see :func:`spapi.documents.document_bytes`) and the
    ``Content-Type`` they came with."""
    return ReportContent(
        data=documents.document_bytes(document.compression_algorithm, response),
        content_type=response.headers.get("content-type"),
    )


def download_report_document(document: ReportDocument) -> Call[ReportContent]:
    """``GET`` a report document from its presigned URL, decompressed (see
    :func:`decode_report_document`)."""
    if not isinstance(document, ReportDocument):
        raise ValueError(f"document must be a ReportDocument, got {type(document).__name__}")

    def parse(response: httpx.Response) -> ReportContent:
        return decode_report_document(document, response)

    return documents.download("downloadReportDocument", document.url, parse)
