"""The FBA Inventory client against the live sandbox: every page through ``client.paginate``, and
changes only with ``startDateTime`` carried onto each next page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spapi import fba_inventory
from spapi.client import SpApiClient
from tests.fixtures.sandbox import US, Sandbox

pytestmark = pytest.mark.integration


def test_every_page_of_a_marketplace_with_details(sandbox: Sandbox, client: SpApiClient) -> None:
    seller = "A1SANDBOXNA0001"
    sandbox.admin("DELETE", f"/fba/{seller}/{US}")
    items = [
        {"sellerSku": f"FBA-{i:03d}", "fulfillableQuantity": i, "inboundShippedQuantity": 1}
        for i in range(120)
    ]
    sandbox.admin("POST", f"/fba/{seller}/{US}", json={"items": items})

    pages = list(client.paginate(fba_inventory.get_inventory_summaries(US), fba_inventory.next_page))

    assert [len(p.summaries) for p in pages] == [50, 50, 20]
    summaries = [s for p in pages for s in p.summaries]
    assert [s.seller_sku for s in summaries] == [f"FBA-{i:03d}" for i in range(120)]
    last = summaries[-1].inventory_details
    assert last is not None and (last.fulfillable_quantity, last.inbound_quantity) == (119, 1)


def test_changes_only_reads_every_page_of_what_changed(sandbox: Sandbox, client: SpApiClient) -> None:
    seller = "A1SANDBOXNA0001"
    sandbox.admin("DELETE", f"/fba/{seller}/{US}")
    before = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    old = [
        {"sellerSku": f"OLD-{i:03d}", "fulfillableQuantity": 1, "lastUpdatedTime": before} for i in range(130)
    ]
    sandbox.admin("POST", f"/fba/{seller}/{US}", json={"items": old})
    since = datetime.now(UTC) - timedelta(hours=1)
    changed = [{"sellerSku": f"OLD-{i:03d}", "fulfillableQuantity": 9} for i in range(0, 130, 2)]
    sandbox.admin("POST", f"/fba/{seller}/{US}", json={"items": changed})

    first = fba_inventory.get_inventory_summaries(US, start_date_time=since)
    seen = [s.seller_sku for page in client.paginate(first, fba_inventory.next_page) for s in page.summaries]

    assert seen == [f"OLD-{i:03d}" for i in range(0, 130, 2)]
