"""Brand gating: a rejection that only Amazon can make (approval needed), in both the Listings API
and the feed processor, with Amazon's issue shape in each."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from .conftest import SELLER, US, listings_path, luggage_attributes, v
from .test_feeds import download_report, feed_document, finish, submit

GATED = v("Gated Brand Co", US, language_tag="en_US")

pytestmark = pytest.mark.asyncio


async def test_listings_api_rejects_a_gated_brand(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    body = {
        "productType": "LUGGAGE",
        "requirements": "LISTING",
        "attributes": luggage_attributes(brand=GATED),
    }
    r = await client.put(listings_path("GATED-1"), params={"marketplaceIds": US}, headers=headers, json=body)
    assert r.status_code == 200
    answer = r.json()
    assert answer["status"] == "INVALID"
    assert answer["issues"] == [
        {
            "code": "5665",
            "message": "You need approval to list the brand 'Gated Brand Co' in this category.",
            "severity": "ERROR",
            "attributeNames": ["brand"],
            "categories": ["QUALIFICATION_REQUIRED"],
        }
    ]
    missing = await client.get(listings_path("GATED-1"), params={"marketplaceIds": US}, headers=headers)
    assert missing.status_code == 404


async def test_an_ungated_brand_is_accepted(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()}
    r = await client.put(listings_path("FREE-1"), params={"marketplaceIds": US}, headers=headers, json=body)
    assert r.json()["status"] == "ACCEPTED"


async def test_the_feed_report_names_the_gated_message(
    client: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    messages = [
        {
            "messageId": 1,
            "sku": "FEED-OK",
            "operationType": "UPDATE",
            "productType": "LUGGAGE",
            "attributes": luggage_attributes(),
        },
        {
            "messageId": 2,
            "sku": "FEED-GATED",
            "operationType": "UPDATE",
            "productType": "LUGGAGE",
            "attributes": luggage_attributes(brand=GATED),
        },
    ]
    feed = await finish(client, app, headers, await submit(client, headers, feed_document(messages)))
    report = await download_report(client, headers, feed)
    assert report["summary"]["messagesAccepted"] == 1 and report["summary"]["messagesInvalid"] == 1
    [issue] = report["issues"]
    assert (issue["messageId"], issue["sku"], issue["code"], issue["attributeName"]) == (
        2,
        "FEED-GATED",
        "5665",
        "brand",
    )
    assert report["header"]["sellerId"] == SELLER
