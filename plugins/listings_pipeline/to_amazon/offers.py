"""Offers and inventory sync (issue 6): price and merchant stock from the catalog, changed ones only.

One function per DAG task of ``offers_inventory_sync``:

1. the catalog snapshot comes from :func:`listings_pipeline.catalog.steps.extract`;
2. :func:`plan` reads the snapshot's offer and inventory columns (:func:`desired_state`), compares
   them with the warehouse's ``offers`` / ``inventory`` rows (:func:`diff`) and keeps only the SKUs
   whose price or merchant stock changed, then :func:`listings_pipeline.routing.route` picks the path for the branch;
3. the per-SKU path: :func:`apply` sends the change batches through
   :func:`listings_pipeline.to_amazon.per_sku.apply_batch` (``patchListingsItem``), which records each
   accepted one in ``offers`` / ``inventory`` (:mod:`listings_pipeline.to_amazon.offer_state`) with
   the move that makes it real;
4. the bulk path: :func:`plan` has written one ``JSON_LISTINGS_FEED`` ``PATCH`` message per SKU to
   the branch's ``planned.jsonl``; :func:`listings_pipeline.to_amazon.bulk.build`, the ledger submit operator
   and :func:`listings_pipeline.to_amazon.bulk.parse` handle it like any feed, and :func:`record_feed` records
   the SKUs the processing report accepted.

Catalog columns: ``price`` and ``currency`` (the offer), optional ``sale_price``, ``sale_start``,
``sale_end``, ``minimum_price``, ``maximum_price``; ``quantity`` and optional ``handling_time``
(days); optional ``fulfillment_channel``: ``DEFAULT``/``MFN``/empty is merchant-fulfilled, any other
value (``AFN``, ``AMAZON_NA``...) is FBA. FBA stock belongs to Amazon: this sync neither sends an
FBA quantity nor records the catalog's, since ``fba_inventory_sync``
(:mod:`listings_pipeline.from_amazon.fba_stock`) reads Amazon's own figures into ``inventory``
under Amazon's channels, and the catalog's guess must not overwrite them. The price of an FBA
offer is still the seller's and is sent.

The writes keep fields they do not own: both patches use JSON Patch ``merge``, which Amazon's
guidance gives for partial offer updates. ``purchasable_offer`` entries are selected by
``marketplace_id`` + ``currency`` and only the sub-fields given are replaced, so an existing
``discounted_price`` (or ``map_price``) set elsewhere stays; ``fulfillment_availability`` entries
are selected by ``fulfillment_channel_code``, so an FBA entry stays beside the ``DEFAULT`` one. A
sale removed from the catalog is therefore not removed on Amazon (its ``end_at`` ends it).

What changed is judged against the catalog's state as this sync last sent it (``catalog_hash`` of
the ``offers`` / ``inventory`` row), not against the row's values: a hotfix writes the values too
(:mod:`~listings_pipeline.to_amazon.offer_state`), and must hold until the catalog itself changes
rather than be undone by the next hourly run. A row written before the hash existed is compared by
its values until this sync writes it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

from sqlalchemy import insert, select

from listings_pipeline import triggered_by
from listings_pipeline.branch import Branch
from listings_pipeline.changes import (
    Change,
    ChangeBatch,
    OfferBatchResult,
    OfferState,
    Recordable,
    SkuState,
    StockState,
)
from listings_pipeline.config import load_config
from listings_pipeline.json_types import JsonObject
from listings_pipeline.routing import route
from listings_pipeline.run_files import BranchPaths, payload_hash, read_jsonl, write_jsonl
from listings_pipeline.run_totals import OffersSummary
from listings_pipeline.summaries import store_summaries, tally
from listings_pipeline.to_amazon import offer_state
from listings_pipeline.to_amazon.feed_outcomes import FeedRecorded, OffersFeedResult
from listings_pipeline.to_amazon.offer_patches import (
    MERCHANT_CHANNEL,
    PatchOp,
    Written,
    offer_patch,
    stock_patch,
    written,
)
from listings_pipeline.to_amazon.offer_state import state_hash
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
from listings_pipeline.warehouse.models import (
    Inventory,
    Listing,
    ListingStatus,
    MessageResult,
    Offer,
    Quarantine,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: A catalog row: the seller's own columns, read by name (free-form to us until read).
CatalogRow = Mapping[str, Any]

MERCHANT_CHANNELS = frozenset({"", "DEFAULT", "MFN"})
BATCH_SIZE = 20


class Unsendable(TypedDict):
    """A catalog row whose offer cannot be read or sent, as the ``quarantine`` table takes it."""

    sku: str | None
    product_type: str | None
    column_name: str | None
    value: str | None
    reason: str
    source_file: str | None
    source_line: int | None


class StoredOffer(TypedDict):
    """An ``offers`` row as the diff compares it."""

    currency: str
    our_price: Decimal | None
    sale_price: Decimal | None
    sale_start_at: datetime | None
    sale_end_at: datetime | None
    min_price: Decimal | None
    max_price: Decimal | None
    catalog_hash: str | None


class StoredStock(TypedDict):
    """An ``inventory`` row as the diff compares it."""

    quantity: int | None
    handling_time: int | None
    catalog_hash: str | None


class PatchMessage(TypedDict):
    """One SKU's ``JSON_LISTINGS_FEED`` ``PATCH`` message, as ``planned.jsonl`` holds it."""

    sku: str
    operationType: Literal["PATCH"]
    productType: str | None
    patches: list[PatchOp]


# --- desired state from the catalog -------------------------------------------------------------------


class OfferRowError(ValueError):
    """A catalog row whose offer or stock cannot be read: names the column, the value and why."""

    def __init__(self, column: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.value = None if value is None else str(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas/pyarrow
        return ""
    return str(value).strip()


def _money(value: Any, column: str) -> str | None:
    text = _text(value)
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise OfferRowError(column, text, f"{column} {text!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise OfferRowError(column, text, f"{column} {text!r} must be above 0")
    return str(amount.quantize(Decimal("0.01")))


def _int(value: Any, column: str) -> int | None:
    text = _text(value)
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise OfferRowError(column, text, f"{column} {text!r} is not a whole number") from None
    if number != number.to_integral_value() or number < 0:
        raise OfferRowError(column, text, f"{column} {text!r} is not a whole number of 0 or more")
    return int(number)


def _day(value: Any, column: str) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise OfferRowError(column, text, f"{column} {text!r} is not a date (YYYY-MM-DD)") from None


def channel_of(row: CatalogRow) -> str:
    """The row's fulfillment channel code: ``DEFAULT`` for merchant-fulfilled, else as given (FBA)."""
    channel = _text(row.get("fulfillment_channel")).upper()
    return MERCHANT_CHANNEL if channel in MERCHANT_CHANNELS else channel


def row_state(row: CatalogRow) -> SkuState:
    """One catalog row's offer and inventory (JSON-able: money as strings, dates as ``YYYY-MM-DD``).

    :raises OfferRowError: a value cannot be read (the caller quarantines the row, naming the column).
    """
    offer: OfferState | None = None
    price = _money(row.get("price"), "price")
    currency = _text(row.get("currency")).upper()
    if price is not None and currency:
        offer = {
            "currency": currency,
            "our_price": price,
            "sale_price": _money(row.get("sale_price"), "sale_price"),
            "sale_start_at": _day(row.get("sale_start"), "sale_start"),
            "sale_end_at": _day(row.get("sale_end"), "sale_end"),
            "min_price": _money(row.get("minimum_price"), "minimum_price"),
            "max_price": _money(row.get("maximum_price"), "maximum_price"),
        }
        sale = (offer["sale_price"], offer["sale_start_at"], offer["sale_end_at"])
        if any(sale) and not all(sale):
            missing = [
                c for c, v in zip(("sale_price", "sale_start", "sale_end"), sale, strict=True) if not v
            ]
            raise OfferRowError(missing[0], None, "a sale needs all of sale_price, sale_start and sale_end")
        amount = Decimal(price)
        if offer["sale_price"] and Decimal(offer["sale_price"]) >= amount:
            raise OfferRowError(
                "sale_price",
                offer["sale_price"],
                f"sale_price {offer['sale_price']} must be below price {price}",
            )
        if offer["sale_start_at"] and offer["sale_end_at"] and offer["sale_end_at"] < offer["sale_start_at"]:
            raise OfferRowError(
                "sale_end",
                offer["sale_end_at"],
                f"sale_end {offer['sale_end_at']} is before sale_start {offer['sale_start_at']}",
            )
        if offer["min_price"] and Decimal(offer["min_price"]) > amount:
            raise OfferRowError(
                "minimum_price",
                offer["min_price"],
                f"minimum_price {offer['min_price']} is above price {price}",
            )
        if offer["max_price"] and Decimal(offer["max_price"]) < amount:
            raise OfferRowError(
                "maximum_price",
                offer["max_price"],
                f"maximum_price {offer['max_price']} is below price {price}",
            )
    inventory: StockState | None = None
    quantity = _int(row.get("quantity"), "quantity")
    if quantity is not None:
        inventory = {
            "fulfillment_channel_code": channel_of(row),
            "quantity": quantity,
            "handling_time": _int(row.get("handling_time"), "handling_time"),
        }
    return {
        "sku": _text(row.get("sku")),
        "product_type": _text(row.get("product_type")).upper() or None,
        "offer": offer,
        "inventory": inventory,
    }


def desired_state(rows: Iterable[CatalogRow]) -> tuple[list[SkuState], list[Unsendable]]:
    """Every row's state, and one quarantine record per row that cannot be sent: its SKU, product type,
    column, value, reason and place in the seller's file, as the ``quarantine`` table takes them.

    A row without SKU and every row of a SKU that appears more than once are quarantined too: which
    of two prices the seller meant is not ours to guess, and a silently dropped row is a price that
    never changes.
    """
    states: dict[str, SkuState] = {}
    skipped: list[Unsendable] = []
    rows_of: dict[str, list[CatalogRow]] = {}
    for row in rows:
        sku = _text(row.get("sku"))
        if not sku:
            skipped.append(_skip(row, "sku", None, "the row has no SKU"))
            continue
        rows_of.setdefault(sku, []).append(row)
    for sku, same in rows_of.items():
        if len(same) > 1:
            lines = ", ".join(str(r.get("_source_row", "?")) for r in same)
            for row in same:
                skipped.append(
                    _skip(row, "sku", sku, f"SKU {sku!r} appears {len(same)} times (lines {lines})")
                )
            continue
        try:
            states[sku] = row_state(same[0])
        except OfferRowError as err:
            skipped.append(_skip(same[0], err.column, err.value, str(err)))
    return list(states.values()), skipped


def _skip(row: CatalogRow, column: str | None, value: str | None, reason: str) -> Unsendable:
    sku = _text(row.get("sku")) or None
    line = row.get("_source_row")
    where = f"line {line}, " if line is not None else ""
    return {
        "sku": sku,
        "product_type": _text(row.get("product_type")).upper() or None,
        "column_name": column,
        "value": value,
        "reason": f"{where}{reason}",
        "source_file": row.get("_source_file"),
        "source_line": line,
    }


# --- diff --------------------------------------------------------------------------------------------------


def _same_money(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return Decimal(str(a)) == Decimal(str(b))


def _stored_day(value: Any) -> str | None:
    return value.date().isoformat() if isinstance(value, datetime) else (str(value)[:10] if value else None)


def offer_changed(wanted: OfferState, stored: StoredOffer | None) -> bool:
    if stored is None:
        return True
    if stored.get("catalog_hash"):
        return state_hash(wanted) != stored.get("catalog_hash")
    if wanted["currency"] != stored.get("currency"):
        return True
    for money in ("our_price", "sale_price", "min_price", "max_price"):
        if not _same_money(wanted.get(money), stored.get(money)):
            return True
    return any(wanted.get(day) != _stored_day(stored.get(day)) for day in ("sale_start_at", "sale_end_at"))


def inventory_changed(wanted: StockState, stored: StoredStock | None) -> bool:
    if stored is None:
        return True
    if stored.get("catalog_hash"):
        return state_hash(wanted) != stored.get("catalog_hash")
    return bool(
        wanted["quantity"] != stored.get("quantity")
        or wanted.get("handling_time") != stored.get("handling_time")
    )


def diff(
    states: Sequence[SkuState],
    offers: Mapping[str, StoredOffer],
    inventory: Mapping[tuple[str, str], StoredStock],
) -> tuple[list[SkuState], list[str]]:
    """The SKUs whose offer or merchant stock differs from the warehouse, and the FBA SKUs.

    :param offers: stored ``offers`` rows by SKU (as dicts).
    :param inventory: stored ``inventory`` rows by (SKU, channel code).
    :return: ``(changed, fba)``: per changed SKU ``{"sku", "product_type", "offer", "inventory"}``
        holding only the changed parts (``None`` for an unchanged part); ``fba``: the SKUs whose
        catalog stock is FBA, neither sent nor recorded (it is Amazon's: fba_inventory_sync reads it).
    """
    changed: list[SkuState] = []
    fba: list[str] = []
    for state in states:
        sku = state["sku"]
        offer = state.get("offer")
        stock = state.get("inventory")
        if stock is not None and stock["fulfillment_channel_code"] != MERCHANT_CHANNEL:
            fba.append(sku)
            stock = None  # FBA quantities are Amazon's: never sent, never taken from the catalog
        new_offer = offer if offer is not None and offer_changed(offer, offers.get(sku)) else None
        new_stock = (
            stock
            if stock is not None and inventory_changed(stock, inventory.get((sku, MERCHANT_CHANNEL)))
            else None
        )
        if new_offer is None and new_stock is None:
            continue
        changed.append(
            {
                "sku": sku,
                "product_type": state.get("product_type"),
                "offer": new_offer,
                "inventory": new_stock,
            }
        )
    return changed, fba


# --- patches and messages -----------------------------------------------------------------------------


def patches_for(change: SkuState, marketplace_id: str) -> list[PatchOp]:
    """``merge`` patches of the fields this sync owns, so a discount or an FBA entry set elsewhere stays."""
    patches = []
    offer = change.get("offer")
    if offer is not None:
        sale_price, start, end = offer.get("sale_price"), offer.get("sale_start_at"), offer.get("sale_end_at")
        # row_state lets no half a sale through
        sale = (sale_price, start, end) if sale_price and start and end else None
        patches.append(
            offer_patch(
                marketplace_id,
                offer["currency"],
                offer["our_price"],
                sale=sale,
                minimum=offer.get("min_price") or None,
                maximum=offer.get("max_price") or None,
            )
        )
    stock = change.get("inventory")
    if stock is not None:
        patches.append(stock_patch(stock["quantity"], stock.get("handling_time")))
    return patches


def api_changes(changed: Sequence[SkuState], seller_id: str, marketplace_id: str) -> list[Change]:
    """Changes in the shape :func:`listings_pipeline.to_amazon.per_sku.apply_batch` sends (``patchListingsItem``)."""
    return [
        {
            "seller_id": seller_id,
            "marketplace_id": marketplace_id,
            "sku": c["sku"],
            "action": "offer",
            "preview": False,
            "product_type": c["product_type"],
            "operation": "patchListingsItem",
            "body": {"productType": c["product_type"], "patches": patches_for(c, marketplace_id)},
            "payload": None,
            "offer": c.get("offer"),
            "inventory": c.get("inventory"),
        }
        for c in changed
    ]


def feed_messages(changed: Sequence[SkuState], marketplace_id: str) -> list[PatchMessage]:
    """One ``PATCH`` message per SKU, as ``planned.jsonl`` holds them (``bulk.build`` numbers them)."""
    return [
        {
            "sku": c["sku"],
            "operationType": "PATCH",
            "productType": c["product_type"],
            "patches": patches_for(c, marketplace_id),
        }
        for c in changed
    ]


# --- warehouse ---------------------------------------------------------------------------------------------


def _stored(
    engine: Engine, seller_id: str, marketplace_id: str
) -> tuple[dict[str, StoredOffer], dict[tuple[str, str], StoredStock]]:
    with session_scope(engine) as session:
        offers: dict[str, StoredOffer] = {
            o.sku: {
                "currency": o.currency,
                "our_price": o.our_price,
                "sale_price": o.sale_price,
                "sale_start_at": o.sale_start_at,
                "sale_end_at": o.sale_end_at,
                "min_price": o.min_price,
                "max_price": o.max_price,
                "catalog_hash": o.catalog_hash,
            }
            for o in session.scalars(
                select(Offer).where(Offer.seller_id == seller_id, Offer.marketplace_id == marketplace_id)
            )
        }
        stock: dict[tuple[str, str], StoredStock] = {
            (i.sku, i.fulfillment_channel_code): {
                "quantity": i.quantity,
                "handling_time": i.handling_time,
                "catalog_hash": i.catalog_hash,
            }
            for i in session.scalars(
                select(Inventory).where(
                    Inventory.seller_id == seller_id, Inventory.marketplace_id == marketplace_id
                )
            )
        }
    return offers, stock


def _written(change: Recordable, marketplace_id: str) -> Written:
    """What this sync wrote for a change: what its own patches set."""
    offer, stock = change.get("offer"), change.get("inventory")
    wrote = written(
        patches_for(
            {"sku": change["sku"], "product_type": None, "offer": offer, "inventory": None}, marketplace_id
        ),
        marketplace_id,
    )
    if stock is not None:  # merchant stock, as the change sent it (FBA stock never gets here)
        wrote["stock"] = {"quantity": stock["quantity"], "handling_time": stock.get("handling_time")}
    return wrote


def record(engine: Engine, seller_id: str, marketplace_id: str, changes: Iterable[Recordable]) -> int:
    """Record the changes Amazon accepted by feed in ``offers`` / ``inventory``,
    with the catalog's state they came from (see :mod:`~listings_pipeline.to_amazon.offer_state`)."""
    from listings_pipeline.warehouse.records import ensure_seller

    count = 0
    with session_scope(engine) as session:
        ensure_seller(session, seller_id)
        for change in changes:
            offer_state.write(
                session,
                seller_id,
                marketplace_id,
                change["sku"],
                _written(change, marketplace_id),
                catalog_offer=change.get("offer"),
                catalog_stock=change.get("inventory"),
            )
            count += 1
    return count


# --- DAG steps ----------------------------------------------------------------------------------------------


def _changes_file(paths: BranchPaths) -> Path:
    return paths.root / "offer_changes.jsonl"


def plan(branch: Branch, batch_size: int = BATCH_SIZE) -> Branch:
    """Diff the snapshot with the warehouse; route the branch; write the feed's ``planned.jsonl``.

    :return: the branch with ``route``, counts, and ``batches`` (per-SKU route: each a dict for
        :func:`apply`) or ``planned`` (feed route: the message count ``bulk.build`` reads).
    """
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from listings_pipeline.to_amazon.per_sku import batches

    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    rows: list[JsonObject] = pq.read_table(branch["snapshot"]["path"]).to_pylist()
    states, skipped = desired_state(rows)
    for problem in skipped:
        log.warning("%s/%s skipped: %s", marketplace_id, problem["sku"], problem["reason"])
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        offers, stock = _stored(engine, seller_id, marketplace_id)
        changed, fba = diff(states, offers, stock)
        # a patch names its product type; without one the change cannot be sent
        by_sku = {r.get("sku"): r for r in rows}
        no_type = [c for c in changed if not c["product_type"]]
        skipped += [
            _skip(
                by_sku.get(c["sku"]) or {"sku": c["sku"]}, "product_type", None, "the row has no product_type"
            )
            for c in no_type
        ]
        changed = [c for c in changed if c["product_type"]]
        if skipped:
            _quarantine(engine, seller_id, marketplace_id, run_id, skipped)
        chosen = route(len(changed), config.per_sku_threshold)
        result: Branch = {
            **branch,
            "catalog_rows": len(rows),
            "extracted": branch.get("extracted", len(rows)),
            # the extract's rejected rows, then the rows whose offer cannot be read or sent
            "quarantined": branch.get("quarantined", 0) + len(skipped),
            "skipped": len(skipped),
            "unchanged": len(states) - len(changed) - len(no_type),
            "changed": len(changed),
            "fba_left_to_amazon": len(fba),
            "route": chosen,
            "batches": [],
            "planned": 0,
        }
        result.pop("snapshot", None)  # the snapshot's details stay with the extract; XCom stays small
        if not changed:
            return result
        if chosen == "listings_api":
            result["batches"] = [
                {
                    "spapi_conn_id": branch["spapi_conn_id"],
                    "config_path": branch.get("config_path"),
                    "changes": b,
                }
                for b in batches(api_changes(changed, seller_id, marketplace_id), batch_size)
            ]
            return result
        messages = feed_messages(changed, marketplace_id)
        write_jsonl(_changes_file(paths), changed)
        result["planned"] = write_jsonl(paths.planned, messages)
        _mark_ready(engine, seller_id, marketplace_id, run_id, messages)
        return result
    finally:
        engine.dispose()


def _quarantine(
    engine: Engine, seller_id: str, marketplace_id: str, run_id: str, skipped: list[Unsendable]
) -> None:
    """Rows whose offer or stock cannot be read go to ``quarantine`` (rule ``offers.<column>``), where
    the operator finds them with the catalog's other bad rows; the listing itself keeps its status,
    since its content may be fine. Rows name the DAG beside the run, as the catalog's do."""
    dag_id = triggered_by.current().dag_id
    with session_scope(engine) as session:
        session.execute(
            insert(Quarantine),
            [
                {
                    "seller_id": seller_id,
                    "marketplace_id": marketplace_id,
                    "sku": p["sku"],
                    "product_type": p["product_type"],
                    "column_name": p["column_name"],
                    "value": p["value"],
                    "rule": f"offers.{p['column_name']}",
                    "reason": p["reason"],
                    "source_file": p["source_file"],
                    "source_line": p["source_line"],
                    "run_id": run_id,
                    "dag_id": dag_id,
                }
                for p in skipped
            ],
        )


def _mark_ready(
    engine: Engine, seller_id: str, marketplace_id: str, run_id: str, messages: list[PatchMessage]
) -> None:
    """Feed route: each SKU to ``ready`` (``bulk.build`` moves it on), keeping the catalog payload."""
    L = ListingStatus
    with session_scope(engine) as session:
        from listings_pipeline.warehouse.records import ensure_seller

        ensure_seller(session, seller_id)
        current = {
            sku: status
            for sku, status in session.execute(
                select(Listing.sku, Listing.status).where(
                    Listing.seller_id == seller_id,
                    Listing.marketplace_id == marketplace_id,
                    Listing.sku.in_([m["sku"] for m in messages]),
                )
            )
        }
        rows = [
            {
                "seller_id": seller_id,
                "marketplace_id": marketplace_id,
                "sku": m["sku"],
                "product_type": m["productType"],
                "submitted_hash": payload_hash(m),
            }
            for m in messages
            if current.get(m["sku"]) not in (L.READY, L.SUBMITTED)
        ]
        if rows:
            lifecycle.transition_many(session, rows, cause="offers:plan", run_id=run_id, to_status=L.READY)


def apply(batch: ChangeBatch, run_id: str) -> OfferBatchResult:
    """Per-SKU route: one batch through ``per_sku.apply_batch``, which records each accepted change
    in ``offers`` / ``inventory`` in the transaction that moves its listing."""
    from listings_pipeline.to_amazon.per_sku import apply_batch

    changes = list(batch["changes"])
    result = apply_batch(
        changes, spapi_conn_id=batch["spapi_conn_id"], run_id=run_id, config_path=batch.get("config_path")
    )
    recorded = sum(1 for o in result["outcomes"] if o["status"] == "accepted")
    return {
        "changes": result["changes"],
        "accepted": result["accepted"],
        "valid": result["valid"],
        "invalid": result["invalid"],
        "failed": result["failed"],
        "dead_lettered": result["dead_lettered"],
        "issues": result["issues"],
        "outcomes": result["outcomes"],
        "recorded": recorded,
        "seller_id": changes[0]["seller_id"] if changes else None,
        "marketplace_id": changes[0]["marketplace_id"] if changes else None,
        "messages": len(changes),
    }


def record_feed(parsed: OffersFeedResult, run_id: str, config_path: str | None = None) -> FeedRecorded:
    """Feed route, after ``bulk.parse``: record the SKUs the processing report accepted."""
    config = load_config(config_path)
    seller_id, marketplace_id = parsed["seller_id"], parsed["marketplace_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            accepted = set(
                session.scalars(
                    select(MessageResult.sku).where(
                        MessageResult.feed_id == parsed["feed_id"],
                        MessageResult.status.in_(("accepted", "warning")),
                    )
                )
            )
        # plan wrote the file from SkuState records
        changes = [cast(SkuState, c) for c in read_jsonl(_changes_file(paths)) if c["sku"] in accepted]
        recorded = record(engine, seller_id, marketplace_id, changes) if changes else 0
    finally:
        engine.dispose()
    return {**parsed, "recorded": recorded}


def summarise(
    planned: Iterable[Branch],
    applied: Iterable[OfferBatchResult],
    fed: Iterable[FeedRecorded],
    *,
    run_id: str | None = None,
    dag_id: str = "offers_inventory_sync",
    started_at: datetime | None = None,
) -> OffersSummary:
    """Totals for the run's log and XCom; with ``run_id``, also one ``run_summaries`` row per branch.

    In ``run_summaries`` a branch's ``extracted`` is its catalog rows, ``quarantined`` the rows that
    could not be placed, read or sent, ``planned`` the changed offers and ``unchanged`` the rest, so
    ``extracted = quarantined + planned + unchanged``; ``submitted`` / ``accepted`` / ``invalid`` /
    ``dead_lettered`` count writes by either route (Listings Items API or feed).
    """
    planned, applied, fed = list(planned), list(applied or []), list(fed or [])
    totals: OffersSummary = {
        "branches": len(planned),
        "changed": sum(p.get("changed", 0) for p in planned),
        "fba_left_to_amazon": sum(p.get("fba_left_to_amazon", 0) for p in planned),
        "skipped": sum(p.get("skipped", 0) for p in planned),
        "routes": {
            f"{p['seller_id']}/{p['marketplace_id']}": p["route"] for p in planned if p.get("changed")
        },
        "api_accepted": sum(a.get("accepted", 0) for a in applied),
        "api_dead_lettered": sum(a.get("dead_lettered", 0) for a in applied),
        "feed_accepted": sum(f.get("accepted", 0) for f in fed),
        "feed_invalid": sum(f.get("invalid", 0) for f in fed),
        "recorded": sum(a.get("recorded", 0) for a in applied) + sum(f.get("recorded", 0) for f in fed),
    }
    if run_id is None or not planned:
        return totals
    rows = [
        (
            branch,
            {
                "extracted": branch.get("extracted", branch.get("catalog_rows", 0)),
                "quarantined": branch.get("quarantined", 0),
                "planned": branch.get("changed", 0),
                "unchanged": branch.get("unchanged", 0),
                **tally([*applied, *fed], branch["seller_id"], branch["marketplace_id"]),
            },
        )
        for branch in planned
    ]
    config = load_config(next((b.get("config_path") for b in planned), None))
    stored = store_summaries(config, run_id, dag_id, rows, started_at)
    return {**totals, "run_summaries": {k: v for k, v in stored.items() if k != "run_id"}}
