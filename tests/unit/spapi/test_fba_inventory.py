"""``spapi.fba_inventory``: the getInventorySummaries call, its paging, and the models it parses into.

Pure (no I/O); the client against the live sandbox is in tests/integration/test_fba_inventory.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from spapi import fba_inventory
from spapi.models import fba_inventory as m
from spapi.models.fba_inventory import GetInventorySummariesResponse
from spapi.rates import limit_for

US = "ATVPDKIKX0DER"

PAGE: dict[str, Any] = {
    "payload": {
        "granularity": {"granularityType": "Marketplace", "granularityId": US},
        "inventorySummaries": [
            {
                "asin": "B0EXAMPLE1",
                "fnSku": "X00ABCDEFG",
                "sellerSku": "TT-01-CABIN-GRY",
                "condition": "NewItem",
                "inventoryDetails": {
                    "fulfillableQuantity": 42,
                    "inboundWorkingQuantity": 1,
                    "inboundShippedQuantity": 2,
                    "inboundReceivingQuantity": 3,
                    "reservedQuantity": {
                        "totalReservedQuantity": 4,
                        "pendingCustomerOrderQuantity": 3,
                        "pendingTransshipmentQuantity": 0,
                        "fcProcessingQuantity": 1,
                    },
                    "researchingQuantity": {
                        "totalResearchingQuantity": 1,
                        "researchingQuantityBreakdown": [
                            {"name": "researchingQuantityInShortTerm", "quantity": 1}
                        ],
                    },
                    "unfulfillableQuantity": {"totalUnfulfillableQuantity": 2, "defectiveQuantity": 2},
                },
                "lastUpdatedTime": "2026-12-01T10:00:00Z",
                "productName": "Trailhead Travel Cabin Spinner",
                "totalQuantity": 55,
                "stores": [],
                "somethingAmazonAddsLater": True,
            },
            {"sellerSku": "NO-DETAILS", "totalQuantity": 0},
        ],
    },
    "pagination": {"nextToken": "tok-2"},
}


def test_the_first_call_asks_for_one_marketplace_with_details() -> None:
    call = fba_inventory.get_inventory_summaries(US)
    assert (call.operation, call.method, call.path, call.marketplace_id) == (
        "getInventorySummaries",
        "GET",
        "/fba/inventory/v1/summaries",
        US,
    )
    assert call.query() == [
        ("details", "true"),
        ("granularityType", "Marketplace"),
        ("granularityId", US),
        ("marketplaceIds", US),
    ]
    assert limit_for("getInventorySummaries").rate == 2.0 and limit_for("getInventorySummaries").burst == 2


def test_changes_only_sends_start_date_time_in_utc() -> None:
    since = datetime(2026, 12, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    call = fba_inventory.get_inventory_summaries(US, start_date_time=since, details=False)
    assert ("startDateTime", "2026-12-01T10:30:00.000Z") in call.query()
    assert ("details", "false") in call.query()


def test_seller_skus_are_comma_delimited_and_at_most_50() -> None:
    call = fba_inventory.get_inventory_summaries(US, seller_skus=["A", "B C"])
    assert ("sellerSkus", "A,B C") in call.query()
    with pytest.raises(ValueError, match="at most 50"):
        fba_inventory.get_inventory_summaries(US, seller_skus=[f"S{i}" for i in range(51)])
    with pytest.raises(ValueError, match="comma"):
        fba_inventory.get_inventory_summaries(US, seller_skus=["A,B"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_date_time": datetime(2026, 12, 1, tzinfo=UTC), "seller_skus": ["A"]},
        {"start_date_time": datetime(2026, 12, 1, tzinfo=UTC), "seller_sku": "A"},
        {"start_date_time": datetime(2026, 12, 1)},  # naive: its time zone would be a guess
    ],
    ids=["skus-with-start", "sku-with-start", "naive-start"],
)
def test_requests_amazon_would_misread_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        fba_inventory.get_inventory_summaries(US, **kwargs)


def test_an_empty_marketplace_is_refused() -> None:
    with pytest.raises(ValueError):
        fba_inventory.get_inventory_summaries("")


def test_the_response_parses_into_typed_figures_keeping_unknown_fields() -> None:
    call = fba_inventory.get_inventory_summaries(US)
    page = call.parse(httpx.Response(200, json=PAGE))
    assert isinstance(page, GetInventorySummariesResponse)
    first, bare = page.summaries
    details = first.inventory_details
    assert details is not None and details.fulfillable_quantity == 42 and details.inbound_quantity == 6
    assert details.reserved_quantity is not None and details.reserved_quantity.total_reserved_quantity == 4
    assert details.unfulfillable_quantity is not None
    assert details.unfulfillable_quantity.total_unfulfillable_quantity == 2
    assert first.last_updated_time == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert first.model_extra == {"somethingAmazonAddsLater": True}
    assert bare.inventory_details is None and bare.seller_sku == "NO-DETAILS"
    assert page.next_token == "tok-2"


def test_next_page_repeats_every_parameter_with_the_token() -> None:
    since = datetime(2026, 12, 1, tzinfo=UTC)
    first = fba_inventory.get_inventory_summaries(US, start_date_time=since)
    page = GetInventorySummariesResponse.model_validate(PAGE)
    second = fba_inventory.next_page(page, first)
    assert second is not None
    assert second.query() == [*first.query(), ("nextToken", "tok-2")]
    last = GetInventorySummariesResponse.model_validate({**PAGE, "pagination": {}})
    assert fba_inventory.next_page(last, second) is None
    assert (
        fba_inventory.next_page(GetInventorySummariesResponse.model_validate({"payload": None}), first)
        is None
    )


def test_inbound_quantity_is_none_when_amazon_gives_no_inbound_figure() -> None:
    page = GetInventorySummariesResponse.model_validate(
        {
            "payload": {
                "granularity": {},
                "inventorySummaries": [{"inventoryDetails": {"fulfillableQuantity": 1}}],
            }
        }
    )
    details = page.summaries[0].inventory_details
    assert details is not None and details.inbound_quantity is None


FBA_MODEL = "models/fba-inventory-api-model/fbaInventory.json"
DEFINITIONS = [
    (m.Granularity, "Granularity"),
    (m.ReservedQuantity, "ReservedQuantity"),
    (m.ResearchingQuantityEntry, "ResearchingQuantityEntry"),
    (m.ResearchingQuantity, "ResearchingQuantity"),
    (m.UnfulfillableQuantity, "UnfulfillableQuantity"),
    (m.InventoryDetails, "InventoryDetails"),
    (m.InventorySummary, "InventorySummary"),
    (m.GetInventorySummariesResult, "GetInventorySummariesResult"),
    (m.Pagination, "Pagination"),
    (m.FbaInventoryError, "Error"),
    (m.GetInventorySummariesResponse, "GetInventorySummariesResponse"),
]


@pytest.mark.parametrize(("model", "definition"), DEFINITIONS, ids=[d for _, d in DEFINITIONS])
def test_model_fields_match_amazons_definition(
    model: type[BaseModel], definition: str, models_dir: Path
) -> None:
    spec = json.loads((models_dir / FBA_MODEL).read_text())["definitions"][definition]
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    assert set(fields) == set(spec["properties"]), definition
    for name, field in fields.items():
        assert field.is_required() == (name in spec.get("required", [])), f"{definition}.{name}"


def test_the_call_sends_only_parameters_the_model_declares(models_dir: Path) -> None:
    operation = json.loads((models_dir / FBA_MODEL).read_text())["paths"]["/fba/inventory/v1/summaries"][
        "get"
    ]
    declared = {p["name"]: p for p in operation["parameters"]}
    call = fba_inventory.get_inventory_summaries(
        US, start_date_time=datetime(2026, 12, 1, tzinfo=UTC), details=True
    )
    assert {name for name, _ in call.query()} <= set(declared)
    assert {n for n, p in declared.items() if p.get("required")} <= {name for name, _ in call.query()}
    assert declared["sellerSkus"]["maxItems"] == fba_inventory.MAX_SELLER_SKUS
    assert declared["granularityType"]["enum"] == ["Marketplace"]
