"""The report a ``REPORT_PROCESSING_FINISHED`` names: ``amazon_notifications.report_id``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

A report wait asks every few seconds whether Amazon announced that its report ended, as a feed
wait asks by ``feed_id``. The notification's body already holds the report id, but finding it there
would read the JSON of every notification (listing changes far outnumber reports) on each ask; an
indexed column answers from the index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN (nullable, so SQLite needs no table rebuild)
    op.add_column("amazon_notifications", sa.Column("report_id", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_amazon_notifications_report_id"), "amazon_notifications", ["report_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_amazon_notifications_report_id"), table_name="amazon_notifications")
    # plain DROP COLUMN too (SQLite 3.35+)
    op.drop_column("amazon_notifications", "report_id")
