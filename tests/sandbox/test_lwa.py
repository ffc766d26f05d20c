"""The LWA token endpoint."""

from __future__ import annotations

import httpx
import pytest

from .conftest import APP_ID, APP_SECRET, REVOKED_TOKEN, SELLER, SELLER_TOKEN, US, access_token, listings_path

pytestmark = pytest.mark.asyncio


def form(**fields: str) -> dict[str, str]:
    return {"client_id": APP_ID, "client_secret": APP_SECRET, **fields}


async def test_refresh_token_grant(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/o2/token", data=form(grant_type="refresh_token", refresh_token=SELLER_TOKEN))
    assert r.status_code == 200
    body = r.json()
    assert body["access_token"].startswith("Atza|") and body["token_type"] == "bearer"
    assert body["expires_in"] == 3600 and body["refresh_token"] == SELLER_TOKEN
    assert r.headers["x-amzn-RequestId"]


async def test_json_body_is_accepted_too(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/o2/token", json=form(grant_type="refresh_token", refresh_token=SELLER_TOKEN))
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "amzn1.application-oa2-client.nobody"}, 401, "invalid_client"),
        ({"refresh_token": "Atzr|unknown"}, 400, "invalid_grant"),
        ({"refresh_token": REVOKED_TOKEN}, 400, "invalid_grant"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"refresh_token": ""}, 400, "invalid_request"),
    ],
)
async def test_lwa_errors(client: httpx.AsyncClient, fields: dict[str, str], status: int, error: str) -> None:
    data = form(grant_type="refresh_token", refresh_token=SELLER_TOKEN) | fields
    r = await client.post("/auth/o2/token", data=data)
    assert r.status_code == status
    body = r.json()
    assert body["error"] == error and body["error_description"]


async def test_client_credentials_and_scope(client: httpx.AsyncClient) -> None:
    ok = await client.post(
        "/auth/o2/token", data=form(grant_type="client_credentials", scope="sellingpartnerapi::notifications")
    )
    assert ok.status_code == 200 and ok.json()["scope"] == "sellingpartnerapi::notifications"
    bad = await client.post(
        "/auth/o2/token", data=form(grant_type="client_credentials", scope="sellingpartnerapi::everything")
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_scope"
    # a grantless token is no seller's token: listings refuse it
    r = await client.get(
        listings_path("SKU"),
        params={"marketplaceIds": US},
        headers={"x-amz-access-token": ok.json()["access_token"]},
    )
    assert r.status_code == 403


async def test_tokens_expire(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    token = await access_token(client)
    headers = {"x-amz-access-token": token}
    assert (
        await client.get(listings_path("SKU"), params={"marketplaceIds": US}, headers=headers)
    ).status_code == 404
    app.state.sandbox.store.execute("UPDATE tokens SET expires_at=0 WHERE token=?", (token,))
    r = await client.get(listings_path("SKU"), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 403
    assert r.json() == {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "The access token you provided is revoked, malformed or invalid.",
            }
        ]
    }
    assert "x-amzn-RateLimit-Limit" not in r.headers and r.headers["x-amzn-RequestId"]


async def test_configurable_lifetime(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sandbox.app import create_app
    from sandbox.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, token_lifetime=0.0, processor_enabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        token = await access_token(c)
        r = await c.get(
            listings_path("SKU"), params={"marketplaceIds": US}, headers={"x-amz-access-token": token}
        )
        assert r.status_code == 403


async def test_missing_token_and_wrong_seller(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.get(listings_path("SKU"), params={"marketplaceIds": US})
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "Unauthorized"
    r = await client.get(
        listings_path("SKU", seller="A2SANDBOXNA0002"), params={"marketplaceIds": US}, headers=headers
    )
    assert r.status_code == 403
    r = await client.get(listings_path("SKU", seller=SELLER), params={"marketplaceIds": US}, headers=headers)
    assert r.status_code == 404
