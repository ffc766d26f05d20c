"""FBA Inventory API v1: ``getInventorySummaries``, returning a :class:`Call`.

Pure: nothing here does I/O. Every page of a marketplace's FBA stock, with its details::

    first = fba_inventory.get_inventory_summaries("ATVPDKIKX0DER", start_date_time=since)
    for page in client.paginate(first, fba_inventory.next_page):
        for summary in page.summaries: ...

Amazon's rules that shape the call (``models/fba-inventory-api-model/fbaInventory.json``):

* the granularity is always ``Marketplace``, its id the one marketplace asked about;
* ``start_date_time`` returns only the SKUs whose stock changed since then, and then Amazon
  ignores ``seller_skus`` / ``seller_sku`` (so passing both is refused here); it must be within the
  last 18 months, and changes to the inbound quantities are not detected by it, so a reader that
  needs those has to read everything now and then;
* the next page repeats every parameter of the first (``start_date_time`` included: Amazon says a
  ``nextToken`` alone fails) plus ``nextToken``, which expires 30 seconds after it was issued, so
  pages are read one after the other, not saved for later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from .call import Call, QueryValue
from .models.common import id_list, iso8601, json_parser, require_text
from .models.fba_inventory import GetInventorySummariesResponse

PATH = "/fba/inventory/v1/summaries"
MAX_SELLER_SKUS = 50


def get_inventory_summaries(
    marketplace_id: str,
    *,
    details: bool = True,
    start_date_time: datetime | str | None = None,
    seller_skus: Sequence[str] | None = None,
    seller_sku: str | None = None,
) -> Call[GetInventorySummariesResponse]:
    """``getInventorySummaries`` for one marketplace. ``details`` (Amazon's default is False) adds
    the fulfillable, inbound, reserved, researching and unfulfillable figures."""
    marketplace_id = require_text("marketplace_id", marketplace_id)
    if start_date_time is not None and (seller_skus is not None or seller_sku is not None):
        raise ValueError(
            "Amazon ignores seller_skus and seller_sku when start_date_time is given; pass one or the other"
        )
    params: dict[str, QueryValue] = {
        "details": details,
        "granularityType": "Marketplace",
        "granularityId": marketplace_id,
        "marketplaceIds": [marketplace_id],
        "startDateTime": iso8601("start_date_time", start_date_time),
        "sellerSkus": id_list("seller_skus", seller_skus, max_items=MAX_SELLER_SKUS),
        "sellerSku": None if seller_sku is None else require_text("seller_sku", seller_sku),
    }
    return Call(
        operation="getInventorySummaries",
        method="GET",
        path=PATH,
        params=params,
        parse=json_parser(GetInventorySummariesResponse),
        marketplace_id=marketplace_id,
    )


def next_page(
    page: GetInventorySummariesResponse, call: Call[GetInventorySummariesResponse]
) -> Call[GetInventorySummariesResponse] | None:
    """The same call with ``nextToken`` from ``page``, or ``None`` after the last page."""
    token = page.next_token
    if not token:
        return None
    return dataclasses.replace(call, params={**call.params, "nextToken": token})
