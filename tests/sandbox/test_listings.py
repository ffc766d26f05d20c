"""Listings Items API 2021-08-01: put, patch, delete, get, preview, search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import CA, SELLER, SUPPRESSION, US, listings_path, luggage_attributes, v

pytestmark = pytest.mark.asyncio


async def put(
    client: httpx.AsyncClient, headers: dict[str, str], sku: str, attrs: dict[str, Any], **params: str
) -> httpx.Response:
    return await client.put(
        listings_path(sku),
        params={"marketplaceIds": US, **params},
        headers=headers,
        json={"productType": "LUGGAGE", "requirements": "LISTING", "attributes": attrs},
    )


async def test_put_then_get(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await put(client, headers, "BAG-1", luggage_attributes(), includedData="identifiers,issues")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ACCEPTED" and body["sku"] == "BAG-1" and body["submissionId"]
    assert body["issues"] == [] and body["identifiers"][0]["marketplaceId"] == US
    assert r.headers["x-amzn-RateLimit-Limit"] == "5.0"

    r = await client.get(listings_path("BAG-1"), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 200
    item = r.json()
    assert set(item) == {"sku", "summaries"}  # summaries is the default includedData
    summary = item["summaries"][0]
    assert summary["productType"] == "LUGGAGE" and summary["itemName"] == "Acme Carry-On Spinner 55 cm"
    assert summary["status"] == ["BUYABLE", "DISCOVERABLE"] and summary["conditionType"] == "new_new"

    r = await client.get(
        listings_path("BAG-1"),
        params={
            "marketplaceIds": US,
            "includedData": "attributes,offers,fulfillmentAvailability,issues,productTypes",
        },
        headers=headers,
    )
    item = r.json()
    assert item["attributes"]["brand"][0]["value"] == "Acme"
    assert item["offers"] == [
        {"marketplaceId": US, "offerType": "B2C", "price": {"currencyCode": "USD", "amount": "129.99"}}
    ]
    assert item["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 12}]
    assert item["productTypes"] == [{"marketplaceId": US, "productType": "LUGGAGE"}] and item["issues"] == []


async def summary_status(client: httpx.AsyncClient, headers: dict[str, str], sku: str) -> list[str]:
    r = await client.get(listings_path(sku), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 200, r.text
    status: list[str] = r.json()["summaries"][0]["status"]
    return status


async def attach(client: httpx.AsyncClient, sku: str, *issues: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"/_sandbox/listings/{SELLER}/{sku}/issues",
        params={"marketplaceId": US},
        json={"issues": list(issues)},
    )


def enforced(*actions: str, exemption: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        **SUPPRESSION,
        "enforcements": {
            "actions": [{"action": a} for a in actions],
            "exemption": exemption or {"status": "NOT_EXEMPT"},
        },
    }


async def test_summary_status_follows_offer_stock_and_enforcements(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """What shoppers see: BUYABLE needs an offer and stock; an enforcement Amazon attached after
    accepting the listing takes buyability (LISTING_SUPPRESSED, CATALOG_ITEM_REMOVED) or visibility
    (SEARCH_SUPPRESSED) away unless it is exempted; the next accepted put clears Amazon's issues."""
    assert (await put(client, headers, "SEEN-1", luggage_attributes())).json()["status"] == "ACCEPTED"
    assert await summary_status(client, headers, "SEEN-1") == ["BUYABLE", "DISCOVERABLE"]
    no_stock = luggage_attributes(
        fulfillment_availability=[{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]
    )
    assert (await put(client, headers, "SEEN-2", no_stock)).json()["status"] == "ACCEPTED"
    assert await summary_status(client, headers, "SEEN-2") == ["DISCOVERABLE"]

    cases: list[tuple[dict[str, Any], list[str]]] = [
        (enforced("LISTING_SUPPRESSED"), ["DISCOVERABLE"]),
        (enforced("CATALOG_ITEM_REMOVED"), ["DISCOVERABLE"]),
        (enforced("SEARCH_SUPPRESSED"), ["BUYABLE"]),
        (SUPPRESSION, []),
        (enforced("LISTING_SUPPRESSED", exemption={"status": "EXEMPT"}), ["BUYABLE", "DISCOVERABLE"]),
        (
            enforced(
                "LISTING_SUPPRESSED",
                exemption={"status": "EXEMPT_UNTIL_EXPIRY_DATE", "expiryDate": "2999-01-01T00:00:00Z"},
            ),
            ["BUYABLE", "DISCOVERABLE"],
        ),
        (
            enforced(
                "LISTING_SUPPRESSED",
                exemption={"status": "EXEMPT_UNTIL_EXPIRY_DATE", "expiryDate": "2020-01-01T00:00:00Z"},
            ),
            ["DISCOVERABLE"],
        ),
        (
            {key: value for key, value in SUPPRESSION.items() if key != "enforcements"},
            ["BUYABLE", "DISCOVERABLE"],
        ),
    ]
    for issue, expected in cases:
        assert (await attach(client, "SEEN-1", issue)).status_code == 200
        assert await summary_status(client, headers, "SEEN-1") == expected, issue
    r = await client.get(
        listings_path("SEEN-1"), params={"marketplaceIds": US, "includedData": "issues"}, headers=headers
    )
    assert r.json()["issues"] == [cases[-1][0]]

    await attach(client, "SEEN-1", SUPPRESSION)
    assert (await put(client, headers, "SEEN-1", luggage_attributes())).json()["status"] == "ACCEPTED"
    assert await summary_status(client, headers, "SEEN-1") == ["BUYABLE", "DISCOVERABLE"]


async def test_attaching_issues_checks_their_shape(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert (await attach(client, "NOWHERE", SUPPRESSION)).status_code == 404
    assert (await put(client, headers, "SEEN-3", luggage_attributes())).json()["status"] == "ACCEPTED"
    for bad, says in [
        ({**SUPPRESSION, "severity": "FATAL"}, "severity"),
        ({**SUPPRESSION, "categories": None}, "categories"),
        ({**SUPPRESSION, "enforcements": {"actions": [{"action": "X"}]}}, "exemption.status"),
    ]:
        r = await attach(client, "SEEN-3", bad)
        assert r.status_code == 400 and says in r.json()["errors"][0]["message"], r.text


async def test_invalid_put_answers_200_invalid_and_stores_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    attrs = luggage_attributes(luggage_size=v("gigantic"))
    del attrs["brand"]
    r = await put(client, headers, "BAG-2", attrs)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "INVALID"
    codes = {
        (i["code"], tuple(i["attributeNames"]), tuple(i["categories"]), i["severity"]) for i in body["issues"]
    }
    assert codes == {
        ("90220", ("brand",), ("MISSING_ATTRIBUTE",), "ERROR"),
        ("4000001", ("luggage_size",), ("INVALID_ATTRIBUTE",), "ERROR"),
    }
    r = await client.get(listings_path("BAG-2"), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NotFound"


async def test_validation_preview_does_not_store(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await put(client, headers, "BAG-3", luggage_attributes(), mode="VALIDATION_PREVIEW")
    assert r.json()["status"] == "VALID"
    bad = await put(client, headers, "BAG-3", luggage_attributes(color=[]), mode="VALIDATION_PREVIEW")
    assert bad.json()["status"] == "INVALID"
    r = await client.get(listings_path("BAG-3"), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 404


async def test_put_and_delete_take_one_marketplace(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.put(
        listings_path("BAG-4"),
        params={"marketplaceIds": f"{US},{CA}"},
        headers=headers,
        json={"productType": "LUGGAGE", "attributes": luggage_attributes()},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "InvalidInput"
    assert r.headers["x-amzn-RateLimit-Limit"] == "5.0"
    r = await client.delete(listings_path("BAG-4"), params={"marketplaceIds": f"{US},{CA}"}, headers=headers)
    assert r.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"attributes": {}},
        {"productType": "LUGGAGE"},
        {"productType": "LUGGAGE", "attributes": [], "requirements": "LISTING"},
        {"productType": "LUGGAGE", "attributes": {}, "requirements": "EVERYTHING"},
    ],
)
async def test_bad_put_bodies_are_400(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> None:
    r = await client.put(listings_path("BAG-5"), params={"marketplaceIds": US}, headers=headers, json=body)
    assert r.status_code == 400
    error = r.json()["errors"][0]
    assert error["code"] == "InvalidInput" and error["message"]


async def test_patch_ops(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert (await put(client, headers, "BAG-6", luggage_attributes())).json()["status"] == "ACCEPTED"

    async def patch(*patches: dict[str, Any], **params: str) -> dict[str, Any]:
        r = await client.patch(
            listings_path("BAG-6"),
            params={"marketplaceIds": US, **params},
            headers=headers,
            json={"productType": "LUGGAGE", "patches": list(patches)},
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def attributes() -> dict[str, Any]:
        r = await client.get(
            listings_path("BAG-6"),
            params={"marketplaceIds": US, "includedData": "attributes"},
            headers=headers,
        )
        return r.json()["attributes"]

    body = await patch(
        {
            "op": "replace",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
        }
    )
    assert body["status"] == "ACCEPTED"
    assert (await attributes())["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3}
    ]

    # merge by selectors (fulfillment_channel_code): updates the DEFAULT entry in place
    await patch(
        {
            "op": "merge",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "lead_time_to_ship_max_days": 2}],
        }
    )
    assert (await attributes())["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3, "lead_time_to_ship_max_days": 2}
    ]

    await patch(
        {
            "op": "add",
            "path": "/attributes/lock_type",
            "value": [{"value": "tsa_combination", "marketplace_id": US}],
        }
    )
    assert (await attributes())["lock_type"][0]["value"] == "tsa_combination"
    await patch({"op": "delete", "path": "/attributes/lock_type", "value": [{"marketplace_id": US}]})
    assert "lock_type" not in await attributes()

    # deleting a required attribute is INVALID and changes nothing
    body = await patch({"op": "delete", "path": "/attributes/brand"})
    assert body["status"] == "INVALID" and body["issues"][0]["code"] == "90220"
    assert "brand" in await attributes()

    # only top-level attributes can be patched
    body = await patch({"op": "replace", "path": "/attributes/brand/0/value", "value": [{"value": "x"}]})
    assert body["status"] == "INVALID" and body["issues"][0]["code"] == "4000004"

    # preview validates without storing
    body = await patch(
        {
            "op": "replace",
            "path": "/attributes/color",
            "value": [{"value": "Red", "language_tag": "en_US", "marketplace_id": US}],
        },
        mode="VALIDATION_PREVIEW",
    )
    assert body["status"] == "VALID"
    assert (await attributes())["color"][0]["value"] == "Navy"


@pytest.mark.parametrize(
    "patches",
    [
        [],
        [{"op": "remove", "path": "/attributes/brand"}],
        [{"path": "/attributes/brand", "value": []}],
        [{"op": "replace", "path": "/attributes/brand", "value": {"value": "x"}}],
    ],
)
async def test_bad_patch_bodies_are_400(
    client: httpx.AsyncClient, headers: dict[str, str], patches: list[Any]
) -> None:
    r = await client.patch(
        listings_path("BAG-7"),
        params={"marketplaceIds": US},
        headers=headers,
        json={"productType": "LUGGAGE", "patches": patches},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "InvalidInput"


async def test_patch_of_unknown_listing_is_invalid(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.patch(
        listings_path("NOPE"),
        params={"marketplaceIds": US},
        headers=headers,
        json={"productType": "LUGGAGE", "patches": [{"op": "delete", "path": "/attributes/lock_type"}]},
    )
    assert (
        r.status_code == 200
        and r.json()["status"] == "INVALID"
        and r.json()["issues"][0]["code"] == "4000006"
    )


async def test_delete(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await put(client, headers, "BAG-8", luggage_attributes())
    r = await client.delete(listings_path("BAG-8"), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "ACCEPTED"
    r = await client.get(listings_path("BAG-8"), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 404


async def test_sku_with_reserved_characters(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    sku = "BAG/9 #blue?"
    assert (await put(client, headers, sku, luggage_attributes())).json()["status"] == "ACCEPTED"
    r = await client.get(listings_path(sku), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 200 and r.json()["sku"] == sku


async def test_per_marketplace_state(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await put(client, headers, "BAG-10", luggage_attributes())
    r = await client.get(listings_path("BAG-10"), params={"marketplaceIds": CA}, headers=headers)
    assert r.status_code == 404
    ca = luggage_attributes(CA)
    ca["purchasable_offer"][0]["currency"] = "CAD"
    r = await client.put(
        listings_path("BAG-10"),
        params={"marketplaceIds": CA},
        headers=headers,
        json={"productType": "LUGGAGE", "attributes": ca},
    )
    assert r.json()["status"] == "ACCEPTED"
    r = await client.get(
        listings_path("BAG-10"),
        params={"marketplaceIds": f"{US},{CA}", "includedData": "summaries,offers"},
        headers=headers,
    )
    assert sorted(s["marketplaceId"] for s in r.json()["summaries"]) == sorted([US, CA])
    assert sorted(o["price"]["currencyCode"] for o in r.json()["offers"]) == ["CAD", "USD"]


async def test_issue_locale_and_included_data_are_checked(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await put(client, headers, "BAG-11", luggage_attributes(), issueLocale="en_US", includedData="issues")
    assert r.status_code == 200 and "identifiers" not in r.json()
    r = await client.get(
        listings_path("BAG-11"), params={"marketplaceIds": US, "includedData": "everything"}, headers=headers
    )
    assert r.status_code == 400
    r = await client.get(listings_path("BAG-11"), headers=headers)
    assert r.status_code == 400  # marketplaceIds is required


async def test_search(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for i in range(5):
        await put(client, headers, f"S-{i}", luggage_attributes())
    r = await client.get(
        f"/listings/2021-08-01/items/{SELLER}",
        params={"marketplaceIds": US, "pageSize": 2, "sortBy": "sku", "sortOrder": "ASC"},
        headers=headers,
    )
    body = r.json()
    assert r.status_code == 200 and body["numberOfResults"] == 5
    assert [i["sku"] for i in body["items"]] == ["S-0", "S-1"]
    r = await client.get(
        f"/listings/2021-08-01/items/{SELLER}",
        params={
            "marketplaceIds": US,
            "pageSize": 2,
            "sortBy": "sku",
            "sortOrder": "ASC",
            "pageToken": body["pagination"]["nextToken"],
        },
        headers=headers,
    )
    assert [i["sku"] for i in r.json()["items"]] == ["S-2", "S-3"]
    r = await client.get(
        f"/listings/2021-08-01/items/{SELLER}",
        params={
            "marketplaceIds": US,
            "identifiers": "S-4,S-0",
            "identifiersType": "SKU",
            "sortBy": "sku",
            "sortOrder": "ASC",
        },
        headers=headers,
    )
    assert [i["sku"] for i in r.json()["items"]] == ["S-0", "S-4"]
