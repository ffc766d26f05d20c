"""The Seller performance section: each account's latest health and sales, the trends for the charts,
refused reports, and the page's filter, on SQLite and PostgreSQL (the reads); the charts; the page and
its JSON through Airflow's api-server. The reports are :mod:`tests.warehouse.seller_performance_data`'s
(A1SELLER, US, answers worked out there), plus a healthy German account with a day of sales."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from listings_pipeline.from_amazon.performance_reports import ACCOUNT_HEALTH, SALES_AND_TRAFFIC
from listings_pipeline.status_page import chart
from listings_pipeline.status_page.schemas import HealthPoint, SalesPoint
from listings_pipeline.status_page.scope import EVERYWHERE, Scope
from listings_pipeline.status_page.seller_performance import performance_section
from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.records import ensure_seller
from tests.status_page.conftest import token_for
from tests.warehouse import seller_performance_data as data
from tests.warehouse.conftest import BACKENDS, _drop_schema, _schema_engine
from tests.warehouse.seller_performance_data import SELLER, US

if TYPE_CHECKING:
    from fastapi import FastAPI

DE = "A1PA6795UKMFR9"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
D30 = date(2026, 11, 30)


def fill(engine: Engine, var_dir: Path) -> None:
    """seller_performance_data's reports; a healthy DE account on the 30th (10 late of 1000: 1 %), with
    a day of sales (4 units at 20.00 from 50 sessions, buy box on 60 of 100 page views); and a
    refused DE sales report for the 29th."""
    with db.session_scope(engine) as session:
        ensure_seller(session, SELLER, name="Test seller", region="na", spapi_conn_id="spapi_test")
    data.fill(engine, var_dir)
    healthy = {"mfnOrders": 1000, "lateShipments": 10}
    de = data.done(ACCOUNT_HEALTH, D30, "DE-H")
    de["branch"] = {**de["branch"], "marketplace_id": DE}
    from listings_pipeline.from_amazon.seller_performance import load_report

    load_report(data.StubClient(data.health_document(healthy, D30, DE)), engine, de, var_dir=var_dir, now=NOW)  # type: ignore[arg-type]
    sales = {"currency": "EUR", "asins": [{"parentAsin": "B0D", "childAsin": "B0D1", "sku": "D-1", "price": 20,
             "unitsPerDay": 4, "sessionsPerDay": 50, "pageViewsPerDay": 100, "buyBoxPercentage": 60}]}  # fmt: skip
    from sandbox import seller_performance as builders

    document = builders.sales_and_traffic(
        sales, DE, {"dateGranularity": "DAY", "asinGranularity": "SKU"}, D30, D30
    )
    de_sales = {**data.done(SALES_AND_TRAFFIC, D30, "DE-S"), "branch": de["branch"]}
    load_report(data.StubClient(json.dumps(document).encode()), engine, de_sales, var_dir=var_dir, now=NOW)  # type: ignore[arg-type]
    bad = {**data.done(SALES_AND_TRAFFIC, date(2026, 11, 29), "DE-BAD"), "branch": de["branch"]}
    load_report(data.StubClient(b"{}"), engine, bad, var_dir=var_dir, now=NOW)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A warehouse holding those reports, on each backend (read-only for its tests)."""
    var_dir = tmp_path_factory.mktemp("refused")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("performance") / "warehouse.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        engine = db.make_engine(db.sqlite_url(path))
        fill(engine, var_dir)
        yield engine
        engine.dispose()
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    schema = "status_performance"
    _drop_schema(postgres_url, schema)
    engine = _schema_engine(postgres_url, schema)
    db.upgrade(engine)
    fill(engine, var_dir)
    yield engine
    engine.dispose()
    _drop_schema(postgres_url, schema)


def test_each_accounts_latest_health_with_its_key_and_troubled_metrics(loaded: Engine) -> None:
    with Session(loaded) as s:
        section = performance_section(s, EVERYWHERE, now=NOW)
    assert [(a.seller_id, a.marketplace_id, a.report_date, a.attention) for a in section.accounts] == [
        (SELLER, DE, D30, 0),
        (SELLER, US, D30, 2),
    ]
    de, us = section.accounts
    # the six key rates always, then any other metric needing attention
    assert [m.metric for m in us.metrics] == [
        "orderDefectRate.mfn",
        "orderDefectRate.afn",
        "lateShipmentRate",
        "preFulfillmentCancellationRate",
        "validTrackingRate",
        "onTimeDeliveryRate",
        "listingPolicyViolations",
    ]
    late = us.metrics[2]
    assert (late.rate, late.target_value, late.needs_attention, late.trend, late.previous_rate) == (
        0.04, 0.04, True, "better", 0.05,
    )  # fmt: skip
    assert (us.account_status, us.ahr_status) == ("NORMAL", "GREAT")
    assert len(de.metrics) == 6 and not any(m.needs_attention for m in de.metrics)
    assert de.metrics[2].trend is None  # its first report


def test_latest_sales_and_the_trends(loaded: Engine) -> None:
    with Session(loaded) as s:
        section = performance_section(s, EVERYWHERE, now=NOW)
        us_only = performance_section(s, Scope(seller_id=SELLER, marketplace_id=US), now=NOW)
    de, us = section.sales
    assert (de.marketplace_id, de.currency, float(de.sales), de.units, de.buy_box_percentage) == (
        DE,
        "EUR",
        80.0,
        4,
        60.0,
    )
    assert (us.day, us.units, us.units_7d, float(us.sales_7d), us.units_week_before) == (D30, 2, 16, 160.0, 2)
    # the worst rate per report date: the US late shipments; on the 30th DE's 1 % is not the worst
    assert [(p.report_date.day, p.late_shipment_rate, p.cancellation_rate) for p in section.health_days] == [
        (28, 0.03, 0.004),
        (29, 0.05, 0.004),
        (30, 0.04, 0.002),
    ]
    # the targets are the reports' own
    assert {
        (p.order_defect_target, p.late_shipment_target, p.cancellation_target) for p in section.health_days
    } == {(0.01, 0.04, 0.025)}
    # units and sessions summed over the filter; buy box of all page views: on the 30th the US's
    # 20 views at 100 % and DE's 100 at 60 %: 80 of 120
    last = section.sales_days[-1]
    assert (last.day, last.units, last.sessions, last.buy_box_percentage) == (D30, 6, 70, 66.67)
    assert len(section.sales_days) == 9
    assert [(p.day.day, p.units) for p in us_only.sales_days][-3:] == [(28, 3), (29, 3), (30, 2)]
    assert [a.marketplace_id for a in us_only.accounts] == [US] and us_only.refused == []


def test_refused_reports_show_with_their_reason(loaded: Engine) -> None:
    with Session(loaded) as s:
        section = performance_section(s, Scope(marketplace_id=DE), now=NOW)
    (refused,) = section.refused
    assert (refused.report_id, refused.day, refused.report_type) == (
        "DE-BAD",
        date(2026, 11, 29),
        SALES_AND_TRAFFIC,
    )
    assert "'reportSpecification' is a required property" in (refused.reason or "")


def test_the_charts() -> None:
    targets = {"order_defect_target": 0.01, "late_shipment_target": 0.04, "cancellation_target": 0.025}
    points = [
        HealthPoint(
            report_date=date(2026, 11, 29),
            order_defect_rate=0.002,
            late_shipment_rate=0.05,
            cancellation_rate=0.01,
            **targets,
        ),
        HealthPoint(
            report_date=date(2026, 11, 30), order_defect_rate=0.001, late_shipment_rate=0.03, **targets
        ),
    ]
    svg = chart.health_chart(points)
    assert 'id="health-chart"' in svg and "2026-11-29 to 2026-11-30" in svg
    # each panel: Amazon's target dashed, the rate red where it reached the target, else green
    assert svg.count('class="target" points=') == 3 and 'stroke-dasharray="5 3"' in svg
    assert 'class="late-shipment-rate" points=' in svg and f'stroke="{chart.INVALID}"' in svg
    assert 'class="order-defect-rate" points="' in svg
    # order defects stay below their target (a green line); one cancellation figure is a green dot
    assert svg.count(f'stroke="{chart.SUCCESS}"') == 1
    assert 'class="cancellation-rate-dot" cx="' in svg and svg.count(f'fill="{chart.SUCCESS}"') == 3
    # the target is the report's: a lower one turns the order defect panel red
    stricter = [p.model_copy(update={"order_defect_target": 0.001}) for p in points]
    assert chart.health_chart(stricter).count(f'stroke="{chart.SUCCESS}"') == 0
    assert "11-29" in svg and "2026" in svg and "UTC" in svg
    sales = chart.sales_chart(
        [
            SalesPoint(day=date(2026, 11, 29), units=3, sessions=30, buy_box_percentage=90.0),
            SalesPoint(day=date(2026, 11, 30), units=0, sessions=20, buy_box_percentage=None),
        ]
    )
    assert sales.count('class="units"') == 1  # a day with no units draws no bar
    assert 'class="sessions" points=' in sales and 'class="buy-box-dot"' in sales
    assert "No account health report loaded yet." in chart.health_chart([])
    assert "No sales and traffic report loaded yet." in chart.sales_chart([])


@pytest.mark.airflow
def test_the_page_shows_the_section_and_its_json(
    api_server_app: FastAPI, sqlite_template: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from listings_pipeline.status_page.app import app

    path = tmp_path / "warehouse.db"
    shutil.copyfile(sqlite_template, path)
    engine = db.make_engine(db.sqlite_url(path))
    fill(engine, tmp_path)
    app.state.engine = engine
    try:
        with TestClient(api_server_app, base_url="http://localhost:8080") as client:
            client.cookies.set("_token", token_for("viewer"))
            html = client.get("/listing-status/", params={"marketplace_id": US}).text
            both = client.get("/listing-status/").text
            got = client.get("/listing-status/api/seller-performance", params={"marketplace_id": DE}).json()
    finally:
        del app.state.engine
        engine.dispose()
    assert 'href="#performance"' in html and 'id="health-table"' in html and 'id="sales-table"' in html
    assert 'id="health-chart"' in html and 'id="sales-chart"' in html
    assert 'data-metric="lateShipmentRate" class="attention"' in html and "needs attention" in html
    assert "1 account(s) need attention" in html
    assert 'data-marketplace="A1PA6795UKMFR9"' not in html  # Germany: filtered out
    assert 'data-marketplace="A1PA6795UKMFR9"' in both and "80.00 EUR" in both
    assert [a["marketplace_id"] for a in got["accounts"]] == [DE] and got["refused"][0][
        "report_id"
    ] == "DE-BAD"
