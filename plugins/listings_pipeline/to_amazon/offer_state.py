"""What a price or stock write that Amazon accepted leaves in ``offers`` / ``inventory``, and what it
changed, for every path that writes them: the offers sync (either route), an operator's hotfix, a
replayed letter.

- The fields the write set replace the stored ones and the rest stay, as Amazon's ``merge`` keeps
  them: the rows say what Amazon was last told, field by field.
- ``catalog_hash`` is set by the offers sync alone, to the catalog's offer or stock it sent. The
  sync compares the catalog with that hash (``offers.diff``), so a hotfix recorded in the same row is
  not taken for a catalog change and holds until the catalog itself changes, as a hotfix does
  against ``catalog_feed_sync``.
- The old and new value of every field that changed comes back, for the SKU's history
  (``listing_events.changes``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy.orm import Session

from listings_pipeline.changes import OfferState, StockState
from listings_pipeline.run_files import payload_hash
from listings_pipeline.to_amazon.offer_patches import MERCHANT_CHANNEL, OfferWrite, StockWrite, Written
from listings_pipeline.warehouse.models import Inventory, Offer

Value = str | int | None


class FieldChange(TypedDict):
    """One field's value before and after a write, as text (money, days) or a number (stock)."""

    old: Value
    new: Value


Changes = dict[str, FieldChange]

_MONEY = ("our_price", "sale_price", "min_price", "max_price")
_DAYS = ("sale_start_at", "sale_end_at")


def state_hash(state: OfferState | StockState) -> str:
    """The catalog's offer or stock as one hash (its values are already canonical text and numbers)."""
    return payload_hash(dict(state))


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _day_text(value: datetime | None) -> str | None:
    return None if value is None else value.date().isoformat()


def _day_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)


def _offer_values(offer: Offer) -> dict[str, Value]:
    values: dict[str, Value] = {"currency": offer.currency}
    values.update({f: _money_text(getattr(offer, f)) for f in _MONEY})
    values.update({f: _day_text(getattr(offer, f)) for f in _DAYS})
    return values


def _set_offer(offer: Offer, field: str, value: Any) -> None:
    if field in _MONEY:
        value = None if value is None else Decimal(value)
    elif field in _DAYS:
        value = _day_time(value)
    setattr(offer, field, value)


def _diff(before: dict[str, Value], wrote: dict[str, Any]) -> Changes:
    return {f: {"old": before.get(f), "new": v} for f, v in wrote.items() if before.get(f) != v}


def _write_offer(
    session: Session, key: dict[str, str], wrote: OfferWrite, catalog: OfferState | None
) -> Changes:
    offer = session.get(Offer, (key["seller_id"], key["marketplace_id"], key["sku"]))
    fields: dict[str, Any] = dict(wrote)
    if offer is None:
        if not fields.get("currency"):  # a row needs its currency; a write without one cannot start it
            return {}
        offer = Offer(**key, currency=fields["currency"])
        session.add(offer)
        before: dict[str, Value] = {}
    else:
        before = _offer_values(offer)
    for field, value in fields.items():
        _set_offer(offer, field, value)
    if catalog is not None:
        offer.catalog_hash = state_hash(catalog)
    return _diff(before, fields)


def _write_stock(
    session: Session, key: dict[str, str], channel: str, wrote: StockWrite, catalog: StockState | None
) -> Changes:
    stock = session.get(Inventory, (key["seller_id"], key["marketplace_id"], key["sku"], channel))
    before: dict[str, Value] = {}
    if stock is None:
        stock = Inventory(**key, fulfillment_channel_code=channel)
        session.add(stock)
    else:
        before = {"quantity": stock.quantity, "handling_time": stock.handling_time}
    fields: dict[str, Any] = dict(wrote)
    for field, value in fields.items():
        setattr(stock, field, value)
    if catalog is not None:
        stock.catalog_hash = state_hash(catalog)
    return _diff(before, fields)


def write(
    session: Session,
    seller_id: str,
    marketplace_id: str,
    sku: str,
    wrote: Written,
    *,
    catalog_offer: OfferState | None = None,
    catalog_stock: StockState | None = None,
) -> Changes:
    """Record what Amazon accepted for one listing; the fields it changed, old and new.

    :param catalog_offer: the offers sync's catalog offer (its hash goes to ``catalog_hash``);
        ``None`` for any other writer, whose values must not pass for the catalog's.
    :param catalog_stock: likewise for stock, always the merchant's own (FBA stock is Amazon's:
        ``from_amazon.fba_stock`` records it).
    """
    key = {"seller_id": seller_id, "marketplace_id": marketplace_id, "sku": sku}
    changed: Changes = {}
    if wrote["offer"] is not None:
        changed.update(_write_offer(session, key, wrote["offer"], catalog_offer))
    if wrote["stock"] is not None:
        channel = catalog_stock["fulfillment_channel_code"] if catalog_stock else MERCHANT_CHANNEL
        changed.update(_write_stock(session, key, channel, wrote["stock"], catalog_stock))
    session.flush()
    return changed
