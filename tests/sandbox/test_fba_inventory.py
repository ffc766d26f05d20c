"""The sandbox's FBA Inventory API against Amazon's model (``fbaInventory.json``): every answer is
checked against the response schema and headers declared for its status, and the behaviour the
model describes (details, paging, startDateTime, sellerSkus) is exercised."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from sandbox import fba_inventory, published
from sandbox.app import create_app
from sandbox.settings import Settings

from .conftest import BASE_URL, CA, MODELS, OTHER_SELLER, OTHER_TOKEN, SELLER, US, access_token, check_answer

pytestmark = pytest.mark.asyncio

MODEL = json.loads((MODELS / "models" / "fba-inventory-api-model" / "fbaInventory.json").read_bytes())
OPERATION = MODEL["paths"]["/fba/inventory/v1/summaries"]["get"]
PATH = "/fba/inventory/v1/summaries"


def conforms(response: httpx.Response) -> dict[str, Any]:
    """The answer is one the model declares for its status, with the headers it declares."""
    body: dict[str, Any] = check_answer(MODEL, OPERATION, response)
    if response.status_code >= 400:
        assert body["errors"] and all(e["code"] and e["message"] for e in body["errors"])
    return body


def query(marketplace_id: str = US, **extra: Any) -> dict[str, Any]:
    return {
        "granularityType": "Marketplace",
        "granularityId": marketplace_id,
        "marketplaceIds": marketplace_id,
        **extra,
    }


async def seed(client: httpx.AsyncClient, items: list[dict[str, Any]], seller: str = OTHER_SELLER) -> None:
    response = await client.post(f"/_sandbox/fba/{seller}/{US}", json={"items": items})
    assert response.status_code == 200, response.text


@pytest_asyncio.fixture
async def other_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """The second NA seller, whom the sellers file seeds no FBA stock for."""
    return {"x-amz-access-token": await access_token(client, OTHER_TOKEN)}


async def summaries(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> tuple[httpx.Response, dict[str, Any]]:
    response = await client.get(PATH, params=query(**params), headers=headers)
    return response, conforms(response)


async def test_the_demo_sellers_fba_stock_is_seeded_with_details(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response, body = await summaries(client, headers, details="true")
    assert response.status_code == 200 and "pagination" not in body
    payload = body["payload"]
    assert payload["granularity"] == {"granularityType": "Marketplace", "granularityId": US}
    by_sku = {s["sellerSku"]: s for s in payload["inventorySummaries"]}
    assert sorted(by_sku) == sorted(
        ["TT-01-CABIN-GRY", "TT-01-CABIN-GRN", "TT-01-CABIN-BLK", "TT-01-M-GRY", "TT-01-M-GRN"]
    )
    grey = by_sku["TT-01-CABIN-GRY"]
    assert grey["totalQuantity"] == 46
    details = grey["inventoryDetails"]
    assert details["fulfillableQuantity"] == 42
    assert details["reservedQuantity"] == {
        "totalReservedQuantity": 4,
        "pendingCustomerOrderQuantity": 3,
        "pendingTransshipmentQuantity": 0,
        "fcProcessingQuantity": 1,
    }
    assert details["unfulfillableQuantity"]["totalUnfulfillableQuantity"] == 0
    damaged = by_sku["TT-01-M-GRY"]["inventoryDetails"]["unfulfillableQuantity"]
    assert (damaged["totalUnfulfillableQuantity"], damaged["customerDamagedQuantity"]) == (3, 2)
    researching = by_sku["TT-01-M-GRN"]["inventoryDetails"]["researchingQuantity"]
    assert researching["totalResearchingQuantity"] == 1
    assert by_sku["TT-01-CABIN-GRN"]["inventoryDetails"]["inboundShippedQuantity"] == 24
    assert grey["asin"].startswith("B0") and grey["fnSku"].startswith("X00")


async def test_without_details_there_are_no_inventory_details(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    _, body = await summaries(client, headers)
    assert body["payload"]["inventorySummaries"]
    assert all("inventoryDetails" not in s for s in body["payload"]["inventorySummaries"])
    assert all("totalQuantity" in s and "lastUpdatedTime" in s for s in body["payload"]["inventorySummaries"])


async def test_pages_of_50_with_a_next_token_for_the_same_query(
    client: httpx.AsyncClient, other_headers: dict[str, str]
) -> None:
    await seed(client, [{"sellerSku": f"FBA-{i:03d}", "fulfillableQuantity": i} for i in range(120)])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        extra = {"details": "true", **({"nextToken": token} if token else {})}
        response, body = await summaries(client, other_headers, **extra)
        assert response.status_code == 200
        seen += [s["sellerSku"] for s in body["payload"]["inventorySummaries"]]
        pages += 1
        token = body.get("pagination", {}).get("nextToken")
        if token is None:
            break
    assert pages == 3 and seen == [f"FBA-{i:03d}" for i in range(120)]

    _, first = await summaries(client, other_headers, details="true")
    token = first["pagination"]["nextToken"]
    response, body = await summaries(
        client, other_headers, details="true", startDateTime="2026-01-01T00:00:00Z", nextToken=token
    )
    assert response.status_code == 400 and "does not match" in body["errors"][0]["message"]


async def test_a_next_token_expires_after_30_seconds(
    client: httpx.AsyncClient, other_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(client, [{"sellerSku": f"FBA-{i:03d}", "fulfillableQuantity": 1} for i in range(60)])
    _, first = await summaries(client, other_headers)
    later = time.time() + 31
    monkeypatch.setattr(fba_inventory.time, "time", lambda: later)
    response, body = await summaries(client, other_headers, nextToken=first["pagination"]["nextToken"])
    assert response.status_code == 400 and "expired" in body["errors"][0]["message"]


async def test_start_date_time_returns_only_changes_and_ignores_seller_skus(
    client: httpx.AsyncClient, other_headers: dict[str, str]
) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    await seed(
        client,
        [
            {"sellerSku": "OLD-1", "fulfillableQuantity": 5, "lastUpdatedTime": long_ago},
            {"sellerSku": "OLD-2", "fulfillableQuantity": 6, "lastUpdatedTime": long_ago},
            {"sellerSku": "OLD-3", "fulfillableQuantity": 7, "lastUpdatedTime": long_ago},
        ],
    )
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, body = await summaries(client, other_headers, startDateTime=since)
    assert body["payload"]["inventorySummaries"] == []

    await seed(client, [{"sellerSku": "OLD-1", "pendingCustomerOrderQuantity": 2}])
    await seed(
        client, [{"sellerSku": "OLD-2", "inboundShippedQuantity": 40}]
    )  # not detected, as the model says
    _, body = await summaries(client, other_headers, startDateTime=since, sellerSkus="OLD-3")
    assert [s["sellerSku"] for s in body["payload"]["inventorySummaries"]] == ["OLD-1"]

    _, everything = await summaries(client, other_headers, details="true")
    old_2 = next(s for s in everything["payload"]["inventorySummaries"] if s["sellerSku"] == "OLD-2")
    assert old_2["inventoryDetails"]["inboundShippedQuantity"] == 40 and old_2["totalQuantity"] == 46


async def test_seller_skus_and_seller_sku_narrow_the_summaries(
    client: httpx.AsyncClient, other_headers: dict[str, str]
) -> None:
    await seed(client, [{"sellerSku": s, "fulfillableQuantity": 1} for s in ("A", "B", "C")])
    _, body = await summaries(client, other_headers, sellerSkus="A,C")
    assert [s["sellerSku"] for s in body["payload"]["inventorySummaries"]] == ["A", "C"]
    _, body = await summaries(client, other_headers, sellerSku="B")
    assert [s["sellerSku"] for s in body["payload"]["inventorySummaries"]] == ["B"]
    response, _ = await summaries(client, other_headers, sellerSkus=",".join(f"S{i}" for i in range(51)))
    assert response.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"granularityType": None},
        {"granularityType": "Country"},
        {"granularityId": CA},
        {"marketplaceIds": f"{US},{CA}"},
        {"marketplaceIds": None},
        {"startDateTime": "yesterday"},
        {"startDateTime": "2020-01-01T00:00:00Z"},  # more than 18 months back
        {"nextToken": "not-a-token"},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()),
)
async def test_invalid_requests_are_answered_400_in_the_models_shape(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]
) -> None:
    merged = {k: v for k, v in {**query(), **params}.items() if v is not None}
    response = await client.get(PATH, params=merged, headers=headers)
    assert response.status_code == 400
    conforms(response)


async def test_a_marketplace_the_seller_does_not_sell_in_is_refused(
    client: httpx.AsyncClient, other_headers: dict[str, str]
) -> None:
    response, _ = await summaries(client, other_headers, marketplace_id=CA)
    assert response.status_code == 400


async def test_without_a_token_the_answer_is_403_in_the_models_shape(client: httpx.AsyncClient) -> None:
    response = await client.get(PATH, params=query())
    assert response.status_code == 403
    conforms(response)


async def test_the_rate_limit_is_amazons_2_per_second_burst_2(tmp_path: Any) -> None:
    app: FastAPI = create_app(Settings(data_dir=tmp_path, processor_enabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        headers = {"x-amz-access-token": await access_token(client)}
        answers = [await client.get(PATH, params=query(), headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-amzn-RateLimit-Limit"] == "2.0"
    assert conforms(answers[2])["errors"][0]["code"] == "QuotaExceeded"


async def test_admin_sets_shows_and_clears_stock_and_reset_forgets_it(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    bad = await client.post(
        f"/_sandbox/fba/{SELLER}/{US}", json={"items": [{"sellerSku": "X", "fulfillable": 1}]}
    )
    assert bad.status_code == 400 and "unknown field" in bad.text
    bad = await client.post(
        f"/_sandbox/fba/{SELLER}/{US}", json={"items": [{"sellerSku": "X", "fulfillableQuantity": -1}]}
    )
    assert bad.status_code == 400
    await client.post(
        f"/_sandbox/fba/{SELLER}/{US}",
        json={"items": [{"sellerSku": "TT-01-M-GRY", "fulfillableQuantity": 8}]},
    )
    shown = (await client.get(f"/_sandbox/fba/{SELLER}/{US}")).json()["items"]
    grey = next(i for i in shown if i["sellerSku"] == "TT-01-M-GRY")
    assert (grey["fulfillableQuantity"], grey["customerDamagedQuantity"]) == (8, 2)  # the rest kept
    assert (await client.delete(f"/_sandbox/fba/{SELLER}/{CA}")).json() == {"deleted": 3}
    await client.post("/_sandbox/reset")  # tokens too
    _, body = await summaries(client, {"x-amz-access-token": await access_token(client)})
    assert body["payload"]["inventorySummaries"] == []


async def test_the_sandboxs_bounds_are_the_models() -> None:
    parameters = {p["name"]: p for p in OPERATION["parameters"]}
    assert parameters["sellerSkus"]["maxItems"] == published.FBA_INVENTORY_SELLER_SKUS
    assert parameters["marketplaceIds"]["maxItems"] == 1
    assert parameters["granularityType"]["enum"] == ["Marketplace"]
    assert "30 seconds" in parameters["nextToken"]["description"] and fba_inventory.TOKEN_LIFETIME == 30
