"""Both issue shapes fit ``listing_issues``; call records fit ``api_calls``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select

from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import ApiCall, ListingIssue
from listings_pipeline.warehouse.records import api_call_row, feed_issue_rows, listings_api_issue_rows
from spapi.client import CallRecord
from spapi.models.feeds import ProcessingReportIssue
from spapi.models.listings import Issue
from tests.warehouse.conftest import DE, SELLER, US

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)

API_ISSUES = [
    Issue.model_validate(
        {
            "code": "90220",
            "message": "'brand' is required but not supplied.",
            "severity": "ERROR",
            "attributeNames": ["brand"],
            "categories": ["MISSING_ATTRIBUTE"],
        }
    ),
    Issue.model_validate(
        {
            "code": "18027",
            "message": "Image too small",
            "severity": "WARNING",
            "categories": [],
            "marketplaceIds": [US, DE],
        }
    ),
]
FEED_ISSUES = [
    ProcessingReportIssue.model_validate(
        {
            "messageId": 2,
            "code": "4000003",
            "severity": "ERROR",
            "attributeName": "item_name",
            "message": "bad",
        }
    ),
    ProcessingReportIssue.model_validate(
        {"messageId": 3, "sku": "OWN-SKU", "severity": "WARNING", "message": "w"}
    ),
    ProcessingReportIssue.model_validate(
        {"severity": "ERROR", "code": "5000", "message": "malformed document"}
    ),
]


def test_listings_api_issues() -> None:
    rows = listings_api_issue_rows(
        API_ISSUES, seller_id=SELLER, marketplace_id=US, sku="SKU-1", submission_id="sub-1", observed_at=T0
    )
    assert [(r["marketplace_id"], r["code"], r["attribute_names"], r["categories"]) for r in rows] == [
        (US, "90220", ["brand"], ["MISSING_ATTRIBUTE"]),
        (US, "18027", [], []),
        (DE, "18027", [], []),
    ]
    assert {(r["source"], r["sku"], r["submission_id"], r["observed_at"]) for r in rows} == {
        ("listings_api", "SKU-1", "sub-1", T0)
    }
    notified = listings_api_issue_rows(
        API_ISSUES[:1], seller_id=SELLER, marketplace_id=US, sku="S", source="notification"
    )
    assert notified[0]["source"] == "notification"


def test_feed_issues() -> None:
    rows = feed_issue_rows(
        FEED_ISSUES,
        seller_id=SELLER,
        feed_id="50001",
        marketplace_id=US,
        sku_by_message={2: "SKU-2", 3: "SKU-3"},
    )
    assert [(r["message_id"], r["sku"], r["code"], r["attribute_names"], r["categories"]) for r in rows] == [
        (2, "SKU-2", "4000003", ["item_name"], []),
        (3, "OWN-SKU", None, [], []),  # the issue's own SKU wins
        (None, None, "5000", [], []),  # feed-level
    ]
    assert {(r["source"], r["feed_id"]) for r in rows} == {("feed", "50001")}


@pytest.mark.usefixtures("backend")
def test_both_shapes_round_trip_through_one_table(warehouse_engine: Engine) -> None:
    rows = listings_api_issue_rows(
        API_ISSUES, seller_id=SELLER, marketplace_id=US, sku="SKU-1", observed_at=T0
    )
    rows += feed_issue_rows(
        FEED_ISSUES, seller_id=SELLER, feed_id="50001", sku_by_message={2: "SKU-2"}, observed_at=T0
    )
    with session_scope(warehouse_engine) as s:
        s.execute(insert(ListingIssue), rows)
    with session_scope(warehouse_engine) as s:
        stored = s.scalars(select(ListingIssue).order_by(ListingIssue.id)).all()
        assert [(i.source, i.sku, i.attribute_names, i.categories, i.observed_at) for i in stored] == [
            ("listings_api", "SKU-1", ["brand"], ["MISSING_ATTRIBUTE"], T0),
            ("listings_api", "SKU-1", [], [], T0),
            ("listings_api", "SKU-1", [], [], T0),
            ("feed", "SKU-2", ["item_name"], [], T0),
            ("feed", "OWN-SKU", [], [], T0),
            ("feed", None, [], [], T0),
        ]


@pytest.mark.usefixtures("backend")
def test_call_records_fit_api_calls(warehouse_engine: Engine) -> None:
    record = CallRecord(
        operation="putListingsItem",
        method="PUT",
        seller_id=SELLER,
        marketplace_id=US,
        sku="SKU-1",
        region="na",
        status=429,
        latency_ms=12.5,
        request_id="req-1",
        attempt=2,
        throttled=True,
        error_code="QuotaExceeded",
        trace_id="run-1",
        started_at=T0.timestamp(),
        limiter_wait_ms=250.0,
    )
    with session_scope(warehouse_engine) as s:
        s.execute(insert(ApiCall), [api_call_row(record, run_id="run-1")])
    with session_scope(warehouse_engine) as s:
        call = s.scalars(select(ApiCall)).one()
        assert (
            call.operation,
            call.status,
            call.throttled,
            call.started_at,
            call.limiter_wait_ms,
            call.run_id,
        ) == (
            "putListingsItem",
            429,
            True,
            T0,
            250.0,
            "run-1",
        )
