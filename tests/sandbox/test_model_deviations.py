"""Where the sandbox used to answer otherwise than Amazon's models say (issue 12), one test each.

getFeeds' bounds and statuses, getDefinitionsProductType's locales, SKUs with control characters,
405 answers and their ``Allow`` header, and links built from a Host header some clients cut short.
Every error answer is also checked against the operation's model (``test_models.Checker``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.published import DEFINITION_LOCALES

from .conftest import CA, US, listings_path, luggage_attributes
from .test_models import Checker

FEEDS = "/feeds/2021-06-30/feeds"
DEFINITION = "/definitions/2020-09-01/productTypes/LUGGAGE"
EU_MARKETPLACES = ["A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS"]


def refused(check: Checker, operation: str, response: httpx.Response) -> dict[str, Any]:
    """A 400 in the model's ErrorList shape with Amazon's InvalidInput code; returns the error."""
    assert response.status_code == 400, response.text
    body = check(operation, response)
    error: dict[str, Any] = body["errors"][0]
    assert error["code"] == "InvalidInput" and error["message"]
    return error


# -- getFeeds -------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("count", [10, 11])
async def test_get_feeds_takes_at_most_ten_feed_types(
    client: httpx.AsyncClient, headers: dict[str, str], count: int
) -> None:
    feed_types = ["JSON_LISTINGS_FEED", *(f"POST_FLAT_FILE_{i}" for i in range(count - 1))]
    r = await client.get(FEEDS, headers=headers, params={"feedTypes": ",".join(feed_types)})
    if count <= 10:
        assert r.status_code == 200 and Checker()("getFeeds", r) == {"feeds": []}
    else:
        assert "feedTypes" in refused(Checker(), "getFeeds", r)["message"]


@pytest.mark.asyncio
async def test_repeated_feed_types_parameters_count_together(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    params = [("feedTypes", f"TYPE_{i}") for i in range(6)] + [
        ("feedTypes", f"TYPE_A,TYPE_B{i}") for i in range(3)
    ]
    r = await client.get(FEEDS, headers=headers, params=params)  # 6 + 2 * 3 = 12 values
    refused(Checker(), "getFeeds", r)


@pytest.mark.asyncio
@pytest.mark.parametrize("count", [10, 11])
async def test_get_feeds_takes_at_most_ten_marketplaces(
    client: httpx.AsyncClient, headers: dict[str, str], count: int
) -> None:
    marketplaces = [
        US,
        CA,
        *EU_MARKETPLACES,
        "A1AM78C64UM0Y8",
        "A2Q3Y263D00KWC",
        "A39IBJ37TRP1C6",
        "A1VC38T7YXB528",
    ]
    assert len(marketplaces) == 11
    r = await client.get(
        FEEDS,
        headers=headers,
        params={"feedTypes": "JSON_LISTINGS_FEED", "marketplaceIds": ",".join(marketplaces[:count])},
    )
    if count <= 10:
        assert r.status_code == 200
    else:
        error = refused(Checker(), "getFeeds", r)
        assert "marketplaceIds" in error["message"] and "11" in error["details"]


@pytest.mark.asyncio
@pytest.mark.parametrize("statuses", ["BAD_VALUE,DONE", "done", "DONE,SUBMITTED", "IN QUEUE"])
async def test_get_feeds_refuses_unknown_processing_statuses(
    client: httpx.AsyncClient, headers: dict[str, str], statuses: str
) -> None:
    """``BAD_VALUE,DONE`` is the request of Amazon's own 400 example for getFeeds."""
    r = await client.get(
        FEEDS, headers=headers, params={"feedTypes": "POST_PRODUCT_DATA", "processingStatuses": statuses}
    )
    assert "processingStatuses" in refused(Checker(), "getFeeds", r)["message"]


@pytest.mark.asyncio
async def test_get_feeds_takes_every_status_of_the_model(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    statuses = "CANCELLED,DONE,FATAL,IN_PROGRESS,IN_QUEUE"
    r = await client.get(
        FEEDS, headers=headers, params={"feedTypes": "JSON_LISTINGS_FEED", "processingStatuses": statuses}
    )
    assert r.status_code == 200 and Checker()("getFeeds", r) == {"feeds": []}


@pytest.mark.asyncio
@pytest.mark.parametrize("size", ["0", "101", "ten"])
async def test_get_feeds_page_size_bounds(
    client: httpx.AsyncClient, headers: dict[str, str], size: str
) -> None:
    r = await client.get(FEEDS, headers=headers, params={"feedTypes": "JSON_LISTINGS_FEED", "pageSize": size})
    assert "pageSize" in refused(Checker(), "getFeeds", r)["message"]


# -- getDefinitionsProductType ----------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("locale", ["xx_XX", "en_IE", "EN_US", "en-US", ""])
async def test_definitions_refuse_a_locale_outside_the_models_enum(
    client: httpx.AsyncClient, headers: dict[str, str], locale: str
) -> None:
    """``en_IE`` is a real language tag but not a locale Amazon labels schemas in."""
    r = await client.get(DEFINITION, headers=headers, params={"marketplaceIds": US, "locale": locale})
    error = refused(Checker(), "getDefinitionsProductType", r)
    assert "locale" in error["message"] and "en_US" in error["details"]


@pytest.mark.asyncio
async def test_definitions_accept_every_locale_of_the_model(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    check = Checker()
    for locale in DEFINITION_LOCALES:
        r = await client.get(DEFINITION, headers=headers, params={"marketplaceIds": US, "locale": locale})
        assert r.status_code == 200, (locale, r.text)
        assert check("getDefinitionsProductType", r)["locale"] == locale


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "value"),
    [("parentageLevel", "GRANDCHILD"), ("requirements", "ALL"), ("requirementsEnforced", "YES")],
)
async def test_definitions_refuse_other_values_outside_their_enums(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, value: str
) -> None:
    r = await client.get(DEFINITION, headers=headers, params={"marketplaceIds": US, name: value})
    assert name in refused(Checker(), "getDefinitionsProductType", r)["message"]


# -- SKUs with control characters -----------------------------------------------------------------

CONTROL_SKUS = ["BAG\n1", "BAG\r\n1", "BAG\t1", "\x00BAG", "BAG\x1b[0m", "BAG\x7f", "BAG\x851"]


@pytest.mark.asyncio
@pytest.mark.parametrize("sku", CONTROL_SKUS, ids=[repr(s) for s in CONTROL_SKUS])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_a_sku_with_control_characters_is_400_invalid_input(
    client: httpx.AsyncClient, headers: dict[str, str], sku: str, method: str
) -> None:
    body = {
        "PUT": {"productType": "LUGGAGE", "attributes": luggage_attributes()},
        "PATCH": {"productType": "LUGGAGE", "patches": [{"op": "delete", "path": "/attributes/color"}]},
    }.get(method)
    r = await client.request(
        method, listings_path(sku), params={"marketplaceIds": US}, headers=headers, json=body
    )
    operation = {"GET": "getListingsItem", "PUT": "putListingsItem", "PATCH": "patchListingsItem"}.get(
        method, "deleteListingsItem"
    )
    error = refused(Checker(), operation, r)
    assert "control characters" in error["message"] and "U+" in error["details"]
    assert r.headers["x-amzn-RateLimit-Limit"] == "5.0"  # the call passed the gate: Amazon's 400, not routing


@pytest.mark.asyncio
async def test_nothing_is_stored_under_a_sku_with_control_characters(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.put(
        listings_path("BAG\n1"),
        params={"marketplaceIds": US},
        headers=headers,
        json={"productType": "LUGGAGE", "attributes": luggage_attributes()},
    )
    assert r.status_code == 400
    state = (await client.get("/_sandbox/state")).json()
    assert state["listings"] == []


@pytest.mark.asyncio
async def test_the_gate_still_comes_first_for_such_a_sku(client: httpx.AsyncClient) -> None:
    r = await client.get(listings_path("BAG\n1"), params={"marketplaceIds": US})
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "Unauthorized"


@pytest.mark.asyncio
@pytest.mark.parametrize("sku", ["BAG/55 cm", "Größe 42 \u2013 blau", "SKU#1?&=%", "🧳-1", "a" * 200])
async def test_printable_skus_still_work(
    client: httpx.AsyncClient, headers: dict[str, str], sku: str
) -> None:
    r = await client.put(
        listings_path(sku),
        params={"marketplaceIds": US},
        headers=headers,
        json={"productType": "LUGGAGE", "attributes": luggage_attributes()},
    )
    assert r.status_code == 200 and r.json()["status"] == "ACCEPTED", r.text
    got = await client.get(listings_path(sku), params={"marketplaceIds": US}, headers=headers)
    assert got.status_code == 200 and got.json()["sku"] == sku


# -- 405 and Allow ------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", listings_path("BAG-1"), "DELETE, GET, PATCH, PUT"),
        ("POST", listings_path("BAG\n1"), "DELETE, GET, PATCH, PUT"),
        ("PUT", FEEDS, "GET, POST"),
        ("PATCH", f"{FEEDS}/123", "DELETE, GET"),
        ("DELETE", "/feeds/2021-06-30/documents/amzn1.tortuga.4.na.x", "GET"),
        ("POST", DEFINITION, "GET"),
        ("GET", "/auth/o2/token", "POST"),
    ],
)
async def test_405_names_every_allowed_method(
    client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str, allow: str
) -> None:
    r = await client.request(method, path, headers=headers)
    assert r.status_code == 405
    assert r.headers["Allow"] == allow
    assert r.json()["errors"][0]["code"] == "MethodNotAllowed" and r.headers["x-amzn-RequestId"]
