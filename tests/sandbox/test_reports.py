"""Reports API 2021-06-30 in the sandbox: every answer against Amazon's model, the report lifecycle,
GET_MERCHANT_LISTINGS_ALL_DATA built from the listings, paging, and drift seeded on Amazon's side."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.merchant_listings import COLUMNS
from sandbox.reports import ReportMoved
from sandbox.settings import Settings

from .conftest import (
    CA,
    EU_TOKEN,
    MODELS,
    OTHER_TOKEN,
    SELLER,
    US,
    access_token,
    check_answer,
    listings_path,
    luggage_attributes,
    model_operations,
    v,
)

pytestmark = pytest.mark.asyncio

REPORTS = "/reports/2021-06-30"
LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
OPERATIONS = model_operations(MODELS / "models" / "reports-api-model" / "reports_2021-06-30.json")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The package's settings, reports moving on each processor pass as feeds do."""
    return settings.replace(report_queue_seconds=0.0, report_processing_seconds=0.0)


def check(operation: str, response: httpx.Response) -> Any:
    """The answer has a status, headers and a body the model declares for ``operation``."""
    return check_answer(*OPERATIONS[operation], response)


async def put_listing(
    client: httpx.AsyncClient, headers: dict[str, str], sku: str, marketplace_id: str = US, **overrides: Any
) -> None:
    r = await client.put(
        listings_path(sku),
        params={"marketplaceIds": marketplace_id},
        headers=headers,
        json={"productType": "LUGGAGE", "attributes": luggage_attributes(marketplace_id, **overrides)},
    )
    assert r.json()["status"] == "ACCEPTED", r.text


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], marketplace_id: str = US, **body: Any
) -> str:
    spec = {"reportType": LISTINGS_REPORT, "marketplaceIds": [marketplace_id], **body}
    created = check("createReport", await client.post(f"{REPORTS}/reports", headers=headers, json=spec))
    return str(created["reportId"])


async def get(client: httpx.AsyncClient, headers: dict[str, str], report_id: str) -> dict[str, Any]:
    body: dict[str, Any] = check(
        "getReport", await client.get(f"{REPORTS}/reports/{report_id}", headers=headers)
    )
    return body


async def finish(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str], report_id: str
) -> dict[str, Any]:
    assert (await get(client, headers, report_id))["processingStatus"] == "IN_QUEUE"
    app.state.report_processor.run_once()
    report = await get(client, headers, report_id)
    assert report["processingStatus"] == "IN_PROGRESS" and "processingStartTime" in report
    app.state.report_processor.run_once()
    return await get(client, headers, report_id)


async def download(client: httpx.AsyncClient, headers: dict[str, str], document_id: str) -> httpx.Response:
    doc = check("getReportDocument", await client.get(f"{REPORTS}/documents/{document_id}", headers=headers))
    assert doc["compressionAlgorithm"] == "GZIP" and "X-Amz-Signature=" in doc["url"]
    raw = await client.get(doc["url"])
    assert raw.status_code == 200 and "content-encoding" not in raw.headers
    return raw


def rows(raw: httpx.Response) -> list[dict[str, str]]:
    charset = raw.headers["content-type"].split("charset=")[1]
    lines = gzip.decompress(raw.content).decode(charset).splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


async def test_a_listings_report_from_queue_to_document(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    await put_listing(client, headers, "R-1", item_name=v("Café Carry-On", language_tag="en_US"))
    await put_listing(
        client,
        headers,
        "R-2",
        fulfillment_availability=[{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
        purchasable_offer=[
            {"currency": "USD", "marketplace_id": US, "our_price": [{"schedule": [{"value_with_tax": 59.5}]}]}
        ],
    )
    await put_listing(client, headers, "R-CA", CA)  # another marketplace: not in the US report
    moved: list[ReportMoved] = []
    app.state.report_processor.listeners.append(moved.append)

    report_id = await create(client, headers)
    report = await finish(client, app, headers, report_id)
    assert report["processingStatus"] == "DONE" and report["marketplaceIds"] == [US]
    assert [(m.report_id, m.status) for m in moved] == [(report_id, "IN_PROGRESS"), (report_id, "DONE")]
    assert moved[-1].document_id == report["reportDocumentId"]

    raw = await download(client, headers, report["reportDocumentId"])
    assert raw.headers["content-type"].startswith("text/tab-separated-values")
    assert gzip.decompress(raw.content).splitlines()[0].decode().split("\t") == list(COLUMNS)
    by_sku = {row["seller-sku"]: row for row in rows(raw)}
    assert set(by_sku) == {"R-1", "R-2"}
    assert by_sku["R-1"]["item-name"] == "Café Carry-On"
    assert (by_sku["R-1"]["price"], by_sku["R-1"]["quantity"], by_sku["R-1"]["status"]) == (
        "129.99",
        "12",
        "Active",
    )
    assert (by_sku["R-2"]["price"], by_sku["R-2"]["quantity"], by_sku["R-2"]["status"]) == (
        "59.50",
        "0",
        "Inactive",
    )
    item = (await client.get(listings_path("R-1"), params={"marketplaceIds": US}, headers=headers)).json()
    assert by_sku["R-1"]["asin1"] == item["summaries"][0]["asin"]
    assert by_sku["R-1"]["fulfillment-channel"] == "DEFAULT" and by_sku["R-1"]["item-condition"] == "11"


async def test_seeded_drift_shows_in_the_api_and_the_next_report(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    for sku in ("D-PRICE", "D-QTY", "D-OFF"):
        await put_listing(client, headers, sku)
    seeded = {
        "D-PRICE": ({"price": "99.00"}, 200),
        "D-QTY": ({"quantity": 3}, 200),
        "D-OFF": ({"status": "Inactive"}, 200),
        "D-UNKNOWN": ({"itemName": "Old listing", "price": 5, "quantity": 7}, 201),
    }
    for sku, (body, status) in seeded.items():
        r = await client.post(
            f"/_sandbox/listings/{SELLER}/{sku}/drift", params={"marketplaceId": US}, json=body
        )
        assert r.status_code == status, r.text
        assert r.json()["created"] is (status == 201)

    item = (
        await client.get(
            listings_path("D-OFF"),
            params={"marketplaceIds": US, "includedData": "summaries,issues"},
            headers=headers,
        )
    ).json()
    assert "BUYABLE" not in item["summaries"][0]["status"] and item["issues"]

    report = await finish(client, app, headers, await create(client, headers))
    by_sku = {
        row["seller-sku"]: row for row in rows(await download(client, headers, report["reportDocumentId"]))
    }
    assert by_sku["D-PRICE"]["price"] == "99.00" and by_sku["D-PRICE"]["quantity"] == "12"
    assert by_sku["D-QTY"]["quantity"] == "3" and by_sku["D-QTY"]["price"] == "129.99"
    assert by_sku["D-OFF"]["status"] == "Inactive" and by_sku["D-OFF"]["quantity"] == "12"
    unknown = by_sku["D-UNKNOWN"]
    assert (unknown["item-name"], unknown["price"], unknown["quantity"], unknown["status"]) == (
        "Old listing",
        "5.00",
        "7",
        "Active",
    )

    # Active again: Amazon's issue goes, the listing is on sale
    r = await client.post(
        f"/_sandbox/listings/{SELLER}/D-OFF/drift", params={"marketplaceId": US}, json={"status": "Active"}
    )
    assert r.status_code == 200
    report = await finish(client, app, headers, await create(client, headers))
    by_sku = {
        row["seller-sku"]: row for row in rows(await download(client, headers, report["reportDocumentId"]))
    }
    assert by_sku["D-OFF"]["status"] == "Active"


@pytest.mark.parametrize(
    "body",
    [{"price": "abc"}, {"quantity": -1}, {"quantity": True}, {"status": "Suppressed"}, {"colour": "red"}, []],
    ids=["price", "quantity", "bool", "status", "unknown", "not-object"],
)
async def test_drift_refuses_what_it_cannot_apply(client: httpx.AsyncClient, body: Any) -> None:
    r = await client.post(f"/_sandbox/listings/{SELLER}/X/drift", params={"marketplaceId": US}, json=body)
    assert r.status_code == 400 and r.json()["errors"][0]["message"]


async def test_drift_needs_a_marketplace_and_a_known_seller(client: httpx.AsyncClient) -> None:
    assert (
        await client.post(f"/_sandbox/listings/{SELLER}/X/drift", json={"quantity": 1})
    ).status_code == 400
    r = await client.post(
        "/_sandbox/listings/NOBODY/X/drift", params={"marketplaceId": US}, json={"quantity": 1}
    )
    assert r.status_code == 404


async def test_no_listings_cancels_and_a_fatal_fault_leaves_its_reason(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    empty = await finish(client, app, headers, await create(client, headers))
    assert empty["processingStatus"] == "CANCELLED" and "reportDocumentId" not in empty

    await put_listing(client, headers, "F-1")
    await client.post("/_sandbox/faults", json={"rules": [{"kind": "report_fatal", "count": 1}]})
    fatal = await finish(client, app, headers, await create(client, headers))
    assert fatal["processingStatus"] == "FATAL" and "processingEndTime" in fatal
    raw = await download(client, headers, fatal["reportDocumentId"])
    assert json.loads(gzip.decompress(raw.content))["errorDetails"]
    # the fault was used up: the next report is DONE
    assert (await finish(client, app, headers, await create(client, headers)))["processingStatus"] == "DONE"


async def test_cancel_only_while_queued(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    await put_listing(client, headers, "C-1")
    moved: list[ReportMoved] = []
    app.state.report_processor.listeners.append(moved.append)
    queued = await create(client, headers)
    check("cancelReport", await client.delete(f"{REPORTS}/reports/{queued}", headers=headers))
    assert (await get(client, headers, queued))["processingStatus"] == "CANCELLED"
    assert [(m.report_id, m.status) for m in moved] == [(queued, "CANCELLED")]
    again = check("cancelReport", await client.delete(f"{REPORTS}/reports/{queued}", headers=headers))
    assert "CANCELLED" in again["errors"][0]["details"]
    app.state.report_processor.run_once()  # a cancelled report stays cancelled
    assert (await get(client, headers, queued))["processingStatus"] == "CANCELLED"

    started = await create(client, headers)
    app.state.report_processor.run_once()
    r = await client.delete(f"{REPORTS}/reports/{started}", headers=headers)
    assert check("cancelReport", r) and r.status_code == 400
    check("cancelReport", await client.delete(f"{REPORTS}/reports/404", headers=headers))


async def test_get_reports_filters_and_pages(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    ids = [await create(client, headers) for _ in range(3)] + [await create(client, headers, CA)]
    await client.delete(f"{REPORTS}/reports/{ids[0]}", headers=headers)

    seen: list[str] = []
    params: dict[str, Any] = {"reportTypes": LISTINGS_REPORT, "pageSize": 3}
    pages = 0
    while True:
        page = check("getReports", await client.get(f"{REPORTS}/reports", params=params, headers=headers))
        pages += 1
        seen += [r["reportId"] for r in page["reports"]]
        if "nextToken" not in page:
            break
        params = {"nextToken": page["nextToken"]}
    assert pages == 2 and seen == list(reversed(ids)), "newest first, every report once"

    def reports(**filters: Any) -> Any:
        return client.get(
            f"{REPORTS}/reports", params={"reportTypes": LISTINGS_REPORT, **filters}, headers=headers
        )

    cancelled = check("getReports", await reports(processingStatuses="CANCELLED"))
    assert [r["reportId"] for r in cancelled["reports"]] == [ids[0]]
    canadian = check("getReports", await reports(marketplaceIds=CA))
    assert [r["reportId"] for r in canadian["reports"]] == [ids[3]]
    later = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    assert check("getReports", await reports(createdSince=later))["reports"] == []
    other_type = check(
        "getReports",
        await client.get(
            f"{REPORTS}/reports", params={"reportTypes": "GET_FLAT_FILE_OPEN_LISTINGS_DATA"}, headers=headers
        ),
    )
    assert other_type["reports"] == []

    for bad in (
        {},
        {"reportTypes": LISTINGS_REPORT, "processingStatuses": "BAD_VALUE"},
        {"reportTypes": LISTINGS_REPORT, "pageSize": 101},
        {"reportTypes": ",".join(f"T{i}" for i in range(11))},
        {"reportTypes": LISTINGS_REPORT, "createdSince": "yesterday"},
        {"nextToken": "not-a-token"},
        {"nextToken": page.get("nextToken", "x"), "pageSize": 2},
    ):
        r = await client.get(f"{REPORTS}/reports", params=bad, headers=headers)
        assert r.status_code == 400, bad
        check("getReports", r)


@pytest.mark.parametrize(
    "body",
    [
        {"marketplaceIds": [US]},
        {"reportType": LISTINGS_REPORT},
        {"reportType": LISTINGS_REPORT, "marketplaceIds": []},
        {"reportType": LISTINGS_REPORT, "marketplaceIds": [US, CA]},
        {"reportType": LISTINGS_REPORT, "marketplaceIds": ["A1PA6795UKMFR9"]},
        {"reportType": "GET_NOT_A_REPORT", "marketplaceIds": [US]},
        {"reportType": LISTINGS_REPORT, "marketplaceIds": [US], "reportOptions": {"a": 1}},
        {"reportType": LISTINGS_REPORT, "marketplaceIds": [US], "dataStartTime": "2999-01-01T00:00:00Z"},
        {
            "reportType": LISTINGS_REPORT,
            "marketplaceIds": [US],
            "dataStartTime": "2024-03-02T00:00:00Z",
            "dataEndTime": "2024-03-01T00:00:00Z",
        },
    ],
    ids=[
        "no-type",
        "no-marketplaces",
        "empty",
        "two",
        "other-region",
        "unknown-type",
        "options",
        "future",
        "reversed",
    ],
)
async def test_create_report_refuses_bad_bodies(
    client: httpx.AsyncClient, headers: dict[str, str], body: Any
) -> None:
    r = await client.post(f"{REPORTS}/reports", headers=headers, json=body)
    assert r.status_code == 400
    check("createReport", r)


async def test_data_times_are_kept_and_default_to_the_request(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    given = await get(client, headers, await create(client, headers, dataStartTime="2024-03-01T00:00:00Z"))
    assert (
        given["dataStartTime"] == "2024-03-01T00:00:00.000Z"
        and given["dataEndTime"] >= given["createdTime"][:19]
    )
    plain = await get(client, headers, await create(client, headers))
    assert plain["dataStartTime"] == plain["dataEndTime"]


async def test_reports_and_documents_belong_to_their_seller(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    await put_listing(client, headers, "S-1")
    report = await finish(client, app, headers, await create(client, headers))
    other = {"x-amz-access-token": await access_token(client, OTHER_TOKEN)}
    check("getReport", await client.get(f"{REPORTS}/reports/{report['reportId']}", headers=other))
    r = await client.get(f"{REPORTS}/documents/{report['reportDocumentId']}", headers=other)
    assert r.status_code == 404
    check("getReportDocument", r)
    listed = check(
        "getReports",
        await client.get(f"{REPORTS}/reports", params={"reportTypes": LISTINGS_REPORT}, headers=other),
    )
    assert listed["reports"] == []
    check(
        "getReport",
        await client.get(
            f"{REPORTS}/reports/{report['reportId']}", headers={"x-amz-access-token": "Atza|forged"}
        ),
    )


async def test_content_encoding_url_and_the_eu_charset(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    eu = {"x-amz-access-token": await access_token(client, EU_TOKEN)}
    report_id = await create(client, eu, "A1PA6795UKMFR9")
    empty = await finish(client, app, eu, report_id)
    assert empty["processingStatus"] == "CANCELLED"

    await put_listing(client, headers, "E-1", item_name=v("Ünïcode ☂ umbrella", language_tag="en_US"))
    report = await finish(client, app, headers, await create(client, headers))
    doc = check(
        "getReportDocument",
        await client.get(
            f"{REPORTS}/documents/{report['reportDocumentId']}",
            params={"enableContentEncodingUrlHeader": "true"},
            headers=headers,
        ),
    )
    raw = await client.get(doc["url"])
    assert raw.headers["content-encoding"] == "gzip"
    assert "charset=Cp1252" in raw.headers["content-type"]
    # httpx undid the gzip; the code page kept what it could and marked the rest
    assert "Ünïcode ? umbrella" in raw.content.decode("cp1252")
    bad = await client.get(
        f"{REPORTS}/documents/{report['reportDocumentId']}",
        params={"enableContentEncodingUrlHeader": "maybe"},
        headers=headers,
    )
    assert bad.status_code == 400
    check("getReportDocument", bad)


async def test_throttled_answers_match_the_model(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await client.post(
        "/_sandbox/faults", json={"rules": [{"kind": "throttle", "operation": "createReport", "count": 1}]}
    )
    r = await client.post(
        f"{REPORTS}/reports", headers=headers, json={"reportType": LISTINGS_REPORT, "marketplaceIds": [US]}
    )
    assert r.status_code == 429
    check("createReport", r)
    await client.post(
        "/_sandbox/faults",
        json={"rules": [{"kind": "error", "status": 503, "operation": "getReports", "count": 1}]},
    )
    r = await client.get(f"{REPORTS}/reports", params={"reportTypes": LISTINGS_REPORT}, headers=headers)
    assert r.status_code == 503
    check("getReports", r)
