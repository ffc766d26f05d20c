"""Listings' payloads in a table of their own: ``listing_payloads``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

A payload is a few KB and the rest of a listing row a few hundred bytes. SQLite rewrites a whole
row to change any column of it, so with the payload inline every status move of a million
listings (plan, build, the processing report) rewrote more than a GiB of pages: at a million SKUs
the bulk path spent most of its time there (issue #13). Beside the listing, a payload is written
only when it changes. The payloads are copied over before the column goes, and back on downgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "listing_payloads",
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_listing_payloads_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_listing_payloads")),
    )
    op.execute(
        "INSERT INTO listing_payloads (listing_id, payload) "
        "SELECT id, payload FROM listings WHERE payload IS NOT NULL"
    )
    # a plain DROP COLUMN (SQLite 3.35+): no table rebuild, which on SQLite would drop and re-create
    # ``listings`` and cascade the drop to every listing's events
    op.drop_column("listings", "payload")


def downgrade() -> None:
    op.add_column("listings", sa.Column("payload", JSON, nullable=True))
    op.execute(
        "UPDATE listings SET payload = "
        "(SELECT p.payload FROM listing_payloads AS p WHERE p.listing_id = listings.id)"
    )
    op.drop_table("listing_payloads")
