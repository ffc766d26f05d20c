"""The real sandbox server on a free port, and clients for the demo sellers it knows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.settings import Settings
from sandbox.testing import serve
from spapi.auth import clear_process_cache
from spapi.client import SpApiClient
from spapi.config import SpApiConfig
from spapi.ratelimit import MemoryBackend, RateLimiter

APP_ID = "amzn1.application-oa2-client.sandbox-demo"
APP_SECRET = "sandbox-demo-secret"
SELLER = "A1SANDBOXNA0001"
SELLER_TOKEN = "Atzr|sandbox-na-0001"
REVOKED_TOKEN = "Atzr|sandbox-revoked-0004"
US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"


@dataclass
class Sandbox:
    url: str

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_sandbox{path}", timeout=10, **kw)
        response.raise_for_status()
        return response.json() if response.content else None

    def faults(self, *rules: dict[str, Any], seed: int = 7) -> None:
        self.admin("POST", "/faults", json={"seed": seed, "rules": list(rules)})

    def calls(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "/calls")
        return result

    def config(self, **overrides: Any) -> SpApiConfig:
        fields: dict[str, Any] = {
            "client_id": APP_ID,
            "client_secret": APP_SECRET,
            "refresh_token": SELLER_TOKEN,
            "region": "na",
            "seller_id": SELLER,
            "endpoint_url": self.url,
            "token_url": f"{self.url}/auth/o2/token",
            "rate_scale": 50.0,
            "backoff_base": 0.05,
            "backoff_cap": 0.5,
        }
        fields.update(overrides)
        return SpApiConfig(**fields)


def sandbox_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "sandbox",
        "feed_queue_seconds": 0.05,
        "feed_processing_seconds": 0.1,
        "processor_interval": 0.05,
        "rate_scale": 50.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """Start a sandbox with the given Settings overrides (one per test: no state leaks between tests)."""
    stack: list[Any] = []

    def start(**overrides: Any) -> Sandbox:
        cm = serve(sandbox_settings(tmp_path, **overrides))
        url = cm.__enter__()
        stack.append(cm)
        return Sandbox(url)

    clear_process_cache()
    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
    clear_process_cache()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return start_sandbox()


def new_client(sandbox: Sandbox, limiter: RateLimiter | None = None, **overrides: Any) -> SpApiClient:
    """A client with its own limiter, so one test's throttling does not slow the next."""
    config = sandbox.config(**overrides)
    return SpApiClient(config, limiter=limiter or RateLimiter(MemoryBackend(), scale=config.rate_scale))


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[SpApiClient]:
    with new_client(sandbox) as c:
        yield c
