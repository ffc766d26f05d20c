"""The ``GET_MERCHANT_LISTINGS_ALL_DATA`` document, built from the sandbox's own listings.

One row per listing the seller has in the report's marketplace, active or not, in Amazon's
tab-separated flat-file layout (a header line, then one line per listing, no quoting). The values
come from the same rendering getListingsItem uses (:func:`sandbox.listings.render_item`), so the
report and the API never disagree about a listing: ``status`` is ``Active`` where the summary is
BUYABLE and ``Inactive`` otherwise (out of stock, no offer, or suppressed by an issue Amazon
attached), ``price`` is the offer's price, ``quantity`` the merchant-fulfilled stock.

Where the columns come from: Amazon's models and schemas in ``include/spapi-models`` describe no
flat-file report, and the developer documentation's "Report Type Values" page is not vendored. The
column list below is the one issue 15 names for this report type; it matches the header that
client libraries in the wild parse for Amazon's "All Listings Report" (the 28 columns of the
active listings report plus ``status``). Amazon varies columns by marketplace, so the client reads
columns by name, never by position.

The encoding is the sandbox's choice, made so that both of a client's paths are exercised: Amazon
writes flat files in a marketplace's legacy code page for some marketplaces and in UTF-8 for
others, and says which in the document's ``Content-Type`` charset. Here the Western NA and EU
marketplaces get ``Cp1252`` (a character outside it becomes ``?``, as a code page forces) and all
others UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .listings import render_item
from .store import Store

REPORT_TYPE = "GET_MERCHANT_LISTINGS_ALL_DATA"

COLUMNS: tuple[str, ...] = (
    "item-name",
    "item-description",
    "listing-id",
    "seller-sku",
    "price",
    "quantity",
    "open-date",
    "image-url",
    "item-is-marketplace",
    "product-id-type",
    "zshop-shipping-fee",
    "item-note",
    "item-condition",
    "zshop-category1",
    "zshop-browse-path",
    "zshop-storefront-feature",
    "asin1",
    "asin2",
    "asin3",
    "will-ship-internationally",
    "expedited-shipping",
    "zshop-boldface",
    "product-id",
    "bid-for-featured-placement",
    "add-delete",
    "pending-quantity",
    "fulfillment-channel",
    "merchant-shipping-group",
    "status",
)

# US, CA, MX, UK, DE, FR, IT, ES: a code page; every other marketplace: UTF-8 (see the docstring)
CP1252_MARKETPLACES = frozenset(
    {
        "ATVPDKIKX0DER",
        "A2EUQ1WTGCTBG2",
        "A1AM78C64UM0Y8",
        "A1F83G8C2ARO7P",
        "A1PA6795UKMFR9",
        "A13V1IB3VIYZZH",
        "APJ6JRA9NG5V4",
        "A1RKKUPIHCS9HS",
    }
)

# condition_type -> the flat file's numeric item-condition (11 is "New")
CONDITIONS = {
    "used_like_new": "1",
    "used_very_good": "2",
    "used_good": "3",
    "used_acceptable": "4",
    "collectible_like_new": "5",
    "collectible_very_good": "6",
    "collectible_good": "7",
    "collectible_acceptable": "8",
    "refurbished_refurbished": "10",
    "new_new": "11",
}
INCLUDED = {"summaries", "attributes", "offers", "fulfillmentAvailability"}
MERCHANT_CHANNEL = "DEFAULT"
ASIN_ID_TYPE = "1"


def charset_for(marketplace_id: str) -> str:
    return "Cp1252" if marketplace_id in CP1252_MARKETPLACES else "UTF-8"


def content_type_for(marketplace_id: str) -> str:
    return f"text/tab-separated-values; charset={charset_for(marketplace_id)}"


def build(store: Store, seller_id: str, marketplace_id: str) -> bytes | None:
    """The encoded document, or ``None`` when the seller has no listing there (Amazon then
    cancels the report: nothing to return)."""
    rows = store.all(
        "SELECT * FROM listings WHERE seller_id=? AND marketplace_id=? ORDER BY created, sku",
        (seller_id, marketplace_id),
    )
    if not rows:
        return None
    lines = ["\t".join(COLUMNS)]
    for row in rows:
        row["attributes"] = json.loads(row["attributes"])
        row["issues"] = json.loads(row["issues"])
        values = listing_values(row, marketplace_id)
        lines.append("\t".join(_clean(values.get(column, "")) for column in COLUMNS))
    text = "\r\n".join(lines) + "\r\n"
    charset = charset_for(marketplace_id)
    codec = "cp1252" if charset == "Cp1252" else "utf-8"
    return text.encode(codec, errors="replace")


def listing_values(row: Mapping[str, Any], marketplace_id: str) -> dict[str, str]:
    """One listing's cells by column name; empty where the sandbox has nothing to say."""
    item = render_item(str(row["sku"]), [dict(row)], INCLUDED)
    summary = item["summaries"][0]
    attributes = item["attributes"]
    channels = [e for e in item["fulfillmentAvailability"] if e.get("fulfillmentChannelCode")]
    merchant = next((e for e in channels if e["fulfillmentChannelCode"] == MERCHANT_CHANNEL), None)
    channel = merchant or (channels[0] if channels else None)
    price = next((o["price"]["amount"] for o in item["offers"]), "")
    return {
        "item-name": str(summary.get("itemName") or ""),
        "item-description": _value(attributes.get("product_description"), marketplace_id),
        "listing-id": listing_id(str(row["seller_id"]), str(row["sku"]), marketplace_id, row["created"]),
        "seller-sku": str(row["sku"]),
        "price": str(price),
        "quantity": str(merchant["quantity"]) if merchant and "quantity" in merchant else "",
        "open-date": open_date(row["created"]),
        "image-url": _value(attributes.get("main_product_image_locator"), marketplace_id, "media_location"),
        "item-is-marketplace": "y",
        "product-id-type": ASIN_ID_TYPE,
        "item-condition": CONDITIONS.get(str(summary.get("conditionType") or ""), ""),
        "asin1": str(row["asin"] or ""),
        "product-id": str(row["asin"] or ""),
        "pending-quantity": "0",
        "fulfillment-channel": str(channel["fulfillmentChannelCode"]) if channel else MERCHANT_CHANNEL,
        "merchant-shipping-group": _value(attributes.get("merchant_shipping_group"), marketplace_id),
        "status": "Active" if "BUYABLE" in summary["status"] else "Inactive",
    }


def listing_id(seller_id: str, sku: str, marketplace_id: str, created: float) -> str:
    """Amazon's listing-id shape: the opening's month and day, then seven letters and digits."""
    digest = hashlib.sha256(f"{seller_id}\0{sku}\0{marketplace_id}".encode()).digest()
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return datetime.fromtimestamp(created, UTC).strftime("%m%d") + "".join(
        alphabet[b % 36] for b in digest[:7]
    )


def open_date(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _value(values: Any, marketplace_id: str, key: str = "value") -> str:
    if not isinstance(values, Sequence) or isinstance(values, str):
        return ""
    for entry in values:
        if isinstance(entry, Mapping) and entry.get("marketplace_id", marketplace_id) == marketplace_id:
            found = entry.get(key)
            return "" if found is None else str(found)
    return ""


def _clean(value: str) -> str:
    """A cell holds no tab or line break: they would shift every column after it."""
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")
