"""An operator's decision on open drift (issue 15): send ours again, or take Amazon's value.

The ``drift_resolve`` DAG reads its form (:mod:`listings_pipeline.forms.drift`) and calls
:func:`resolve_step`; every drift row it settles records when, by whom (the run's user, else
``drift_resolve:<run_id>``), in which run, and the operator's note.

- **resubmit**: the listing goes back to ``ready`` (lifecycle cause ``reconcile:resubmit``) and its
  open drift becomes ``resubmitted``; then the DAG triggers one ``catalog_feed_sync`` run narrowed
  to those SKUs (``skus``), as ``dead_letter_replay`` does for feed letters
  (:mod:`listings_pipeline.to_amazon.resubmit`). That run sends the catalog's listing, price and
  stock included, through the router: the Listings Items API for a few SKUs, a feed for many. A
  listing already ``ready`` or ``submitted`` is on its way and only has its drift marked. A SKU
  Amazon has and the catalog does not (``unknown_to_catalog``), or one whose listing is not on
  Amazon's side of the lifecycle (draft, quarantined, deleted), has nothing of ours to send: it is
  skipped with the reason.
- **accept_amazon**: Amazon's value becomes the warehouse's. A price is written to ``offers`` and a
  quantity to the merchant's ``inventory`` row (:func:`listings_pipeline.to_amazon.offer_state.write`,
  as any other writer of what Amazon was last told), an ``inactive`` listing is recorded as not
  buyable, and the listing gets an event (cause ``reconcile:accept_amazon``) with the old and new
  values and the actor. A presence drift (``unknown_to_catalog``, ``missing_on_amazon``) has no value
  to take: accepting it acknowledges it, and later checks do not open it again while Amazon's side
  stays the same (to stop selling a SKU, remove it from the catalog). The drift becomes
  ``accepted_amazon``. Nothing is sent to Amazon.

Only ``open`` drift is acted on; a SKU without any is skipped and reported.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy import select

from listings_pipeline.forms.drift import DriftRequest
from listings_pipeline.from_amazon.drift_resolution import DriftResolution, SkuOutcome, SkuResult
from listings_pipeline.to_amazon.offer_patches import OfferWrite, StockWrite, Written
from listings_pipeline.to_amazon.offer_state import write as write_offer
from listings_pipeline.to_amazon.resubmit import NARROW_PARAM, FeedSyncConf
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.models import (
    DriftState,
    Listing,
    ListingDrift,
    ListingEvent,
    ListingStatus,
    Marketplace,
    Offer,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

L = ListingStatus
ACTOR_PREFIX: Final = "drift_resolve"
#: Listings whose catalog version can go to Amazon again by a narrowed sync.
RESENDABLE: Final = frozenset({L.ACCEPTED, L.LIVE, L.INVALID, L.DEAD_LETTERED})
ON_ITS_WAY: Final = frozenset({L.READY, L.SUBMITTED})


def _open_drift(session: Session, request: DriftRequest) -> dict[str, list[ListingDrift]]:
    by_sku: dict[str, list[ListingDrift]] = defaultdict(list)
    skus = request["skus"]
    for start in range(0, len(skus), 5000):
        statement = select(ListingDrift).where(
            ListingDrift.seller_id == request["seller_id"],
            ListingDrift.marketplace_id == request["marketplace_id"],
            ListingDrift.state == DriftState.OPEN,
            ListingDrift.sku.in_(skus[start : start + 5000]),
        )
        if request["kinds"]:
            statement = statement.where(ListingDrift.kind.in_(request["kinds"]))
        for row in session.scalars(statement.order_by(ListingDrift.id)):
            by_sku[row.sku].append(row)
    return by_sku


def _settle(
    rows: Iterable[ListingDrift], state: DriftState, actor: str, run_id: str, note: str | None
) -> None:
    now = datetime.now(UTC)
    for row in rows:
        row.state = state
        row.resolved_at, row.resolved_by, row.resolved_run_id, row.note = now, actor, run_id, note


def _result(
    sku: str, rows: Sequence[ListingDrift], outcome: SkuOutcome, detail: str | None = None
) -> SkuResult:
    return {"sku": sku, "kinds": [r.kind for r in rows], "outcome": outcome, "detail": detail}


def _listing(session: Session, request: DriftRequest, sku: str) -> Listing | None:
    return session.scalar(
        select(Listing).where(
            Listing.seller_id == request["seller_id"],
            Listing.marketplace_id == request["marketplace_id"],
            Listing.sku == sku,
        )
    )


def _resubmit(
    session: Session,
    request: DriftRequest,
    sku: str,
    rows: list[ListingDrift],
    run_id: str,
    who: tuple[str | None, str | None],
) -> SkuResult:
    resendable = [r for r in rows if r.kind != "unknown_to_catalog"]
    if not resendable:
        return _result(
            sku, rows, "skipped", "Amazon's listing is not in the catalog: nothing of ours to send"
        )
    listing = _listing(session, request, sku)
    status = L(listing.status) if listing is not None else None
    if status in RESENDABLE:
        lifecycle.transition(
            session,
            request["seller_id"],
            request["marketplace_id"],
            sku,
            L.READY,
            "reconcile:resubmit",
            run_id,
            actor=who[0],
            dag_id=who[1],
        )
        detail = None
    elif status in ON_ITS_WAY:
        detail = f"already {status}: on its way to Amazon"
    else:
        return _result(sku, rows, "skipped", f"listing is {status or 'unknown'}: nothing of ours to send")
    return _result(sku, resendable, "resubmitted", detail)


def _currency(session: Session, request: DriftRequest, sku: str) -> str | None:
    """The offer's currency, or the marketplace's for a SKU the offers table never held."""
    current = session.scalar(
        select(Offer.currency).where(
            Offer.seller_id == request["seller_id"],
            Offer.marketplace_id == request["marketplace_id"],
            Offer.sku == sku,
        )
    )
    if current is not None:
        return current
    return session.scalar(
        select(Marketplace.default_currency).where(Marketplace.marketplace_id == request["marketplace_id"])
    )


def _accept(
    session: Session,
    request: DriftRequest,
    sku: str,
    rows: list[ListingDrift],
    run_id: str,
    who: tuple[str | None, str | None],
) -> SkuResult:
    offer: OfferWrite = {}
    stock: StockWrite = {}
    status_change: dict[str, dict[str, object]] = {}
    for row in rows:
        if row.kind == "price" and row.amazon is not None:
            currency = _currency(session, request, sku)
            if currency is None:
                return _result(sku, rows, "skipped", "no currency known for the marketplace's offer")
            offer = {"currency": currency, "our_price": row.amazon}
        elif row.kind == "quantity" and row.amazon is not None:
            stock = {"quantity": int(row.amazon)}
        elif row.kind in ("price", "quantity"):
            return _result(sku, rows, "skipped", f"Amazon shows no {row.kind}: nothing to take")
    listing = _listing(session, request, sku)
    if any(r.kind == "inactive" for r in rows) and listing is not None:
        status_change["buyable"] = {"old": listing.buyable, "new": False}
        listing.buyable = False
    wrote: Written = {"offer": offer or None, "stock": stock or None}
    changes: dict[str, object] = dict(status_change)
    if wrote["offer"] is not None or wrote["stock"] is not None:
        changes.update(write_offer(session, request["seller_id"], request["marketplace_id"], sku, wrote))
    if listing is not None and changes:
        session.add(
            ListingEvent(
                listing_id=listing.id,
                from_status=listing.status,
                to_status=listing.status,
                at=datetime.now(UTC),
                cause="reconcile:accept_amazon",
                run_id=run_id,
                actor=who[0],
                dag_id=who[1],
                changes=changes,
            )
        )
    return _result(sku, rows, "accepted")


def resolve(
    session: Session,
    request: DriftRequest,
    run_id: str,
    *,
    user: str | None = None,
    dag_id: str | None = None,
) -> DriftResolution:
    """Apply the request's action to the open drift of its SKUs (see the module docstring)."""
    actor = user or f"{ACTOR_PREFIX}:{run_id}"
    who = (user, dag_id)
    found = _open_drift(session, request)
    results: list[SkuResult] = []
    for sku in request["skus"]:
        rows = found.get(sku, [])
        if not rows:
            results.append(_result(sku, rows, "skipped", "no open drift"))
            continue
        if request["action"] == "resubmit":
            result = _resubmit(session, request, sku, rows, run_id, who)
            state = DriftState.RESUBMITTED
        else:
            result = _accept(session, request, sku, rows, run_id, who)
            state = DriftState.ACCEPTED_AMAZON
        if result["outcome"] != "skipped":
            _settle([r for r in rows if r.kind in result["kinds"]], state, actor, run_id, request["note"])
        results.append(result)
    session.flush()
    resubmitted = sorted(r["sku"] for r in results if r["outcome"] == "resubmitted")
    syncs: list[FeedSyncConf] = (
        [
            {
                "sellers": [request["seller_id"]],
                NARROW_PARAM: resubmitted,
                "config_path": request["config_path"],
            }
        ]
        if resubmitted
        else []
    )
    return {
        "seller_id": request["seller_id"],
        "marketplace_id": request["marketplace_id"],
        "action": request["action"],
        "results": results,
        "resubmitted": len(resubmitted),
        "accepted": sum(1 for r in results if r["outcome"] == "accepted"),
        "skipped": sum(1 for r in results if r["outcome"] == "skipped"),
        "feed_syncs": syncs,
    }


def resolve_step(params: Mapping[str, object], run_id: str) -> DriftResolution:
    """The DAG task: check the form against the config, then resolve in one transaction."""
    from listings_pipeline import triggered_by
    from listings_pipeline.config import load_config
    from listings_pipeline.forms.drift import check_form
    from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url

    config_path = params.get("config_path")
    config = load_config(config_path if isinstance(config_path, str) and config_path else None)
    request = check_form(params, config)
    who = triggered_by.current()
    engine: Engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            result = resolve(session, request, run_id, user=who.user, dag_id=who.dag_id)
    finally:
        engine.dispose()
    log.info(
        "%s/%s %s: %d resubmitted, %d accepted, %d skipped",
        result["seller_id"],
        result["marketplace_id"],
        result["action"],
        result["resubmitted"],
        result["accepted"],
        result["skipped"],
    )
    return result
