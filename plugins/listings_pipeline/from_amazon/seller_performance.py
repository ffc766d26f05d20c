"""Amazon's seller performance reports into the warehouse (issue 15): one report document of one
branch and day, checked against Amazon's schema, then written so that loading a day again replaces
that day's figures and nothing else.

- ``GET_V2_SELLER_PERFORMANCE_REPORT`` -> ``account_health`` (the account's status, rating and
  warning states) and ``account_health_metrics`` (one row per metric, with whether it meets Amazon's
  target: Amazon's own ``status`` can lag the figures);
- ``GET_SALES_AND_TRAFFIC_REPORT`` -> ``sales_traffic_daily`` (each day of the report) and
  ``sales_traffic_by_asin`` (the report's range per ASIN or SKU).

A document that fails its schema or our model is refused whole: nothing of it is written, the day
keeps the figures it had, ``seller_report_loads`` records the reason, and the document itself is
kept under ``<var_dir>/refused_reports/`` for a person to read. A CANCELLED report (Amazon had
nothing to report) is recorded as such. Nothing Amazon sends is dropped without a trace.

Which metrics are past their target, and which of those were not at the metric's previous report
date, is worked out here for the run's outcome (:mod:`.performance_outcome`).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from sqlalchemy import delete, func, insert, select

from listings_pipeline.config import REPO_ROOT
from listings_pipeline.from_amazon.performance_reports import (
    ACCOUNT_HEALTH,
    SALES_AND_TRAFFIC,
    PerformanceReportDone,
)
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import (
    AccountHealth,
    AccountHealthMetric,
    SalesTrafficAsin,
    SalesTrafficDay,
    SellerReportLoad,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.client import SpApiClient
    from spapi.models.seller_performance import (
        AccountHealthReport,
        PerformanceMetrics,
        RateMetric,
        SalesAndTrafficReport,
    )

log = logging.getLogger(__name__)

SCHEMA_FILES = {
    ACCOUNT_HEALTH: "accountHealthReport-2020-11-18.json",
    SALES_AND_TRAFFIC: "sellerSalesAndTrafficReport.json",
}
LoadStatus = Literal["loaded", "refused", "cancelled"]
CONDITION_WORDS = {"LESS_THAN": "<", "GREATER_THAN": ">", "EQUALS": "="}


class MetricRow(TypedDict):
    """One ``account_health_metrics`` row before it is written."""

    metric: str
    status: str
    rate: float | None
    defects: int | None
    orders: float | None
    target_value: float
    target_condition: str
    meets_target: bool
    window_from: str | None
    window_to: str | None


class LoadResult(TypedDict):
    """What loading one report did, for the task's XCom and the run's outcome."""

    seller_id: str
    marketplace_id: str
    report_type: str
    day: str
    report_id: str
    status: LoadStatus
    rows: int
    reason: str | None
    account_status: str | None
    in_breach: list[str]  # every metric past its target or BAD, as "<metric> <value> (target ...)"
    new_breaches: list[str]  # those that were not at the metric's previous report date


# -- Amazon's schemas --------------------------------------------------------------------------


def models_dir() -> Path:
    """The vendored SP-API models (``include/spapi-models``; ``SPAPI_MODELS_DIR`` overrides)."""
    return Path(os.environ.get("SPAPI_MODELS_DIR") or REPO_ROOT / "include" / "spapi-models")


@cache
def _schema(path: str) -> Mapping[str, Any]:
    loaded: Mapping[str, Any] = json.loads(Path(path).read_bytes())
    return loaded


def schema_for(report_type: str) -> Mapping[str, Any]:
    """Amazon's JSON Schema of a report type's document."""
    return _schema(str(models_dir() / "schemas" / "reports" / SCHEMA_FILES[report_type]))


# -- account health ----------------------------------------------------------------------------


def meets_target(value: float, target: float, condition: str) -> bool:
    if condition == "LESS_THAN":
        return value < target
    if condition == "GREATER_THAN":
        return value > target
    return math.isclose(value, target, abs_tol=1e-9)


def _rated(name: str, metric: RateMetric, defects: int, orders: float) -> MetricRow:
    window = metric.reporting_date_range
    return {
        "metric": name,
        "status": metric.status,
        "rate": metric.rate,
        "defects": defects,
        "orders": orders,
        "target_value": metric.target_value,
        "target_condition": metric.target_condition,
        "meets_target": meets_target(metric.rate, metric.target_value, metric.target_condition),
        "window_from": window.reporting_date_from,
        "window_to": window.reporting_date_to,
    }


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def metric_rows(m: PerformanceMetrics) -> list[MetricRow]:
    """A marketplace's metrics, one row each (both order defect rates, the eight rates, the ten
    listing-level counts), named as Amazon names them."""
    odr = m.order_defect_rate
    rows = [
        _rated("orderDefectRate.mfn", odr.mfn, odr.mfn.order_with_defects.count, odr.mfn.order_count),
        _rated("orderDefectRate.afn", odr.afn, odr.afn.order_with_defects.count, odr.afn.order_count),
        _rated(
            "lateShipmentRate",
            m.late_shipment_rate,
            m.late_shipment_rate.late_shipment_count,
            m.late_shipment_rate.order_count,
        ),
        _rated(
            "preFulfillmentCancellationRate",
            m.pre_fulfillment_cancellation_rate,
            m.pre_fulfillment_cancellation_rate.cancellation_count,
            m.pre_fulfillment_cancellation_rate.order_count,
        ),
        _rated(
            "invoiceDefectRate",
            m.invoice_defect_rate,
            m.invoice_defect_rate.invoice_defect.count,
            m.invoice_defect_rate.order_count,
        ),
        _rated(
            "validTrackingRate",
            m.valid_tracking_rate,
            m.valid_tracking_rate.valid_tracking_count,
            m.valid_tracking_rate.shipment_count,
        ),
        _rated(
            "onTimeDeliveryRate",
            m.on_time_delivery_rate,
            m.on_time_delivery_rate.on_time_delivery_count,
            m.on_time_delivery_rate.shipment_count_with_valid_tracking,
        ),
        _rated(
            "unitOnTimeDeliveryRate",
            m.unit_on_time_delivery_rate,
            m.unit_on_time_delivery_rate.unit_on_time_delivery_count,
            m.unit_on_time_delivery_rate.total_unit_count,
        ),
    ]
    for name, violation in m.listing_level():
        window = violation.reporting_date_range
        rows.append(
            {
                "metric": _camel(name),
                "status": violation.status,
                "rate": None,
                "defects": violation.defects_count,
                "orders": None,
                "target_value": violation.target_value,
                "target_condition": violation.target_condition,
                "meets_target": meets_target(
                    violation.defects_count, violation.target_value, violation.target_condition
                ),
                "window_from": window.reporting_date_from,
                "window_to": window.reporting_date_to,
            }
        )
    return rows


def in_breach(row: MetricRow | AccountHealthMetric) -> bool:
    """Amazon calls it BAD, or it is past its target."""
    if isinstance(row, AccountHealthMetric):
        return row.status == "BAD" or not row.meets_target
    return row["status"] == "BAD" or not row["meets_target"]


def describe(row: MetricRow) -> str:
    """``lateShipmentRate 5.2% (target < 4%)``, ``listingPolicyViolations 1 (target = 0)``."""
    sign = CONDITION_WORDS.get(row["target_condition"], row["target_condition"])
    if row["rate"] is None:
        return f"{row['metric']} {row['defects']} (target {sign} {row['target_value']:g})"
    return f"{row['metric']} {100 * row['rate']:.4g}% (target {sign} {100 * row['target_value']:.4g}%)"


def record_account_health(
    session: Session,
    seller_id: str,
    marketplace_id: str,
    day: date,
    report: AccountHealthReport,
    report_id: str,
    *,
    run_id: str | None,
    now: datetime,
) -> tuple[int, str | None, list[str], list[str]]:
    """Replace the day's account health with the report's entry for the marketplace. Returns the
    rows written, the account status, the metrics in breach and those newly so."""
    (metrics,) = [m for m in report.performance_metrics if m.marketplace_id == marketplace_id]
    status = next((s.status for s in report.account_statuses if s.marketplace_id == marketplace_id), None)
    rows = metric_rows(metrics)
    where = (
        AccountHealthMetric.seller_id == seller_id,
        AccountHealthMetric.marketplace_id == marketplace_id,
    )
    previous_day = session.scalar(
        select(func.max(AccountHealthMetric.report_date)).where(*where, AccountHealthMetric.report_date < day)
    )
    breached_before: set[str] = set()
    if previous_day is not None:
        breached_before = {
            m.metric
            for m in session.scalars(
                select(AccountHealthMetric).where(*where, AccountHealthMetric.report_date == previous_day)
            )
            if in_breach(m)
        }
    session.execute(delete(AccountHealthMetric).where(*where, AccountHealthMetric.report_date == day))
    session.execute(
        delete(AccountHealth).where(
            AccountHealth.seller_id == seller_id,
            AccountHealth.marketplace_id == marketplace_id,
            AccountHealth.report_date == day,
        )
    )
    rating = metrics.account_health_rating.rating
    session.add(
        AccountHealth(
            seller_id=seller_id,
            marketplace_id=marketplace_id,
            report_date=day,
            account_status=status,
            ahr_status=rating,
            warning_states=[w.model_dump(mode="json") for w in metrics.warning_states],
            report_id=report_id,
            loaded_at=now,
            run_id=run_id,
        )
    )
    session.execute(
        insert(AccountHealthMetric),
        [{"seller_id": seller_id, "marketplace_id": marketplace_id, "report_date": day, **r} for r in rows],
    )
    breaches = [r for r in rows if in_breach(r)]
    words = [describe(r) for r in breaches]
    new = [describe(r) for r in breaches if r["metric"] not in breached_before]
    if status not in (None, "NORMAL"):
        words.insert(0, f"account {status}")
        new.insert(0, f"account {status}")  # an account at risk is news every day it lasts
    if rating == "WARNED":
        words.append("Account Health Rating WARNED")
    return len(rows) + 1, status, words, new


# -- sales and traffic -------------------------------------------------------------------------


def record_sales_and_traffic(
    session: Session,
    seller_id: str,
    marketplace_id: str,
    report: SalesAndTrafficReport,
    report_id: str,
    *,
    run_id: str | None,
    now: datetime,
) -> int:
    """Replace the report's days (``sales_traffic_daily``) and its range's per-ASIN rows
    (``sales_traffic_by_asin``, same range and granularity) with the report's. Only DAY
    granularity is taken: a week or month row is not a day."""
    spec = report.report_specification
    start, end = spec.data_start_time, spec.data_end_time
    granularity = spec.report_options.asin_granularity or "PARENT"
    session.execute(
        delete(SalesTrafficDay).where(
            SalesTrafficDay.seller_id == seller_id,
            SalesTrafficDay.marketplace_id == marketplace_id,
            SalesTrafficDay.day >= start,
            SalesTrafficDay.day <= end,
        )
    )
    session.execute(
        delete(SalesTrafficAsin).where(
            SalesTrafficAsin.seller_id == seller_id,
            SalesTrafficAsin.marketplace_id == marketplace_id,
            SalesTrafficAsin.period_start == start,
            SalesTrafficAsin.period_end == end,
            SalesTrafficAsin.asin_granularity == granularity,
        )
    )
    owner = {"seller_id": seller_id, "marketplace_id": marketplace_id, "report_id": report_id}
    stamp = {"loaded_at": now, "run_id": run_id}
    days = [
        {
            **owner,
            **stamp,
            "day": d.date,
            "currency": d.sales_by_date.ordered_product_sales.currency_code,
            "ordered_product_sales": d.sales_by_date.ordered_product_sales.amount,
            "units_ordered": d.sales_by_date.units_ordered,
            "total_order_items": d.sales_by_date.total_order_items,
            "units_refunded": d.sales_by_date.units_refunded,
            "refund_rate": d.sales_by_date.refund_rate,
            "shipped_product_sales": d.sales_by_date.shipped_product_sales.amount,
            "units_shipped": d.sales_by_date.units_shipped,
            "orders_shipped": d.sales_by_date.orders_shipped,
            "page_views": d.traffic_by_date.page_views,
            "sessions": d.traffic_by_date.sessions,
            "buy_box_percentage": d.traffic_by_date.buy_box_percentage,
            "unit_session_percentage": d.traffic_by_date.unit_session_percentage,
            "order_item_session_percentage": d.traffic_by_date.order_item_session_percentage,
            "feedback_received": d.traffic_by_date.feedback_received,
            "negative_feedback_received": d.traffic_by_date.negative_feedback_received,
        }
        for d in report.sales_and_traffic_by_date
    ]
    asins = [
        {
            **owner,
            **stamp,
            "period_start": start,
            "period_end": end,
            "asin_granularity": granularity,
            "parent_asin": a.parent_asin,
            "child_asin": a.child_asin,
            "sku": a.sku,
            "currency": a.sales_by_asin.ordered_product_sales.currency_code,
            "ordered_product_sales": a.sales_by_asin.ordered_product_sales.amount,
            "units_ordered": a.sales_by_asin.units_ordered,
            "total_order_items": a.sales_by_asin.total_order_items,
            "sessions": a.traffic_by_asin.sessions,
            "page_views": a.traffic_by_asin.page_views,
            "session_percentage": a.traffic_by_asin.session_percentage,
            "page_views_percentage": a.traffic_by_asin.page_views_percentage,
            "buy_box_percentage": a.traffic_by_asin.buy_box_percentage,
            "unit_session_percentage": a.traffic_by_asin.unit_session_percentage,
        }
        for a in report.sales_and_traffic_by_asin
    ]
    if days:
        session.execute(insert(SalesTrafficDay), days)
    if asins:
        session.execute(insert(SalesTrafficAsin), asins)
    return len(days) + len(asins)


def fit_for(report: SalesAndTrafficReport | AccountHealthReport, marketplace_id: str) -> str | None:
    """Why a schema-valid document still cannot be filed for the branch, or ``None``."""
    from spapi.models.seller_performance import SalesAndTrafficReport

    if isinstance(report, SalesAndTrafficReport):
        spec = report.report_specification
        if spec.marketplace_ids != [marketplace_id]:
            return f"the report is for {spec.marketplace_ids}, not [{marketplace_id!r}]"
        if (spec.report_options.date_granularity or "DAY") != "DAY":
            return f"dateGranularity {spec.report_options.date_granularity}: only DAY rows are days"
        return None
    found = [m.marketplace_id for m in report.performance_metrics]
    if found.count(marketplace_id) != 1:
        return f"performanceMetrics has {found.count(marketplace_id)} entries for {marketplace_id}, not 1"
    return None


# -- one report, end to end --------------------------------------------------------------------


def _keep_refused(var_dir: Path, done: PerformanceReportDone, data: bytes) -> Path:
    branch = done["branch"]
    folder = var_dir / "refused_reports" / branch["seller_id"] / branch["marketplace_id"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{done['report_type']}-{done['day']}-{done['report_id']}.json"
    path.write_bytes(data)
    return path


def load_report(
    client: SpApiClient,
    engine: Engine,
    done: PerformanceReportDone,
    *,
    var_dir: Path,
    run_id: str | None = None,
    dag_id: str | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Download, check and record one report; a refused or cancelled one is recorded too."""
    from spapi import reports
    from spapi.report_documents import InvalidReportDocument, load_account_health, load_sales_and_traffic

    now = now or datetime.now(UTC)
    branch = done["branch"]
    seller_id, marketplace_id = branch["seller_id"], branch["marketplace_id"]
    day = date.fromisoformat(done["day"])
    report_type = done["report_type"]
    result: LoadResult = {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "report_type": report_type,
        "day": done["day"],
        "report_id": done["report_id"],
        "status": "cancelled",
        "rows": 0,
        "reason": None,
        "account_status": None,
        "in_breach": [],
        "new_breaches": [],
    }
    report: AccountHealthReport | SalesAndTrafficReport | None = None
    if done["processing_status"] == "DONE" and done["report_document_id"]:
        document = client.call(reports.get_report_document(done["report_document_id"]))
        content = client.call(reports.download_report_document(document))
        try:
            if report_type == ACCOUNT_HEALTH:
                report = load_account_health(content, schema_for(report_type))
            else:
                report = load_sales_and_traffic(content, schema_for(report_type))
            unfit = fit_for(report, marketplace_id)
            if unfit:
                raise InvalidReportDocument(report_type, [unfit])
        except InvalidReportDocument as err:
            kept = _keep_refused(var_dir, done, content.data)
            result["status"], result["reason"] = "refused", f"{err} (document kept at {kept})"
            report = None
            log.error("%s/%s: %s", seller_id, marketplace_id, result["reason"])
    else:
        result["reason"] = f"Amazon ended the report {done['processing_status']}: nothing to report"
    with session_scope(engine) as session:
        if report is not None:
            from spapi.models.seller_performance import AccountHealthReport

            if isinstance(report, AccountHealthReport):
                rows, status, breaches, new = record_account_health(
                    session, seller_id, marketplace_id, day, report, done["report_id"], run_id=run_id, now=now
                )
                result["account_status"], result["in_breach"], result["new_breaches"] = status, breaches, new
            else:
                rows = record_sales_and_traffic(
                    session, seller_id, marketplace_id, report, done["report_id"], run_id=run_id, now=now
                )
            result["status"], result["rows"] = "loaded", rows
        session.add(
            SellerReportLoad(
                seller_id=seller_id,
                marketplace_id=marketplace_id,
                report_type=report_type,
                day=day,
                report_id=done["report_id"],
                status=result["status"],
                reason=result["reason"],
                row_count=result["rows"],
                loaded_at=now,
                run_id=run_id,
                dag_id=dag_id,
            )
        )
    log.info(
        "%s/%s %s for %s: %s, %d row(s)%s",
        seller_id,
        marketplace_id,
        report_type,
        done["day"],
        result["status"],
        result["rows"],
        f"; in breach: {', '.join(result['in_breach'])}" if result["in_breach"] else "",
    )
    return result


def load_branch_report(done: PerformanceReportDone, run_id: str) -> LoadResult:
    """The DAG task: one report, with a client of its own whose calls go to ``api_calls`` under the
    branch's trace id."""
    from listings_pipeline import triggered_by
    from listings_pipeline.call_log import ApiCallLog, branch_trace
    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import make_engine, warehouse_url
    from spapi.client import trace
    from spapi.hooks import SpApiHook

    branch = done["branch"]
    config = load_config(branch.get("config_path"))
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    calls = ApiCallLog(engine, run_id)
    try:
        with (
            trace(branch_trace(run_id, branch["seller_id"], branch["marketplace_id"])),
            SpApiHook(branch["spapi_conn_id"]).get_client(on_call=calls) as client,
        ):
            return load_report(
                client,
                engine,
                done,
                var_dir=config.var_dir,
                run_id=run_id,
                dag_id=triggered_by.current().dag_id,
            )
    finally:
        calls.flush()
        engine.dispose()
