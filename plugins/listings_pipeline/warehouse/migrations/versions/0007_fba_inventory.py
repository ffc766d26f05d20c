"""FBA stock from Amazon: its detail figures in ``inventory``, each read and what it changed, ``v_fba_stock``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

FBA stock is Amazon's, yet ``inventory`` held it as the seller's catalog gave it. It is now read from
the FBA Inventory API (getInventorySummaries with details) into ``inventory``: ``quantity`` is the
fulfillable units, beside Amazon's figures (fulfillable, the three inbound ones, reserved,
unfulfillable, researching, total), Amazon's ``lastUpdatedTime`` (``amazon_updated_at``) and when
we read it (``read_at``; NULL on rows the catalog wrote before, which the view leaves out).

``fba_stock_reads`` has one row per complete read of a seller's marketplace: the next read asks
only for the changes since the latest one started (``startDateTime``); ``changes_since`` NULL
marks a full read. ``fba_stock_changes`` keeps each changed figure's old and new value per SKU and
read, as ``listing_events.changes`` does for the stock the pipeline writes.

``v_fba_stock``: one row per SKU Amazon holds FBA stock for, with ``inbound`` summed, a
``stock_status`` and whether the latest full read still listed it (``listed_by_amazon``, 1/0).

Migrations are frozen: the view is written out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

FIGURES = (
    "fulfillable_quantity",
    "inbound_working_quantity",
    "inbound_shipped_quantity",
    "inbound_receiving_quantity",
    "reserved_quantity",
    "unfulfillable_quantity",
    "researching_quantity",
    "total_quantity",
)

_INBOUND = (
    "COALESCE(i.inbound_working_quantity, 0) + COALESCE(i.inbound_shipped_quantity, 0)"
    " + COALESCE(i.inbound_receiving_quantity, 0)"
)

# One row per SKU and marketplace that the FBA sync read from Amazon (read_at set). A SKU the latest
# full read of its branch did not list any more (its row was last read before that read started) is
# no longer in Amazon's FBA inventory: listed_by_amazon 0. Until a full read exists every row counts.
V_FBA_STOCK = f"""
SELECT
    i.seller_id,
    i.marketplace_id,
    i.sku,
    i.fulfillment_channel_code,
    i.fulfillable_quantity AS fulfillable,
    {_INBOUND} AS inbound,
    i.inbound_working_quantity AS inbound_working,
    i.inbound_shipped_quantity AS inbound_shipped,
    i.inbound_receiving_quantity AS inbound_receiving,
    i.reserved_quantity AS reserved,
    i.unfulfillable_quantity AS unfulfillable,
    i.researching_quantity AS researching,
    i.total_quantity AS total,
    CASE
        WHEN COALESCE(i.fulfillable_quantity, 0) > 0 THEN 'in_stock'
        WHEN {_INBOUND} > 0 THEN 'inbound'
        ELSE 'out_of_stock'
    END AS stock_status,
    CASE WHEN f.last_full_read_at IS NULL OR i.read_at >= f.last_full_read_at THEN 1 ELSE 0 END
        AS listed_by_amazon,
    l.status AS listing_status,
    i.amazon_updated_at,
    i.read_at
FROM inventory i
LEFT JOIN (
    SELECT seller_id, marketplace_id, MAX(started_at) AS last_full_read_at
    FROM fba_stock_reads
    WHERE changes_since IS NULL
    GROUP BY seller_id, marketplace_id
) f ON f.seller_id = i.seller_id AND f.marketplace_id = i.marketplace_id
LEFT JOIN listings l
    ON l.seller_id = i.seller_id AND l.marketplace_id = i.marketplace_id AND l.sku = i.sku
WHERE i.read_at IS NOT NULL
"""


def upgrade() -> None:
    # plain ADD COLUMNs: no view reads inventory yet, and batch mode would rebuild it for nothing
    for name in FIGURES:
        op.add_column("inventory", sa.Column(name, sa.Integer(), nullable=True))
    op.add_column("inventory", sa.Column("amazon_updated_at", TIMESTAMP, nullable=True))
    op.add_column("inventory", sa.Column("read_at", TIMESTAMP, nullable=True))

    op.create_table(
        "fba_stock_reads",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=False),
        sa.Column("changes_since", TIMESTAMP, nullable=True),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("summaries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("changed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.marketplace_id"],
            name=op.f("fk_fba_stock_reads_marketplace_id_marketplaces"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f("fk_fba_stock_reads_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fba_stock_reads")),
    )
    op.create_index(
        "ix_fba_stock_reads_seller_id_started_at",
        "fba_stock_reads",
        ["seller_id", "marketplace_id", "started_at"],
    )
    op.create_table(
        "fba_stock_changes",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("read_id", BIGINT_ID, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("amazon_updated_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["read_id"],
            ["fba_stock_reads.id"],
            name=op.f("fk_fba_stock_changes_read_id_fba_stock_reads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fba_stock_changes")),
    )
    op.create_index(
        "ix_fba_stock_changes_seller_id_sku", "fba_stock_changes", ["seller_id", "marketplace_id", "sku"]
    )
    op.execute(sa.text(f"CREATE VIEW v_fba_stock AS\n{V_FBA_STOCK}".replace(":", "\\:")))


def downgrade() -> None:
    op.execute(sa.text("DROP VIEW IF EXISTS v_fba_stock"))
    op.drop_index("ix_fba_stock_changes_seller_id_sku", table_name="fba_stock_changes")
    op.drop_table("fba_stock_changes")
    op.drop_index("ix_fba_stock_reads_seller_id_started_at", table_name="fba_stock_reads")
    op.drop_table("fba_stock_reads")
    # plain DROP COLUMNs (SQLite 3.35+): no view reads them any more
    op.drop_column("inventory", "read_at")
    op.drop_column("inventory", "amazon_updated_at")
    for name in reversed(FIGURES):
        op.drop_column("inventory", name)
