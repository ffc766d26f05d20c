"""The catalog row behind a listing's payload: ``listings.source_hash``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

An incremental sync skips validating and mapping a catalog row whose source is unchanged since
Amazon accepted the payload made from it; ``source_hash`` says which source (the row's cells and
the mappings, policy, schemas and code that turned it into the payload) that was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN: batch mode would rebuild the table under the views that read it (SQLite)
    op.add_column("listings", sa.Column("source_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN too (SQLite 3.35+), for the same reason
    op.drop_column("listings", "source_hash")
