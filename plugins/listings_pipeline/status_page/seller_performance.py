"""The Seller performance section's reads: Amazon's view of each account in the page's filter.

- each account's latest account health (status, rating, the key rates, and any metric needing
  attention), with the trend against the metric's previous report (``v_account_health``);
- each account's latest day of sales and traffic, with its seven days and the same weekday a week
  before (``v_sales_traffic_daily``);
- the trends for the charts: per report date the *worst* value in the filter of three rates Amazon
  suspends accounts over (order defect, late shipment, cancellation), so a chart over several accounts
  still shows the one in trouble; per day the units, sessions and buy-box share summed over the
  filter (never money: the marketplaces' currencies differ);
- the reports refused lately, with why, so a missing day is explained.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Float, Integer, Numeric, String, and_, column, func, select, table
from sqlalchemy.orm import Session

from listings_pipeline.status_page.schemas import (
    AccountHealthRow,
    HealthMetric,
    HealthPoint,
    PerformanceSection,
    RefusedReport,
    SalesPoint,
    SalesRow,
)
from listings_pipeline.status_page.scope import Scope
from listings_pipeline.warehouse.models import AccountHealth, SalesTrafficDay, SellerReportLoad

#: the rates every account shows, in this order; any other metric shows when it needs attention
KEY_METRICS = (
    "orderDefectRate.mfn",
    "orderDefectRate.afn",
    "lateShipmentRate",
    "preFulfillmentCancellationRate",
    "validTrackingRate",
    "onTimeDeliveryRate",
)
#: the charted rates, each the worst in the filter per report date
CHARTED = {
    "orderDefectRate.mfn": "order_defect",
    "lateShipmentRate": "late_shipment",
    "preFulfillmentCancellationRate": "cancellation",
}
TREND_DAYS = 30
REFUSED_SHOWN = 10

v_account_health = table(
    "v_account_health",
    column("seller_id", String),
    column("marketplace_id", String),
    column("report_date", Date),
    column("metric", String),
    column("status", String),
    column("rate", Float),
    column("defects", Integer),
    column("target_value", Float),
    column("target_condition", String),
    column("meets_target", Integer),
    column("needs_attention", Integer),
    column("trend", String),
    column("previous_rate", Float),
    column("previous_defects", Integer),
)
v_sales_traffic_daily = table(
    "v_sales_traffic_daily",
    column("seller_id", String),
    column("marketplace_id", String),
    column("day", Date),
    column("currency", String),
    column("sales", Numeric(14, 2)),
    column("units", Integer),
    column("sessions", Integer),
    column("page_views", Integer),
    column("buy_box_percentage", Float),
    column("units_7d", Integer),
    column("sales_7d", Numeric(14, 2)),
    column("units_week_before", Integer),
)


def _day(value: Any) -> date:
    """A date as the view returns it: ``date`` on PostgreSQL, text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def accounts(session: Session, scope: Scope) -> list[AccountHealthRow]:
    """Each account's latest report date: its status and its key or troubled metrics."""
    latest = (
        select(
            AccountHealth.seller_id,
            AccountHealth.marketplace_id,
            func.max(AccountHealth.report_date).label("report_date"),
        )
        .where(*scope.on(AccountHealth.seller_id, AccountHealth.marketplace_id))
        .group_by(AccountHealth.seller_id, AccountHealth.marketplace_id)
        .subquery()
    )
    heads = session.execute(
        select(AccountHealth)
        .join(
            latest,
            and_(
                latest.c.seller_id == AccountHealth.seller_id,
                latest.c.marketplace_id == AccountHealth.marketplace_id,
                latest.c.report_date == AccountHealth.report_date,
            ),
        )
        .order_by(AccountHealth.seller_id, AccountHealth.marketplace_id)
    ).scalars()
    out = []
    for head in heads:
        v = v_account_health.c
        metrics = [
            HealthMetric.model_validate(dict(r._mapping))
            for r in session.execute(
                select(v_account_health).where(
                    v.seller_id == head.seller_id,
                    v.marketplace_id == head.marketplace_id,
                    v.report_date == head.report_date,
                )
            )
        ]
        shown = sorted(
            (m for m in metrics if m.metric in KEY_METRICS or m.needs_attention),
            key=lambda m: (
                KEY_METRICS.index(m.metric) if m.metric in KEY_METRICS else len(KEY_METRICS),
                m.metric,
            ),
        )
        out.append(
            AccountHealthRow(
                seller_id=head.seller_id,
                marketplace_id=head.marketplace_id,
                report_date=head.report_date,
                account_status=head.account_status,
                ahr_status=head.ahr_status,
                metrics=shown,
                attention=sum(1 for m in metrics if m.needs_attention),
            )
        )
    return out


def sales(session: Session, scope: Scope) -> list[SalesRow]:
    """Each account's latest day of sales and traffic."""
    v = v_sales_traffic_daily.c
    latest = (
        select(
            SalesTrafficDay.seller_id,
            SalesTrafficDay.marketplace_id,
            func.max(SalesTrafficDay.day).label("day"),
        )
        .where(*scope.on(SalesTrafficDay.seller_id, SalesTrafficDay.marketplace_id))
        .group_by(SalesTrafficDay.seller_id, SalesTrafficDay.marketplace_id)
        .subquery()
    )
    rows = session.execute(
        select(v_sales_traffic_daily)
        .join(
            latest,
            and_(
                latest.c.seller_id == v.seller_id,
                latest.c.marketplace_id == v.marketplace_id,
                latest.c.day == v.day,
            ),
        )
        .order_by(v.seller_id, v.marketplace_id)
    )
    return [SalesRow.model_validate({**r._mapping, "day": _day(r.day)}) for r in rows]


def health_trend(session: Session, scope: Scope, *, until: date) -> list[HealthPoint]:
    """Per report date of the last :data:`TREND_DAYS`, the worst of each charted rate in the filter,
    with Amazon's target for it as the reports give it (never one written here)."""
    v = v_account_health.c
    worst: dict[date, dict[str, float]] = defaultdict(dict)
    for day_, metric, rate, target in session.execute(
        select(v.report_date, v.metric, func.max(v.rate), func.max(v.target_value))
        .where(
            *scope.on(v.seller_id, v.marketplace_id),
            v.metric.in_(list(CHARTED)),
            v.report_date > until - timedelta(days=TREND_DAYS),
        )
        .group_by(v.report_date, v.metric)
    ):
        name = CHARTED[metric]
        worst[_day(day_)].update({f"{name}_rate": float(rate), f"{name}_target": float(target)})
    return [HealthPoint(report_date=d, **worst[d]) for d in sorted(worst)]


def sales_trend(session: Session, scope: Scope, *, until: date) -> list[SalesPoint]:
    """Per day of the last :data:`TREND_DAYS`, units, sessions and the buy-box share of the page
    views, over the filter; a day nothing was loaded for is left out (a gap, not a zero)."""
    t = SalesTrafficDay
    rows = session.execute(
        select(
            t.day,
            func.sum(t.units_ordered),
            func.sum(t.sessions),
            func.sum(t.page_views),
            func.sum(t.buy_box_percentage * t.page_views),
        )
        .where(*scope.on(t.seller_id, t.marketplace_id), t.day > until - timedelta(days=TREND_DAYS))
        .group_by(t.day)
        .order_by(t.day)
    )
    return [
        SalesPoint(
            day=_day(d),
            units=int(units or 0),
            sessions=int(sessions or 0),
            buy_box_percentage=round(float(weighted) / views, 2) if views else None,
        )
        for d, units, sessions, views, weighted in rows
    ]


def refused(session: Session, scope: Scope) -> list[RefusedReport]:
    t = SellerReportLoad
    rows = session.scalars(
        select(t)
        .where(t.status == "refused", *scope.on(t.seller_id, t.marketplace_id))
        .order_by(t.loaded_at.desc(), t.id.desc())
        .limit(REFUSED_SHOWN)
    )
    return [RefusedReport.model_validate(r) for r in rows]


def performance_section(session: Session, scope: Scope, *, now: datetime) -> PerformanceSection:
    """The whole section in ``scope``; the trends run up to ``now``'s day."""
    until = now.date()
    return PerformanceSection(
        accounts=accounts(session, scope),
        sales=sales(session, scope),
        health_days=health_trend(session, scope, until=until),
        sales_days=sales_trend(session, scope, until=until),
        refused=refused(session, scope),
    )
