"""The two seller performance reports of one branch and day: what the mapped request task is given
(:class:`PerformanceReportKwargs`) and hands on (:class:`PerformanceReportDone`, with the branch and
day it belongs to). The request itself is :mod:`.performance_operator`.

- ``GET_V2_SELLER_PERFORMANCE_REPORT``: account health as Amazon sees it now; Amazon ignores the data
  times, its metrics run over their own windows up to the day before. So it is always filed under
  the day before the run, even in a run that loads an earlier day's sales: a snapshot of today filed
  under a past day would rewrite that day's history with figures it never had;
- ``GET_SALES_AND_TRAFFIC_REPORT``: one day (``dataStartTime`` and ``dataEndTime`` on that day; the
  time of day is ignored), ``dateGranularity`` DAY and ``asinGranularity`` SKU, so the per-ASIN part
  is that day's and names the SKU, which is what ties it to our listings.

The DAG file imports this at parse time: standard library and constants only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final, TypedDict

from listings_pipeline.branch import Branch
from spapi.models.seller_performance import GET_SALES_AND_TRAFFIC_REPORT, GET_V2_SELLER_PERFORMANCE_REPORT

ACCOUNT_HEALTH: Final = GET_V2_SELLER_PERFORMANCE_REPORT
SALES_AND_TRAFFIC: Final = GET_SALES_AND_TRAFFIC_REPORT
SALES_OPTIONS: Final = {"dateGranularity": "DAY", "asinGranularity": "SKU"}


class PerformanceReportKwargs(TypedDict):
    """One mapped report task's arguments."""

    branch: Branch
    day: str  # ISO date the figures are filed under
    report_type: str
    marketplace_ids: list[str]
    spapi_conn_id: str
    report_options: dict[str, str] | None
    data_start_time: str | None
    data_end_time: str | None
    poll_interval: float
    #: the wait's shortcut when notifications are configured (:mod:`.processing_signals`)
    wake_check: str | None


class PerformanceReportDone(TypedDict):
    """A report once it ended: ``DONE`` with its document, or ``CANCELLED`` (nothing to report)."""

    branch: Branch
    day: str
    report_type: str
    report_id: str
    processing_status: str
    report_document_id: str | None


def report_day(asked: str | None, run_after: datetime) -> date:
    """The day a run loads: the one asked for in the form, else the day before the run (a daily run
    after midnight UTC loads the whole day that just ended)."""
    if asked:
        return date.fromisoformat(asked)
    return run_after.date() - timedelta(days=1)


def report_kwargs(
    branches: list[Branch],
    day: date,
    poll_interval: float,
    *,
    health_day: date | None = None,
    wake_check: str | None = None,
) -> list[PerformanceReportKwargs]:
    """Both reports for every branch (each report covers one marketplace): sales and traffic for
    ``day``, account health filed under ``health_day`` (the day before the run; ``day`` if not given).
    ``wake_check`` lets a ``REPORT_PROCESSING_FINISHED`` notification end each wait early."""
    start, end = f"{day.isoformat()}T00:00:00+00:00", f"{day.isoformat()}T23:59:59+00:00"
    out: list[PerformanceReportKwargs] = []
    for branch in branches:
        for report_type in (ACCOUNT_HEALTH, SALES_AND_TRAFFIC):
            sales = report_type == SALES_AND_TRAFFIC
            out.append(
                {
                    "branch": branch,
                    "day": (day if sales else health_day or day).isoformat(),
                    "report_type": report_type,
                    "marketplace_ids": [branch["marketplace_id"]],
                    "spapi_conn_id": branch["spapi_conn_id"],
                    "report_options": dict(SALES_OPTIONS) if sales else None,
                    "data_start_time": start if sales else None,
                    "data_end_time": end if sales else None,
                    "poll_interval": poll_interval,
                    "wake_check": wake_check,
                }
            )
    return out
