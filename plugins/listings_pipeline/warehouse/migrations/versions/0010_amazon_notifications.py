"""Amazon's notifications: ``amazon_notifications`` (each one recorded once) and ``notification_rejects``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

The ``amazon_notifications`` DAG reads the SQS queue Amazon's Notifications API writes to. Each
notification it reads is recorded once, by Amazon's ``notificationId`` (SQS delivers at least once),
with what it did (``outcome``: applied, stale, not_ours), the feed a FEED_PROCESSING_FINISHED
names (the feed wait asks for it) and the notification itself. A message it
cannot read is counted in ``notification_rejects`` by its SQS message id; the queue's redrive policy
moves it to the dead-letter queue after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "amazon_notifications",
        sa.Column("notification_id", sa.String(length=100), nullable=False),
        sa.Column("notification_type", sa.String(length=64), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=True),
        sa.Column("marketplace_id", sa.String(length=32), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("feed_id", sa.String(length=64), nullable=True),
        sa.Column("event_time", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_amazon_notifications")),
    )
    op.create_index(
        "ix_amazon_notifications_listing",
        "amazon_notifications",
        ["seller_id", "marketplace_id", "sku", "notification_type"],
    )
    op.create_index(op.f("ix_amazon_notifications_feed_id"), "amazon_notifications", ["feed_id"])
    op.create_table(
        "notification_rejects",
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("receives", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_notification_rejects")),
    )


def downgrade() -> None:
    op.drop_table("notification_rejects")
    op.drop_index(op.f("ix_amazon_notifications_feed_id"), table_name="amazon_notifications")
    op.drop_index("ix_amazon_notifications_listing", table_name="amazon_notifications")
    op.drop_table("amazon_notifications")
