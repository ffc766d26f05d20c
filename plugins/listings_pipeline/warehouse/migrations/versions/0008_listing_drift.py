"""Drift between Amazon's listings report and the warehouse: ``drift_checks``, ``listing_drift``, ``v_drift``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

``listings_reconcile`` requests Amazon's ``GET_MERCHANT_LISTINGS_ALL_DATA`` per seller and
marketplace and compares it with the warehouse. ``drift_checks`` has one row per such comparison
(the report, how many rows each side had, how much drift it found, opened and saw gone).
``listing_drift`` has one row per disagreement (kind ``unknown_to_catalog``, ``missing_on_amazon``,
``price``, ``quantity`` or ``inactive``; our value and Amazon's as text) from the check that first
saw it to the last, ``open`` until an operator resubmits our value (``resubmitted``) or accepts
Amazon's (``accepted_amazon``), or a later check no longer sees it (``gone``).

``v_drift``: every drift row with ``is_open`` (1/0), ``difference`` (Amazon's value minus ours, for
price and quantity), the listing's status and ASIN, and the run that found it.

Migrations are frozen: the view is written out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

V_DRIFT = """
SELECT
    d.id,
    d.seller_id,
    d.marketplace_id,
    d.sku,
    d.kind,
    d.field,
    d.ours,
    d.amazon,
    CASE WHEN d.kind IN ('price', 'quantity') AND d.ours IS NOT NULL AND d.amazon IS NOT NULL
        THEN CAST(d.amazon AS NUMERIC) - CAST(d.ours AS NUMERIC) END AS difference,
    d.state,
    CASE WHEN d.state = 'open' THEN 1 ELSE 0 END AS is_open,
    d.found_at,
    d.last_seen_at,
    d.resolved_at,
    d.resolved_by,
    d.note,
    l.status AS listing_status,
    l.asin,
    c.run_id AS found_by_run
FROM listing_drift d
JOIN drift_checks c ON c.id = d.check_id
LEFT JOIN listings l
    ON l.seller_id = d.seller_id AND l.marketplace_id = d.marketplace_id AND l.sku = d.sku
"""


def upgrade() -> None:
    op.create_table(
        "drift_checks",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("report_status", sa.String(length=20), nullable=False),
        sa.Column("checked_at", TIMESTAMP, nullable=False),
        sa.Column("amazon_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("our_listings", sa.Integer(), server_default="0", nullable=False),
        sa.Column("found", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opened", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gone", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.marketplace_id"],
            name=op.f("fk_drift_checks_marketplace_id_marketplaces"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f("fk_drift_checks_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_checks")),
    )
    op.create_index(
        "ix_drift_checks_seller_id_checked_at", "drift_checks", ["seller_id", "marketplace_id", "checked_at"]
    )
    op.create_table(
        "listing_drift",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("check_id", BIGINT_ID, nullable=False),
        sa.Column("last_check_id", BIGINT_ID, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("ours", sa.Text(), nullable=True),
        sa.Column("amazon", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), server_default="open", nullable=False),
        sa.Column("found_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_by", sa.String(length=255), nullable=True),
        sa.Column("resolved_run_id", sa.String(length=250), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('unknown_to_catalog', 'missing_on_amazon', 'price', 'quantity', 'inactive')",
            name=op.f("ck_listing_drift_kind"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'resubmitted', 'accepted_amazon', 'gone')", name=op.f("ck_listing_drift_state")
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["drift_checks.id"],
            name=op.f("fk_listing_drift_check_id_drift_checks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_drift")),
    )
    op.create_index(
        "ix_listing_drift_seller_id_state", "listing_drift", ["seller_id", "marketplace_id", "state"]
    )
    op.create_index("ix_listing_drift_seller_id_sku", "listing_drift", ["seller_id", "marketplace_id", "sku"])
    op.execute(sa.text(f"CREATE VIEW v_drift AS\n{V_DRIFT}".replace(":", "\\:")))


def downgrade() -> None:
    op.execute(sa.text("DROP VIEW IF EXISTS v_drift"))
    op.drop_index("ix_listing_drift_seller_id_sku", table_name="listing_drift")
    op.drop_index("ix_listing_drift_seller_id_state", table_name="listing_drift")
    op.drop_table("listing_drift")
    op.drop_index("ix_drift_checks_seller_id_checked_at", table_name="drift_checks")
    op.drop_table("drift_checks")
