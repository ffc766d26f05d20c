"""Product Type Definitions API 2020-09-01."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest

from spapi.product_types import META_SCHEMA_ID

from .conftest import CA, US

pytestmark = pytest.mark.asyncio

BASE = "/definitions/2020-09-01/productTypes"


async def test_search(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.get(BASE, params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 200 and r.headers["x-amzn-RateLimit-Limit"] == "5.0"
    names = {p["name"] for p in r.json()["productTypes"]}
    assert {"PRODUCT", "SHIRT", "LUGGAGE", "HEADPHONES"} <= names
    r = await client.get(BASE, params={"marketplaceIds": US, "keywords": "luggage"}, headers=headers)
    assert [p["name"] for p in r.json()["productTypes"]] == ["LUGGAGE"]
    r = await client.get(
        BASE, params={"marketplaceIds": US, "keywords": "x", "itemName": "y"}, headers=headers
    )
    assert r.status_code == 400


async def test_get_with_links_and_checksums(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.get(
        f"{BASE}/LUGGAGE",
        params={"marketplaceIds": US, "requirementsEnforced": "NOT_ENFORCED"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["productType"] == "LUGGAGE" and body["requirementsEnforced"] == "NOT_ENFORCED"
    assert body["productTypeVersion"]["latest"] is True and body["propertyGroups"]["offer"]["propertyNames"]
    for key in ("schema", "metaSchema"):
        link = body[key]["link"]
        assert link["verb"] == "GET"
        served = await client.get(link["resource"])  # presigned: no access token
        assert served.status_code == 200
        assert base64.b64encode(hashlib.md5(served.content).digest()).decode() == body[key]["checksum"]
    schema = json.loads((await client.get(body["schema"]["link"]["resource"])).content)
    assert schema["$schema"] == META_SCHEMA_ID
    tampered = body["schema"]["link"]["resource"].replace("LUGGAGE", "SHIRT")
    assert (await client.get(tampered)).status_code == 403


async def test_get_errors(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.get(f"{BASE}/LUGGAGE", params={"marketplaceIds": f"{US},{CA}"}, headers=headers)
    assert r.status_code == 400
    r = await client.get(f"{BASE}/NOT_A_TYPE", params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NotFound"
    r = await client.get(
        f"{BASE}/LUGGAGE", params={"marketplaceIds": US, "requirements": "ALL"}, headers=headers
    )
    assert r.status_code == 400
