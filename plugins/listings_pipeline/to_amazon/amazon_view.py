"""Amazon's own view of a listing, and the ``live`` status it implies (docs/architecture.md,
"Listing lifecycle").

``accepted`` only says that Amazon took what was sent; whether shoppers can buy or find the listing
is Amazon's to say, in getListingsItem's ``summaries[].status`` (BUYABLE, DISCOVERABLE). A reading
asks for ``summaries`` and ``issues`` and records, in one transaction per batch of readings:

- the listing's ``buyable``, ``discoverable``, ``amazon_checked_at`` and ASIN, whatever its status;
- ``accepted`` -> ``live`` when the summary shows it buyable or discoverable, ``live`` ->
  ``accepted`` when it no longer does (suppressed, or gone: a 404 or no summary for the
  marketplace); other statuses do not move, since the pipeline is still busy with them;
- Amazon's issues now, as one batch (source ``listings_api``, observed at the reading's time), so a
  reading without issues ends the listing's earlier batch (``v_listing_status``).

Who reads: the per-SKU path right after Amazon accepts a change (the listing may not show the
change yet: Amazon processes an accepted submission within minutes), and the bulk path after each
parse and in each settle step, :data:`~listings_pipeline.config.PipelineConfig.listing_reads_per_branch`
listings of the branch at most, least recently read first (:func:`observe_branch`), so that every
accepted listing is read in turn. Reads go through the client's shared limiter; a throttle or a
limiter that would wait too long ends the reading, and the rest waits for the next one. A reading
never fails its task: what was not read stays as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, insert, or_, select

from listings_pipeline.call_log import branch_trace
from listings_pipeline.changes import ListingKey
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import one_of, session_scope
from listings_pipeline.warehouse.models import Listing, ListingIssue, ListingStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.client import SpApiClient
    from spapi.models.listings import Issue, Item

log = logging.getLogger(__name__)

L = ListingStatus

READ_DATA = ("summaries", "issues")
CAUSE = "amazon:getListingsItem"


@dataclass(frozen=True)
class Reading:
    """What getListingsItem said of one listing in one marketplace; ``found`` is false for a 404 or
    an item without a summary for the marketplace (Amazon does not show it there)."""

    seller_id: str
    marketplace_id: str
    sku: str
    at: datetime
    found: bool
    buyable: bool = False
    discoverable: bool = False
    asin: str | None = None
    issues: tuple[Issue, ...] = field(default=())

    @property
    def shown(self) -> bool:
        return self.buyable or self.discoverable


def reading_of(key: ListingKey, item: Item | None, at: datetime) -> Reading:
    """The summary of ``key``'s marketplace in ``item`` (``None``: Amazon answered 404)."""
    marketplace_id = key["marketplace_id"]
    summary = (
        next((s for s in (item.summaries or ()) if s.marketplace_id == marketplace_id), None)
        if item is not None
        else None
    )
    if item is None or summary is None:
        return Reading(key["seller_id"], marketplace_id, key["sku"], at, found=False)
    status = set(summary.status)
    issues = tuple(
        i for i in (item.issues or ()) if not i.marketplace_ids or marketplace_id in i.marketplace_ids
    )
    return Reading(
        key["seller_id"],
        marketplace_id,
        key["sku"],
        at,
        found=True,
        buyable="BUYABLE" in status,
        discoverable="DISCOVERABLE" in status,
        asin=summary.asin,
        issues=issues,
    )


def read(
    client: SpApiClient, keys: Iterable[ListingKey], *, run_id: str | None, issue_locale: str | None
) -> list[Reading]:
    """Read each listing from Amazon, until a throttle says to stop; the readings made so far."""
    from spapi import listings
    from spapi.client import trace
    from spapi.errors import NotFoundError, SpApiError, ThrottledError

    readings: list[Reading] = []
    for key in keys:
        call = listings.get_listings_item(
            key["seller_id"],
            key["sku"],
            [key["marketplace_id"]],
            included_data=READ_DATA,
            issue_locale=issue_locale,
        )
        item: Item | None
        with trace(branch_trace(run_id, key["seller_id"], key["marketplace_id"])):
            try:
                item = client.call(call)
            except NotFoundError:
                item = None
            except ThrottledError as err:  # the limiter's timeout too: the rest waits for a later reading
                log.warning("reading listings from Amazon stopped after %d: %s", len(readings), err)
                break
            except SpApiError as err:
                log.warning("could not read %s/%s from Amazon: %s", key["marketplace_id"], key["sku"], err)
                continue
        readings.append(reading_of(key, item, datetime.now(UTC)))
    return readings


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` did: listings read, and how many went live or back to accepted."""

    read: int = 0
    went_live: int = 0
    shown_no_more: int = 0


def record(
    session: Session,
    readings: Sequence[Reading],
    run_id: str | None,
    *,
    cause: str = CAUSE,
    with_issues: bool = True,
) -> Recorded:
    """Write the readings: Amazon's view on each listing, ``live`` where it implies it, and its issues.

    ``with_issues=False`` for a reading that says nothing of issues (a LISTINGS_ITEM_STATUS_CHANGE
    notification): ``amazon_checked_at``, which ends the listing's current issue batch in
    ``v_listing_status``, is then left alone.
    """
    from listings_pipeline.warehouse.records import listings_api_issue_rows

    statuses = _statuses(session, readings)
    rows: list[dict[str, Any]] = []
    went_live = shown_no_more = 0
    for r in readings:
        status = statuses.get((r.seller_id, r.marketplace_id, r.sku))
        if status is None:  # not ours (or deleted meanwhile): nothing to record it on
            continue
        target = _target(ListingStatus(status), r.shown)
        went_live += target == L.LIVE and status != L.LIVE
        shown_no_more += status == L.LIVE and target != L.LIVE
        row: dict[str, Any] = {
            "seller_id": r.seller_id,
            "marketplace_id": r.marketplace_id,
            "sku": r.sku,
            "to_status": target,
            "buyable": r.buyable,
            "discoverable": r.discoverable,
        }
        if with_issues:
            row["amazon_checked_at"] = r.at
        if r.asin:
            row["asin"] = r.asin
        rows.append(row)
        if r.issues:
            session.execute(
                insert(ListingIssue),
                listings_api_issue_rows(
                    r.issues,
                    seller_id=r.seller_id,
                    marketplace_id=r.marketplace_id,
                    sku=r.sku,
                    run_id=run_id,
                    observed_at=r.at,
                ),
            )
    if rows:
        lifecycle.transition_many(session, rows, cause=cause, run_id=run_id)
    return Recorded(read=len(rows), went_live=went_live, shown_no_more=shown_no_more)


def _target(status: ListingStatus, shown: bool) -> ListingStatus:
    """Only accepted and live follow Amazon's view: any other listing is still on its way to Amazon
    (or out of the catalog), and its next outcome decides."""
    if status == L.ACCEPTED and shown:
        return L.LIVE
    if status == L.LIVE and not shown:
        return L.ACCEPTED
    return status


def _statuses(session: Session, readings: Sequence[Reading]) -> dict[tuple[str, str, str], str]:
    found: dict[tuple[str, str, str], str] = {}
    branches = {(r.seller_id, r.marketplace_id) for r in readings}
    for seller_id, marketplace_id in branches:
        skus = [r.sku for r in readings if (r.seller_id, r.marketplace_id) == (seller_id, marketplace_id)]
        for sku, status in session.execute(
            select(Listing.sku, Listing.status).where(
                Listing.seller_id == seller_id,
                Listing.marketplace_id == marketplace_id,
                one_of(session, Listing.sku, skus),
            )
        ):
            found[(seller_id, marketplace_id, sku)] = status
    return found


def least_recently_read(
    session: Session, seller_id: str, marketplace_id: str, limit: int
) -> list[ListingKey]:
    """The branch's accepted or live listings whose reading is oldest: first those never read since
    Amazon last accepted them, then by the time of their last reading."""
    if limit <= 0:
        return []
    checked = Listing.amazon_checked_at
    unread = or_(checked.is_(None), checked < Listing.accepted_at)
    skus = session.scalars(
        select(Listing.sku)
        .where(
            Listing.seller_id == seller_id,
            Listing.marketplace_id == marketplace_id,
            Listing.status.in_([L.ACCEPTED, L.LIVE]),
        )
        .order_by(case((unread, 0), else_=1), case((checked.is_(None), 0), else_=1), checked, Listing.id)
        .limit(limit)
    )
    return [{"seller_id": seller_id, "marketplace_id": marketplace_id, "sku": sku} for sku in skus]


def observe(
    client: SpApiClient,
    engine: Engine,
    keys: Sequence[ListingKey],
    *,
    run_id: str | None,
    issue_locale: str | None,
) -> Recorded:
    """Read ``keys`` from Amazon and record what it says."""
    if not keys:
        return Recorded()
    readings = read(client, keys, run_id=run_id, issue_locale=issue_locale)
    if not readings:
        return Recorded()
    try:
        with session_scope(engine) as session:
            return record(session, readings, run_id)
    except Exception:
        # Amazon already took (or reported on) what the task sent: failing the task for a reading
        # would have it sent again. The listings stay as they were, for the next reading.
        log.exception("could not record %d readings of Amazon's view", len(readings))
        return Recorded()


def observe_branch(
    spapi_conn_id: str,
    engine: Engine,
    seller_id: str,
    marketplace_id: str,
    *,
    limit: int,
    run_id: str | None,
    issue_locale: str | None,
) -> Recorded:
    """The bulk path's reading: up to ``limit`` of the branch's listings, least recently read first,
    with a client of its own whose calls go to ``api_calls``."""
    from listings_pipeline.call_log import ApiCallLog
    from spapi.hooks import SpApiHook

    with session_scope(engine) as session:
        keys = least_recently_read(session, seller_id, marketplace_id, limit)
    if not keys:
        return Recorded()
    calls = ApiCallLog(engine, run_id)
    try:
        with SpApiHook(spapi_conn_id).get_client(on_call=calls) as client:
            recorded = observe(client, engine, keys, run_id=run_id, issue_locale=issue_locale)
    finally:
        calls.flush()
    log.info(
        "%s/%s: read %d of %d listings from Amazon; %d went live, %d shown no more",
        seller_id,
        marketplace_id,
        recorded.read,
        len(keys),
        recorded.went_live,
        recorded.shown_no_more,
    )
    return recorded
