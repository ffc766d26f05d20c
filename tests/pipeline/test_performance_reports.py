"""What the seller performance run asks Amazon for: the day (the form's, else the one before the run)
and two reports per seller and marketplace, the sales report for exactly that day, as DAY by SKU, the
account health snapshot filed under the day before the run."""

from __future__ import annotations

from datetime import UTC, date, datetime

from listings_pipeline.branch import Branch
from listings_pipeline.from_amazon.performance_reports import (
    ACCOUNT_HEALTH,
    SALES_AND_TRAFFIC,
    report_day,
    report_kwargs,
)

US: Branch = {
    "seller_id": "A1",
    "marketplace_id": "ATVPDKIKX0DER",
    "spapi_conn_id": "spapi_na",
    "region": "na",
}
DE: Branch = {
    "seller_id": "A3",
    "marketplace_id": "A1PA6795UKMFR9",
    "spapi_conn_id": "spapi_eu",
    "region": "eu",
}


def test_the_day_is_the_forms_else_the_one_before_the_run() -> None:
    just_after_midnight = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    assert report_day(None, just_after_midnight) == date(2026, 11, 30)
    assert report_day("", just_after_midnight) == date(2026, 11, 30)
    assert report_day("2026-10-02", just_after_midnight) == date(2026, 10, 2)


def test_two_reports_per_branch_the_sales_one_for_that_day_only() -> None:
    got = report_kwargs([US, DE], date(2026, 11, 30), 0.5)
    assert [(k["branch"]["marketplace_id"], k["report_type"]) for k in got] == [
        (US["marketplace_id"], ACCOUNT_HEALTH),
        (US["marketplace_id"], SALES_AND_TRAFFIC),
        (DE["marketplace_id"], ACCOUNT_HEALTH),
        (DE["marketplace_id"], SALES_AND_TRAFFIC),
    ]
    health, sales = got[0], got[1]
    assert (health["report_options"], health["data_start_time"], health["data_end_time"]) == (
        None,
        None,
        None,
    )
    assert sales["report_options"] == {"dateGranularity": "DAY", "asinGranularity": "SKU"}
    assert (sales["data_start_time"], sales["data_end_time"]) == (
        "2026-11-30T00:00:00+00:00",
        "2026-11-30T23:59:59+00:00",
    )
    assert {k["day"] for k in got} == {"2026-11-30"}
    # a run loading an earlier day's sales still files Amazon's current account health under the
    # day before the run: it is a snapshot of now, not of that day
    backfill = report_kwargs([US], date(2026, 10, 2), 0.5, health_day=date(2026, 11, 30))
    assert [(k["report_type"], k["day"], k["data_start_time"]) for k in backfill] == [
        (ACCOUNT_HEALTH, "2026-11-30", None),
        (SALES_AND_TRAFFIC, "2026-10-02", "2026-10-02T00:00:00+00:00"),
    ]
    assert [k["spapi_conn_id"] for k in got] == ["spapi_na", "spapi_na", "spapi_eu", "spapi_eu"]
    assert all(
        k["marketplace_ids"] == [k["branch"]["marketplace_id"]] and k["poll_interval"] == 0.5 for k in got
    )
