"""Seller performance for the warehouse tests: report documents built by the sandbox's own builders
(so they are what the live sandbox serves), loaded the way the DAG loads them
(``seller_performance.load_report``), with the answers worked out by hand.

``A1SELLER``, US, account health on three report dates (500 seller-fulfilled orders each):

- 2026-11-28: 15 late shipments (3 %, target < 4 %), 2 cancellations (0.4 %), no violation;
- 2026-11-29: 25 late (5 %: past the target, worse), 2 cancellations (same), one listing policy
  violation (past its target of 0);
- 2026-11-30: 20 late (4 %: still past, since the target is *below* 4 %; better than 5 %), 1
  cancellation (0.2 %, better), the violation still there (same).

``A1SELLER``, US, sales and traffic (one SKU, ``S-1`` at 10.00): 2026-11-22 to 2026-11-30, nine days,
two units and 20 sessions on weekdays, three and 30 on Saturdays and Sundays (``weekdayFactors``).
2026-11-28 and 29 are a Saturday and a Sunday.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from listings_pipeline.from_amazon.performance_reports import (
    ACCOUNT_HEALTH,
    SALES_AND_TRAFFIC,
    PerformanceReportDone,
)
from listings_pipeline.from_amazon.seller_performance import LoadResult, load_report
from sandbox import seller_performance as builders
from spapi.models.reports import ReportContent, ReportDocument

SELLER = "A1SELLER"
US = "ATVPDKIKX0DER"
HEALTH_DAYS = {
    date(2026, 11, 28): {"mfnOrders": 500, "lateShipments": 15, "cancellations": 2},
    date(2026, 11, 29): {
        "mfnOrders": 500,
        "lateShipments": 25,
        "cancellations": 2,
        "violations": {"listingPolicyViolations": 1},
    },
    date(2026, 11, 30): {
        "mfnOrders": 500,
        "lateShipments": 20,
        "cancellations": 1,
        "violations": {"listingPolicyViolations": 1},
    },
}
SALES = {
    "currency": "USD",
    "weekdayFactors": [1, 1, 1, 1, 1, 1.5, 1.5],
    "asins": [
        {
            "parentAsin": "B0P",
            "childAsin": "B0C1",
            "sku": "S-1",
            "price": 10,
            "unitsPerDay": 2,
            "sessionsPerDay": 20,
        }
    ],
}
SALES_FIRST, SALES_LAST = date(2026, 11, 22), date(2026, 11, 30)


class StubClient:
    """The two calls ``load_report`` makes, answered with one document."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.operations: list[str] = []

    def call(self, call: Any) -> Any:
        self.operations.append(call.operation)
        if call.operation == "getReportDocument":
            return ReportDocument(report_document_id="doc", url="https://documents.example/doc")
        return ReportContent(self.data, "application/json; charset=utf-8")


def health_document(seed: dict[str, Any], day: date, marketplace: str = US) -> bytes:
    return json.dumps(
        {
            "accountStatuses": [
                {"marketplaceId": marketplace, "status": seed.get("accountStatus", "NORMAL")}
            ],
            "performanceMetrics": [builders.account_health_metrics(seed, marketplace, day)],
        }
    ).encode()


def sales_document(day: date, sales: dict[str, Any] | None = None) -> bytes:
    options = {"dateGranularity": "DAY", "asinGranularity": "SKU"}
    return json.dumps(builders.sales_and_traffic(sales or SALES, US, options, day, day)).encode()


def done(report_type: str, day: date, report_id: str, status: str = "DONE") -> PerformanceReportDone:
    return {
        "branch": {"seller_id": SELLER, "marketplace_id": US, "spapi_conn_id": "spapi_test", "region": "na"},
        "day": day.isoformat(),
        "report_type": report_type,
        "report_id": report_id,
        "processing_status": status,
        "report_document_id": "doc" if status == "DONE" else None,
    }


def load(
    engine: Engine, var_dir: Path, report_type: str, day: date, data: bytes, report_id: str
) -> LoadResult:
    at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=2)
    return load_report(
        StubClient(data),  # type: ignore[arg-type]
        engine,
        done(report_type, day, report_id),
        var_dir=var_dir,
        run_id=f"scheduled__{day.isoformat()}",
        dag_id="seller_performance",
        now=at,
    )


def fill(engine: Engine, var_dir: Path | None = None) -> list[LoadResult]:
    """Every report of the module docstring, loaded day by day (all valid: ``var_dir``, where a
    refused one would be kept, is not written to)."""
    var_dir = var_dir or Path(tempfile.gettempdir()) / "seller-performance-unused"
    results = []
    for n, (day, seed) in enumerate(sorted(HEALTH_DAYS.items())):
        results.append(load(engine, var_dir, ACCOUNT_HEALTH, day, health_document(seed, day), f"H{n}"))
    day = SALES_FIRST
    while day <= SALES_LAST:
        results.append(load(engine, var_dir, SALES_AND_TRAFFIC, day, sales_document(day), f"S{day.day}"))
        day += timedelta(days=1)
    return results


# -- the analyst page's answers ----------------------------------------------------------------


def health_trend(rows: list[dict[str, Any]]) -> None:
    """ "Which account health metrics need attention, and are they getting better?": the latest
    report date's metrics in breach, with the previous value and the trend."""
    got = [
        (r["seller_id"], r["marketplace_id"], str(r["report_date"]), r["metric"], r["status"],
         None if r["rate"] is None else round(float(r["rate"]), 4), r["defects"],
         None if r["previous_rate"] is None else round(float(r["previous_rate"]), 4), r["previous_defects"], r["trend"])
        for r in rows
    ]  # fmt: skip
    assert got == [
        # 20 of 500 = 4 %: not below the 4 % target; 25 the day before, so better
        (SELLER, US, "2026-11-30", "lateShipmentRate", "BAD", 0.04, 20, 0.05, 25, "better"),
        # one violation against a target of 0, as the day before
        (SELLER, US, "2026-11-30", "listingPolicyViolations", "BAD", None, 1, None, 1, "same"),
    ]


def sales_week(rows: list[dict[str, Any]]) -> None:
    """ "How did sales go this week against the week before?": the last three days with seven-day
    sums. 2026-11-30 (a Monday): 2 units; its seven days 24..30 are 5 weekdays x 2 + 2 weekend days
    x 3 = 16 units, $160, 5 x 20 + 2 x 30 = 160 sessions; a week before, 11-23, was 2 units.
    2026-11-29 (Sunday): 3 units; days 23..29: 16 units as well; a week before (22) 3 units.
    2026-11-28 (Saturday): 3 units; days 22..28: 16; nothing loaded a week before."""
    got = [
        (r["day"] if isinstance(r["day"], str) else r["day"].isoformat(), r["units"], float(r["sales"]),
         r["units_7d"], float(r["sales_7d"]), r["sessions_7d"], r["days_7d"], r["units_week_before"])
        for r in rows
    ]  # fmt: skip
    assert got == [
        ("2026-11-30", 2, 20.0, 16, 160.0, 160, 7, 2),
        ("2026-11-29", 3, 30.0, 16, 160.0, 160, 7, 3),
        ("2026-11-28", 3, 30.0, 16, 160.0, 160, 7, None),
    ]
