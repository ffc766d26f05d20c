"""The request task of ``seller_performance``: one report for one branch and day, requested and
waited for in the triggerer by :class:`spapi.operators.RequestReportOperator` (shared with
``listings_reconcile``: createReport, one getReport, then ``ReportProcessingTrigger``), its XCom the
report with the branch and day it belongs to.

The DAG file imports this at parse time: nothing here touches the warehouse or the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from listings_pipeline.branch import Branch
from listings_pipeline.from_amazon.performance_reports import PerformanceReportDone
from spapi.operators import RequestReportOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class PerformanceReportOperator(RequestReportOperator):
    """One seller performance report for one branch and day; its XCom is a
    :class:`PerformanceReportDone`."""

    def __init__(self, *, branch: Branch, day: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.branch = branch
        self.day = day

    def finished(self, context: Context, outcome: dict[str, Any]) -> PerformanceReportDone:
        return {
            "branch": self.branch,
            "day": self.day,
            "report_type": self.report_type,
            "report_id": str(outcome["report_id"]),
            "processing_status": str(outcome["processing_status"]),
            "report_document_id": outcome.get("report_document_id"),
        }
