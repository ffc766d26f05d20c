"""Seller performance reports into the warehouse, on SQLite and PostgreSQL: what each table holds,
that loading a day again replaces that day and nothing else, that a refused or cancelled report is
recorded and changes no figure, and the two views row by row (worked out by hand in
:mod:`tests.warehouse.seller_performance_data`)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.from_amazon.performance_reports import ACCOUNT_HEALTH, SALES_AND_TRAFFIC
from listings_pipeline.from_amazon.seller_performance import load_report
from tests.warehouse import seller_performance_data as data
from tests.warehouse.seller_performance_data import SELLER, US

D28, D29, D30 = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def day(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def test_account_health_by_metric_and_the_breaches_new_and_known(
    warehouse_engine: Engine, tmp_path: Path
) -> None:
    first, second, third = (
        data.load(warehouse_engine, tmp_path, ACCOUNT_HEALTH, d, data.health_document(seed, d), f"H{d.day}")
        for d, seed in sorted(data.HEALTH_DAYS.items())
    )
    # 2 order defect rates, 6 other rates, 10 listing-level counts, and the account's row
    assert [r["rows"] for r in (first, second, third)] == [19, 19, 19]
    assert first["in_breach"] == [] and first["account_status"] == "NORMAL"
    assert second["new_breaches"] == [
        "lateShipmentRate 5% (target < 4%)",
        "listingPolicyViolations 1 (target = 0)",
    ]
    # still past their targets on the 30th, but no longer news
    assert third["in_breach"] == [
        "lateShipmentRate 4% (target < 4%)",
        "listingPolicyViolations 1 (target = 0)",
    ]
    assert third["new_breaches"] == []
    got = rows(
        warehouse_engine,
        "select metric, status, rate, defects, orders, target_value, target_condition, meets_target "
        "from account_health_metrics where report_date = :d and metric in "
        "('lateShipmentRate', 'preFulfillmentCancellationRate', 'orderDefectRate.afn', 'otherPolicyViolations') "
        "order by metric",
        d=D30,
    )
    assert [(m, s, r, d, o, t, c, bool(b)) for m, s, r, d, o, t, c, b in got] == [
        ("lateShipmentRate", "BAD", 0.04, 20, 500.0, 0.04, "LESS_THAN", False),
        ("orderDefectRate.afn", "GOOD", 0.0, 0, 600.0, 0.01, "LESS_THAN", True),
        ("otherPolicyViolations", "GOOD", None, 0, None, 0.0, "EQUALS", True),
        ("preFulfillmentCancellationRate", "GOOD", 0.002, 1, 500.0, 0.025, "LESS_THAN", True),
    ]
    (health,) = rows(
        warehouse_engine,
        "select account_status, ahr_status, report_id, run_id from account_health where report_date = :d",
        d=D29,
    )
    assert health == ("NORMAL", "GREAT", "H29", "scheduled__2026-11-29")
    window = rows(
        warehouse_engine,
        "select window_from, window_to from account_health_metrics where report_date = :d and metric = 'lateShipmentRate'",
        d=D30,
    )
    assert window == [("2026-11-01T00:00Z", "2026-11-30T23:59Z")]


def test_loading_a_day_again_replaces_that_day_only(warehouse_engine: Engine, tmp_path: Path) -> None:
    data.fill(warehouse_engine, tmp_path)
    before = rows(
        warehouse_engine, "select report_date, metric, rate from account_health_metrics order by 1, 2"
    )
    sales_before = rows(warehouse_engine, "select day, units_ordered from sales_traffic_daily order by day")
    # the 29th again, with Amazon's figures revised: 30 late shipments
    seed = {**data.HEALTH_DAYS[D29], "lateShipments": 30}
    data.load(warehouse_engine, tmp_path, ACCOUNT_HEALTH, D29, data.health_document(seed, D29), "H29b")
    after = rows(
        warehouse_engine, "select report_date, metric, rate from account_health_metrics order by 1, 2"
    )
    assert len(after) == len(before) == 3 * 18
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert [(day(b[0]), b[1], b[2], a[2]) for b, a in changed] == [
        ("2026-11-29", "lateShipmentRate", 0.05, 0.06)
    ]
    assert rows(
        warehouse_engine, "select count(*), min(report_id) from account_health where report_date = :d", d=D29
    ) == [(1, "H29b")]
    # the 30th's sales again, with one more SKU: that day's rows only
    more = {**data.SALES, "asins": [*data.SALES["asins"], {"parentAsin": "B0P", "childAsin": "B0C2", "sku": "S-2",
                                                          "price": 5, "unitsPerDay": 1, "sessionsPerDay": 4}]}  # fmt: skip
    data.load(warehouse_engine, tmp_path, SALES_AND_TRAFFIC, D30, data.sales_document(D30, more), "S30b")
    sales_after = rows(warehouse_engine, "select day, units_ordered from sales_traffic_daily order by day")
    assert sales_after[:-1] == sales_before[:-1] and (day(sales_after[-1][0]), sales_after[-1][1]) == (
        "2026-11-30",
        3,
    )
    per_sku = rows(
        warehouse_engine,
        "select period_start, sku, units_ordered, ordered_product_sales, sessions from sales_traffic_by_asin "
        "where period_start >= :d order by period_start, sku",
        d=D29,
    )
    assert [(day(p), s, u, float(m), n) for p, s, u, m, n in per_sku] == [
        ("2026-11-29", "S-1", 3, 30.0, 30),
        ("2026-11-30", "S-1", 2, 20.0, 20),
        ("2026-11-30", "S-2", 1, 5.0, 4),
    ]
    assert rows(warehouse_engine, "select count(*) from sales_traffic_by_asin") == [(10,)]  # 9 days + S-2
    loads = rows(
        warehouse_engine,
        "select report_type, status, count(*) from seller_report_loads group by report_type, status order by 1",
    )
    assert loads == [(SALES_AND_TRAFFIC, "loaded", 10), (ACCOUNT_HEALTH, "loaded", 4)]


def test_a_refused_document_changes_no_figure_and_says_why(warehouse_engine: Engine, tmp_path: Path) -> None:
    data.fill(warehouse_engine, tmp_path)
    figures = rows(warehouse_engine, "select * from account_health_metrics order by id")
    sales = rows(
        warehouse_engine,
        "select day, units_ordered, ordered_product_sales from sales_traffic_daily order by day",
    )
    bad = json.loads(data.health_document(data.HEALTH_DAYS[D30], D30))
    del bad["performanceMetrics"][0]["lateShipmentRate"]
    result = data.load(warehouse_engine, tmp_path, ACCOUNT_HEALTH, D30, json.dumps(bad).encode(), "BAD1")
    assert result["status"] == "refused" and result["rows"] == 0
    assert "'lateShipmentRate' is a required property" in str(result["reason"])
    broken = json.loads(data.sales_document(D30))
    broken["salesAndTrafficByDate"][0]["salesByDate"]["unitsOrdered"] = -4
    result = data.load(
        warehouse_engine, tmp_path, SALES_AND_TRAFFIC, D30, json.dumps(broken).encode(), "BAD2"
    )
    assert result["status"] == "refused" and "-4 is less than the minimum of 0" in str(result["reason"])
    other = data.load(
        warehouse_engine,
        tmp_path,
        ACCOUNT_HEALTH,
        D30,
        data.health_document({}, D30, "A2EUQ1WTGCTBG2"),
        "BAD3",
    )
    assert other["status"] == "refused" and "0 entries for ATVPDKIKX0DER" in str(other["reason"])
    assert rows(warehouse_engine, "select * from account_health_metrics order by id") == figures
    assert (
        rows(
            warehouse_engine,
            "select day, units_ordered, ordered_product_sales from sales_traffic_daily order by day",
        )
        == sales
    )
    refused = rows(
        warehouse_engine,
        "select report_id, day, reason from seller_report_loads where status = 'refused' order by report_id",
    )
    assert [(r, day(d)) for r, d, _ in refused] == [
        ("BAD1", "2026-11-30"),
        ("BAD2", "2026-11-30"),
        ("BAD3", "2026-11-30"),
    ]
    kept = tmp_path / "refused_reports" / SELLER / US / f"{SALES_AND_TRAFFIC}-2026-11-30-BAD2.json"
    assert json.loads(kept.read_bytes()) == broken  # the document as Amazon sent it, for a person
    assert str(kept) in refused[1][2]


def test_a_cancelled_report_is_recorded_and_downloads_nothing(
    warehouse_engine: Engine, tmp_path: Path
) -> None:
    client = data.StubClient(b"")
    result = load_report(
        client,  # type: ignore[arg-type]
        warehouse_engine,
        data.done(SALES_AND_TRAFFIC, D30, "C1", status="CANCELLED"),
        var_dir=tmp_path,
    )
    assert client.operations == []
    assert (result["status"], result["rows"]) == ("cancelled", 0)
    assert rows(warehouse_engine, "select report_id, status, reason from seller_report_loads") == [
        ("C1", "cancelled", "Amazon ended the report CANCELLED: nothing to report")
    ]


def test_the_views_row_by_row(warehouse_engine: Engine, tmp_path: Path) -> None:
    data.fill(warehouse_engine, tmp_path)
    with warehouse_engine.connect() as conn:
        health = [
            dict(r._mapping)
            for r in conn.execute(
                sa.text(
                    "select * from v_account_health where metric in ('lateShipmentRate', 'listingPolicyViolations', "
                    "'preFulfillmentCancellationRate') order by metric, report_date"
                )
            )
        ]
        daily = [
            dict(r._mapping)
            for r in conn.execute(sa.text("select * from v_sales_traffic_daily order by day"))
        ]
    got = [
        (r["metric"], day(r["report_date"]), r["needs_attention"], r["meets_target"], r["trend"],
         None if r["previous_report_date"] is None else day(r["previous_report_date"]))
        for r in health
    ]  # fmt: skip
    assert got == [
        ("lateShipmentRate", "2026-11-28", 0, 1, None, None),  # 3 %: the first report
        ("lateShipmentRate", "2026-11-29", 1, 0, "worse", "2026-11-28"),  # 5 %
        ("lateShipmentRate", "2026-11-30", 1, 0, "better", "2026-11-29"),  # 4 %, still not below 4 %
        ("listingPolicyViolations", "2026-11-28", 0, 1, None, None),
        ("listingPolicyViolations", "2026-11-29", 1, 0, "worse", "2026-11-28"),  # 0 -> 1
        ("listingPolicyViolations", "2026-11-30", 1, 0, "same", "2026-11-29"),
        ("preFulfillmentCancellationRate", "2026-11-28", 0, 1, None, None),
        ("preFulfillmentCancellationRate", "2026-11-29", 0, 1, "same", "2026-11-28"),
        ("preFulfillmentCancellationRate", "2026-11-30", 0, 1, "better", "2026-11-29"),  # 0.4 % -> 0.2 %
    ]
    assert {(r["account_status"], r["ahr_status"]) for r in health} == {("NORMAL", "GREAT")}
    assert [(day(r["day"]), r["units"], r["units_7d"], r["days_7d"]) for r in daily] == [
        ("2026-11-22", 3, 3, 1),  # Sunday, the first day loaded
        ("2026-11-23", 2, 5, 2),
        ("2026-11-24", 2, 7, 3),
        ("2026-11-25", 2, 9, 4),
        ("2026-11-26", 2, 11, 5),
        ("2026-11-27", 2, 13, 6),
        ("2026-11-28", 3, 16, 7),
        ("2026-11-29", 3, 16, 7),  # the 22nd's 3 out, the 29th's 3 in
        ("2026-11-30", 2, 16, 7),  # the 23rd's 2 out, the 30th's 2 in
    ]
    last = daily[-1]
    assert (float(last["sales"]), float(last["sales_7d"]), last["sessions_7d"], last["units_week_before"]) == (
        20.0, 160.0, 160, 2,
    )  # fmt: skip
    assert (last["currency"], last["sessions"], last["page_views"], last["buy_box_percentage"]) == (
        "USD",
        20,
        20,
        100.0,
    )
    assert last["unit_session_percentage"] == 10.0  # 2 units from 20 sessions
