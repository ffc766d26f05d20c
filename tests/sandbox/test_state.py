"""State in SQLite survives a restart; admin endpoints."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sandbox.app import create_app
from sandbox.settings import Settings

from .conftest import SELLER, US, access_token, listings_path, luggage_attributes

pytestmark = pytest.mark.asyncio


def make(tmp_path: Path) -> httpx.AsyncClient:
    app = create_app(Settings(data_dir=tmp_path, processor_enabled=False, rate_limits=False))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    async with make(tmp_path) as c:
        token = await access_token(c)
        h = {"x-amz-access-token": token}
        r = await c.put(
            listings_path("KEEP"),
            params={"marketplaceIds": US},
            headers=h,
            json={"productType": "LUGGAGE", "attributes": luggage_attributes()},
        )
        assert r.json()["status"] == "ACCEPTED"
        doc = (
            await c.post("/feeds/2021-06-30/documents", headers=h, json={"contentType": "application/json"})
        ).json()
        feed = await c.post(
            "/feeds/2021-06-30/feeds",
            headers=h,
            json={
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [US],
                "inputFeedDocumentId": doc["feedDocumentId"],
            },
        )
        feed_id = feed.json()["feedId"]
    async with make(tmp_path) as c:  # a new app on the same SQLite file
        h = {"x-amz-access-token": token}  # the access token is still valid
        r = await c.get(listings_path("KEEP"), params={"marketplaceIds": US}, headers=h)
        assert r.status_code == 200 and r.json()["summaries"][0]["productType"] == "LUGGAGE"
        assert (await c.get(f"/feeds/2021-06-30/feeds/{feed_id}", headers=h)).json()[
            "processingStatus"
        ] == "IN_QUEUE"
        state = (await c.get("/_sandbox/state")).json()
        assert [row["sku"] for row in state["listings"]] == ["KEEP"]
        assert state["documents"][0]["document_id"] == doc["feedDocumentId"]
        assert state["submissions"][0]["status"] == "ACCEPTED"
        # feed ids keep counting after a restart
        doc2 = (
            await c.post("/feeds/2021-06-30/documents", headers=h, json={"contentType": "application/json"})
        ).json()
        feed2 = await c.post(
            "/feeds/2021-06-30/feeds",
            headers=h,
            json={
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [US],
                "inputFeedDocumentId": doc2["feedDocumentId"],
            },
        )
        assert int(feed2.json()["feedId"]) == int(feed_id) + 1


async def test_admin_sellers_reset_and_calls(tmp_path: Path) -> None:
    async with make(tmp_path) as c:
        r = await c.post(
            "/_sandbox/sellers",
            json={
                "apps": [{"client_id": "app-2", "client_secret": "s2"}],
                "sellers": [
                    {
                        "seller_id": "A9NEW",
                        "client_id": "app-2",
                        "refresh_token": "Atzr|new",
                        "marketplaces": ["A1PA6795UKMFR9"],
                    }
                ],
            },
        )
        assert r.json() == {"apps": 1, "sellers": 1}
        sellers = (await c.get("/_sandbox/sellers")).json()["sellers"]
        new = next(s for s in sellers if s["seller_id"] == "A9NEW")
        assert new["region"] == "eu"
        ok = await c.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "Atzr|new",
                "client_id": "app-2",
                "client_secret": "s2",
            },
        )
        assert ok.status_code == 200
        assert (await c.post("/_sandbox/sellers", json={"sellers": [{"seller_id": "X"}]})).status_code == 400

        h = {"x-amz-access-token": await access_token(c)}
        await c.get(listings_path("NONE"), params={"marketplaceIds": US}, headers=h)
        calls = (await c.get("/_sandbox/calls")).json()
        assert calls["byOperation"]["getListingsItem"]["statuses"] == {"404": 1}
        assert calls["recent"][0]["seller_id"] == SELLER

        assert (await c.post(f"/_sandbox/sellers/{SELLER}/revoke")).status_code == 200
        assert (
            await c.get(listings_path("NONE"), params={"marketplaceIds": US}, headers=h)
        ).status_code == 403
        denied = await c.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "Atzr|sandbox-na-0001",
                "client_id": "amzn1.application-oa2-client.sandbox-demo",
                "client_secret": "sandbox-demo-secret",
            },
        )
        assert denied.json()["error"] == "invalid_grant"

        assert (await c.post("/_sandbox/reset")).json()["reset"] is True
        state = (await c.get("/_sandbox/state")).json()
        assert (
            state["listings"] == []
            and state["feeds"] == []
            and any(s["seller_id"] == "A9NEW" for s in state["sellers"])
        )
        assert (await c.get("/_sandbox/calls")).json()["total"] == 0


async def test_unknown_route_has_amazon_error_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/orders/v0/orders")
    assert (
        r.status_code == 404 and r.json()["errors"][0]["code"] == "NotFound" and r.headers["x-amzn-RequestId"]
    )
