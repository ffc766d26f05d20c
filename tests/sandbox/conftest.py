"""Fixtures for the sandbox tests: an app per test on its own SQLite file, an in-process client."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from jsonschema import Draft4Validator

from sandbox.app import create_app
from sandbox.settings import Settings
from sandbox.testing import serve

APP_ID = "amzn1.application-oa2-client.sandbox-demo"
APP_SECRET = "sandbox-demo-secret"
SELLER = "A1SANDBOXNA0001"
SELLER_TOKEN = "Atzr|sandbox-na-0001"
OTHER_SELLER = "A2SANDBOXNA0002"
OTHER_TOKEN = "Atzr|sandbox-na-0002"
EU_SELLER = "A3SANDBOXEU0003"
EU_TOKEN = "Atzr|sandbox-eu-0003"
REVOKED_TOKEN = "Atzr|sandbox-revoked-0004"
US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
BASE_URL = "http://sandbox.test"
# An issue Amazon attaches to a listing after accepting it, taking it off sale and out of search
# (the shape of Amazon's Issue, enforcements as its model describes them).
SUPPRESSION: dict[str, Any] = {
    "code": "18155",
    "message": "The listing is missing a main image.",
    "severity": "ERROR",
    "attributeNames": ["main_product_image_locator"],
    "categories": ["MISSING_IMAGE"],
    "enforcements": {
        "actions": [{"action": "LISTING_SUPPRESSED"}, {"action": "SEARCH_SUPPRESSED"}],
        "exemption": {"status": "NOT_EXEMPT"},
    },
}
REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "include" / "spapi-models"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        feed_queue_seconds=0.0,
        feed_processing_seconds=0.0,
        processor_enabled=False,
        rate_limits=False,  # functional tests; test_ratelimit.py turns them on
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        yield c


async def access_token(client: httpx.AsyncClient, refresh_token: str = SELLER_TOKEN) -> str:
    response = await client.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": APP_ID,
            "client_secret": APP_SECRET,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest_asyncio.fixture
async def headers(client: httpx.AsyncClient) -> dict[str, str]:
    return {"x-amz-access-token": await access_token(client)}


def v(value: Any, marketplace_id: str = US, **extra: Any) -> list[dict[str, Any]]:
    return [{"value": value, "marketplace_id": marketplace_id, **extra}]


def luggage_attributes(marketplace_id: str = US, **overrides: Any) -> dict[str, Any]:
    """A complete, valid LUGGAGE listing (product facts and an offer)."""
    lang = {"language_tag": "en_US"}
    attrs: dict[str, Any] = {
        "item_name": v("Acme Carry-On Spinner 55 cm", marketplace_id, **lang),
        "brand": v("Acme", marketplace_id, **lang),
        "item_type_keyword": v("carry-on-luggage", marketplace_id),
        "color": v("Navy", marketplace_id, **lang),
        "material": v("Polycarbonate", marketplace_id, **lang),
        "luggage_size": v("medium", marketplace_id),
        "number_of_wheels": v(4, marketplace_id),
        "wheel_type": v("spinner", marketplace_id),
        "country_of_origin": v("CN", marketplace_id),
        "externally_assigned_product_identifier": [
            {"type": "upc", "value": "714532191586", "marketplace_id": marketplace_id}
        ],
        "condition_type": v("new_new", marketplace_id),
        "purchasable_offer": [
            {
                "currency": "USD",
                "marketplace_id": marketplace_id,
                "our_price": [{"schedule": [{"value_with_tax": 129.99}]}],
            }
        ],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 12}],
    }
    attrs.update(overrides)
    return attrs


def listings_path(sku: str, seller: str = SELLER) -> str:
    from urllib.parse import quote

    return f"/listings/2021-08-01/items/{seller}/{quote(sku, safe='')}"


def model_operations(*paths: Path) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each operation of Amazon's models at ``paths``, by ``operationId``: (its model, itself)."""
    operations: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for path in paths:
        model = json.loads(path.read_bytes())
        for item in model["paths"].values():
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    operations[op["operationId"]] = (model, op)
    return operations


def check_answer(model: dict[str, Any], op: dict[str, Any], response: httpx.Response) -> Any:
    """The answer has a status, headers and a body ``model`` declares for ``op``; its body (or
    ``None`` where the model declares none)."""
    operation = op["operationId"]
    status = str(response.status_code)
    assert status in op["responses"], f"{operation} answered {status}, which its model does not declare"
    declared = op["responses"][status]
    headers = {h.lower() for h in declared.get("headers", {})}
    assert response.headers.get("x-amzn-RequestId"), "x-amzn-RequestId is on every answer"
    assert ("x-amzn-ratelimit-limit" in response.headers) == ("x-amzn-ratelimit-limit" in headers), (
        f"{operation} {status}: x-amzn-RateLimit-Limit presence must follow the model"
    )
    schema = declared.get("schema")
    if schema is None:
        assert response.content == b"", f"{operation} {status} has no body in the model"
        return None
    body = response.json()
    validator = Draft4Validator({**schema, "definitions": model["definitions"]})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == [], f"{operation} {status}: {errors}"
    return body


def gunzip_json(data: bytes) -> Any:
    assert data[:2] == b"\x1f\x8b", "expected GZIP bytes"
    return json.loads(gzip.decompress(data))


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """The real server (uvicorn) on a free port in a thread; yields its base URL."""
    settings = Settings(
        data_dir=tmp_path / "live",
        feed_queue_seconds=0.05,
        feed_processing_seconds=0.05,
        processor_interval=0.05,
        rate_scale=1000.0,
    )
    with serve(settings) as url:
        yield url
