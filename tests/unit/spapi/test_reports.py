"""The Reports API builders, the report document download and the merchant listings flat file.

Pure tests (no I/O but ``httpx.MockTransport``). The builders, bodies and response models are
checked against Amazon's Swagger model in ``include/spapi-models`` (the ``models_dir`` fixture).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator

from spapi import reports
from spapi.call import Call
from spapi.client import SAFE_TO_REPEAT, SpApiClient
from spapi.flat_files import FlatFileError, iter_records, parse_merchant_listings
from spapi.models.reports import GetReportsResponse, MerchantListingRow, Report, ReportContent, ReportDocument
from spapi.ratelimit import MemoryBackend, RateLimiter

from .fakes import FakeSpApi, fake_config, respond

US = "ATVPDKIKX0DER"
DE = "A1PA6795UKMFR9"
PRESIGNED = "https://tortuga-prod-na.s3-external-1.amazonaws.com/%2FNinetyDays/amzn1.spdoc.1.4.na.abc?X-Amz-Signature=x"
REPORTS_MODEL = "models/reports-api-model/reports_2021-06-30.json"
LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"


# --- builders ---------------------------------------------------------------------------------


def test_create_report() -> None:
    start = datetime(2024, 3, 1, 2, 30, tzinfo=timezone(timedelta(hours=1)))
    call = reports.create_report(
        LISTINGS_REPORT, [US], report_options={"custom": "true"}, data_start_time=start
    )
    assert (call.operation, call.method, call.path) == ("createReport", "POST", "/reports/2021-06-30/reports")
    assert call.json == {
        "reportType": LISTINGS_REPORT,
        "marketplaceIds": [US],
        "reportOptions": {"custom": "true"},
        "dataStartTime": "2024-03-01T01:30:00Z",
    }
    assert call.success == (202,) and call.idempotent is False and call.marketplace_id == US
    assert "createReport" in SAFE_TO_REPEAT, "a second report is harmless: retried like a read"
    assert call.parse(respond(call, 202, {"reportId": "ID323"})).report_id == "ID323"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", [US]), {}, "report_type"),
        ((LISTINGS_REPORT, []), {}, "marketplace_ids"),
        ((LISTINGS_REPORT, US), {}, "marketplace_ids"),
        ((LISTINGS_REPORT, [US] * 26), {}, "marketplace_ids"),
        ((LISTINGS_REPORT, [US]), {"data_start_time": datetime(2024, 3, 1)}, "data_start_time"),
        ((LISTINGS_REPORT, [US]), {"data_end_time": "2024-03-01"}, "data_end_time"),
    ],
)
def test_create_report_input_errors(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reports.create_report(*args, **kwargs)


def test_get_report_cancel_and_document() -> None:
    call = reports.get_report("5/1")
    assert (call.operation, call.method, call.path) == (
        "getReport",
        "GET",
        "/reports/2021-06-30/reports/5%2F1",
    )
    cancel = reports.cancel_report("51")
    assert (cancel.operation, cancel.method, cancel.path) == (
        "cancelReport",
        "DELETE",
        "/reports/2021-06-30/reports/51",
    )
    assert cancel.parse(respond(cancel, 200)) is None
    doc = reports.get_report_document("amzn1.spdoc.1", enable_content_encoding_url_header=True)
    assert doc.path == "/reports/2021-06-30/documents/amzn1.spdoc.1"
    assert doc.query() == [("enableContentEncodingUrlHeader", "true")]
    assert reports.get_report_document("d").query() == []
    for bad in (lambda: reports.get_report(""), lambda: reports.cancel_report(" ")):
        with pytest.raises(ValueError, match="report_id"):
            bad()
    with pytest.raises(ValueError, match="bool"):
        reports.get_report_document("d", enable_content_encoding_url_header="yes")  # type: ignore[arg-type]


def test_get_reports_filters_and_the_token_alone() -> None:
    call = reports.get_reports(
        report_types=[LISTINGS_REPORT],
        processing_statuses=["DONE", "FATAL"],
        marketplace_ids=[US, DE],
        page_size=100,
        created_since=datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert call.query() == [
        ("reportTypes", LISTINGS_REPORT),
        ("processingStatuses", "DONE,FATAL"),
        ("marketplaceIds", f"{US},{DE}"),
        ("pageSize", "100"),
        ("createdSince", "2024-03-01T00:00:00.000Z"),
    ]
    assert reports.get_reports(next_token="abc").query() == [("nextToken", "abc")]
    with pytest.raises(ValueError, match="only parameter"):
        reports.get_reports(next_token="abc", page_size=5)
    with pytest.raises(ValueError, match="report_types is required"):
        reports.get_reports()
    with pytest.raises(ValueError, match="processing_statuses"):
        reports.get_reports(report_types=["X"], processing_statuses=["DONE", "BAD_VALUE"])
    with pytest.raises(ValueError, match="page_size"):
        reports.get_reports(report_types=["X"], page_size=101)
    with pytest.raises(ValueError, match="report_types"):
        reports.get_reports(report_types=[f"T{i}" for i in range(11)])


def test_paginate_sends_the_token_alone_until_there_is_none() -> None:
    pages = [
        {"reports": [report_json("3"), report_json("2")], "nextToken": "page-2"},
        {"reports": [report_json("1")]},
    ]
    fake = FakeSpApi()
    fake.script.extend(httpx.Response(200, json=p) for p in pages)
    with SpApiClient(
        fake_config(), transport=httpx.MockTransport(fake), limiter=RateLimiter(MemoryBackend(), scale=1e6)
    ) as client:
        first = reports.get_reports(report_types=[LISTINGS_REPORT], page_size=2)
        seen = [r.report_id for page in client.paginate(first, reports.next_page) for r in page.reports]
    assert seen == ["3", "2", "1"]
    assert [dict(httpx.QueryParams(c.url.query)) for c in fake.calls] == [
        {"reportTypes": LISTINGS_REPORT, "pageSize": "2"},
        {"nextToken": "page-2"},
    ]


def report_json(report_id: str, status: str = "DONE") -> dict[str, Any]:
    return {
        "reportId": report_id,
        "reportType": LISTINGS_REPORT,
        "createdTime": "2024-03-10T13:47:20.677Z",
        "processingStatus": status,
    }


def test_report_is_terminal_and_lenient() -> None:
    assert Report.model_validate(report_json("1", "DONE")).is_terminal
    assert not Report.model_validate(report_json("1", "IN_PROGRESS")).is_terminal
    later = Report.model_validate(report_json("1", "SOMETHING_NEW"))
    assert later.processing_status == "SOMETHING_NEW" and not later.is_terminal


# --- download ---------------------------------------------------------------------------------


def document(compression: str | None = "GZIP") -> ReportDocument:
    body: dict[str, Any] = {"reportDocumentId": "D1", "url": PRESIGNED}
    if compression:
        body["compressionAlgorithm"] = compression
    return ReportDocument.model_validate(body)


def test_download_gunzips_and_keeps_the_content_type() -> None:
    call = reports.download_report_document(document())
    assert (call.operation, call.method, call.sp_api, call.path) == (
        "downloadReportDocument",
        "GET",
        False,
        PRESIGNED,
    )
    plain = b"seller-sku\nS-1\n"
    content = call.parse(
        respond(call, 200, gzip.compress(plain), {"content-type": "text/plain; charset=UTF-8"})
    )
    assert content == ReportContent(plain, "text/plain; charset=UTF-8")


def test_download_leaves_what_is_not_gzip_alone() -> None:
    plain = b"seller-sku\nS-1\n"
    # uncompressed document
    call = reports.download_report_document(document(None))
    assert call.parse(respond(call, 200, plain)).data == plain
    # httpx already undid a Content-Encoding: gzip (enableContentEncodingUrlHeader)
    call = reports.download_report_document(document())
    response = httpx.Response(
        200,
        content=gzip.compress(plain),
        headers={"content-encoding": "gzip"},
        request=httpx.Request("GET", PRESIGNED),
    )
    response.read()
    assert call.parse(response).data == plain
    with pytest.raises(ValueError, match="ReportDocument"):
        reports.download_report_document({"url": PRESIGNED})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="absolute"):
        reports.download_report_document(ReportDocument(report_document_id="D", url="/relative"))


@pytest.mark.parametrize(
    ("content_type", "encoded", "expected"),
    [
        ("text/tab-separated-values; charset=Cp1252", "Café € ß".encode("cp1252"), "Café € ß"),
        ("text/plain;charset=ISO-8859-1", "Größe".encode("latin-1"), "Größe"),
        ('text/plain; charset="UTF-8"', "\ufeffナイキ".encode(), "ナイキ"),
        ("text/plain", "Café".encode(), "Café"),
        (None, "Café".encode(), "Café"),
    ],
)
def test_text_follows_the_charset(content_type: str | None, encoded: bytes, expected: str) -> None:
    assert ReportContent(encoded, content_type).text() == expected


def test_an_unknown_charset_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="x-martian"):
        ReportContent(b"a", "text/plain; charset=x-martian").text()


# --- the flat file ----------------------------------------------------------------------------

HEADER = (
    "item-name\titem-description\tlisting-id\tseller-sku\tprice\tquantity\topen-date\timage-url\t"
    "item-is-marketplace\tproduct-id-type\tzshop-shipping-fee\titem-note\titem-condition\t"
    "zshop-category1\tzshop-browse-path\tzshop-storefront-feature\tasin1\tasin2\tasin3\t"
    "will-ship-internationally\texpedited-shipping\tzshop-boldface\tproduct-id\t"
    "bid-for-featured-placement\tadd-delete\tpending-quantity\tfulfillment-channel\t"
    "merchant-shipping-group\tstatus"
)


def line(**cells: str) -> str:
    names = HEADER.split("\t")
    return "\t".join(cells.get(name.replace("-", "_"), "") for name in names)


def test_merchant_listings_rows_are_typed() -> None:
    text = "\r\n".join(
        [
            HEADER,
            line(
                item_name='Carry-On 55 cm "Navy"',
                seller_sku="LUG-1",
                price="129.99",
                quantity="12",
                asin1="B0ABCDEFGH",
                fulfillment_channel="DEFAULT",
                status="Active",
                pending_quantity="0",
            ),
            line(
                item_name="Kopfhörer",
                seller_sku="HP-1",
                price="59,90",
                fulfillment_channel="AMAZON_EU",
                status="Inactive",
            ),
            "",
        ]
    )
    rows = parse_merchant_listings(ReportContent(text.encode("cp1252"), "text/plain; charset=Cp1252"))
    assert [r.seller_sku for r in rows] == ["LUG-1", "HP-1"]
    first, second = rows
    assert first.item_name == 'Carry-On 55 cm "Navy"' and first.price == Decimal("129.99")
    assert (first.quantity, first.pending_quantity, first.asin1, first.is_active) == (
        12,
        0,
        "B0ABCDEFGH",
        True,
    )
    assert first.item_description is None and first.asin2 is None
    assert second.item_name == "Kopfhörer" and second.price == Decimal("59.90")
    assert second.quantity is None and second.fulfillment_channel == "AMAZON_EU" and not second.is_active


def test_columns_are_read_by_name_in_any_order_and_unknown_ones_kept() -> None:
    text = (
        "status\tquantity\tseller-sku\tprice\tbusiness-price\nActive\t3\tS-1\t5.00\t4.50\nInactive\t\tS-2\n"
    )
    rows = parse_merchant_listings(ReportContent(text.encode()))
    assert [(r.seller_sku, r.quantity, r.price, r.status) for r in rows] == [
        ("S-1", 3, Decimal("5.00"), "Active"),
        ("S-2", None, None, "Inactive"),
    ]
    assert rows[0].model_extra == {"business-price": "4.50"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("\t\n", "no header"),
        ("seller-sku\tprice\nS-1\t1.00\textra\n", "line 2: 3 cells for 2 columns"),
        ("seller-sku\tquantity\nS-1\tmany\n", "line 2: quantity"),
        ("seller-sku\tprice\nS-1\t1.00\nS-2\tcheap\n", "line 3: price"),
        ("item-name\tprice\nNo SKU\t1.00\n", "line 2: seller-sku"),
    ],
)
def test_malformed_flat_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(FlatFileError, match=re.escape(message)):
        parse_merchant_listings(ReportContent(text.encode()))


def test_records_pad_short_lines() -> None:
    assert list(iter_records("a\tb\tc\nx\n")) == [(2, {"a": "x", "b": "", "c": ""})]


def test_row_aliases_are_amazons_column_names() -> None:
    names = HEADER.split("\t")
    aliases = [field.alias for field in MerchantListingRow.model_fields.values()]
    assert sorted(aliases) == sorted(names)


# --- against Amazon's Swagger model -----------------------------------------------------------

ALL_CALLS: dict[str, list[Callable[[], Call[Any]]]] = {
    "createReport": [
        lambda: reports.create_report(
            LISTINGS_REPORT,
            [US],
            report_options={"a": "b"},
            data_start_time=datetime(2024, 3, 1, tzinfo=UTC),
            data_end_time=datetime(2024, 3, 2, tzinfo=UTC),
        )
    ],
    "getReport": [lambda: reports.get_report("R1")],
    "getReports": [
        lambda: reports.get_reports(
            report_types=["X"],
            processing_statuses=["DONE"],
            marketplace_ids=[US],
            page_size=10,
            created_since="a",
            created_until="b",
        ),
        lambda: reports.get_reports(next_token="n"),
    ],
    "cancelReport": [lambda: reports.cancel_report("R1")],
    "getReportDocument": [
        lambda: reports.get_report_document("D1", enable_content_encoding_url_header=False)
    ],
}
NOT_CALLED = {"getReportSchedules", "createReportSchedule", "cancelReportSchedule", "getReportSchedule"}


@pytest.fixture
def reports_model(models_dir: Path) -> dict[str, Any]:
    model: dict[str, Any] = json.loads((models_dir / REPORTS_MODEL).read_text(encoding="utf-8"))
    return model


def operations(model: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        op["operationId"]: (method.upper(), path, op)
        for path, methods in model["paths"].items()
        for method, op in methods.items()
        if method != "parameters"
    }


def test_every_report_operation_has_a_builder(reports_model: dict[str, Any]) -> None:
    assert set(operations(reports_model)) == set(ALL_CALLS) | NOT_CALLED


@pytest.mark.parametrize("operation_id", list(ALL_CALLS))
def test_call_matches_swagger(operation_id: str, reports_model: dict[str, Any]) -> None:
    method, template, op = operations(reports_model)[operation_id]
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    body_param = next((p for p in op.get("parameters", []) if p["in"] == "body"), None)
    path_pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
    all_sent: set[str] = set()
    for build in ALL_CALLS[operation_id]:
        call = build()
        assert (call.operation, call.method, call.sp_api) == (operation_id, method, True)
        assert re.match(path_pattern, call.path), (call.path, template)
        sent = dict(call.query())
        assert set(sent) <= set(declared), set(sent) - set(declared)
        all_sent |= set(sent)
        assert call.success == tuple(sorted(int(c) for c in op["responses"] if c.startswith("2")))
        assert call.idempotent is (method != "POST")
        assert (call.json is not None) == (body_param is not None)
        if body_param is not None:
            schema = {**body_param["schema"], "definitions": reports_model["definitions"]}
            assert list(Draft4Validator(schema).iter_errors(call.json)) == []
    assert all_sent == set(declared), f"no builder sends {set(declared) - all_sent}"


@pytest.mark.parametrize(
    ("operation_id", "model_class"),
    [("getReport", Report), ("getReports", GetReportsResponse), ("getReportDocument", ReportDocument)],
)
def test_amazons_examples_parse(
    operation_id: str, model_class: type[Any], reports_model: dict[str, Any]
) -> None:
    """Every 200 example of Amazon's model reads into our model and back, field for field."""
    _, _, op = operations(reports_model)[operation_id]
    examples = [e["response"] for e in op["responses"]["200"]["x-amzn-api-sandbox"]["static"]]
    assert examples
    for example in examples:
        parsed = model_class.model_validate(example)
        assert parsed.model_dump(mode="json", by_alias=True, exclude_none=True) == example
