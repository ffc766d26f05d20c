"""LWA tokens: grants, caching, expiry, single flight (threads, asyncio, processes), shared Redis cache."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from spapi.auth import LwaTokenProvider, RedisTokenStore, clear_process_cache, token_store_from_url
from spapi.errors import LwaError
from tests.unit.spapi import _token_server
from tests.unit.spapi.fakes import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_URL, FakeLwa


def provider(lwa: FakeLwa, **kw: object) -> LwaTokenProvider:
    kw.setdefault("refresh_token", REFRESH_TOKEN)
    kw.setdefault("token_url", TOKEN_URL)
    return LwaTokenProvider(
        CLIENT_ID,
        CLIENT_SECRET,
        http_client=httpx.Client(transport=httpx.MockTransport(lwa)),
        **kw,  # type: ignore[arg-type]
    )


def test_refresh_token_grant_sends_lwa_form_and_caches() -> None:
    lwa = FakeLwa()
    tokens = provider(lwa)
    first = tokens.get_token()
    assert first == "Atza|SENTINEL-access-1"
    assert tokens.get_token() == first
    assert lwa.issued() == 1
    assert lwa.requests[0] == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def test_form_is_urlencoded() -> None:
    seen: list[httpx.Request] = []
    lwa = FakeLwa()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return lwa(request)

    LwaTokenProvider(
        CLIENT_ID,
        CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        token_url=TOKEN_URL,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    ).get_token()
    assert seen[0].headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert seen[0].method == "POST"


def test_grantless_client_credentials() -> None:
    lwa = FakeLwa()
    tokens = provider(lwa, refresh_token=None, scope="sellingpartnerapi::notifications")
    tokens.get_token()
    form = lwa.requests[0]
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "sellingpartnerapi::notifications"
    assert "refresh_token" not in form


def test_grantless_and_seller_tokens_are_cached_apart() -> None:
    lwa = FakeLwa()
    seller = provider(lwa)
    grantless = provider(lwa, refresh_token=None, scope="sellingpartnerapi::notifications")
    assert seller.get_token() != grantless.get_token()
    assert lwa.issued() == 2


def test_tokens_of_different_token_endpoints_are_cached_apart() -> None:
    """A sandbox's token must never be offered to production (or another sandbox), even for the
    same app and refresh token: the shared cache keys include the endpoint."""
    lwa = FakeLwa()
    production = provider(lwa)
    sandbox = provider(lwa, token_url="http://127.0.0.1:8900/auth/o2/token")
    assert production.cache_key != sandbox.cache_key
    assert production.get_token() != sandbox.get_token()
    assert lwa.issued() == 2


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"refresh_token": None}, "exactly one"),
        ({"scope": "sellingpartnerapi::notifications"}, "exactly one"),
        ({"refresh_token": None, "scope": "sellingpartnerapi::migration"}, "unknown grantless scope"),
    ],
)
def test_grant_arguments_are_checked(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        provider(FakeLwa(), **kw)


def test_refreshes_ahead_of_expiry() -> None:
    now = [1_000_000.0]
    lwa = FakeLwa(expires_in=3600)
    tokens = provider(lwa, refresh_skew=60, clock=lambda: now[0])
    first = tokens.get_token()
    now[0] += 3600 - 61  # still 61 s left: fresh
    assert tokens.get_token() == first
    now[0] += 2  # 59 s left: inside the skew, refresh
    second = tokens.get_token()
    assert second != first
    assert lwa.issued() == 2


def test_invalidate_drops_only_the_rejected_token() -> None:
    lwa = FakeLwa()
    tokens = provider(lwa)
    first = tokens.get_token()
    tokens.invalidate("some-older-token")
    assert tokens.get_token() == first
    tokens.invalidate(first)
    assert tokens.get_token() != first
    assert lwa.issued() == 2


def test_fifty_threads_cause_one_token_request() -> None:
    lwa = FakeLwa(delay=0.2)
    tokens = provider(lwa)
    barrier = threading.Barrier(50)

    def get() -> str:
        barrier.wait()
        return tokens.get_token()

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: get(), range(50)))
    assert len(set(results)) == 1
    assert lwa.issued() == 1


async def _gather_tokens(lwa: FakeLwa, n: int) -> list[str]:
    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        await asyncio.sleep(0.1)
        return lwa(request)

    tokens = LwaTokenProvider(
        CLIENT_ID,
        CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        token_url=TOKEN_URL,
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    return list(await asyncio.gather(*(tokens.aget_token() for _ in range(n))))


@pytest.mark.asyncio
async def test_fifty_coroutines_cause_one_token_request() -> None:
    lwa = FakeLwa()
    results = await _gather_tokens(lwa, 50)
    assert len(set(results)) == 1
    assert lwa.issued() == 1


def test_lwa_refusal_is_typed_and_not_retried() -> None:
    lwa = FakeLwa(fail_with=__import__("collections").deque([(400, "invalid_grant")]))
    with pytest.raises(LwaError) as info:
        provider(lwa).get_token()
    assert info.value.error == "invalid_grant"
    assert info.value.status == 400
    assert not info.value.retryable
    assert lwa.issued() == 1


def test_lwa_server_error_is_retried() -> None:
    from collections import deque

    lwa = FakeLwa(fail_with=deque([(500, "server_error"), (503, "temporarily_unavailable")]))
    assert provider(lwa).get_token().startswith("Atza|")
    assert lwa.issued() == 3


def test_on_token_sees_every_minted_token() -> None:
    seen: list[str] = []
    lwa = FakeLwa()
    tokens = provider(lwa, on_token=seen.append)
    value = tokens.get_token()
    assert seen == [value]


def test_token_store_url_schemes() -> None:
    assert token_store_from_url(None) is None
    assert token_store_from_url("memory://") is None
    assert isinstance(token_store_from_url("redis://127.0.0.1:6379/15"), RedisTokenStore)
    with pytest.raises(ValueError, match="unsupported token cache URL"):
        token_store_from_url("s3://bucket")


@pytest.mark.redis
def test_redis_store_shares_an_encrypted_token(redis_url: str, redis_prefix: str) -> None:
    import redis

    lwa = FakeLwa()
    first = provider(lwa, store=RedisTokenStore(redis_url, prefix=redis_prefix)).get_token()
    clear_process_cache()  # as if another process asked
    second = provider(lwa, store=RedisTokenStore(redis_url, prefix=redis_prefix)).get_token()
    assert first == second
    assert lwa.issued() == 1
    raw = redis.Redis.from_url(redis_url)
    stored = [raw.get(k) for k in raw.scan_iter(match=redis_prefix + "*") if b"lock" not in k]
    assert stored, "the token was not written to Redis"
    for value in stored:
        assert first.encode() not in value
        assert REFRESH_TOKEN.encode() not in value and b"SENTINEL" not in value
    for key in raw.scan_iter(match=redis_prefix + "*"):
        assert b"SENTINEL" not in key


@pytest.mark.redis
def test_redis_store_with_wrong_secret_cannot_read_token(redis_url: str, redis_prefix: str) -> None:
    lwa = FakeLwa()
    provider(lwa, store=RedisTokenStore(redis_url, prefix=redis_prefix)).get_token()
    clear_process_cache()
    other = LwaTokenProvider(
        CLIENT_ID,
        "another-secret",
        refresh_token=REFRESH_TOKEN,
        token_url=TOKEN_URL,
        store=RedisTokenStore(redis_url, prefix=redis_prefix),
        http_client=httpx.Client(transport=httpx.MockTransport(lwa)),
    )
    # Same grant, so the same Redis key; but without the right client secret the value is unreadable.
    assert other.cache_key == provider(lwa).cache_key
    assert other._from_store() is None


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timing
def test_many_processes_share_one_token_through_redis(redis_url: str, redis_prefix: str) -> None:
    with _token_server.serve(delay=0.3) as server:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(4) as pool:
            results = pool.starmap(
                _token_server.fetch_token_in_process, [(server.url, redis_url, redis_prefix)] * 8
            )
        assert len(set(results)) == 1, results
        assert server.issued == 1
