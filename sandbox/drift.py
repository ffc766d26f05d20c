"""Changes on Amazon's side that the seller's catalog did not make: drift, seeded by tests.

A seller edits a price in Seller Central, Amazon takes a listing off sale, an old listing the
catalog never knew about is still there. :func:`apply` makes such a change to the stored listing
itself, not to a report, so getListingsItem, searchListingsItems and every later report see the
same thing, as they would on Amazon. ``status`` works through what decides it here: ``Inactive``
attaches an issue whose enforcement suppresses the listing (as Amazon does), ``Active`` removes
Amazon's issues; whether the listing is then buyable still depends on its offer and stock.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .listings import asin_for
from .store import Store

STATUSES = ("Active", "Inactive")
DEFAULT_PRODUCT_TYPE = "PRODUCT"
MERCHANT_CHANNEL = "DEFAULT"
SUPPRESSED_ON_AMAZON: dict[str, Any] = {
    "code": "90000900",
    "message": "The listing was deactivated on Amazon.",
    "severity": "ERROR",
    "categories": ["INVALID_ATTRIBUTE"],
    "enforcements": {
        "actions": [{"action": "LISTING_SUPPRESSED"}],
        "exemption": {"status": "NOT_EXEMPT"},
    },
}


@dataclass(frozen=True)
class Drift:
    """What changed on Amazon's side; ``None`` leaves a field as it is."""

    price: Decimal | None = None
    currency: str = "USD"
    quantity: int | None = None
    status: str | None = None
    item_name: str | None = None
    product_type: str = DEFAULT_PRODUCT_TYPE

    @classmethod
    def parse(cls, body: object) -> Drift:
        """The admin body (``price``, ``currency``, ``quantity``, ``status``, ``itemName``,
        ``productType``); raises ValueError naming what is wrong."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"price", "currency", "quantity", "status", "itemName", "productType"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        price = body.get("price")
        if price is not None:
            try:
                price = Decimal(str(price))
            except InvalidOperation:
                raise ValueError(f"price must be a number, got {price!r}") from None
            if not price.is_finite() or price < 0:
                raise ValueError("price must be a finite number >= 0")
        quantity = body.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
        ):
            raise ValueError("quantity must be an integer >= 0")
        status = body.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        for name in ("currency", "itemName", "productType"):
            if name in body and (not isinstance(body[name], str) or not body[name]):
                raise ValueError(f"{name} must be a non-empty string")
        return cls(
            price=price,
            currency=body.get("currency", "USD"),
            quantity=quantity,
            status=status,
            item_name=body.get("itemName"),
            product_type=body.get("productType", DEFAULT_PRODUCT_TYPE),
        )


def apply(store: Store, seller_id: str, sku: str, marketplace_id: str, drift: Drift) -> bool:
    """Change the listing (or create it, Amazon-side only, when the seller has none there);
    True when it was created."""
    now = time.time()
    with store.transaction() as db:
        row = db.execute(
            "SELECT attributes, issues FROM listings WHERE seller_id=? AND sku=? AND marketplace_id=?",
            (seller_id, sku, marketplace_id),
        ).fetchone()
        created = row is None
        attributes: dict[str, Any] = {} if created else json.loads(row["attributes"])
        issues: list[dict[str, Any]] = [] if created else json.loads(row["issues"])
        _change(attributes, marketplace_id, drift)
        if drift.status == "Inactive":
            issues = [i for i in issues if i.get("code") != SUPPRESSED_ON_AMAZON["code"]] + [
                SUPPRESSED_ON_AMAZON
            ]
        elif drift.status == "Active":
            issues = []
        if created:
            db.execute(
                "INSERT INTO listings(seller_id, sku, marketplace_id, product_type, requirements, attributes, "
                "issues, asin, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    seller_id,
                    sku,
                    marketplace_id,
                    drift.product_type.upper(),
                    "LISTING",
                    json.dumps(attributes),
                    json.dumps(issues),
                    asin_for(seller_id, sku),
                    now,
                    now,
                ),
            )
        else:
            db.execute(
                "UPDATE listings SET attributes=?, issues=?, updated=? WHERE seller_id=? AND sku=? AND marketplace_id=?",
                (json.dumps(attributes), json.dumps(issues), now, seller_id, sku, marketplace_id),
            )
    return created


def _change(attributes: dict[str, Any], marketplace_id: str, drift: Drift) -> None:
    if drift.item_name is not None:
        others = [v for v in attributes.get("item_name", []) if v.get("marketplace_id") != marketplace_id]
        attributes["item_name"] = [*others, {"value": drift.item_name, "marketplace_id": marketplace_id}]
    if drift.price is not None:
        schedule = [{"value_with_tax": float(drift.price)}]
        offers = attributes.setdefault("purchasable_offer", [])
        mine = [o for o in offers if o.get("marketplace_id", marketplace_id) == marketplace_id]
        for offer in mine:
            offer["our_price"] = [{"schedule": schedule}]
        if not mine:
            offers.append(
                {
                    "currency": drift.currency,
                    "marketplace_id": marketplace_id,
                    "our_price": [{"schedule": schedule}],
                }
            )
    if drift.quantity is not None:
        availability = attributes.setdefault("fulfillment_availability", [])
        merchant = [e for e in availability if e.get("fulfillment_channel_code") == MERCHANT_CHANNEL]
        for entry in merchant:
            entry["quantity"] = drift.quantity
        if not merchant:
            availability.append({"fulfillment_channel_code": MERCHANT_CHANNEL, "quantity": drift.quantity})
