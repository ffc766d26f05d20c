"""FBA Inventory API v1: ``getInventorySummaries``, and the stock Amazon holds for each seller.

FBA stock is Amazon's: the seller ships units to a fulfillment center and Amazon counts them, so
nothing a seller sends through the Listings or Feeds APIs changes it here. It is seeded from the
``fba_inventory`` section of the sellers file (demo data, added only where a SKU has none yet, so
a kept sandbox keeps what a test or an operator changed) and set through
``POST /_sandbox/fba/{sellerId}/{marketplaceId}`` (:mod:`sandbox.admin` lists it).

Faithful to ``models/fba-inventory-api-model/fbaInventory.json``: ``granularityType=Marketplace``
with the marketplace as ``granularityId`` and as the one ``marketplaceIds`` value; ``details=true``
adds ``inventoryDetails``; ``startDateTime`` (at most 18 months back) returns only the summaries
that changed after it and ignores ``sellerSkus`` / ``sellerSku``, and, as the model warns, does not
see changes to the three inbound quantities; ``sellerSkus`` takes up to 50 SKUs; pages of
:data:`PAGE_SIZE` summaries carry ``pagination.nextToken``, which expires 30 seconds after it was
issued and is good only with the filter it was issued for.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request
from starlette.responses import Response

from .core import ApiError, Call, GateRefused, Sandbox, gate, json_response
from .listings import asin_for, csv_param, iso
from .published import FBA_INVENTORY_PAGE_SIZE, FBA_INVENTORY_SELLER_SKUS, region_of
from .store import Store

router = APIRouter()

PATH = "/fba/inventory/v1/summaries"
PAGE_SIZE = FBA_INVENTORY_PAGE_SIZE
TOKEN_LIFETIME = 30.0  # the model: "The string token will expire 30 seconds after being created."
LOOKBACK = timedelta(days=548)  # startDateTime "no earlier than 18 months prior"

INBOUND = ("inboundWorkingQuantity", "inboundShippedQuantity", "inboundReceivingQuantity")
RESERVED = ("pendingCustomerOrderQuantity", "pendingTransshipmentQuantity", "fcProcessingQuantity")
UNFULFILLABLE = (
    "customerDamagedQuantity",
    "warehouseDamagedQuantity",
    "distributorDamagedQuantity",
    "carrierDamagedQuantity",
    "defectiveQuantity",
    "expiredQuantity",
)
RESEARCHING = (
    "researchingQuantityInShortTerm",
    "researchingQuantityInMidTerm",
    "researchingQuantityInLongTerm",
)
#: every quantity a seeded item may set, in Amazon's names (the totals are summed, never set)
QUANTITIES = ("fulfillableQuantity", *INBOUND, *RESERVED, *UNFULFILLABLE, *RESEARCHING)
TEXT_FIELDS = ("asin", "fnSku", "condition", "productName")


# -- state -------------------------------------------------------------------------------------


def fn_sku(seller_id: str, sku: str) -> str:
    """Amazon's fulfillment-network SKU: ``X00`` and seven characters, stable per seller and SKU."""
    digest = hashlib.sha256(f"fnsku\0{seller_id}\0{sku}".encode()).hexdigest().upper()
    return "X00" + digest[:7]


def _stored(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "quantities": json.loads(row["quantities"])}


def items(store: Store, seller_id: str, marketplace_id: str) -> list[dict[str, Any]]:
    rows = store.all(
        "SELECT * FROM fba_inventory WHERE seller_id=? AND marketplace_id=? ORDER BY sku",
        (seller_id, marketplace_id),
    )
    return [_stored(r) for r in rows]


def _quantities(item: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in QUANTITIES:
        if name in item:
            value = item[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of units (0 or more), got {value!r}")
            out[name] = value
    unknown = sorted(set(item) - {*QUANTITIES, *TEXT_FIELDS, "sellerSku", "lastUpdatedTime"})
    if unknown:
        raise ValueError(
            f"unknown field(s) {unknown}; quantities are named as Amazon names them: {QUANTITIES}"
        )
    return out


def _timestamp(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"lastUpdatedTime must be an ISO 8601 string, got {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"lastUpdatedTime needs a time zone: {value!r}")
    return parsed.timestamp()


def upsert(
    store: Store,
    seller_id: str,
    marketplace_id: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    only_new: bool = False,
) -> int:
    """Set the quantities given for each SKU (the others keep theirs); returns the rows written.

    ``lastUpdatedTime`` becomes the time of the write, or the one an entry gives. A write that
    changes only inbound quantities moves ``lastUpdatedTime`` but not the time ``startDateTime``
    compares, since Amazon does not detect those changes. ``only_new`` leaves existing SKUs alone
    (seeding).
    """
    written = 0
    with store.transaction() as db:
        for entry in entries:
            sku = entry.get("sellerSku")
            if not isinstance(sku, str) or not sku:
                raise ValueError("each item needs a sellerSku")
            given = _quantities(entry)
            at = _timestamp(entry.get("lastUpdatedTime")) or time.time()
            row = db.execute(
                "SELECT * FROM fba_inventory WHERE seller_id=? AND marketplace_id=? AND sku=?",
                (seller_id, marketplace_id, sku),
            ).fetchone()
            if row is not None and only_new:
                continue
            old = json.loads(row["quantities"]) if row is not None else {}
            new = {name: 0 for name in QUANTITIES} | old | given
            detected = any(new[n] != old.get(n, 0) for n in QUANTITIES if n not in INBOUND)
            texts = {name: entry.get(name) for name in TEXT_FIELDS}
            db.execute(
                "INSERT INTO fba_inventory(seller_id, marketplace_id, sku, asin, fn_sku, condition, "
                "product_name, quantities, updated, changed) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(seller_id, marketplace_id, sku) DO UPDATE SET "
                "asin=COALESCE(excluded.asin, asin), fn_sku=COALESCE(excluded.fn_sku, fn_sku), "
                "condition=COALESCE(excluded.condition, condition), "
                "product_name=COALESCE(excluded.product_name, product_name), "
                "quantities=excluded.quantities, updated=excluded.updated, changed=excluded.changed",
                (
                    seller_id,
                    marketplace_id,
                    sku,
                    texts["asin"],
                    texts["fnSku"],
                    texts["condition"],
                    texts["productName"],
                    json.dumps(new),
                    at,
                    at if detected or row is None else row["changed"],
                ),
            )
            written += 1
    return written


def load_seed(store: Store, data: Mapping[str, Any]) -> int:
    """The sellers file's ``fba_inventory``: ``[{seller_id, marketplace_id, items: [...]}]``, each
    SKU added only when the sandbox has no stock for it yet."""
    written = 0
    for block in data.get("fba_inventory") or []:
        seller_id, marketplace_id = block.get("seller_id"), block.get("marketplace_id")
        if not seller_id or not marketplace_id:
            raise ValueError("each fba_inventory entry needs seller_id and marketplace_id")
        written += upsert(store, seller_id, marketplace_id, block.get("items") or [], only_new=True)
    return written


def load_seed_file(store: Store, path: str | Path) -> int:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return load_seed(store, data)


# -- rendering ---------------------------------------------------------------------------------


def _total(q: Mapping[str, int], names: Sequence[str]) -> int:
    return sum(q.get(n, 0) for n in names)


def details(q: Mapping[str, int]) -> dict[str, Any]:
    """``InventoryDetails`` with each breakdown's total summed from its parts."""
    return {
        "fulfillableQuantity": q.get("fulfillableQuantity", 0),
        **{name: q.get(name, 0) for name in INBOUND},
        "reservedQuantity": {
            "totalReservedQuantity": _total(q, RESERVED),
            **{name: q.get(name, 0) for name in RESERVED},
        },
        "researchingQuantity": {
            "totalResearchingQuantity": _total(q, RESEARCHING),
            "researchingQuantityBreakdown": [{"name": n, "quantity": q.get(n, 0)} for n in RESEARCHING],
        },
        "unfulfillableQuantity": {
            "totalUnfulfillableQuantity": _total(q, UNFULFILLABLE),
            **{name: q.get(name, 0) for name in UNFULFILLABLE},
        },
    }


def summary(row: Mapping[str, Any], with_details: bool) -> dict[str, Any]:
    """``InventorySummary``. ``totalQuantity`` counts every unit inbound or in a fulfillment center."""
    q = row["quantities"]
    out: dict[str, Any] = {
        "asin": row["asin"] or asin_for(row["seller_id"], row["sku"]),
        "fnSku": row["fn_sku"] or fn_sku(row["seller_id"], row["sku"]),
        "sellerSku": row["sku"],
        "condition": row["condition"] or "NewItem",
        "lastUpdatedTime": iso(row["updated"]),
        "productName": row["product_name"] or row["sku"],
        "totalQuantity": sum(q.get(n, 0) for n in QUANTITIES),
        "stores": [],
    }
    if with_details:
        out["inventoryDetails"] = details(q)
    return out


# -- the operation ------------------------------------------------------------------------------


def _encode_token(offset: int, query: str) -> str:
    raw = json.dumps({"o": offset, "q": query, "t": time.time()})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: str, query: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset, issued_for, issued = int(data["o"]), str(data["q"]), float(data["t"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ApiError.invalid(
            "Invalid nextToken.", "nextToken is not a token this operation issued."
        ) from None
    if time.time() - issued > TOKEN_LIFETIME:
        raise ApiError.invalid(
            "The nextToken has expired.", "A nextToken expires 30 seconds after it is created."
        )
    if issued_for != query:
        raise ApiError.invalid(
            "The nextToken does not match the request.",
            "Send the parameters of the first request (startDateTime included) with the nextToken.",
        )
    return offset


def _start(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError.invalid(
            "Invalid startDateTime.", "startDateTime must be an ISO 8601 date-time."
        ) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if start < now - LOOKBACK:
        raise ApiError.invalid(
            "Invalid startDateTime.", "startDateTime may be no earlier than 18 months before the call."
        )
    return start


def inventory_summaries(sandbox: Sandbox, call: Call, request: Request) -> dict[str, Any]:
    params = request.query_params
    granularity_type = params.get("granularityType")
    if granularity_type is None:
        raise ApiError.invalid("Missing required parameter: granularityType.")
    if granularity_type != "Marketplace":
        raise ApiError.invalid("Invalid granularityType.", "The only granularityType is Marketplace.")
    granularity_id = params.get("granularityId")
    if not granularity_id:
        raise ApiError.invalid("Missing required parameter: granularityId.")
    marketplaces = csv_param(request, "marketplaceIds")
    if not marketplaces:
        raise ApiError.invalid("Missing required parameter: marketplaceIds.")
    if len(marketplaces) > 1:
        raise ApiError.invalid("Invalid input: marketplaceIds accepts at most 1 value.")
    marketplace_id = marketplaces[0]
    if granularity_id != marketplace_id:
        raise ApiError.invalid(
            "Invalid granularityId.", "With granularityType Marketplace, granularityId is the marketplaceId."
        )
    seller = sandbox.store.seller(call.seller_id or "")
    if (
        seller is None
        or marketplace_id not in seller["marketplaces"]
        or region_of(marketplace_id) != call.region
    ):
        raise ApiError.invalid(
            f"Invalid marketplaceId {marketplace_id}.",
            "The seller does not sell in this marketplace, or the marketplace belongs to another region.",
        )
    with_details = params.get("details", "false").lower() == "true"
    start = _start(params.get("startDateTime"), datetime.now(UTC))
    skus = csv_param(request, "sellerSkus")
    if len(skus) > FBA_INVENTORY_SELLER_SKUS:
        raise ApiError.invalid("Invalid input: sellerSkus accepts at most 50 values.")
    single = params.get("sellerSku")

    rows = items(sandbox.store, seller["seller_id"], marketplace_id)
    if start is not None:  # sellerSkus and sellerSku are ignored
        rows = [r for r in rows if r["changed"] > start.timestamp()]
        wanted = f"start={params.get('startDateTime')}"
    elif skus:
        rows = [r for r in rows if r["sku"] in set(skus)]
        wanted = "skus=" + ",".join(sorted(set(skus)))
    elif single:
        rows = [r for r in rows if r["sku"] == single]
        wanted = f"sku={single}"
    else:
        wanted = "all"
    query = f"{marketplace_id}|{with_details}|{wanted}"
    token = params.get("nextToken")
    offset = _decode_token(token, query) if token else 0
    page = rows[offset : offset + PAGE_SIZE]
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": marketplace_id},
            "inventorySummaries": [summary(r, with_details) for r in page],
        }
    }
    if offset + PAGE_SIZE < len(rows):
        body["pagination"] = {"nextToken": _encode_token(offset + PAGE_SIZE, query)}
    return body


@router.get(PATH)
async def get_inventory_summaries(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        call = await gate(sandbox, request, "getInventorySummaries")
    except GateRefused as refused:
        return refused.response
    try:
        return call.respond(200, inventory_summaries(sandbox, call, request))
    except ApiError as error:
        return call.error(error)


# -- admin (no auth; local use only, like sandbox.admin) ------------------------------------------

ADMIN_PATH = "/_sandbox/fba/{seller_id}/{marketplace_id}"


def _admin_error(message: str) -> Response:
    return json_response(400, {"errors": [{"code": "InvalidInput", "message": message, "details": ""}]})


def _shown(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sellerSku": row["sku"],
        **row["quantities"],
        "lastUpdatedTime": iso(row["updated"]),
        "changeDetectedTime": iso(row["changed"]),
    }


@router.get(ADMIN_PATH)
async def show_stock(request: Request, seller_id: str, marketplace_id: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    return json_response(200, {"items": [_shown(r) for r in items(sandbox.store, seller_id, marketplace_id)]})


@router.post(ADMIN_PATH)
async def set_stock(request: Request, seller_id: str, marketplace_id: str) -> Response:
    """``{"items": [{"sellerSku": ..., "fulfillableQuantity": 5, ...}]}``: the quantities given change,
    the others stay; ``lastUpdatedTime`` may be given (ISO 8601) to place a change in the past."""
    sandbox: Sandbox = request.app.state.sandbox
    seller = sandbox.store.seller(seller_id)
    if seller is None or marketplace_id not in seller["marketplaces"]:
        return _admin_error(f"seller {seller_id} does not sell in {marketplace_id}")
    try:
        body = json.loads(await request.body())
        entries = body.get("items") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError('expected {"items": [{"sellerSku": ..., <quantity>: <units>}, ...]}')
        written = upsert(sandbox.store, seller_id, marketplace_id, entries)
    except (ValueError, TypeError) as exc:
        return _admin_error(str(exc))
    return json_response(200, {"written": written})


@router.delete(ADMIN_PATH)
async def clear_stock(request: Request, seller_id: str, marketplace_id: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    cursor = sandbox.store.execute(
        "DELETE FROM fba_inventory WHERE seller_id=? AND marketplace_id=?", (seller_id, marketplace_id)
    )
    return json_response(200, {"deleted": cursor.rowcount})
