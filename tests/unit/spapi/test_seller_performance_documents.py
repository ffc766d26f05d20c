"""The seller performance report models against Amazon's report schemas: every schema-valid sample
parses (Amazon's valid examples, the sandbox's documents, a bare minimum, B2B fields), and a document
failing the schema is refused with its reasons (Amazon's own account health example among them)."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sandbox import seller_performance as sandbox_reports
from spapi.models.reports import ReportContent
from spapi.models.seller_performance import LISTING_LEVEL_METRICS
from spapi.report_documents import (
    InvalidReportDocument,
    load_account_health,
    load_sales_and_traffic,
    schema_errors,
)

US = "ATVPDKIKX0DER"


@pytest.fixture(scope="module")
def health_schema(models_dir: Path) -> dict[str, Any]:
    return dict(json.loads((models_dir / "schemas/reports/accountHealthReport-2020-11-18.json").read_bytes()))


@pytest.fixture(scope="module")
def sales_schema(models_dir: Path) -> dict[str, Any]:
    return dict(json.loads((models_dir / "schemas/reports/sellerSalesAndTrafficReport.json").read_bytes()))


def repaired(example: dict[str, Any]) -> dict[str, Any]:
    """Amazon's account health example made to pass its schema: the three misspelt metrics renamed,
    the two missing ones added, SUSPENDED (not in the enum) made DEACTIVATED."""
    doc = copy.deepcopy(example)
    doc["accountStatuses"][2]["status"] = "DEACTIVATED"
    metrics = doc["performanceMetrics"][0]
    metrics["preFulfillmentCancellationRate"] = metrics.pop("prefulfillmentCancelRate")
    metrics["documentRequests"] = metrics.pop("documentRequest")
    metrics["warningStates"] = metrics.pop("warningState")
    violation = metrics["listingPolicyViolations"]
    metrics["restrictedProductPolicyViolations"] = {**violation, "defectsCount": 3}
    metrics["suspectedIntellectualPropertyViolations"] = {**violation, "defectsCount": 0, "status": "GOOD"}
    return doc


def test_amazons_account_health_example_is_refused_with_every_reason(health_schema: dict[str, Any]) -> None:
    (example,) = health_schema["examples"]
    with pytest.raises(InvalidReportDocument) as refused:
        load_account_health(json.dumps(example), health_schema)
    assert refused.value.count == 6
    text = str(refused.value)
    for reason in (
        "accountStatuses/2/status: 'SUSPENDED' is not one of",
        "performanceMetrics/0: 'preFulfillmentCancellationRate' is a required property",
        "'warningStates' is a required property",
        "'documentRequests' is a required property",
        "'restrictedProductPolicyViolations' is a required property",
        "'suspectedIntellectualPropertyViolations' is a required property",
    ):
        assert reason in text
    assert text.startswith("GET_V2_SELLER_PERFORMANCE_REPORT document refused: ")


def test_the_repaired_example_parses_field_by_field(health_schema: dict[str, Any]) -> None:
    doc = repaired(health_schema["examples"][0])
    assert schema_errors(doc, health_schema) == []
    report = load_account_health(json.dumps(doc), health_schema)
    assert [(s.marketplace_id, s.status) for s in report.account_statuses] == [
        (US, "AT_RISK"),
        ("A2EUQ1WTGCTBG2", "NORMAL"),
        ("A1AM78C64UM0Y8", "DEACTIVATED"),
    ]
    (m,) = report.performance_metrics
    assert m.order_defect_rate.mfn.rate == 0.009 and m.order_defect_rate.mfn.target_value == 0.01
    assert m.order_defect_rate.afn.order_with_defects.count == 1078
    assert m.late_shipment_rate.late_shipment_count == 27896
    assert m.late_shipment_rate.reporting_date_range.reporting_date_to == "2020-11-19T23:59Z"
    assert m.pre_fulfillment_cancellation_rate.cancellation_count == 551
    assert m.on_time_delivery_rate.target_condition == "GREATER_THAN"
    assert m.unit_on_time_delivery_rate.total_unit_count == 165
    assert m.valid_tracking_rate.valid_tracking_count == 896462
    assert m.invoice_defect_rate.missing_invoice.count == 214
    assert m.account_health_rating.rating == "WARNED"
    assert [(w.warning_type, w.status) for w in m.warning_states] == [("spammingSellerMessaging", "BAD")]
    assert [name for name, _ in m.listing_level()] == list(LISTING_LEVEL_METRICS)
    assert m.restricted_product_policy_violations.defects_count == 3
    # a dump speaks Amazon's names again and passes the schema
    assert schema_errors(report.model_dump(mode="json", exclude_none=True), health_schema) == []


def test_amazons_valid_sales_examples_parse_and_the_invalid_one_is_refused(
    sales_schema: dict[str, Any],
) -> None:
    first, *valid = sales_schema["examples"]
    with pytest.raises(InvalidReportDocument) as refused:
        load_sales_and_traffic(json.dumps(first), sales_schema)
    assert refused.value.reasons == [
        "salesAndTrafficByDate/3/trafficByDate: 'browserPageViews' is a required property"
    ]
    assert len(valid) == 2
    for example in valid:
        report = load_sales_and_traffic(json.dumps(example), sales_schema)
        assert len(report.sales_and_traffic_by_date) == len(example["salesAndTrafficByDate"])
        assert len(report.sales_and_traffic_by_asin) == len(example["salesAndTrafficByAsin"])
        for parsed, raw in zip(
            report.sales_and_traffic_by_date, example["salesAndTrafficByDate"], strict=True
        ):
            assert parsed.date == date.fromisoformat(raw["date"])
            assert parsed.sales_by_date.units_ordered == raw["salesByDate"]["unitsOrdered"]
            assert parsed.sales_by_date.ordered_product_sales.amount == Decimal(
                str(raw["salesByDate"]["orderedProductSales"]["amount"])
            )
            assert parsed.traffic_by_date.buy_box_percentage == raw["trafficByDate"]["buyBoxPercentage"]
        assert schema_errors(report.model_dump(mode="json", exclude_none=True), sales_schema) == []


def test_the_sandboxs_documents_parse(health_schema: dict[str, Any], sales_schema: dict[str, Any]) -> None:
    seed = {
        "mfnOrders": 50,
        "lateShipments": 3,
        "violations": {"otherPolicyViolations": 2},
        "warningStates": [{"warningType": "x", "status": "NONE"}],
    }
    health = {
        "accountStatuses": [{"marketplaceId": US, "status": "NORMAL"}],
        "performanceMetrics": [sandbox_reports.account_health_metrics(seed, US, date(2026, 12, 1))],
    }
    report = load_account_health(
        ReportContent(json.dumps(health).encode(), "application/json"), health_schema
    )
    assert report.performance_metrics[0].late_shipment_rate.rate == 0.06
    assert report.performance_metrics[0].other_policy_violations.status == "BAD"
    sales = {
        "asins": [
            {
                "parentAsin": "P",
                "childAsin": "C1",
                "sku": "S1",
                "price": 9.99,
                "unitsPerDay": 3,
                "sessionsPerDay": 7,
            },
            {"parentAsin": "P", "childAsin": "C2", "price": 1, "unitsPerDay": 0, "sessionsPerDay": 0},
        ]
    }
    for dates in ("DAY", "WEEK", "MONTH"):
        for asins in ("PARENT", "CHILD", "SKU"):
            doc = sandbox_reports.sales_and_traffic(
                sales,
                US,
                {"dateGranularity": dates, "asinGranularity": asins},
                date(2026, 11, 20),
                date(2026, 11, 30),
            )
            parsed = load_sales_and_traffic(json.dumps(doc), sales_schema)
            assert parsed.report_specification.report_options.asin_granularity == asins
            assert sum(d.sales_by_date.units_ordered for d in parsed.sales_and_traffic_by_date) >= 33


def test_the_bare_minimum_and_b2b_fields_parse(
    sales_schema: dict[str, Any], health_schema: dict[str, Any]
) -> None:
    bare = {
        "reportSpecification": {
            "reportType": "GET_SALES_AND_TRAFFIC_REPORT",
            "reportOptions": {},
            "dataStartTime": "2026-11-01",
            "dataEndTime": "2026-11-01",
            "marketplaceIds": [US],
        },
        "salesAndTrafficByDate": [],
        "salesAndTrafficByAsin": [],
    }
    report = load_sales_and_traffic(json.dumps(bare), sales_schema)
    assert report.report_specification.report_options.date_granularity is None
    example = copy.deepcopy(sales_schema["examples"][1])
    asin = example["salesAndTrafficByAsin"][0]
    asin["salesByAsin"]["unitsOrderedB2B"] = 4
    asin["trafficByAsin"]["buyBoxPercentageB2B"] = 55.5
    asin["salesByAsin"]["somethingAmazonAddedLater"] = 1
    parsed = load_sales_and_traffic(json.dumps(example), sales_schema)
    assert parsed.sales_and_traffic_by_asin[0].sales_by_asin.units_ordered_b2b == 4
    assert parsed.sales_and_traffic_by_asin[0].traffic_by_asin.buy_box_percentage_b2b == 55.5
    dumped = parsed.model_dump(mode="json", exclude_none=True)["salesAndTrafficByAsin"][0]
    assert (
        dumped["salesByAsin"]["unitsOrderedB2B"] == 4
        and dumped["salesByAsin"]["somethingAmazonAddedLater"] == 1
    )
    # ahrStatus has no type in the schema: a number passes it, and parses
    doc = repaired(health_schema["examples"][0])
    doc["performanceMetrics"][0]["accountHealthRating"]["ahrStatus"] = 3
    doc["performanceMetrics"][0]["accountHealthRating"]["accountHealthRatingStatus"] = "GREAT"
    assert load_account_health(json.dumps(doc), health_schema).performance_metrics[
        0
    ].account_health_rating.rating == ("GREAT")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda d: d["salesAndTrafficByAsin"][0]["salesByAsin"].update(unitsOrdered=-1),
            "-1 is less than the minimum",
        ),
        (lambda d: d["salesAndTrafficByDate"][0].update(date="2026-13-01"), "is not a 'date'"),
        (
            lambda d: d["salesAndTrafficByAsin"][0]["trafficByAsin"].update(buyBoxPercentage=101),
            "greater than",
        ),
        (lambda d: d["reportSpecification"].update(reportType="GET_OTHER"), "is not one of"),
        (
            lambda d: d["salesAndTrafficByDate"][0]["salesByDate"].pop("unitsOrdered"),
            "'unitsOrdered' is a required",
        ),
        (
            lambda d: d["salesAndTrafficByDate"][0]["salesByDate"].update(unitsOrdered="3"),
            "'3' is not of type",
        ),
        (lambda d: d.pop("salesAndTrafficByAsin"), "'salesAndTrafficByAsin' is a required property"),
    ],
)
def test_a_document_failing_the_schema_is_refused(
    sales_schema: dict[str, Any], change: Any, reason: str
) -> None:
    doc = copy.deepcopy(sales_schema["examples"][1])
    change(doc)
    with pytest.raises(InvalidReportDocument) as refused:
        load_sales_and_traffic(json.dumps(doc), sales_schema)
    assert reason in str(refused.value)


def test_not_json_and_undecodable_are_refused(sales_schema: dict[str, Any]) -> None:
    with pytest.raises(InvalidReportDocument, match="not JSON"):
        load_sales_and_traffic(b"seller-sku\tasin1\n", sales_schema)
    with pytest.raises(InvalidReportDocument, match="cannot be decoded"):
        load_sales_and_traffic(ReportContent(b"\xff\xfe{", "application/json; charset=utf-8"), sales_schema)
    many = InvalidReportDocument("X", [f"r{i}" for i in range(30)])
    assert len(many.reasons) == 20 and many.count == 30 and "(and 10 more)" in str(many)
