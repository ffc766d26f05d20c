"""Schema-driven: every operation the sandbox serves, valid and invalid requests, each answer checked
against Amazon's own Swagger model (the response schema and headers declared for that status)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import (
    MODELS,
    SELLER,
    SUPPRESSION,
    US,
    check_answer,
    listings_path,
    luggage_attributes,
    model_operations,
    v,
)

pytestmark = pytest.mark.asyncio

MODEL_FILES = {
    "listings": MODELS / "models" / "listings-items-api-model" / "listingsItems_2021-08-01.json",
    "feeds": MODELS / "models" / "feeds-api-model" / "feeds_2021-06-30.json",
    "definitions": MODELS
    / "models"
    / "product-type-definitions-api-model"
    / "definitionsProductTypes_2020-09-01.json",
}
OPERATIONS = model_operations(*MODEL_FILES.values())

SERVED = {
    "getListingsItem",
    "putListingsItem",
    "patchListingsItem",
    "deleteListingsItem",
    "searchListingsItems",
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeeds",
    "cancelFeed",
    "getFeedDocument",
    "searchDefinitionsProductTypes",
    "getDefinitionsProductType",
}


class Checker:
    def __init__(self) -> None:
        self.seen: dict[str, set[int]] = {}

    def __call__(self, operation: str, response: httpx.Response) -> Any:
        body = check_answer(*OPERATIONS[operation], response)
        self.seen.setdefault(operation, set()).add(response.status_code)
        if response.status_code >= 400:
            assert body["errors"] and all(e["code"] and e["message"] for e in body["errors"])
        return body


async def test_every_served_operation_against_amazons_models(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    check = Checker()
    bad_token = {"x-amz-access-token": "Atza|forged"}
    put_body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()}

    # Listings Items
    check(
        "putListingsItem",
        await client.put(
            listings_path("M-1"),
            params={"marketplaceIds": US, "includedData": "identifiers,issues"},
            headers=headers,
            json=put_body,
        ),
    )
    invalid = {**put_body, "attributes": luggage_attributes(luggage_size=v("gigantic"))}
    body = check(
        "putListingsItem",
        await client.put(listings_path("M-2"), params={"marketplaceIds": US}, headers=headers, json=invalid),
    )
    assert body["status"] == "INVALID"
    body = check(
        "putListingsItem",
        await client.put(
            listings_path("M-3"),
            params={"marketplaceIds": US, "mode": "VALIDATION_PREVIEW"},
            headers=headers,
            json=put_body,
        ),
    )
    assert body["status"] == "VALID"
    check(
        "putListingsItem",
        await client.put(
            listings_path("M-1"),
            params={"marketplaceIds": f"{US},A2EUQ1WTGCTBG2"},
            headers=headers,
            json=put_body,
        ),
    )
    check(
        "putListingsItem",
        await client.put(
            listings_path("M-1"), params={"marketplaceIds": US}, headers=headers, content=b"{not json"
        ),
    )
    check(
        "putListingsItem",
        await client.put(
            listings_path("M-1"), params={"marketplaceIds": US}, headers=bad_token, json=put_body
        ),
    )
    included = (
        "summaries,attributes,issues,offers,fulfillmentAvailability,procurement,relationships,productTypes"
    )
    check(
        "getListingsItem",
        await client.get(
            listings_path("M-1"), params={"marketplaceIds": US, "includedData": included}, headers=headers
        ),
    )
    # Amazon's issues on a stored listing, enforcements and all, as getListingsItem returns them
    attached = await client.post(
        f"/_sandbox/listings/{SELLER}/M-1/issues",
        params={"marketplaceId": US},
        json={"issues": [SUPPRESSION]},
    )
    assert attached.status_code == 200, attached.text
    body = check(
        "getListingsItem",
        await client.get(
            listings_path("M-1"),
            params={"marketplaceIds": US, "includedData": "summaries,issues"},
            headers=headers,
        ),
    )
    assert body["issues"] == [SUPPRESSION] and body["summaries"][0]["status"] == []
    check(
        "getListingsItem",
        await client.get(listings_path("M-404"), params={"marketplaceIds": US}, headers=headers),
    )
    check(
        "getListingsItem",
        await client.get(listings_path("M-1"), params={"includedData": "summaries"}, headers=headers),
    )
    patch = {
        "productType": "LUGGAGE",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}],
            }
        ],
    }
    check(
        "patchListingsItem",
        await client.patch(listings_path("M-1"), params={"marketplaceIds": US}, headers=headers, json=patch),
    )
    check(
        "patchListingsItem",
        await client.patch(
            listings_path("M-1"),
            params={"marketplaceIds": US},
            headers=headers,
            json={"productType": "LUGGAGE", "patches": []},
        ),
    )
    check(
        "searchListingsItems",
        await client.get(
            f"/listings/2021-08-01/items/{SELLER}",
            params={"marketplaceIds": US, "includedData": included},
            headers=headers,
        ),
    )
    check(
        "searchListingsItems",
        await client.get(
            f"/listings/2021-08-01/items/{SELLER}",
            params={"marketplaceIds": US, "pageSize": 99},
            headers=headers,
        ),
    )
    check(
        "deleteListingsItem",
        await client.delete(listings_path("M-1"), params={"marketplaceIds": US}, headers=headers),
    )
    check("deleteListingsItem", await client.delete(listings_path("M-1"), headers=headers))

    # Feeds
    doc = check(
        "createFeedDocument",
        await client.post(
            "/feeds/2021-06-30/documents", headers=headers, json={"contentType": "application/json"}
        ),
    )
    check(
        "createFeedDocument",
        await client.post("/feeds/2021-06-30/documents", headers=headers, json={"content_type": "x"}),
    )
    feed_doc = {
        "header": {"sellerId": SELLER, "version": "2.0"},
        "messages": [{"messageId": 1, "sku": "M-9", "operationType": "DELETE"}],
    }
    await client.put(
        doc["url"], content=json.dumps(feed_doc).encode(), headers={"Content-Type": "application/json"}
    )
    spec = {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": [US],
        "inputFeedDocumentId": doc["feedDocumentId"],
    }
    created = check("createFeed", await client.post("/feeds/2021-06-30/feeds", headers=headers, json=spec))
    check(
        "createFeed",
        await client.post("/feeds/2021-06-30/feeds", headers=headers, json={**spec, "marketplaceIds": []}),
    )
    check("getFeed", await client.get(f"/feeds/2021-06-30/feeds/{created['feedId']}", headers=headers))
    check("getFeed", await client.get("/feeds/2021-06-30/feeds/1", headers=headers))
    check(
        "getFeeds",
        await client.get(
            "/feeds/2021-06-30/feeds", params={"feedTypes": "JSON_LISTINGS_FEED"}, headers=headers
        ),
    )
    check("getFeeds", await client.get("/feeds/2021-06-30/feeds", headers=headers))
    check("cancelFeed", await client.delete(f"/feeds/2021-06-30/feeds/{created['feedId']}", headers=headers))
    check("cancelFeed", await client.delete(f"/feeds/2021-06-30/feeds/{created['feedId']}", headers=headers))
    check("cancelFeed", await client.delete("/feeds/2021-06-30/feeds/1", headers=headers))
    check(
        "getFeedDocument",
        await client.get(f"/feeds/2021-06-30/documents/{doc['feedDocumentId']}", headers=headers),
    )
    check("getFeedDocument", await client.get("/feeds/2021-06-30/documents/none", headers=headers))
    check("getFeedDocument", await client.get("/feeds/2021-06-30/documents/none", headers=bad_token))

    # Product Type Definitions
    check(
        "searchDefinitionsProductTypes",
        await client.get(
            "/definitions/2020-09-01/productTypes", params={"marketplaceIds": US}, headers=headers
        ),
    )
    check(
        "searchDefinitionsProductTypes",
        await client.get("/definitions/2020-09-01/productTypes", headers=headers),
    )
    for name in ("PRODUCT", "SHIRT", "LUGGAGE", "HEADPHONES"):
        check(
            "getDefinitionsProductType",
            await client.get(
                f"/definitions/2020-09-01/productTypes/{name}", params={"marketplaceIds": US}, headers=headers
            ),
        )
    check(
        "getDefinitionsProductType",
        await client.get(
            "/definitions/2020-09-01/productTypes/NOPE", params={"marketplaceIds": US}, headers=headers
        ),
    )
    check(
        "getDefinitionsProductType",
        await client.get("/definitions/2020-09-01/productTypes/LUGGAGE", headers=headers),
    )

    assert set(check.seen) == SERVED
    for operation, statuses in check.seen.items():
        assert any(s < 300 for s in statuses) and any(s >= 400 for s in statuses), (operation, statuses)


async def test_throttled_and_server_error_answers_match_the_models(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    check = Checker()
    for operation, (status, kind) in {
        "getFeed": (429, "throttle"),
        "getListingsItem": (503, "error"),
        "getDefinitionsProductType": (500, "error"),
    }.items():
        await client.post(
            "/_sandbox/faults",
            json={
                "rules": [
                    {
                        "kind": kind,
                        "operation": operation,
                        "count": 1,
                        "status": status if kind == "error" else 500,
                    }
                ]
            },
        )
        path = {
            "getFeed": "/feeds/2021-06-30/feeds/1",
            "getListingsItem": listings_path("X"),
            "getDefinitionsProductType": "/definitions/2020-09-01/productTypes/LUGGAGE",
        }[operation]
        r = await client.get(path, params={"marketplaceIds": US}, headers=headers)
        assert r.status_code == status
        check(operation, r)
