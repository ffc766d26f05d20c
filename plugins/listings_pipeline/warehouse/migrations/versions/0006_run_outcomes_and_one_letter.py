"""Run outcomes in ``run_summaries``, the DAG on quarantine rows, one unfinished letter per listing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

``run_summaries.status`` was always ``success``, even for the runs that ended red at their
``outcome`` task. It now says ``needs_attention`` when the branch's changes were rejected
(``invalid``) or dead-lettered, the rule ``outcome`` fails a run by, with a CHECK of the two values;
the rows written before are set by the same rule from their own figures.

Quarantine rows named their run but not its DAG, so two DAGs' runs of the same id
(``scheduled__<midnight>`` of the daily catalog sync and the hourly offers sync) shared their
quarantined rows: ``quarantine.dag_id`` names it now (older rows stay without one).

A listing has at most one unfinished (``open`` or ``replayed``) dead letter: the writer found it
under a row lock, but two transactions that both found none could both insert. A partial unique
index (both SQLite and PostgreSQL have them) now refuses the second, and the writer reopens the
letter it ran into. Where a database already holds more than one, the newest stays (the one the
writer has been reopening) and the older are discarded, each with an event that names the newest.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "state IN ('open', 'replayed')"
# an unfinished letter of a listing that has a newer unfinished one (``d`` is the older)
_SUPERSEDED = f"""
d.{UNFINISHED} AND EXISTS (
    SELECT 1 FROM dead_letters n
    WHERE n.seller_id = d.seller_id AND n.marketplace_id = d.marketplace_id AND n.sku = d.sku
      AND n.{UNFINISHED} AND n.id > d.id
)"""


def upgrade() -> None:
    # plain ADD COLUMN: batch mode would rebuild the table (no view reads quarantine, but no need)
    op.add_column("quarantine", sa.Column("dag_id", sa.String(250), nullable=True))

    op.execute(
        sa.text(
            "UPDATE run_summaries SET status = 'needs_attention' "
            "WHERE status = 'success' AND (invalid > 0 OR dead_lettered > 0)"
        )
    )
    # no view reads run_summaries, so SQLite's rebuild of the table for a CHECK is safe
    with op.batch_alter_table("run_summaries") as table:
        table.create_check_constraint("ck_run_summaries_status", "status IN ('success', 'needs_attention')")

    op.execute(
        sa.text(
            "INSERT INTO dead_letter_events (dead_letter_id, from_state, to_state, actor, note) "
            "SELECT d.id, d.state, 'discarded', 'migration 0006', "
            "'superseded by the newer unfinished letter ' || CAST(("
            "SELECT MAX(n.id) FROM dead_letters n WHERE n.seller_id = d.seller_id "
            "AND n.marketplace_id = d.marketplace_id AND n.sku = d.sku AND n." + UNFINISHED + ""
            ") AS VARCHAR(20)) "
            "FROM dead_letters d WHERE " + _SUPERSEDED
        )
    )
    op.execute(
        sa.text(
            "UPDATE dead_letters SET state = 'discarded', updated_at = CURRENT_TIMESTAMP "
            "WHERE id IN (SELECT d.id FROM dead_letters d WHERE " + _SUPERSEDED + ")"
        )
    )
    op.create_index(
        "uq_dead_letters_unfinished",
        "dead_letters",
        ["seller_id", "marketplace_id", "sku"],
        unique=True,
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    # the letters discarded on the way up stay discarded: their events say why
    op.drop_index("uq_dead_letters_unfinished", table_name="dead_letters")
    # the statuses stay as they are: the column took any text before the CHECK
    with op.batch_alter_table("run_summaries") as table:
        table.drop_constraint("ck_run_summaries_status", type_="check")
    op.drop_column("quarantine", "dag_id")
