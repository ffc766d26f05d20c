"""Views that answer right: the backlog includes SKUs that never reached Amazon, and a listing's issue
counts are its current ones.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

``v_backlog`` left out every listing without a payload, which is every SKU quarantined before a
payload was built: "which SKUs never went live?" answered 1 on the demo where the answer is 12. A
listing still in the catalog's hands (``draft``, ``quarantined``) without a payload is backlog now,
and each row says when the listing first went live (``went_live_at``: the first move to ``accepted``
or ``live``), so that question does not depend on ``accepted_hash`` alone, which a listing found live
on Amazon (``live`` on first sight) never gets.

``v_listing_status`` counted the issues of a listing's latest batch even after the listing was
validated or sent again (a fix Amazon then accepted kept its old errors). The batch counts only
while no move to ``ready`` or ``submitted`` came after it; ``last_issue_at`` still says when it was.

Migrations are frozen: both versions of both views are written out here (the older ones as 0001
created them, for the downgrade).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _replace(_listing_status_now(), _backlog_now(_seconds()))


def downgrade() -> None:
    _replace(_LISTING_STATUS_0001, _backlog_0001(_seconds()))


def _replace(listing_status: str, backlog: str) -> None:
    for name, select in (("v_listing_status", listing_status), ("v_backlog", backlog)):
        op.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
        # a string given to text() treats ":name" as a bind parameter; these views have none
        op.execute(sa.text(f"CREATE VIEW {name} AS\n{select}".replace(":", "\\:")))


def _seconds() -> str:
    """Seconds from a listing's ``pending_since`` to now, in this dialect (as 0001's ``_Sql``)."""
    since = "COALESCE(l.payload_changed_at, l.created_at)"
    name = op.get_context().dialect.name
    if name == "sqlite":
        return f"((julianday(CURRENT_TIMESTAMP) - julianday({since})) * 86400.0)"
    if name == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - {since})) AS FLOAT)"
    raise NotImplementedError(f"the warehouse views support sqlite and postgresql, not {name}")


# --- now ------------------------------------------------------------------------------------------------


def _listing_status_now() -> str:
    # One row per listing: its status and since when, whether Amazon has the wanted payload, and
    # its current issues: those of its latest batch (all issues sharing its latest observed_at),
    # unless it was validated or sent again since (a move to ready or submitted after the batch).
    return """
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


def _backlog_now(seconds: str) -> str:
    # What the catalog wants that Amazon does not have yet, and for how long (since the wanted
    # payload last changed, or since the listing was first seen): a payload Amazon has not accepted,
    # or no payload at all while the listing is still the catalog's (draft, quarantined). Deleted
    # listings and listings found on Amazon that the catalog wants nothing of are not backlog.
    # went_live_at: when Amazon first accepted a version of it or it was first seen live.
    return f"""
SELECT l.seller_id, l.marketplace_id, l.sku, l.product_type, l.status,
       l.payload_hash, l.accepted_hash, l.accepted_at,
       COALESCE(l.payload_changed_at, l.created_at) AS pending_since,
       {seconds} AS age_seconds,
       (SELECT MIN(e.at) FROM listing_events e
         WHERE e.listing_id = l.id AND e.to_status IN ('accepted', 'live')) AS went_live_at
FROM listings l
WHERE l.status <> 'deleted'
  AND (
      (l.payload_hash IS NULL AND l.status IN ('draft', 'quarantined'))
      OR (l.payload_hash IS NOT NULL AND (l.accepted_hash IS NULL OR l.payload_hash <> l.accepted_hash))
  )
"""


# --- as 0001 created them ---------------------------------------------------------------------------------

_LISTING_STATUS_0001 = """
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
       COALESCE(c.issue_count, 0) AS issue_count,
       COALESCE(c.error_count, 0) AS error_count,
       COALESCE(c.warning_count, 0) AS warning_count
FROM listings l
LEFT JOIN last_counts c
  ON c.seller_id = l.seller_id AND c.marketplace_id = l.marketplace_id AND c.sku = l.sku
"""


def _backlog_0001(seconds: str) -> str:
    return f"""
SELECT l.seller_id, l.marketplace_id, l.sku, l.product_type, l.status,
       l.payload_hash, l.accepted_hash, l.accepted_at,
       COALESCE(l.payload_changed_at, l.created_at) AS pending_since,
       {seconds} AS age_seconds
FROM listings l
WHERE l.payload_hash IS NOT NULL
  AND (l.accepted_hash IS NULL OR l.payload_hash <> l.accepted_hash)
  AND l.status <> 'deleted'
"""
