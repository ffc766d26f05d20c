"""Fixtures every SP-API unit test module shares (helpers that are not fixtures are in ``fakes``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from spapi.auth import clear_process_cache
from tests.unit.spapi.fakes import BASE_URL, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_URL


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    """No LWA token cached in this process leaks into or out of a test."""
    clear_process_cache()
    yield
    clear_process_cache()


@pytest.fixture
def spapi_test_connection(monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``spapi_test`` Airflow connection (an environment variable): seller ``A1SELLER`` against
    :class:`~tests.unit.spapi.fakes.FakeSpApi`'s URLs, rate limits scaled up. Returns its id."""
    extra = {
        "environment": "sandbox",
        "refresh_token": REFRESH_TOKEN,
        "seller_id": "A1SELLER",
        "endpoint_url": BASE_URL,
        "token_url": TOKEN_URL,
        "rate_scale": 1000,
    }
    conn = {"conn_type": "spapi", "login": CLIENT_ID, "password": CLIENT_SECRET, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SPAPI_TEST", json.dumps(conn))
    return "spapi_test"
