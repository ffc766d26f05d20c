"""The listings' status index only for the listings in flight: ``ix_listings_submitted``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

``ix_listings_status_seller_marketplace`` indexed every listing by its status, so every status move
(a million of them in a plan, a build and a processing report) deleted and inserted an index entry
too: a fifth of the processing report's UPDATE of 23,500 accepted listings on PostgreSQL (issue
#13). The only lookups by status that pick a few listings out of a branch are the ``submitted``
ones (reconcile and the stale-feed check: what is still in flight); ``accepted``/``live``, ``ready``
or ``not deleted`` are most of a branch, read by a scan either way. A partial index keeps exactly
those in flight: a move between two other statuses no longer touches it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBMITTED = "status = 'submitted'"


def upgrade() -> None:
    op.create_index(
        "ix_listings_submitted",
        "listings",
        ["seller_id", "marketplace_id"],
        sqlite_where=sa.text(SUBMITTED),
        postgresql_where=sa.text(SUBMITTED),
    )
    op.drop_index("ix_listings_status_seller_marketplace", table_name="listings")


def downgrade() -> None:
    op.create_index(
        "ix_listings_status_seller_marketplace", "listings", ["status", "seller_id", "marketplace_id"]
    )
    op.drop_index("ix_listings_submitted", table_name="listings")
