"""Amazon's listings report for one branch: ``GET_MERCHANT_LISTINGS_ALL_DATA`` requested and waited
for in the triggerer (:class:`spapi.operators.RequestReportOperator`), handed on with the
branch it belongs to, so the next task knows whose report it is without zipping two lists.

The DAG file imports this at parse time: nothing here touches the warehouse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypedDict

from listings_pipeline.branch import Branch
from spapi.models.reports import GET_MERCHANT_LISTINGS_ALL_DATA
from spapi.operators import RequestReportOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

LISTINGS_REPORT: Final = GET_MERCHANT_LISTINGS_ALL_DATA


class ReportKwargs(TypedDict):
    """One mapped report task's arguments."""

    branch: Branch
    marketplace_ids: list[str]
    spapi_conn_id: str
    poll_interval: float
    #: the wait's shortcut when notifications are configured (:mod:`.processing_signals`)
    wake_check: str | None


class ReportDone(TypedDict):
    """A branch's report once it ended: ``DONE`` with its document, or ``CANCELLED`` (nothing to
    report) without one."""

    branch: Branch
    report_id: str
    processing_status: str
    report_document_id: str | None


def report_kwargs(
    branches: list[Branch], poll_interval: float, *, wake_check: str | None = None
) -> list[ReportKwargs]:
    """One report per seller and marketplace (Amazon's listings report covers one marketplace),
    polled first after the config's ``feed_poll_seconds``: a report takes Amazon about as long.
    ``wake_check`` lets a ``REPORT_PROCESSING_FINISHED`` notification end each wait early."""
    return [
        {
            "branch": b,
            "marketplace_ids": [b["marketplace_id"]],
            "spapi_conn_id": b["spapi_conn_id"],
            "poll_interval": poll_interval,
            "wake_check": wake_check,
        }
        for b in branches
    ]


class ListingsReportOperator(RequestReportOperator):
    """``GET_MERCHANT_LISTINGS_ALL_DATA`` for one branch; its XCom is a :class:`ReportDone`."""

    def __init__(self, *, branch: Branch, **kwargs: Any) -> None:
        kwargs.setdefault("report_type", LISTINGS_REPORT)
        super().__init__(**kwargs)
        self.branch = branch

    def finished(self, context: Context, outcome: dict[str, Any]) -> ReportDone:
        return {
            "branch": self.branch,
            "report_id": str(outcome["report_id"]),
            "processing_status": str(outcome["processing_status"]),
            "report_document_id": outcome.get("report_document_id"),
        }
