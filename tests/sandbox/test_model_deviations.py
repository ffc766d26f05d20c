"""Where the sandbox used to answer otherwise than Amazon's models say (issue 12), one test each.

getFeeds' bounds and statuses, getDefinitionsProductType's locales, SKUs with control characters,
405 answers and their ``Allow`` header, and links built from a Host header some clients cut short.
Every error answer is also checked against the operation's model (``test_models.Checker``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.published import DEFINITION_LOCALES
from sandbox.settings import Settings

from .conftest import CA, SELLER, US, access_token, listings_path, luggage_attributes
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


# -- links from the bound address, not the Host header ------------------------------------------


async def _links(settings: Settings, host_header: str | None = None) -> list[str]:
    """The presigned upload URL and the schema links the sandbox hands out to one client."""
    app = create_app(settings)
    extra = {"host": host_header} if host_header else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as c:
        h = {"x-amz-access-token": await access_token(c), **extra}
        doc = await c.post("/feeds/2021-06-30/documents", headers=h, json={"contentType": "application/json"})
        assert doc.status_code == 201
        # the link works when followed, whatever host it names (the in-process transport ignores it)
        upload = await c.put(doc.json()["url"], content=b"{}", headers={"Content-Type": "application/json"})
        assert upload.status_code == 200
        definition = (await c.get(DEFINITION, headers=h, params={"marketplaceIds": US})).json()
        return [
            doc.json()["url"],
            definition["schema"]["link"]["resource"],
            definition["metaSchema"]["link"]["resource"],
        ]


@pytest.mark.asyncio
async def test_links_use_the_bound_address_not_a_cut_short_host(tmp_path: Path) -> None:
    # python-amazon-sp-api sends host = endpoint[8:], which over http://127.0.0.1:8931 is 27.0.0.1:8931
    settings = Settings(
        data_dir=tmp_path, processor_enabled=False, rate_limits=False, host="127.0.0.1", port=8931
    )
    links = await _links(settings, host_header="27.0.0.1:8931")
    assert all(link.startswith("http://127.0.0.1:8931/_") for link in links), links


@pytest.mark.asyncio
async def test_an_ipv6_bound_address_is_bracketed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, processor_enabled=False, rate_limits=False, host="::1", port=8932)
    assert all(link.startswith("http://[::1]:8932/_") for link in await _links(settings, "1]:8932"))


@pytest.mark.asyncio
async def test_a_wildcard_bind_falls_back_to_the_host_the_client_named(tmp_path: Path) -> None:
    """On 0.0.0.0 (docker-compose) only the client knows which address reached the sandbox."""
    settings = Settings(
        data_dir=tmp_path, processor_enabled=False, rate_limits=False, host="0.0.0.0", port=8900
    )
    assert all(link.startswith("http://sandbox:8900/_") for link in await _links(settings, "sandbox:8900"))


@pytest.mark.asyncio
async def test_public_url_overrides_both(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, processor_enabled=False, rate_limits=False, public_url="https://sp.example.test/"
    )
    assert all(
        link.startswith("https://sp.example.test/_") for link in await _links(settings, "27.0.0.1:8931")
    )


def test_the_live_server_hands_out_its_own_address_to_a_client_that_cuts_the_host_short(
    live_server: str,
) -> None:
    """Over real HTTP, with the Host header python-amazon-sp-api sends for an http:// endpoint."""
    with httpx.Client(base_url=live_server, timeout=10) as c:
        token = c.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "Atzr|sandbox-na-0001",
                "client_id": "amzn1.application-oa2-client.sandbox-demo",
                "client_secret": "sandbox-demo-secret",
            },
        ).json()["access_token"]
        h = {"x-amz-access-token": token, "host": live_server[len("https://") :]}
        assert not h["host"].startswith("127.")  # the first character is gone, as with that client
        doc = c.post("/feeds/2021-06-30/documents", headers=h, json={"contentType": "text/plain"}).json()
        assert doc["url"].startswith(f"{live_server}/_documents/")
        assert httpx.put(doc["url"], content=b"x", headers={"Content-Type": "text/plain"}).status_code == 200
        state = c.get("/_sandbox/state", params={"sellerId": SELLER}).json()
        assert [d["size"] for d in state["documents"]] == [1]


def test_the_cli_binds_and_links_to_the_same_address(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    import sandbox.__main__
    import sandbox.app

    ran: dict[str, Any] = {}
    monkeypatch.setattr(sandbox.app, "create_app", lambda settings: settings)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: ran.update(settings=app, **kwargs))
    monkeypatch.setenv("SPAPI_SANDBOX_PORT", "8977")
    monkeypatch.delenv("SPAPI_SANDBOX_HOST", raising=False)
    sandbox.__main__.main([])
    assert (ran["host"], ran["port"]) == ("127.0.0.1", 8977)
    assert (ran["settings"].host, ran["settings"].port) == ("127.0.0.1", 8977)
    sandbox.__main__.main(["--host", "0.0.0.0", "--port", "8900"])
    assert (ran["host"], ran["port"], ran["settings"].host, ran["settings"].port) == (
        "0.0.0.0",
        8900,
        "0.0.0.0",
        8900,
    )
