"""Seller performance from Amazon's reports: account health, sales and traffic, and each report's load.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

``seller_performance`` requests two reports per seller and marketplace every day:
``GET_V2_SELLER_PERFORMANCE_REPORT`` into ``account_health`` (the account's status, rating and
warning states per report date) and ``account_health_metrics`` (one row per metric: rate or count,
Amazon's status, target and condition, and whether it meets the target), and
``GET_SALES_AND_TRAFFIC_REPORT`` into ``sales_traffic_daily`` (the catalog's sales and traffic per
day) and ``sales_traffic_by_asin`` (per ASIN or SKU over the report's range). ``seller_report_loads``
has one row per report taken in, refused (with the reason) or cancelled by Amazon. A day loaded again
replaces that day's rows and nothing else.

``v_account_health``: every metric with the account's status, ``needs_attention`` (1/0: Amazon says
BAD, or the metric is past its target) and its trend against the metric's previous report date
(``better``, ``worse``, ``same``; NULL for the first). ``v_sales_traffic_daily``: each day's sales and
traffic with the seven days ending that day summed (``units_7d``, ``sales_7d``, ``sessions_7d``;
``days_7d`` says how many of those days were loaded) and the same weekday a week before.

Migrations are frozen: the views are written out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(precision=14, scale=2)

# The value a metric is judged by: its rate, or its count where it has no rate (listing-level ones).
_VALUE = "COALESCE({t}.rate, {t}.defects)"

V_ACCOUNT_HEALTH = f"""
SELECT
    m.seller_id,
    m.marketplace_id,
    m.report_date,
    h.account_status,
    h.ahr_status,
    m.metric,
    m.status,
    m.rate,
    m.defects,
    m.orders,
    m.target_value,
    m.target_condition,
    CASE WHEN m.meets_target THEN 1 ELSE 0 END AS meets_target,
    CASE WHEN m.status = 'BAD' OR NOT m.meets_target THEN 1 ELSE 0 END AS needs_attention,
    p.report_date AS previous_report_date,
    p.rate AS previous_rate,
    p.defects AS previous_defects,
    CASE
        WHEN p.id IS NULL THEN NULL
        WHEN {_VALUE.format(t="m")} = {_VALUE.format(t="p")} THEN 'same'
        WHEN m.target_condition = 'GREATER_THAN' AND {_VALUE.format(t="m")} > {_VALUE.format(t="p")} THEN 'better'
        WHEN m.target_condition <> 'GREATER_THAN' AND {_VALUE.format(t="m")} < {_VALUE.format(t="p")} THEN 'better'
        ELSE 'worse'
    END AS trend,
    m.window_from,
    m.window_to
FROM account_health_metrics m
LEFT JOIN account_health h
    ON h.seller_id = m.seller_id AND h.marketplace_id = m.marketplace_id AND h.report_date = m.report_date
LEFT JOIN account_health_metrics p
    ON p.seller_id = m.seller_id AND p.marketplace_id = m.marketplace_id AND p.metric = m.metric
    AND p.report_date = (
        SELECT MAX(q.report_date) FROM account_health_metrics q
        WHERE q.seller_id = m.seller_id AND q.marketplace_id = m.marketplace_id AND q.metric = m.metric
          AND q.report_date < m.report_date
    )
"""


def _days_before(column: str, days: int) -> str:
    """``column`` (a date) minus ``days`` days, in this dialect."""
    name = op.get_context().dialect.name
    if name == "sqlite":
        return f"date({column}, '-{days} days')"
    if name == "postgresql":
        return f"({column} - {days})"
    raise NotImplementedError(f"the warehouse views support sqlite and postgresql, not {name}")


def _v_sales_traffic_daily() -> str:
    week = (
        "FROM sales_traffic_daily w WHERE w.seller_id = d.seller_id AND w.marketplace_id = d.marketplace_id"
        f" AND w.day >= {_days_before('d.day', 6)} AND w.day <= d.day"
    )
    return f"""
SELECT
    d.seller_id,
    d.marketplace_id,
    d.day,
    d.currency,
    d.ordered_product_sales AS sales,
    d.units_ordered AS units,
    d.total_order_items AS order_items,
    d.units_refunded,
    d.sessions,
    d.page_views,
    d.buy_box_percentage,
    d.unit_session_percentage,
    (SELECT SUM(w.units_ordered) {week}) AS units_7d,
    (SELECT SUM(w.ordered_product_sales) {week}) AS sales_7d,
    (SELECT SUM(w.sessions) {week}) AS sessions_7d,
    (SELECT COUNT(*) {week}) AS days_7d,
    p.units_ordered AS units_week_before,
    p.ordered_product_sales AS sales_week_before
FROM sales_traffic_daily d
LEFT JOIN sales_traffic_daily p
    ON p.seller_id = d.seller_id AND p.marketplace_id = d.marketplace_id AND p.day = {_days_before("d.day", 7)}
"""


def _owner_keys(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.marketplace_id"],
            name=op.f(f"fk_{table}_marketplace_id_marketplaces"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f(f"fk_{table}_seller_id_sellers")
        ),
    ]


def _owner() -> list[sa.Column[object]]:
    return [
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "seller_report_loads",
        *_owner(),
        sa.Column("report_type", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("row_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.CheckConstraint(
            "status IN ('loaded', 'refused', 'cancelled')", name=op.f("ck_seller_report_loads_status")
        ),
        *_owner_keys("seller_report_loads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_report_loads")),
    )
    op.create_index(
        "ix_seller_report_loads_seller_id_day",
        "seller_report_loads",
        ["seller_id", "marketplace_id", "report_type", "day"],
    )
    op.create_table(
        "account_health",
        *_owner(),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("account_status", sa.String(length=20), nullable=True),
        sa.Column("ahr_status", sa.String(length=20), nullable=True),
        sa.Column("warning_states", JSON, nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        *_owner_keys("account_health"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_health")),
        sa.UniqueConstraint("seller_id", "marketplace_id", "report_date", name="uq_account_health_day"),
    )
    op.create_table(
        "account_health_metrics",
        *_owner(),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("defects", sa.Integer(), nullable=True),
        sa.Column("orders", sa.Float(), nullable=True),
        sa.Column("target_value", sa.Float(), nullable=False),
        sa.Column("target_condition", sa.String(length=16), nullable=False),
        sa.Column("meets_target", sa.Boolean(), nullable=False),
        sa.Column("window_from", sa.String(length=32), nullable=True),
        sa.Column("window_to", sa.String(length=32), nullable=True),
        *_owner_keys("account_health_metrics"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_health_metrics")),
        sa.UniqueConstraint(
            "seller_id", "marketplace_id", "report_date", "metric", name="uq_account_health_metrics_day"
        ),
    )
    op.create_table(
        "sales_traffic_daily",
        *_owner(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ordered_product_sales", MONEY, nullable=False),
        sa.Column("units_ordered", sa.Integer(), nullable=False),
        sa.Column("total_order_items", sa.Integer(), nullable=False),
        sa.Column("units_refunded", sa.Integer(), nullable=False),
        sa.Column("refund_rate", sa.Float(), nullable=False),
        sa.Column("shipped_product_sales", MONEY, nullable=False),
        sa.Column("units_shipped", sa.Integer(), nullable=False),
        sa.Column("orders_shipped", sa.Integer(), nullable=False),
        sa.Column("page_views", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("buy_box_percentage", sa.Float(), nullable=False),
        sa.Column("unit_session_percentage", sa.Float(), nullable=False),
        sa.Column("order_item_session_percentage", sa.Float(), nullable=False),
        sa.Column("feedback_received", sa.Integer(), nullable=False),
        sa.Column("negative_feedback_received", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        *_owner_keys("sales_traffic_daily"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_traffic_daily")),
        sa.UniqueConstraint("seller_id", "marketplace_id", "day", name="uq_sales_traffic_daily_day"),
    )
    op.create_table(
        "sales_traffic_by_asin",
        *_owner(),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("asin_granularity", sa.String(length=8), nullable=False),
        sa.Column("parent_asin", sa.String(length=20), nullable=False),
        sa.Column("child_asin", sa.String(length=20), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ordered_product_sales", MONEY, nullable=False),
        sa.Column("units_ordered", sa.Integer(), nullable=False),
        sa.Column("total_order_items", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("page_views", sa.Integer(), nullable=False),
        sa.Column("session_percentage", sa.Float(), nullable=False),
        sa.Column("page_views_percentage", sa.Float(), nullable=False),
        sa.Column("buy_box_percentage", sa.Float(), nullable=False),
        sa.Column("unit_session_percentage", sa.Float(), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        *_owner_keys("sales_traffic_by_asin"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_traffic_by_asin")),
    )
    op.create_index(
        "ix_sales_traffic_by_asin_seller_id_period",
        "sales_traffic_by_asin",
        ["seller_id", "marketplace_id", "period_start"],
    )
    for name, select in (
        ("v_account_health", V_ACCOUNT_HEALTH),
        ("v_sales_traffic_daily", _v_sales_traffic_daily()),
    ):
        # a string given to text() treats ":name" as a bind parameter; these views have none
        op.execute(sa.text(f"CREATE VIEW {name} AS\n{select}".replace(":", "\\:")))


def downgrade() -> None:
    op.execute(sa.text("DROP VIEW IF EXISTS v_sales_traffic_daily"))
    op.execute(sa.text("DROP VIEW IF EXISTS v_account_health"))
    op.drop_index("ix_sales_traffic_by_asin_seller_id_period", table_name="sales_traffic_by_asin")
    op.drop_table("sales_traffic_by_asin")
    op.drop_table("sales_traffic_daily")
    op.drop_table("account_health_metrics")
    op.drop_table("account_health")
    op.drop_index("ix_seller_report_loads_seller_id_day", table_name="seller_report_loads")
    op.drop_table("seller_report_loads")
