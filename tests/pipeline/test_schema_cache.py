"""Product-type schemas through the PTD API: cached by checksum, verified, offline fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from listings_pipeline.catalog.schema_cache import fetch_schema, md5_b64
from spapi.auth import clear_process_cache
from spapi.client import SpApiClient
from spapi.config import SpApiConfig
from spapi.errors import SpApiError
from tests.unit.spapi.fakes import BASE_URL, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_URL, FakeSpApi

SCHEMA_V1 = json.dumps({"$id": "https://schemas.test/LUGGAGE", "type": "object", "v": 1}).encode()
SCHEMA_V2 = json.dumps({"$id": "https://schemas.test/LUGGAGE", "type": "object", "v": 2}).encode()
META = b'{"$id": "meta"}'


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    clear_process_cache()
    yield
    clear_process_cache()


class FakePtd(FakeSpApi):
    def __init__(self) -> None:
        super().__init__()
        self.schema = SCHEMA_V1
        self.announced: str | None = None  # a wrong checksum, to test verification
        self.downloads = 0
        self.down = False
        self.default = self.route

    def route(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, json={"errors": [{"code": "ServiceUnavailable", "message": "down"}]})
        if request.url.host == "s3.test":
            self.downloads += 1
            return httpx.Response(200, content=META if request.url.path == "/meta" else self.schema)
        assert request.url.path == "/definitions/2020-09-01/productTypes/LUGGAGE"
        return httpx.Response(
            200,
            json={
                "schema": {
                    "link": {"resource": "https://s3.test/schema", "verb": "GET"},
                    "checksum": self.announced or md5_b64(self.schema),
                },
                "metaSchema": {
                    "link": {"resource": "https://s3.test/meta", "verb": "GET"},
                    "checksum": md5_b64(META),
                },
                "requirements": "LISTING",
                "requirementsEnforced": "ENFORCED",
                "propertyGroups": {},
                "locale": "DEFAULT",
                "marketplaceIds": ["ATVPDKIKX0DER"],
                "productType": "LUGGAGE",
                "displayName": "Luggage",
                "productTypeVersion": {"version": "U1", "latest": True},
            },
        )


def client_for(api: FakeSpApi) -> SpApiClient:
    config = SpApiConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        endpoint_url=BASE_URL,
        token_url=TOKEN_URL,
        max_attempts=1,
        rate_scale=1000,
    )
    return SpApiClient(config, transport=httpx.MockTransport(api))


def test_downloads_once_per_checksum(tmp_path: Path) -> None:
    api = FakePtd()
    client = client_for(api)
    first = fetch_schema(client, "luggage", "ATVPDKIKX0DER", tmp_path)
    assert first.fresh and first.version == "U1"
    assert first.path == tmp_path / "ATVPDKIKX0DER" / "LUGGAGE.json"
    assert first.path.read_bytes() == SCHEMA_V1
    assert (tmp_path / "meta-schema.json").read_bytes() == META
    downloads = api.downloads
    fetch_schema(client, "LUGGAGE", "ATVPDKIKX0DER", tmp_path)
    assert api.downloads == downloads  # same checksum: nothing downloaded again
    api.schema = SCHEMA_V2
    second = fetch_schema(client, "LUGGAGE", "ATVPDKIKX0DER", tmp_path)
    assert second.path.read_bytes() == SCHEMA_V2
    assert len(list((tmp_path / "ATVPDKIKX0DER" / "by-checksum").iterdir())) == 2


def test_a_corrupt_download_is_rejected_and_nothing_is_cached(tmp_path: Path) -> None:
    api = FakePtd()
    api.announced = md5_b64(b"something else")
    with pytest.raises(SpApiError, match="checksum"):
        fetch_schema(client_for(api), "LUGGAGE", "ATVPDKIKX0DER", tmp_path)
    assert not (tmp_path / "ATVPDKIKX0DER" / "LUGGAGE.json").exists()


def test_falls_back_to_the_cache_when_the_api_is_down(tmp_path: Path) -> None:
    api = FakePtd()
    fetch_schema(client_for(api), "LUGGAGE", "ATVPDKIKX0DER", tmp_path)
    api.down = True
    cached = fetch_schema(client_for(api), "LUGGAGE", "ATVPDKIKX0DER", tmp_path)
    assert not cached.fresh and cached.path.read_bytes() == SCHEMA_V1


def test_without_a_cache_an_outage_is_an_error(tmp_path: Path) -> None:
    api = FakePtd()
    api.down = True
    with pytest.raises(SpApiError):
        fetch_schema(client_for(api), "LUGGAGE", "ATVPDKIKX0DER", tmp_path)
