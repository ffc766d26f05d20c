"""The JSON Patch operations that set a listing's offer and merchant stock, for every path that does,
and what such a patch wrote, read back from it once Amazon accepted it (:func:`written`).

Amazon's schema nests a price as ``our_price[].schedule[].value_with_tax``; a sale is a
``discounted_price`` schedule with ``start_at``/``end_at``; the seller's bounds are
``minimum_seller_allowed_price`` / ``maximum_seller_allowed_price``. Stock is a
``fulfillment_availability`` entry selected by ``fulfillment_channel_code``: ``DEFAULT`` is the
merchant's own channel, and an FBA entry (Amazon's) is never written.

Every patch built here is a ``merge``: it keeps what is set elsewhere in the same entry, so neither
the offers sync nor an operator's hotfix wipes a discount, a minimum or maximum price set earlier, or
an FBA entry beside ours. (A ``replace`` sets the whole attribute: a hotfix of the price alone would
remove the sale.) A sale is ended by its ``end_at``, not by leaving it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypedDict

from listings_pipeline.json_types import JsonObject

OFFER = "/attributes/purchasable_offer"
STOCK = "/attributes/fulfillment_availability"


class PatchOp(TypedDict):
    """One JSON Patch operation as Amazon takes it; ``value`` holds attribute entries, which are
    Amazon's schema (free-form to us)."""

    op: Literal["merge"]
    path: str
    value: list[JsonObject]


#: The merchant-fulfilled channel in ``fulfillment_availability``.
MERCHANT_CHANNEL = "DEFAULT"


def money(value: Decimal | str) -> int | float:
    """An amount as a JSON number (an integer when whole), from text or a Decimal."""
    amount = Decimal(value)
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _schedule(value: Decimal | str) -> list[JsonObject]:
    return [{"schedule": [{"value_with_tax": money(value)}]}]


def _day(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else value


def offer_patch(
    marketplace_id: str,
    currency: str,
    our_price: Decimal | str,
    *,
    sale: tuple[Decimal | str, date | str, date | str] | None = None,
    minimum: Decimal | str | None = None,
    maximum: Decimal | str | None = None,
) -> PatchOp:
    """``purchasable_offer`` of one marketplace and currency; ``sale`` is (price, start, end)."""
    offer: JsonObject = {
        "marketplace_id": marketplace_id,
        "currency": currency,
        "our_price": _schedule(our_price),
    }
    if sale is not None:
        price, start, end = sale
        offer["discounted_price"] = [
            {"schedule": [{"start_at": _day(start), "end_at": _day(end), "value_with_tax": money(price)}]}
        ]
    if minimum is not None:
        offer["minimum_seller_allowed_price"] = _schedule(minimum)
    if maximum is not None:
        offer["maximum_seller_allowed_price"] = _schedule(maximum)
    return {"op": "merge", "path": OFFER, "value": [offer]}


def stock_patch(quantity: int, handling_time: int | None = None) -> PatchOp:
    """``fulfillment_availability`` of the merchant channel: quantity and, if given, handling days."""
    entry: JsonObject = {"fulfillment_channel_code": MERCHANT_CHANNEL, "quantity": quantity}
    if handling_time is not None:
        entry["lead_time_to_ship_max_days"] = handling_time
    return {"op": "merge", "path": STOCK, "value": [entry]}


# --- what a patch wrote -------------------------------------------------------------------------------


class OfferWrite(TypedDict, total=False):
    """The offer fields a patch set (money as text with two decimals, days as ``YYYY-MM-DD``); a
    field it left out is absent, and ``None`` means it removed it."""

    currency: str
    our_price: str | None
    sale_price: str | None
    sale_start_at: str | None
    sale_end_at: str | None
    min_price: str | None
    max_price: str | None


class StockWrite(TypedDict, total=False):
    """The merchant channel's stock fields a patch set, as :class:`OfferWrite`."""

    quantity: int | None
    handling_time: int | None


class Written(TypedDict):
    """What an accepted patch wrote to one marketplace's offer and merchant stock (``None``: nothing)."""

    offer: OfferWrite | None
    stock: StockWrite | None


def _amount(value: Any) -> str | None:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return None


def _first_schedule(entry: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    try:
        schedule = entry[name][0]["schedule"][0]
    except (KeyError, IndexError, TypeError):
        return None
    return schedule if isinstance(schedule, Mapping) else None


def _offer_written(entry: Mapping[str, Any], whole: bool) -> OfferWrite:
    """``whole``: the patch replaced the attribute, so an offer field it does not hold is gone."""
    out: OfferWrite = {}
    if isinstance(entry.get("currency"), str):
        out["currency"] = entry["currency"]
    price = _first_schedule(entry, "our_price")
    if price is not None or whole:
        out["our_price"] = _amount(price.get("value_with_tax")) if price else None
    sale = _first_schedule(entry, "discounted_price")
    if sale is not None or whole:
        out["sale_price"] = _amount(sale.get("value_with_tax")) if sale else None
        out["sale_start_at"] = str(sale["start_at"])[:10] if sale and sale.get("start_at") else None
        out["sale_end_at"] = str(sale["end_at"])[:10] if sale and sale.get("end_at") else None
    minimum = _first_schedule(entry, "minimum_seller_allowed_price")
    if minimum is not None or whole:
        out["min_price"] = _amount(minimum.get("value_with_tax")) if minimum else None
    maximum = _first_schedule(entry, "maximum_seller_allowed_price")
    if maximum is not None or whole:
        out["max_price"] = _amount(maximum.get("value_with_tax")) if maximum else None
    return out


def _stock_written(entry: Mapping[str, Any], whole: bool) -> StockWrite:
    out: StockWrite = {}
    if isinstance(entry.get("quantity"), int) or whole:
        out["quantity"] = entry.get("quantity") if isinstance(entry.get("quantity"), int) else None
    days = entry.get("lead_time_to_ship_max_days")
    if isinstance(days, int) or whole:
        out["handling_time"] = days if isinstance(days, int) else None
    return out


def written(patches: Sequence[Mapping[str, Any]], marketplace_id: str) -> Written:
    """What ``patches`` wrote to the offer of ``marketplace_id`` and to the merchant channel's stock,
    whoever built them (this module, or an operator's attribute patch): ``merge`` sets the fields it
    holds, ``add``/``replace`` the whole entry, ``delete`` removes it (every field ``None``)."""
    result: Written = {"offer": None, "stock": None}
    for patch in patches:
        op, path = patch.get("op"), patch.get("path")
        values = [v for v in (patch.get("value") or []) if isinstance(v, Mapping)]
        whole = op in ("add", "replace", "delete")
        if path == OFFER:
            mine = [v for v in values if v.get("marketplace_id", marketplace_id) == marketplace_id]
            if op == "delete" and (not values or mine):
                result["offer"] = _offer_written({}, whole=True)
            elif mine:
                offer = result["offer"] or {}
                offer.update(_offer_written(mine[0], whole))
                result["offer"] = offer
        elif path == STOCK:
            merchant = [v for v in values if v.get("fulfillment_channel_code") == MERCHANT_CHANNEL]
            if op == "delete" and (not values or merchant):
                result["stock"] = _stock_written({}, whole=True)
            elif merchant:
                stock = result["stock"] or {}
                stock.update(_stock_written(merchant[0], whole))
                result["stock"] = stock
    return result
