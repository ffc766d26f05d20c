"""Optional SigV4 verification against the client's own signer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sandbox.app import create_app
from sandbox.settings import Settings
from spapi.signing import AwsCredentialsConfig, SigV4Signer

from .conftest import US, access_token, listings_path

pytestmark = pytest.mark.asyncio

KEY_ID, SECRET = "AKIASANDBOXEXAMPLE", "sandbox/secret/key/for/tests"


async def test_good_signature_passes_and_tampered_fails(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            data_dir=tmp_path,
            sigv4=True,
            aws_keys={KEY_ID: SECRET},
            processor_enabled=False,
            rate_limits=False,
        )
    )
    signer = SigV4Signer("na", AwsCredentialsConfig(access_key_id=KEY_ID, secret_access_key=SECRET))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as c:
        token = await access_token(c)

        def build(sku: str = "SKU/1 a") -> httpx.Request:
            request = c.build_request(
                "PUT",
                listings_path(sku),
                params={"marketplaceIds": f"{US}"},
                headers={"x-amz-access-token": token},
                json={"productType": "LUGGAGE", "attributes": {}},
            )
            signer.sign(request)
            return request

        good = await c.send(build())
        assert good.status_code == 200, good.text

        unsigned = await c.put(
            listings_path("SKU"),
            params={"marketplaceIds": US},
            headers={"x-amz-access-token": token},
            json={},
        )
        assert unsigned.status_code == 403

        tampered = build()
        tampered.headers["Authorization"] = tampered.headers["Authorization"][:-4] + "0000"
        r = await c.send(tampered)
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "InvalidSignature"

        changed_body = build()
        changed_body = c.build_request(
            "PUT",
            changed_body.url,
            headers=changed_body.headers,
            content=b'{"productType": "SHIRT", "attributes": {}}',
        )
        r = await c.send(changed_body)
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "InvalidSignature"

        wrong_key = SigV4Signer(
            "na", AwsCredentialsConfig(access_key_id=KEY_ID, secret_access_key="not-the-secret")
        )
        request = c.build_request(
            "GET", listings_path("X"), params={"marketplaceIds": US}, headers={"x-amz-access-token": token}
        )
        wrong_key.sign(request)
        r = await c.send(request)
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "InvalidSignature"


async def test_off_by_default(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.get(
        listings_path("X"),
        params={"marketplaceIds": US},
        headers={**headers, "Authorization": "AWS4-HMAC-SHA256 garbage"},
    )
    assert r.status_code == 404
