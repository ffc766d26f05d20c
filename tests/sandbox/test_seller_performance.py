"""The sandbox's seller performance reports: the demo seeds' documents valid against Amazon's vendored
report schemas, the sales report's options as the schema describes them, figures worked out by hand
from a seed, and the report's ends (no seed, several marketplaces, a bad option)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft7Validator, FormatChecker

from sandbox.seller_performance import period_end, period_start
from sandbox.settings import Settings

from .conftest import CA, EU_TOKEN, MODELS, SELLER, US, access_token, gunzip_json

pytestmark = pytest.mark.asyncio

REPORTS = "/reports/2021-06-30"
HEALTH = "GET_V2_SELLER_PERFORMANCE_REPORT"
SALES = "GET_SALES_AND_TRAFFIC_REPORT"
DE = "A1PA6795UKMFR9"
SCHEMAS = MODELS / "schemas" / "reports"
HEALTH_SCHEMA = Draft7Validator(
    json.loads((SCHEMAS / "accountHealthReport-2020-11-18.json").read_bytes()), format_checker=FormatChecker()
)
SALES_SCHEMA = Draft7Validator(
    json.loads((SCHEMAS / "sellerSalesAndTrafficReport.json").read_bytes()), format_checker=FormatChecker()
)
# one ASIN selling 2 units a day from 10 sessions and 20 page views, 3 on Saturdays (factor 1.5)
SMALL_SEED = {
    "salesAndTraffic": {
        "currency": "USD",
        "weekdayFactors": [1, 1, 1, 1, 1, 1.5, 1],
        "asins": [
            {
                "parentAsin": "B0PARENT01",
                "childAsin": "B0CHILD001",
                "sku": "S-1",
                "price": 10.5,
                "unitsPerDay": 2,
                "sessionsPerDay": 10,
                "pageViewsPerDay": 20,
                "buyBoxPercentage": 90,
            },
            {
                "parentAsin": "B0PARENT01",
                "childAsin": "B0CHILD002",
                "sku": "S-2",
                "price": 20,
                "unitsPerDay": 1,
                "sessionsPerDay": 30,
                "pageViewsPerDay": 30,
                "buyBoxPercentage": 50,
            },
        ],
    }
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(report_queue_seconds=0.0, report_processing_seconds=0.0)


def errors(validator: Draft7Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def day_start(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


async def report(
    client: httpx.AsyncClient,
    app: FastAPI,
    headers: dict[str, str],
    report_type: str,
    marketplaces: list[str],
    **body: Any,
) -> tuple[dict[str, Any], Any]:
    """Request, process and fetch a report: its getReport answer and its document (JSON)."""
    created = await client.post(
        f"{REPORTS}/reports",
        headers=headers,
        json={"reportType": report_type, "marketplaceIds": marketplaces, **body},
    )
    assert created.status_code == 202, created.text
    report_id = created.json()["reportId"]
    app.state.report_processor.run_once()
    app.state.report_processor.run_once()
    got = (await client.get(f"{REPORTS}/reports/{report_id}", headers=headers)).json()
    if "reportDocumentId" not in got:
        return got, None
    doc = (await client.get(f"{REPORTS}/documents/{got['reportDocumentId']}", headers=headers)).json()
    raw = await client.get(doc["url"])
    assert raw.status_code == 200
    if got["processingStatus"] == "DONE":
        assert raw.headers["content-type"].startswith("application/json")
    return got, gunzip_json(raw.content)


async def seed(
    client: httpx.AsyncClient, body: Any, marketplace: str = US, seller: str = SELLER
) -> httpx.Response:
    return await client.post(f"/_sandbox/seller-performance/{seller}/{marketplace}", json=body)


async def test_the_demo_seeds_give_schema_valid_documents(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    eu = {"x-amz-access-token": await access_token(client, EU_TOKEN)}
    got, health = await report(client, app, headers, HEALTH, [US, CA])
    assert got["processingStatus"] == "DONE"
    assert errors(HEALTH_SCHEMA, health) == []
    assert [s["marketplaceId"] for s in health["accountStatuses"]] == [US, CA]
    us = health["performanceMetrics"][0]
    # the US demo account misses the late shipment target: 26 late of 500 orders
    assert us["lateShipmentRate"]["rate"] == 0.052 and us["lateShipmentRate"]["status"] == "BAD"
    assert us["lateShipmentRate"]["reportingDateRange"]["reportingDateTo"] == f"{yesterday}T23:59Z"
    assert us["listingPolicyViolations"]["defectsCount"] == 1
    assert health["performanceMetrics"][1]["lateShipmentRate"]["status"] == "GOOD"
    for headers_, marketplace in ((headers, US), (headers, CA), (eu, DE)):
        for granularity in ("PARENT", "CHILD", "SKU"):
            got, sales = await report(
                client,
                app,
                headers_,
                SALES,
                [marketplace],
                reportOptions={"dateGranularity": "DAY", "asinGranularity": granularity},
                dataStartTime=day_start(yesterday - timedelta(days=6)),
                dataEndTime=day_start(yesterday),
            )
            assert got["processingStatus"] == "DONE", (marketplace, granularity)
            assert errors(SALES_SCHEMA, sales) == [], (marketplace, granularity)
            assert len(sales["salesAndTrafficByDate"]) == 7
        _, health = await report(client, app, headers_, HEALTH, [marketplace])
        assert errors(HEALTH_SCHEMA, health) == []


async def test_sales_figures_by_day_and_by_asin_worked_out_by_hand(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    assert (await seed(client, SMALL_SEED)).status_code == 200
    friday, saturday = date(2026, 11, 27), date(2026, 11, 28)
    _, doc = await report(
        client,
        app,
        headers,
        SALES,
        [US],
        reportOptions={"asinGranularity": "SKU"},  # dateGranularity left to its default, DAY
        dataStartTime=day_start(friday),
        dataEndTime=f"{saturday.isoformat()}T18:00:00Z",  # the time of day is ignored
    )
    assert errors(SALES_SCHEMA, doc) == []
    assert doc["reportSpecification"]["reportOptions"] == {"dateGranularity": "DAY", "asinGranularity": "SKU"}
    assert doc["reportSpecification"]["dataStartTime"] == "2026-11-27"
    by_date = {d["date"]: d for d in doc["salesAndTrafficByDate"]}
    assert list(by_date) == ["2026-11-27", "2026-11-28"]
    fri = by_date["2026-11-27"]
    # S-1: 2 units x 10.50 + S-2: 1 unit x 20 = 41.00 from 3 units, 40 sessions, 50 page views
    assert fri["salesByDate"]["orderedProductSales"] == {"amount": 41.0, "currencyCode": "USD"}
    assert fri["salesByDate"]["unitsOrdered"] == 3
    assert fri["trafficByDate"]["sessions"] == 40 and fri["trafficByDate"]["pageViews"] == 50
    # buy box on 18 of S-1's 20 views and 15 of S-2's 30: 33 of 50
    assert fri["trafficByDate"]["buyBoxPercentage"] == 66.0
    assert fri["trafficByDate"]["unitSessionPercentage"] == 7.5
    sat = by_date["2026-11-28"]  # x 1.5: S-1 3 units, 15 sessions, 30 views; S-2 round(1.5) = 2 units
    assert sat["salesByDate"]["unitsOrdered"] == 5
    assert sat["salesByDate"]["orderedProductSales"]["amount"] == 71.5
    assert sat["trafficByDate"]["sessions"] == 60
    by_sku = {a["sku"]: a for a in doc["salesAndTrafficByAsin"]}
    assert by_sku["S-1"]["childAsin"] == "B0CHILD001" and by_sku["S-1"]["parentAsin"] == "B0PARENT01"
    # over both days: S-1 5 units, 25 sessions of 100; S-2 3 units, 75 sessions
    assert by_sku["S-1"]["salesByAsin"]["unitsOrdered"] == 5
    assert by_sku["S-1"]["salesByAsin"]["orderedProductSales"]["amount"] == 52.5
    assert by_sku["S-1"]["trafficByAsin"]["sessionPercentage"] == 25.0
    assert by_sku["S-1"]["trafficByAsin"]["buyBoxPercentage"] == 90.0
    assert by_sku["S-2"]["trafficByAsin"]["unitSessionPercentage"] == 4.0

    _, parent = await report(
        client, app, headers, SALES, [US], dataStartTime=day_start(friday), dataEndTime=day_start(saturday)
    )
    assert errors(SALES_SCHEMA, parent) == []
    (only,) = parent["salesAndTrafficByAsin"]  # PARENT by default: one row, no child or SKU
    assert set(only) == {"parentAsin", "salesByAsin", "trafficByAsin"}
    assert only["salesByAsin"]["unitsOrdered"] == 8
    # buy box over both ASINs and days: (18 + 15 + 27 + 22.5) / (50 + 75) views
    assert only["trafficByAsin"]["buyBoxPercentage"] == 66.0


async def test_week_and_month_periods_are_widened_as_the_schema_says(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    assert (await seed(client, SMALL_SEED)).status_code == 200
    wednesday = date(2026, 11, 18)
    assert period_start(wednesday, "WEEK") == date(2026, 11, 15)  # a Sunday
    assert period_end(wednesday, "WEEK") == date(2026, 11, 21)  # a Saturday
    assert period_end(date(2026, 2, 10), "MONTH") == date(2026, 2, 28)
    _, weekly = await report(
        client,
        app,
        headers,
        SALES,
        [US],
        reportOptions={"dateGranularity": "WEEK"},
        dataStartTime=day_start(wednesday),
        dataEndTime=day_start(wednesday + timedelta(days=7)),
    )
    assert errors(SALES_SCHEMA, weekly) == []
    assert [d["date"] for d in weekly["salesAndTrafficByDate"]] == ["2026-11-15", "2026-11-22"]
    # a whole week: 6 weekdays x 3 units + a Saturday's 5
    assert weekly["salesAndTrafficByDate"][0]["salesByDate"]["unitsOrdered"] == 23
    _, monthly = await report(
        client,
        app,
        headers,
        SALES,
        [US],
        reportOptions={"dateGranularity": "MONTH"},
        dataStartTime=day_start(date(2026, 10, 30)),
        dataEndTime=day_start(date(2026, 11, 2)),
    )
    assert [d["date"] for d in monthly["salesAndTrafficByDate"]] == ["2026-10-01", "2026-11-01"]


async def test_a_bad_option_is_refused_and_the_report_ends_as_amazon_ends_it(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    for options in ({"dateGranularity": "HOUR"}, {"asinGranularity": "BRAND"}, {"granularity": "DAY"}):
        r = await client.post(
            f"{REPORTS}/reports",
            headers=headers,
            json={"reportType": SALES, "marketplaceIds": [US], "reportOptions": options},
        )
        assert r.status_code == 400, options
        assert "reportOptions" in r.json()["errors"][0]["message"]
    got, error = await report(client, app, headers, SALES, [US, CA])
    assert got["processingStatus"] == "FATAL" and "one marketplaceId" in error["errorDetails"]
    assert (await client.delete(f"/_sandbox/seller-performance/{SELLER}/{US}")).json() == {"deleted": 1}
    got, _ = await report(client, app, headers, SALES, [US])
    assert got["processingStatus"] == "CANCELLED"  # nothing to report
    got, _ = await report(client, app, headers, HEALTH, [US])
    assert got["processingStatus"] == "CANCELLED"
    long_ago = datetime.now(UTC) - timedelta(days=2 * 365 + 5)
    got, _ = await report(client, app, headers, SALES, [CA], dataStartTime=long_ago.isoformat())
    assert got["processingStatus"] == "CANCELLED"  # more than two years back


async def test_an_account_in_breach_and_bad_seeds(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    breach = {
        "accountHealth": {
            "accountStatus": "AT_RISK",
            "ahrStatus": "WARNED",
            "mfnOrders": 200,
            "mfnDefects": 4,
            "cancellations": 6,
            "validTrackingShipments": 180,
            "violations": {"suspectedIntellectualPropertyViolations": 2},
        }
    }
    assert (await seed(client, breach)).status_code == 200
    assert (await client.get(f"/_sandbox/seller-performance/{SELLER}/{US}")).json()[
        "accountHealth"
    ] == breach["accountHealth"]
    _, doc = await report(client, app, headers, HEALTH, [US])
    assert errors(HEALTH_SCHEMA, doc) == []
    assert doc["accountStatuses"] == [{"marketplaceId": US, "status": "AT_RISK"}]
    metrics = doc["performanceMetrics"][0]
    assert (
        metrics["orderDefectRate"]["mfn"]["rate"] == 0.02
        and metrics["orderDefectRate"]["mfn"]["status"] == "BAD"
    )
    assert metrics["preFulfillmentCancellationRate"]["rate"] == 0.03
    assert metrics["validTrackingRate"]["rate"] == 0.9 and metrics["validTrackingRate"]["status"] == "BAD"
    assert metrics["suspectedIntellectualPropertyViolations"]["status"] == "BAD"
    assert metrics["accountHealthRating"]["ahrStatus"] == "WARNED"
    for bad in (
        {"accountHealth": {"accountStatus": "SUSPENDED"}},
        {"accountHealth": {"violations": {"madeUp": 1}}},
        {"salesAndTraffic": {"asins": [{"childAsin": "B0X", "buyBoxPercentage": 120}]}},
        {"salesAndTraffic": {"weekdayFactors": [1, 1]}},
        {"somethingElse": {}},
    ):
        r = await seed(client, bad)
        assert r.status_code == 400, bad
    assert (await seed(client, SMALL_SEED, marketplace=DE)).status_code == 400  # not the seller's marketplace
