"""The JSON Patch operations that set a listing's offer and merchant stock, for every path that does.

Amazon's schema nests a price as ``our_price[].schedule[].value_with_tax``; a sale is a
``discounted_price`` schedule with ``start_at``/``end_at``; the seller's bounds are
``minimum_seller_allowed_price`` / ``maximum_seller_allowed_price``. Stock is a
``fulfillment_availability`` entry selected by ``fulfillment_channel_code``: ``DEFAULT`` is the
merchant's own channel, and an FBA entry (Amazon's) is never written.

The operation is the caller's decision: ``merge`` keeps what is set elsewhere in the same entry
(an existing discount, an FBA entry beside ours) and suits a sync that owns only some fields;
``replace`` sets the whole offer, as an operator's hotfix form means it (a sale not given is gone).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, TypedDict

from listings_pipeline.json_types import JsonObject

Op = Literal["merge", "replace"]


class PatchOp(TypedDict):
    """One JSON Patch operation as Amazon takes it; ``value`` holds attribute entries, which are
    Amazon's schema (free-form to us)."""

    op: Op
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
    op: Op = "merge",
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
    return {"op": op, "path": "/attributes/purchasable_offer", "value": [offer]}


def stock_patch(quantity: int, handling_time: int | None = None, *, op: Op = "merge") -> PatchOp:
    """``fulfillment_availability`` of the merchant channel: quantity and, if given, handling days."""
    entry: JsonObject = {"fulfillment_channel_code": MERCHANT_CHANNEL, "quantity": quantity}
    if handling_time is not None:
        entry["lead_time_to_ship_max_days"] = handling_time
    return {"op": op, "path": "/attributes/fulfillment_availability", "value": [entry]}
