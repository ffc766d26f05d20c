"""Reconciliation (issue 15): Amazon's listings report against the warehouse, drift recorded.

For one seller and marketplace, once Amazon has produced ``GET_MERCHANT_LISTINGS_ALL_DATA``
(:mod:`~listings_pipeline.from_amazon.listings_report`): download and parse it, read the warehouse's
view of the same listings (:func:`our_listings`), compare them
(:func:`listings_pipeline.from_amazon.drift.compare`) and record the result (:func:`record`) in one
transaction:

- a ``drift_checks`` row for the comparison;
- a new ``listing_drift`` row, ``open``, for each disagreement not already open; one already open
  is updated in place (its values now, the last check that saw it), so a drift nobody has dealt
  with yet stays one row however many checks see it;
- an open row this check no longer sees becomes ``gone`` (Amazon and we agree again);
- a disagreement an operator accepted (``accepted_amazon``) with the same Amazon value is not opened
  again: a listing Amazon has and the catalog never will, once acknowledged, stays acknowledged.

A ``CANCELLED`` report means Amazon had nothing to report for the marketplace (the DAG never
cancels one), so it is compared as an empty report: every listing Amazon accepted is then missing.

Nothing here writes to Amazon; resolving drift is :mod:`~listings_pipeline.from_amazon.drift_actions`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, TypedDict

from sqlalchemy import and_, func, select

from listings_pipeline.from_amazon.drift import DRIFT_KINDS, Drift, OurListing, compare
from listings_pipeline.from_amazon.fba_stock import CHANNELS
from listings_pipeline.from_amazon.listings_report import ReportDone
from listings_pipeline.json_types import JsonObject
from listings_pipeline.to_amazon.offer_patches import MERCHANT_CHANNEL, OFFER, STOCK, written
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import (
    DriftCheck,
    DriftState,
    Inventory,
    Listing,
    ListingDrift,
    ListingPayload,
    ListingStatus,
    Offer,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.client import SpApiClient
    from spapi.models.reports import MerchantListingRow

log = logging.getLogger(__name__)

L = ListingStatus
_SELLING = (L.ACCEPTED.value, L.LIVE.value)


class DriftFound(TypedDict):
    """What one branch's check saw, for the task's log and XCom (counts and ids only)."""

    seller_id: str
    marketplace_id: str
    report_id: str
    report_status: str
    amazon_rows: int
    our_listings: int
    found: int  # disagreements seen, minus those accepted before with the same Amazon value
    opened: int  # rows added: drift no earlier check had open
    gone: int  # open rows this check no longer saw
    open: int  # the branch's open rows after the check
    by_kind: dict[str, int]  # ``found`` by kind


class DriftTotals(TypedDict):
    """A run's checks added up: what the ``outcome`` task judges and the note says."""

    branches: int
    amazon_rows: int
    found: int
    opened: int
    gone: int
    open: int
    by_kind: dict[str, int]
    new_in: list[str]  # "seller/marketplace" of each branch with newly opened drift


def _price(payload: JsonObject | None, marketplace_id: str) -> tuple[Decimal | None, int | None]:
    """The accepted payload's price and merchant stock, for a listing the offers sync never wrote."""
    attributes = (payload or {}).get("attributes") or {}
    if not isinstance(attributes, dict):
        return None, None
    patches = [
        {"op": "replace", "path": path, "value": attributes.get(name)}
        for path, name in ((OFFER, "purchasable_offer"), (STOCK, "fulfillment_availability"))
        if isinstance(attributes.get(name), list)
    ]
    wrote = written(patches, marketplace_id)
    offer, stock = wrote["offer"] or {}, wrote["stock"] or {}
    price_text = offer.get("our_price")
    try:
        price = Decimal(price_text) if price_text else None
    except InvalidOperation:
        price = None
    return price, stock.get("quantity")


def our_listings(session: Session, seller_id: str, marketplace_id: str) -> list[OurListing]:
    """The warehouse's view of a branch's listings: status, whether Amazon has a version of it, and
    the price and merchant stock Amazon was last told (``offers`` / ``inventory``; for a listing
    those never held, the payload Amazon accepted)."""
    statement = (
        select(
            Listing.sku,
            Listing.status,
            Listing.accepted_hash,
            Offer.our_price,
            Offer.sku.is_not(None).label("has_offer"),
            Inventory.quantity,
            Inventory.sku.is_not(None).label("has_stock"),
        )
        .outerjoin(
            Offer,
            and_(
                Offer.seller_id == Listing.seller_id,
                Offer.marketplace_id == Listing.marketplace_id,
                Offer.sku == Listing.sku,
            ),
        )
        .outerjoin(
            Inventory,
            and_(
                Inventory.seller_id == Listing.seller_id,
                Inventory.marketplace_id == Listing.marketplace_id,
                Inventory.sku == Listing.sku,
                Inventory.fulfillment_channel_code == MERCHANT_CHANNEL,
            ),
        )
        .where(Listing.seller_id == seller_id, Listing.marketplace_id == marketplace_id)
    )
    found: list[OurListing] = []
    from_payload: list[str] = []
    for row in session.execute(statement):
        on_amazon = row.status in _SELLING or (row.accepted_hash is not None and row.status != L.DELETED)
        found.append(
            {
                "sku": row.sku,
                "status": row.status,
                "on_amazon": on_amazon,
                "price": row.our_price,
                "quantity": row.quantity,
                "fba_fulfillable": None,
            }
        )
        if row.status in _SELLING and not (row.has_offer and row.has_stock):
            from_payload.append(row.sku)
    if from_payload:
        _fill_from_payloads(session, seller_id, marketplace_id, found, from_payload)
    _fill_fba_stock(session, seller_id, marketplace_id, found)
    return found


def _fill_fba_stock(session: Session, seller_id: str, marketplace_id: str, found: list[OurListing]) -> None:
    """Amazon's fulfillable FBA units, where ``fba_inventory_sync`` read them: an FBA listing with
    none is rightly inactive."""
    by_sku = {listing["sku"]: listing for listing in found}
    rows = session.execute(
        select(Inventory.sku, func.sum(Inventory.fulfillable_quantity))
        .where(
            Inventory.seller_id == seller_id,
            Inventory.marketplace_id == marketplace_id,
            Inventory.fulfillment_channel_code.in_(list(CHANNELS.values())),
            Inventory.read_at.is_not(None),
        )
        .group_by(Inventory.sku)
    )
    for sku, fulfillable in rows:
        if sku in by_sku and fulfillable is not None:
            by_sku[sku]["fba_fulfillable"] = int(fulfillable)


def _fill_from_payloads(
    session: Session, seller_id: str, marketplace_id: str, found: list[OurListing], skus: Sequence[str]
) -> None:
    by_sku = {listing["sku"]: listing for listing in found}
    for start in range(0, len(skus), 5000):  # well under SQLite's bound parameters
        chunk = skus[start : start + 5000]
        rows = session.execute(
            select(Listing.sku, ListingPayload.payload)
            .join(ListingPayload, ListingPayload.listing_id == Listing.id)
            .where(
                Listing.seller_id == seller_id,
                Listing.marketplace_id == marketplace_id,
                Listing.sku.in_(chunk),
            )
        )
        for sku, payload in rows:
            listing = by_sku[sku]
            price, quantity = _price(payload, marketplace_id)
            if listing["price"] is None:
                listing["price"] = price
            if listing["quantity"] is None:
                listing["quantity"] = quantity


def _key(sku: str, kind: str, field: str) -> tuple[str, str, str]:
    return sku, kind, field


def _accepted_before(
    session: Session, seller_id: str, marketplace_id: str, skus: Sequence[str]
) -> set[tuple[str, str, str, str | None]]:
    """(sku, kind, field, Amazon's value) of the drift operators accepted, among ``skus``."""
    accepted: set[tuple[str, str, str, str | None]] = set()
    for start in range(0, len(skus), 5000):
        rows = session.execute(
            select(ListingDrift.sku, ListingDrift.kind, ListingDrift.field, ListingDrift.amazon).where(
                ListingDrift.seller_id == seller_id,
                ListingDrift.marketplace_id == marketplace_id,
                ListingDrift.state == DriftState.ACCEPTED_AMAZON,
                ListingDrift.sku.in_(skus[start : start + 5000]),
            )
        )
        accepted.update((r.sku, r.kind, r.field, r.amazon) for r in rows)
    return accepted


def record(
    session: Session,
    check: DriftCheck,
    drifts: Iterable[Drift],
    *,
    resolved_by: str,
) -> DriftFound:
    """Write one comparison's check and drift rows (see the module docstring); ``check`` holds the
    branch, the report and the counts of both sides, and gets the drift counts."""
    seller_id, marketplace_id, now = check.seller_id, check.marketplace_id, check.checked_at
    session.add(check)
    session.flush()  # its id, for the rows
    drifts = list(drifts)
    open_rows = {
        _key(row.sku, row.kind, row.field): row
        for row in session.scalars(
            select(ListingDrift).where(
                ListingDrift.seller_id == seller_id,
                ListingDrift.marketplace_id == marketplace_id,
                ListingDrift.state == DriftState.OPEN,
            )
        )
    }
    accepted = _accepted_before(session, seller_id, marketplace_id, sorted({d["sku"] for d in drifts}))
    by_kind = dict.fromkeys(DRIFT_KINDS, 0)
    found = opened = 0
    for drift in drifts:
        key = _key(drift["sku"], drift["kind"], drift["field"])
        row = open_rows.pop(key, None)
        if row is None and (*key, drift["amazon"]) in accepted:
            continue
        found += 1
        by_kind[drift["kind"]] += 1
        if row is not None:
            row.ours, row.amazon = drift["ours"], drift["amazon"]
            row.last_check_id, row.last_seen_at = check.id, now
            continue
        opened += 1
        session.add(
            ListingDrift(
                check_id=check.id,
                last_check_id=check.id,
                seller_id=seller_id,
                marketplace_id=marketplace_id,
                sku=drift["sku"],
                kind=drift["kind"],
                field=drift["field"],
                ours=drift["ours"],
                amazon=drift["amazon"],
                state=DriftState.OPEN,
                found_at=now,
                last_seen_at=now,
            )
        )
    for row in open_rows.values():  # Amazon and the warehouse agree again
        row.state = DriftState.GONE
        row.resolved_at, row.resolved_by, row.resolved_run_id = now, resolved_by, check.run_id
        row.note = "no longer seen by the next check"
    check.found, check.opened, check.gone = found, opened, len(open_rows)
    session.flush()
    return {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "report_id": check.report_id,
        "report_status": check.report_status,
        "amazon_rows": check.amazon_rows,
        "our_listings": check.our_listings,
        "found": found,
        "opened": opened,
        "gone": len(open_rows),
        "open": found,  # every drift seen is open now: the rest was accepted or is gone
        "by_kind": {kind: n for kind, n in by_kind.items() if n},
    }


def read_report(client: SpApiClient, done: ReportDone) -> list[MerchantListingRow]:
    """The report's rows; none for a report Amazon cancelled (nothing to report)."""
    from spapi import reports
    from spapi.flat_files import parse_merchant_listings

    document_id = done["report_document_id"]
    if done["processing_status"] != "DONE" or document_id is None:
        return []
    document = client.call(reports.get_report_document(document_id))
    return parse_merchant_listings(client.call(reports.download_report_document(document)))


def check(
    client: SpApiClient,
    engine: Engine,
    done: ReportDone,
    *,
    run_id: str | None = None,
    dag_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DriftFound:
    """Read a branch's ended report, compare it with the warehouse, record the drift."""
    branch = done["branch"]
    seller_id, marketplace_id = branch["seller_id"], branch["marketplace_id"]
    rows = read_report(client, done)
    with session_scope(engine) as session:
        ours = our_listings(session, seller_id, marketplace_id)
        check_row = DriftCheck(
            seller_id=seller_id,
            marketplace_id=marketplace_id,
            report_id=done["report_id"],
            report_status=done["processing_status"],
            checked_at=clock(),
            amazon_rows=len(rows),
            our_listings=len(ours),
            run_id=run_id,
            dag_id=dag_id,
        )
        result = record(
            session, check_row, compare(ours, rows), resolved_by=f"{dag_id or 'reconcile'}:{run_id}"
        )
    log.info(
        "%s/%s: report %s (%s, %d row(s)) against %d listing(s): %d drift (%s), %d new, %d gone",
        seller_id,
        marketplace_id,
        done["report_id"],
        done["processing_status"],
        len(rows),
        len(ours),
        result["found"],
        ", ".join(f"{k} {n}" for k, n in result["by_kind"].items()) or "none",
        result["opened"],
        result["gone"],
    )
    return result


def check_branch(done: ReportDone, run_id: str) -> DriftFound:
    """The DAG task: one branch's report, with a client of its own whose calls go to ``api_calls``
    under the branch's trace id."""
    from listings_pipeline import triggered_by
    from listings_pipeline.call_log import ApiCallLog, branch_trace
    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import make_engine, warehouse_url
    from spapi.client import trace
    from spapi.hooks import SpApiHook

    branch = done["branch"]
    config = load_config(branch.get("config_path"))
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    calls = ApiCallLog(engine, run_id)
    try:
        with (
            trace(branch_trace(run_id, branch["seller_id"], branch["marketplace_id"])),
            SpApiHook(branch["spapi_conn_id"]).get_client(on_call=calls) as client,
        ):
            return check(client, engine, done, run_id=run_id, dag_id=triggered_by.current().dag_id)
    finally:
        calls.flush()
        engine.dispose()


def totals(found: Iterable[DriftFound]) -> DriftTotals:
    found = list(found)
    by_kind: dict[str, int] = {}
    for branch in found:
        for kind, n in branch["by_kind"].items():
            by_kind[kind] = by_kind.get(kind, 0) + n
    result: DriftTotals = {
        "branches": len(found),
        "amazon_rows": sum(b["amazon_rows"] for b in found),
        "found": sum(b["found"] for b in found),
        "opened": sum(b["opened"] for b in found),
        "gone": sum(b["gone"] for b in found),
        "open": sum(b["open"] for b in found),
        "by_kind": {kind: by_kind[kind] for kind in DRIFT_KINDS if kind in by_kind},
        "new_in": [f"{b['seller_id']}/{b['marketplace_id']}" for b in found if b["opened"]],
    }
    log.info("drift: %s", result)
    return result
