"""Token buckets at Amazon's documented rates, 429s and rate headers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from sandbox.app import create_app
from sandbox.published import Quota
from sandbox.ratelimit import RateLimiter, format_rate
from sandbox.settings import Settings

from .conftest import SELLER, US, access_token, listings_path

QUOTA = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}


def test_format_rate() -> None:
    assert [format_rate(r) for r in (5.0, 0.5, 0.0083, 0.0222, 2)] == [
        "5.0",
        "0.5",
        "0.0083",
        "0.0222",
        "2.0",
    ]


def test_buckets_refill_at_the_scaled_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(scale=1.0, clock=lambda: now[0])
    assert all(limiter.acquire("getListingsItem", SELLER) for _ in range(5))  # burst 5 (the lower figure)
    assert not limiter.acquire("getListingsItem", SELLER)
    assert limiter.acquire("getListingsItem", "ANOTHER")  # per seller
    now[0] += 0.2  # 5 per second -> one token
    assert limiter.acquire("getListingsItem", SELLER)
    assert not limiter.acquire("getListingsItem", SELLER)
    fast = RateLimiter(scale=10.0, clock=lambda: now[0])
    assert all(fast.acquire("createFeed", SELLER) for _ in range(15))
    assert not fast.acquire("createFeed", SELLER)
    now[0] += 12.1  # 0.0083 * 10 per second: one token in ~12 s
    assert fast.acquire("createFeed", SELLER)


def test_burst_scale_plays_a_seller_granted_less_than_documented() -> None:
    now = [0.0]
    strict = RateLimiter(scale=1.0, burst_scale=0.4, clock=lambda: now[0])
    assert strict.limit("getListingsItem") == Quota(5.0, 2)  # 5 x 0.4; the rate is untouched
    assert strict.rate_header("getListingsItem") == "5.0"  # Amazon sends no burst header
    assert [strict.acquire("getListingsItem", SELLER) for _ in range(3)] == [True, True, False]
    assert [strict.acquire_feed_type("JSON_LISTINGS_FEED", SELLER, "na") for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert RateLimiter(burst_scale=0.01).limit("createFeed") == Quota(0.0083, 1)  # never below 1
    assert Settings.from_env({"SPAPI_SANDBOX_BURST_SCALE": "0.4"}).burst_scale == 0.4
    with pytest.raises(ValueError, match="burst_scale"):
        RateLimiter(burst_scale=0)


@pytest.mark.asyncio
async def test_429_and_headers(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, processor_enabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        h = {"x-amz-access-token": await access_token(c)}
        answers = [
            await c.get(listings_path("X"), params={"marketplaceIds": US}, headers=h) for _ in range(7)
        ]
        assert [r.status_code for r in answers] == [404] * 5 + [429] * 2
        assert all(r.headers["x-amzn-RateLimit-Limit"] == "5.0" for r in answers[:5])
        throttled = answers[5]
        assert throttled.json() == QUOTA and "x-amzn-RateLimit-Limit" not in throttled.headers
        assert throttled.headers["x-amzn-RequestId"]
        calls = (await c.get("/_sandbox/calls")).json()
        assert calls["byOperation"]["getListingsItem"]["throttled"] == 2 and calls["throttled"] == 2
        state = (await c.get("/_sandbox/state")).json()
        assert state["rateLimits"]["throttles"]["getListingsItem"] == 2


@pytest.mark.asyncio
async def test_feed_type_quota_on_top_of_create_feed(tmp_path: Path) -> None:
    # rate_scale 1: createFeed's own burst is 15, the JSON_LISTINGS_FEED quota is 5 per 5 minutes
    app = create_app(Settings(data_dir=tmp_path, processor_enabled=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        h = {"x-amz-access-token": await access_token(c)}
        statuses = []
        for _ in range(6):
            doc = (
                await c.post(
                    "/feeds/2021-06-30/documents", headers=h, json={"contentType": "application/json"}
                )
            ).json()
            r = await c.post(
                "/feeds/2021-06-30/feeds",
                headers=h,
                json={
                    "feedType": "JSON_LISTINGS_FEED",
                    "marketplaceIds": [US],
                    "inputFeedDocumentId": doc["feedDocumentId"],
                },
            )
            statuses.append(r.status_code)
            if r.status_code == 202:
                assert r.headers["x-amzn-RateLimit-Limit"] == "0.0083"
            else:
                assert r.json() == QUOTA
        assert statuses == [202] * 5 + [429]
        # another seller of the same region has its own quota
        other = {"x-amz-access-token": await access_token(c, "Atzr|sandbox-na-0002")}
        doc = (
            await c.post(
                "/feeds/2021-06-30/documents", headers=other, json={"contentType": "application/json"}
            )
        ).json()
        r = await c.post(
            "/feeds/2021-06-30/feeds",
            headers=other,
            json={
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [US],
                "inputFeedDocumentId": doc["feedDocumentId"],
            },
        )
        assert r.status_code == 202
        body = json.loads((await c.get("/_sandbox/calls")).content)
        assert body["byOperation"]["createFeed"]["statuses"] == {"202": 6, "429": 1}
