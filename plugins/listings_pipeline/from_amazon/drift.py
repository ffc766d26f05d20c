"""Drift: where Amazon's listings report and the warehouse disagree (issue 15, reconciliation).

Pure: one seller and marketplace's listings as the warehouse knows them (:class:`OurListing`) and
the rows of Amazon's ``GET_MERCHANT_LISTINGS_ALL_DATA`` report go in, :class:`Drift` records come
out, sorted by SKU and kind. Reading the warehouse and writing the records is
:mod:`listings_pipeline.from_amazon.reconcile`'s job; keeping this apart lets every rule be checked
by hand on a few rows.

The rules, per SKU:

- **unknown_to_catalog**: Amazon lists it, the warehouse has no listing for it (a Seller Central
  listing, another tool's), or one we deleted (``ours`` is then ``deleted``);
- **missing_on_amazon**: Amazon accepted it once and it was not deleted since, yet the report does not
  list it;
- **price** / **quantity**: both list it and the value differs. Quantity is compared only for a
  merchant-fulfilled listing whose stock we know: FBA stock is Amazon's
  (:mod:`~listings_pipeline.from_amazon.fba_stock`), and the report leaves it empty;
- **inactive**: Amazon does not show it as ``Active`` (inactive, suppressed, incomplete) although we
  expect it to sell. Without stock (our merchant quantity 0, or for an FBA listing no fulfillable
  unit in Amazon's own FBA figures) ``Inactive`` is what Amazon should show, so that is no drift.

A SKU with a change on its way (``ready`` or ``submitted``: its values are about to change) and one
Amazon never accepted (draft, quarantined, invalid, dead-lettered without an accepted version) is not
compared: a disagreement there is the pipeline's own business, already visible elsewhere.

Values are kept as text, as an analyst reads them: money with two decimals, quantities as integers,
Amazon's status word as it wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final, Literal, TypedDict, get_args

from spapi.models.reports import MerchantListingRow

DriftKind = Literal["unknown_to_catalog", "missing_on_amazon", "price", "quantity", "inactive"]
DRIFT_KINDS: Final[tuple[DriftKind, ...]] = get_args(DriftKind)
DriftField = Literal["listing", "price", "quantity", "status"]

#: Lifecycle states of a listing with a change on its way to Amazon: not compared.
IN_FLIGHT: Final = frozenset({"ready", "submitted"})
#: What Amazon's report says of a listing it shows and sells.
ACTIVE: Final = "Active"
#: Channels of a merchant-fulfilled listing in the report's ``fulfillment-channel`` column.
MERCHANT_CHANNELS: Final = frozenset({"DEFAULT", "MERCHANT", "MFN"})
_CENT = Decimal("0.01")


class OurListing(TypedDict):
    """One listing as the warehouse knows it.

    ``on_amazon``: Amazon accepted a version of it and it was not deleted since. ``price``: the
    offer's price as Amazon was last told (``offers``, else the accepted payload); ``quantity``: the
    merchant's own stock likewise, ``None`` for FBA or when unknown; ``fba_fulfillable``: the
    fulfillable units Amazon's FBA Inventory API last gave (``None``: not read).
    """

    sku: str
    status: str
    on_amazon: bool
    price: Decimal | None
    quantity: int | None
    fba_fulfillable: int | None


class Drift(TypedDict):
    """One disagreement: ``ours`` is the warehouse's value, ``amazon`` the report's (text, or
    ``None`` where the side has none)."""

    sku: str
    kind: DriftKind
    field: DriftField
    ours: str | None
    amazon: str | None


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(_CENT))


def _count(value: int | None) -> str | None:
    return None if value is None else str(value)


def _merchant(row: MerchantListingRow) -> bool:
    channel = (row.fulfillment_channel or "DEFAULT").upper()
    return channel in MERCHANT_CHANNELS


def _presence(sku: str, kind: DriftKind, ours: str | None, amazon: str | None) -> Drift:
    return {"sku": sku, "kind": kind, "field": "listing", "ours": ours, "amazon": amazon}


def _values(ours: OurListing, row: MerchantListingRow) -> list[Drift]:
    sku = ours["sku"]
    found: list[Drift] = []
    if ours["price"] is not None and (
        row.price is None or row.price.quantize(_CENT) != ours["price"].quantize(_CENT)
    ):
        found.append(
            {
                "sku": sku,
                "kind": "price",
                "field": "price",
                "ours": money(ours["price"]),
                "amazon": money(row.price),
            }
        )
    merchant = _merchant(row)
    if merchant and ours["quantity"] is not None and row.quantity != ours["quantity"]:
        found.append(
            {
                "sku": sku,
                "kind": "quantity",
                "field": "quantity",
                "ours": _count(ours["quantity"]),
                "amazon": _count(row.quantity),
            }
        )
    out_of_stock = ours["quantity"] == 0 if merchant else ours["fba_fulfillable"] == 0
    if not row.is_active and not out_of_stock:
        found.append(
            {"sku": sku, "kind": "inactive", "field": "status", "ours": ACTIVE, "amazon": row.status}
        )
    return found


def compare(ours: Iterable[OurListing], amazon: Iterable[MerchantListingRow]) -> list[Drift]:
    """Every drift between the warehouse's listings and the report's rows of one seller and
    marketplace, sorted by SKU, then kind in :data:`DRIFT_KINDS` order. A SKU the report lists twice
    is read from its first line."""
    by_sku: dict[str, MerchantListingRow] = {}
    for row in amazon:
        by_sku.setdefault(row.seller_sku, row)
    known: Mapping[str, OurListing] = {listing["sku"]: listing for listing in ours}
    found: list[Drift] = []
    for sku, row in by_sku.items():
        listing = known.get(sku)
        if listing is None:
            found.append(_presence(sku, "unknown_to_catalog", None, row.status or "listed"))
        elif listing["status"] == "deleted":
            found.append(_presence(sku, "unknown_to_catalog", "deleted", row.status or "listed"))
        elif listing["on_amazon"] and listing["status"] not in IN_FLIGHT:
            found.extend(_values(listing, row))
    for sku, listing in known.items():
        if sku not in by_sku and listing["on_amazon"] and listing["status"] not in IN_FLIGHT:
            found.append(_presence(sku, "missing_on_amazon", listing["status"], None))
    order = {kind: i for i, kind in enumerate(DRIFT_KINDS)}
    return sorted(found, key=lambda d: (d["sku"], order[d["kind"]]))
