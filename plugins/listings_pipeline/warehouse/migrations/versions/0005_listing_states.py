"""One state model: Amazon's own view of a listing, preview issues apart, and who changed what.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

The status counts did not add up: ``v_listing_status.in_sync`` compared the hashes whatever the
status, so a listing being re-sent, rejected or dead-lettered still counted as in sync, and "in
sync" (204) exceeded "accepted" (203). A listing is in sync now only while it is ``accepted`` or
``live`` with the payload the catalog wants (docs/architecture.md, "Listing lifecycle").

``live`` was never set because nothing read Amazon's view of a listing. ``listings`` gains what
getListingsItem's summary said when it was last read: ``buyable`` and ``discoverable`` (its
``status`` holds BUYABLE, DISCOVERABLE) and ``amazon_checked_at``. That reading also says which
issues Amazon has now: a batch of issues older than the latest reading is no longer current.

A validation preview stores nothing on Amazon, yet its issues counted as the listing's own (a
live listing showed "with errors" after an operator's preview): ``listing_issues.preview`` marks
them, and the views leave them out. Rows written before this revision cannot be told apart and
stay unmarked.

``listing_events`` gains who triggered a move (``actor``: the Airflow user; ``dag_id``, beside the
existing ``run_id``, names the Airflow run) and what it changed (``changes``: old and new value per
field, for a price or stock write). ``offers`` and ``inventory`` gain ``catalog_hash``: the
catalog's offer or stock as the offers sync last sent it, so that a hotfix recorded in the same row
is not taken for a catalog change.

Migrations are frozen: both versions of both views are written out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    # plain ADD COLUMNs: batch mode would rebuild the tables under the views that read them (SQLite)
    op.add_column("listings", sa.Column("buyable", sa.Boolean(), nullable=True))
    op.add_column("listings", sa.Column("discoverable", sa.Boolean(), nullable=True))
    op.add_column("listings", sa.Column("amazon_checked_at", UTC_TIMESTAMP, nullable=True))
    op.add_column(
        "listing_issues", sa.Column("preview", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("listing_events", sa.Column("actor", sa.String(255), nullable=True))
    op.add_column("listing_events", sa.Column("dag_id", sa.String(250), nullable=True))
    op.add_column("listing_events", sa.Column("changes", JSON, nullable=True))
    op.add_column("offers", sa.Column("catalog_hash", sa.String(64), nullable=True))
    op.add_column("inventory", sa.Column("catalog_hash", sa.String(64), nullable=True))
    _replace(_LISTING_STATUS_NOW, _ISSUES_BY_CODE_NOW)


def downgrade() -> None:
    _replace(_LISTING_STATUS_0004, _ISSUES_BY_CODE_0001)
    # plain DROP COLUMNs (SQLite 3.35+), once no view reads them
    op.drop_column("inventory", "catalog_hash")
    op.drop_column("offers", "catalog_hash")
    op.drop_column("listing_events", "changes")
    op.drop_column("listing_events", "dag_id")
    op.drop_column("listing_events", "actor")
    op.drop_column("listing_issues", "preview")
    op.drop_column("listings", "amazon_checked_at")
    op.drop_column("listings", "discoverable")
    op.drop_column("listings", "buyable")


def _replace(listing_status: str, issues_by_code: str) -> None:
    for name, select in (("v_listing_status", listing_status), ("v_issues_by_code", issues_by_code)):
        op.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
        # a string given to text() treats ":name" as a bind parameter; these views have none
        op.execute(sa.text(f"CREATE VIEW {name} AS\n{select}".replace(":", "\\:")))


# --- now ------------------------------------------------------------------------------------------------

# One row per listing: its status and since when; in sync only while accepted or live with the
# payload the catalog wants; what Amazon's last reading said (buyable, discoverable, when); and its
# current issues: those of its latest batch (all non-preview issues sharing its latest observed_at),
# unless it was validated or sent again since (a move to ready or submitted after the batch) or
# Amazon's view was read since (a reading writes its issues at its own time, so a later reading
# without them means Amazon has none now).
_LISTING_STATUS_NOW = """
WITH listing_issues_now AS (
    SELECT * FROM listing_issues
    WHERE sku IS NOT NULL AND marketplace_id IS NOT NULL AND NOT preview
),
last_batch AS (
    SELECT seller_id, marketplace_id, sku, MAX(observed_at) AS observed_at
    FROM listing_issues_now
    GROUP BY seller_id, marketplace_id, sku
),
last_counts AS (
    SELECT i.seller_id, i.marketplace_id, i.sku,
           MAX(i.observed_at) AS last_issue_at,
           COUNT(*) AS issue_count,
           SUM(CASE WHEN i.severity = 'ERROR' THEN 1 ELSE 0 END) AS error_count,
           SUM(CASE WHEN i.severity = 'WARNING' THEN 1 ELSE 0 END) AS warning_count
    FROM listing_issues_now i
    JOIN last_batch b
      ON b.seller_id = i.seller_id AND b.marketplace_id = i.marketplace_id
     AND b.sku = i.sku AND b.observed_at = i.observed_at
    GROUP BY i.seller_id, i.marketplace_id, i.sku
)
SELECT l.seller_id, l.marketplace_id, l.sku, l.product_type, l.status,
       (SELECT MAX(e.at) FROM listing_events e WHERE e.listing_id = l.id) AS status_since,
       l.asin, l.last_submission_id, l.accepted_at,
       CASE WHEN l.status IN ('accepted', 'live') AND l.payload_hash IS NOT NULL
                 AND l.payload_hash = l.accepted_hash
            THEN 1 ELSE 0 END AS in_sync,
       CASE WHEN l.buyable THEN 1 ELSE 0 END AS buyable,
       CASE WHEN l.discoverable THEN 1 ELSE 0 END AS discoverable,
       l.amazon_checked_at,
       c.last_issue_at,
       CASE WHEN c.current_batch = 1 THEN c.issue_count ELSE 0 END AS issue_count,
       CASE WHEN c.current_batch = 1 THEN c.error_count ELSE 0 END AS error_count,
       CASE WHEN c.current_batch = 1 THEN c.warning_count ELSE 0 END AS warning_count
FROM listings l
LEFT JOIN (
    SELECT c.*, ll.id AS listing_id,
           CASE WHEN EXISTS (
               SELECT 1 FROM listing_events e
               WHERE e.listing_id = ll.id AND e.to_status IN ('ready', 'submitted')
                 AND e.at > c.last_issue_at
           ) OR ll.amazon_checked_at > c.last_issue_at THEN 0 ELSE 1 END AS current_batch
    FROM last_counts c
    JOIN listings ll
      ON ll.seller_id = c.seller_id AND ll.marketplace_id = c.marketplace_id AND ll.sku = c.sku
) c ON c.listing_id = l.id
"""

# Which issues happen most: per code, severity and source, over the issues of listings (a preview's
# issues describe a change that was never made). SKUs are counted per seller and marketplace.
_ISSUES_BY_CODE_NOW = """
SELECT i.code, i.severity, i.source,
       COUNT(*) AS issues,
       COUNT(DISTINCT CASE WHEN i.sku IS NOT NULL
                           THEN i.seller_id || '|' || COALESCE(i.marketplace_id, '') || '|' || i.sku
                      END) AS skus,
       MIN(i.observed_at) AS first_seen,
       MAX(i.observed_at) AS last_seen
FROM listing_issues i
WHERE NOT i.preview
GROUP BY i.code, i.severity, i.source
"""


# --- as 0004 and 0001 created them ---------------------------------------------------------------------

_LISTING_STATUS_0004 = """
WITH last_batch AS (
    SELECT seller_id, marketplace_id, sku, MAX(observed_at) AS observed_at
    FROM listing_issues
    WHERE sku IS NOT NULL AND marketplace_id IS NOT NULL
    GROUP BY seller_id, marketplace_id, sku
),
last_counts AS (
    SELECT i.seller_id, i.marketplace_id, i.sku,
           MAX(i.observed_at) AS last_issue_at,
           COUNT(*) AS issue_count,
           SUM(CASE WHEN i.severity = 'ERROR' THEN 1 ELSE 0 END) AS error_count,
           SUM(CASE WHEN i.severity = 'WARNING' THEN 1 ELSE 0 END) AS warning_count
    FROM listing_issues i
    JOIN last_batch b
      ON b.seller_id = i.seller_id AND b.marketplace_id = i.marketplace_id
     AND b.sku = i.sku AND b.observed_at = i.observed_at
    GROUP BY i.seller_id, i.marketplace_id, i.sku
)
SELECT l.seller_id, l.marketplace_id, l.sku, l.product_type, l.status,
       (SELECT MAX(e.at) FROM listing_events e WHERE e.listing_id = l.id) AS status_since,
       l.asin, l.last_submission_id, l.accepted_at,
       CASE WHEN l.payload_hash = l.accepted_hash THEN 1 ELSE 0 END AS in_sync,
       c.last_issue_at,
       CASE WHEN c.current_batch = 1 THEN c.issue_count ELSE 0 END AS issue_count,
       CASE WHEN c.current_batch = 1 THEN c.error_count ELSE 0 END AS error_count,
       CASE WHEN c.current_batch = 1 THEN c.warning_count ELSE 0 END AS warning_count
FROM listings l
LEFT JOIN (
    SELECT c.*, ll.id AS listing_id,
           CASE WHEN EXISTS (
               SELECT 1 FROM listing_events e
               WHERE e.listing_id = ll.id AND e.to_status IN ('ready', 'submitted')
                 AND e.at > c.last_issue_at
           ) THEN 0 ELSE 1 END AS current_batch
    FROM last_counts c
    JOIN listings ll
      ON ll.seller_id = c.seller_id AND ll.marketplace_id = c.marketplace_id AND ll.sku = c.sku
) c ON c.listing_id = l.id
"""

_ISSUES_BY_CODE_0001 = """
SELECT i.code, i.severity, i.source,
       COUNT(*) AS issues,
       COUNT(DISTINCT CASE WHEN i.sku IS NOT NULL
                           THEN i.seller_id || '|' || COALESCE(i.marketplace_id, '') || '|' || i.sku
                      END) AS skus,
       MIN(i.observed_at) AS first_seen,
       MAX(i.observed_at) AS last_seen
FROM listing_issues i
GROUP BY i.code, i.severity, i.source
"""
