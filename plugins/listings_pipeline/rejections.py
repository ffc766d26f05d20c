"""A run's first rejections, read back from the warehouse for its outcome note (``outcome``).

The summaries that travel as XCom carry counts and codes, never Amazon's words; the warehouse has
them under the run's id on every path: ``listing_issues`` of Amazon's sources (a feed's report, a
Listings API answer, a preview's verdict; not our own validation's, which quarantined the row) and ``dead_letters`` (which also hold what has no issue: a call that failed
after its retries, a feed that ended FATAL too often; a replay that failed again reopens its letter
under the replay's run id). One line per listing, Amazon's own ERROR first.
"""

from __future__ import annotations

from sqlalchemy import select

from listings_pipeline.config import load_config
from listings_pipeline.outcome import Rejection
from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
from listings_pipeline.warehouse.models import DeadLetter, IssueSource, ListingIssue

# Amazon's verdicts; our own validation's issues are the quarantine's, which the note counts apart
AMAZONS = (IssueSource.FEED.value, IssueSource.LISTINGS_API.value)
# a listing often has several ERRORs: read a few more rows than asked for, to find enough listings
_ROWS_PER_LISTING = 5


def first_rejections(config_path: str | None, run_id: str, limit: int) -> list[Rejection]:
    """Up to ``limit`` listings of the run that did not get through, each with its first ERROR
    (code and message), else its dead letter's code and reason; in the order they were recorded."""
    config = load_config(config_path)
    engine = make_engine(warehouse_url(config.warehouse_conn_id), read_only=True)
    found: dict[tuple[str, str, str], Rejection] = {}
    try:
        with session_scope(engine) as session:
            issues = session.execute(
                select(
                    ListingIssue.seller_id,
                    ListingIssue.marketplace_id,
                    ListingIssue.sku,
                    ListingIssue.code,
                    ListingIssue.message,
                )
                .where(
                    ListingIssue.run_id == run_id,
                    ListingIssue.source.in_(AMAZONS),
                    ListingIssue.severity == "ERROR",
                    ListingIssue.sku.is_not(None),
                    ListingIssue.marketplace_id.is_not(None),
                )
                .order_by(ListingIssue.id)
                .limit(limit * _ROWS_PER_LISTING)
            ).all()
            letters = session.execute(
                select(
                    DeadLetter.seller_id,
                    DeadLetter.marketplace_id,
                    DeadLetter.sku,
                    DeadLetter.code,
                    DeadLetter.reason,
                )
                .where(DeadLetter.run_id == run_id)
                .order_by(DeadLetter.id)
                .limit(limit)
            ).all()
    finally:
        engine.dispose()
    for seller_id, marketplace_id, sku, code, message in [*issues, *letters]:
        if marketplace_id is None or sku is None:  # a feed-level issue: the query leaves them out
            continue
        key = (seller_id, marketplace_id, sku)
        if key not in found and len(found) < limit:
            found[key] = {
                "seller_id": seller_id,
                "marketplace_id": marketplace_id,
                "sku": sku,
                "code": code,
                "message": message,
            }
    return list(found.values())
