"""Two sellers of one app, called interleaved from many threads, never use each other's token.

Both sellers share the app's client id, so a token cache keyed by anything less than the grant would
hand one seller's token to the other. The sandbox refuses a token issued for another selling partner
(403), as Amazon does, so a single mix-up fails the test; and every call it recorded names the seller
whose path it served.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from spapi import listings
from spapi.auth import LwaTokenProvider, clear_process_cache
from tests.fixtures.sandbox import APP_ID, APP_SECRET, SELLER, SELLER_TOKEN, US, Sandbox, new_client

pytestmark = pytest.mark.integration

EU_SELLER, EU_TOKEN, DE = "A3SANDBOXEU0003", "Atzr|sandbox-eu-0003", "A1PA6795UKMFR9"


def _searches(sandbox: Sandbox) -> dict[str, int]:
    """searchListingsItems answers by HTTP status, so far."""
    entry = sandbox.calls()["byOperation"].get("searchListingsItems", {})
    return dict(entry.get("statuses", {}))


def _sellers_served(sandbox: Sandbox, since: dict[str, int]) -> dict[str, int]:
    """The sellers (from the token) of the searches since ``since``: the sandbox records each call's."""
    new = sum(_searches(sandbox).values()) - sum(since.values())
    recent = sandbox.admin("GET", "/calls", params={"limit": 500})["recent"]
    served: dict[str, int] = {}
    for row in [r for r in recent if r["operation"] == "searchListingsItems"][:new]:
        if row["status"] == 200:
            served[row["seller_id"]] = served.get(row["seller_id"], 0) + 1
    return served


def _interleaved(sandbox: Sandbox, token_cache_url: str) -> list[str]:
    clear_process_cache()
    na = new_client(sandbox, token_cache_url=token_cache_url)
    eu = new_client(
        sandbox, token_cache_url=token_cache_url, refresh_token=EU_TOKEN, seller_id=EU_SELLER, region="eu"
    )
    jobs = list(
        itertools.islice(itertools.cycle([(na, SELLER, US), (eu, EU_SELLER, DE)]), 80)
    )  # NA, EU, NA, EU, ...

    def call(job: tuple[object, str, str]) -> str:
        client, seller, marketplace = job
        client.call(listings.search_listings_items(seller, [marketplace]))  # type: ignore[attr-defined]
        return seller

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(call, jobs))
    finally:
        na.close()
        eu.close()


def test_interleaved_sellers_in_one_process(sandbox: Sandbox) -> None:
    before = _searches(sandbox)
    done = _interleaved(sandbox, "memory://")
    assert done.count(SELLER) == done.count(EU_SELLER) == 40
    new = {k: v - before.get(k, 0) for k, v in _searches(sandbox).items()}
    # throttled calls are retried; a token of the other seller would be a 403
    assert new["200"] == 80 and set(new) <= {"200", "429"}, new
    assert _sellers_served(sandbox, before) == {SELLER: 40, EU_SELLER: 40}


def test_interleaved_sellers_through_the_shared_redis_cache(sandbox: Sandbox, redis_url: str) -> None:
    searches = _searches(sandbox)
    shared = redis.Redis.from_url(redis_url)
    # this sandbox's token endpoint is part of each cache key, so these keys are this test's alone
    mine = [
        key
        for refresh in (SELLER_TOKEN, EU_TOKEN)
        for digest in [
            LwaTokenProvider(
                APP_ID, APP_SECRET, refresh_token=refresh, token_url=f"{sandbox.url}/auth/o2/token"
            ).cache_key
        ]
        for key in (f"spapi:lwa:{digest}", f"spapi:lwa:lock:{digest}")
    ]
    try:
        # the process cache is cleared first, so every token comes from (or goes to) Redis: a cache
        # keyed by less than the grant would hand one seller's token to the other, and get a 403
        done = _interleaved(sandbox, redis_url)
        assert shared.exists(mine[0]) and shared.exists(mine[2]), "both sellers' tokens are cached"
    finally:
        shared.delete(*mine)
    assert done.count(SELLER) == done.count(EU_SELLER) == 40
    new = {k: v - searches.get(k, 0) for k, v in _searches(sandbox).items()}
    assert new["200"] == 80 and set(new) <= {"200", "429"}, new
    assert _sellers_served(sandbox, searches) == {SELLER: 40, EU_SELLER: 40}
