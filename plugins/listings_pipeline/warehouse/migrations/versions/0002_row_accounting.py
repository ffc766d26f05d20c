"""Row accounting: where a quarantined row came from, and run figures that add up.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

A quarantined row now carries its source file and line, so an operator can find it in the seller's
file. ``run_summaries`` gains what is needed for every branch's rows to add up
(``extracted = quarantined + planned - deleted + unchanged + skipped``): the rows that were not sent
because they need nothing (``unchanged``) or must wait (``skipped``, with the reasons in
``skipped_reasons``), the deletions planned (``deleted``) and those held back by the delete guards
(``deletes_withheld``, reasons in ``withheld_reasons``), and the distinct SKUs behind the quarantined rows (``quarantined_skus``: a
row without SKU and both rows of a duplicate are rows, not SKUs). ``feed_submissions.applied_outcome``
records what parsing a feed's outcome did, in the same transaction, so a retried parse task returns it
instead of applying the report twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_COUNTS = ("quarantined_skus", "unchanged", "skipped", "deleted", "deletes_withheld")


def upgrade() -> None:
    # a plain ADD COLUMN: batch mode would rebuild the table under the view that reads it (SQLite)
    op.add_column("feed_submissions", sa.Column("applied_outcome", JSON, nullable=True))
    with op.batch_alter_table("quarantine") as table:
        table.add_column(sa.Column("source_file", sa.Text(), nullable=True))
        table.add_column(sa.Column("source_line", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("run_summaries") as table:
        for name in _COUNTS:
            table.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
        table.add_column(sa.Column("skipped_reasons", JSON, nullable=True))
        table.add_column(sa.Column("withheld_reasons", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_summaries") as table:
        table.drop_column("withheld_reasons")
        table.drop_column("skipped_reasons")
        for name in reversed(_COUNTS):
            table.drop_column(name)
    with op.batch_alter_table("quarantine") as table:
        table.drop_column("source_line")
        table.drop_column("source_file")
    op.drop_column("feed_submissions", "applied_outcome")
