"""The client core: auth flow, retries, error mapping, limiter feedback, structured logs."""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from spapi import feeds
from spapi.call import Call, path_part
from spapi.client import (
    AsyncSpApiClient,
    CallRecord,
    SpApiClient,
    parse_retry_after,
    trace,
    user_agent,
    wait_full_jitter_retry_after,
)
from spapi.config import SpApiConfig
from spapi.errors import (
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    SpApiError,
    ThrottledError,
    TransportError,
    UnauthorizedError,
)
from spapi.ratelimit import Booking, BucketKey, MemoryBackend, RateLimiter, Slot
from spapi.rates import Limit
from tests.unit.spapi.fakes import (
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN_URL,
    FakeSpApi,
    api_error,
    throttled,
)


class RecordingLimiter:
    """Stands in for RateLimiter: records what the client tells it, never waits.

    ``on_book`` runs as each slot is booked, to see what the client had done by then.
    """

    def __init__(self) -> None:
        self.acquired: list[list[BucketKey]] = []
        self.rate_headers: list[tuple[BucketKey, str | None]] = []
        self.throttles: list[tuple[BucketKey, float | None]] = []
        self.lessons: list[Slot | None] = []  # the slot passed with each 429
        self.on_book: Callable[[], None] = lambda: None

    def keys_for(
        self, seller: str, region: str, operation: str, feed_type: str | None = None
    ) -> list[BucketKey]:
        keys = [BucketKey(seller, region, operation)]
        if feed_type:
            keys.append(BucketKey(seller, region, f"feedType:{feed_type}"))
        return keys

    def book(self, keys: Sequence[BucketKey], max_wait: float | None = None) -> Booking:
        self.on_book()
        self.acquired.append(list(keys))
        return Booking(0.0, {key: Slot(wait=0.0, tokens=2.0, burst=5) for key in keys})

    async def book_async(self, keys: Sequence[BucketKey], max_wait: float | None = None) -> Booking:
        return self.book(keys, max_wait)

    def observe_rate_header(self, key: BucketKey, value: str | None) -> None:
        self.rate_headers.append((key, value))

    def on_throttled(self, key: BucketKey, retry_after: float | None, slot: Slot | None = None) -> None:
        self.throttles.append((key, retry_after))
        self.lessons.append(slot)


def config(**kw: Any) -> SpApiConfig:
    base: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "region": "na",
        "seller_id": "A1SELLER",
        "endpoint_url": BASE_URL,
        "token_url": TOKEN_URL,
        "max_attempts": 4,
        "backoff_base": 1.0,
        "backoff_cap": 8.0,
    }
    base.update(kw)
    return SpApiConfig(**base)


class Harness:
    def __init__(self, **cfg: Any) -> None:
        self.api = FakeSpApi()
        self.limiter = RecordingLimiter()
        self.sleeps: list[float] = []
        self.records: list[CallRecord] = []
        self.client = SpApiClient(
            config(**cfg),
            transport=httpx.MockTransport(self.api),
            limiter=self.limiter,  # type: ignore[arg-type]
            sleep=self.sleeps.append,
            rng=random.Random(7),
            on_call=self.records.append,
        )


def get_item(sku: str = "SKU-1") -> Call[dict[str, Any]]:
    return Call(
        operation="getListingsItem",
        method="GET",
        path=f"/listings/2021-08-01/items/A1SELLER/{path_part(sku)}",
        params={"marketplaceIds": ["ATVPDKIKX0DER"]},
        parse=lambda r: r.json(),
        seller_id="A1SELLER",
        marketplace_id="ATVPDKIKX0DER",
        sku=sku,
    )


def create_feed() -> Call[dict[str, Any]]:
    return Call(
        operation="createFeed",
        method="POST",
        path="/feeds/2021-06-30/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "inputFeedDocumentId": "d1",
        },
        parse=lambda r: r.json(),
        success=(202,),
        idempotent=False,
        feed_type="JSON_LISTINGS_FEED",
    )


def ok(body: dict[str, Any] | None = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json=body or {"sku": "SKU-1"}, headers={"x-amzn-RequestId": "req-ok", **headers}
    )


# ---- request shape -----------------------------------------------------------------------------


def test_request_carries_token_user_agent_and_encoded_path() -> None:
    h = Harness()
    h.api.script.append(ok())
    assert h.client.call(get_item("A/B C")) == {"sku": "SKU-1"}
    request = h.api.calls[0]
    assert request.headers["x-amz-access-token"] == "Atza|SENTINEL-access-1"
    assert request.headers["user-agent"] == user_agent("spapi-listings")
    assert (
        request.url.raw_path == b"/listings/2021-08-01/items/A1SELLER/A%2FB%20C?marketplaceIds=ATVPDKIKX0DER"
    )
    assert "Authorization" not in request.headers  # SigV4 is off by default


def test_user_agent_follows_amazons_form() -> None:
    ua = user_agent("my-app")
    assert ua.startswith("my-app/") and "(Language=Python/3." in ua and "Platform=" in ua
    assert len(user_agent("x" * 600)) == 500


def test_json_body_is_sent_as_json() -> None:
    h = Harness()
    h.api.script.append(ok({"feedId": "F1"}, status=202))
    assert h.client.call(create_feed()) == {"feedId": "F1"}
    request = h.api.calls[0]
    assert request.headers["content-type"] == "application/json"
    assert (
        request.read()
        == b'{"feedType":"JSON_LISTINGS_FEED","marketplaceIds":["ATVPDKIKX0DER"],"inputFeedDocumentId":"d1"}'
    )


def test_presigned_calls_carry_no_sp_api_auth_and_skip_the_limiter() -> None:
    h = Harness()
    h.api.script.append(httpx.Response(200, content=b""))
    upload = Call(
        operation="uploadFeedDocument",
        method="PUT",
        path="https://s3.test/doc?X-Amz-Signature=abc",
        content=b'{"header":{}}',
        headers={"Content-Type": "application/json"},
        parse=lambda r: None,
        sp_api=False,
    )
    h.client.call(upload)
    request = h.api.calls[0]
    assert "x-amz-access-token" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert h.limiter.acquired == []
    assert h.api.lwa.issued() == 0


def test_limiter_keys_include_the_feed_type_bucket() -> None:
    h = Harness()
    h.api.script.append(ok({"feedId": "F1"}, status=202))
    h.client.call(create_feed())
    assert [k.operation for k in h.limiter.acquired[0]] == ["createFeed", "feedType:JSON_LISTINGS_FEED"]
    assert all(k.seller == "A1SELLER" and k.region == "na" for k in h.limiter.acquired[0])


def test_rate_limit_header_is_fed_to_the_limiter() -> None:
    h = Harness()
    h.api.script.append(ok(**{"x-amzn-RateLimit-Limit": "2.5"}))
    h.client.call(get_item())
    assert h.limiter.rate_headers == [(BucketKey("A1SELLER", "na", "getListingsItem"), "2.5")]


def test_the_token_is_fetched_before_the_slot_is_booked() -> None:
    """A slot booked before a slow LWA call would be used late and collide with the next one."""
    h = Harness()
    tokens_at_booking: list[int] = []
    h.limiter.on_book = lambda: tokens_at_booking.append(h.api.lwa.issued())
    h.api.script.extend([throttled(), ok()])
    h.client.call(get_item())
    assert tokens_at_booking == [1, 1]  # the first attempt's slot came after the token; the retry's too


@pytest.mark.asyncio
async def test_async_client_awaits_the_token_before_booking_the_slot() -> None:
    api = FakeSpApi()
    api.script.append(ok())
    limiter = RecordingLimiter()
    tokens_at_booking: list[int] = []
    limiter.on_book = lambda: tokens_at_booking.append(api.lwa.issued())
    async with AsyncSpApiClient(
        config(),
        transport=httpx.MockTransport(api.handle_async),
        limiter=limiter,  # type: ignore[arg-type]
    ) as client:
        await client.call(get_item())
    assert tokens_at_booking == [1]


def test_a_429_hands_the_slot_to_the_limiter_only_when_the_bucket_is_unambiguous() -> None:
    h = Harness()
    h.api.script.extend([throttled(), ok(), throttled(), ok({"feedId": "F1"}, status=202)])
    h.client.call(get_item())
    h.client.call(create_feed())
    single, *both = h.limiter.lessons
    assert single == Slot(wait=0.0, tokens=2.0, burst=5)
    # createFeed takes two buckets and Amazon does not say whose 429 it was: neither learns a burst.
    assert both == [None, None]


def test_a_429_on_tokens_in_hand_teaches_the_shared_bucket_a_lower_burst() -> None:
    """Amazon's burst for this seller is 2 where 5 is documented: the third call of a burst is refused."""
    now = [1000.0]
    backend = MemoryBackend(clock=lambda: now[0])
    limiter = RateLimiter(
        backend, limits={"getListingsItem": Limit(5.0, 5)}, burst_margin=1, sleep=lambda s: None
    )
    h = Harness()
    h.client.limiter = limiter
    h.api.script.extend([ok(), ok(), throttled(), ok()])
    for sku in ("A", "B", "C"):
        h.client.call(get_item(sku))  # the third was booked with 2 tokens of 4 in hand
    bucket = BucketKey("A1SELLER", "na", "getListingsItem").id
    now[0] += 600  # idle: full again, but only up to the learned burst (2, less the margin of 1)
    assert backend.book(bucket, 5.0, 4).burst == 1


# ---- auth -------------------------------------------------------------------------------------


def test_rejected_token_is_refreshed_once_and_the_call_resent() -> None:
    h = Harness()
    h.api.rejected_tokens.add("Atza|SENTINEL-access-1")
    h.api.script.append(ok())
    assert h.client.call(get_item()) == {"sku": "SKU-1"}
    assert h.api.tokens_seen == [
        "Atza|SENTINEL-access-1",
        "Atza|SENTINEL-access-2",
    ]
    assert h.api.lwa.issued() == 2


def test_http_401_also_refreshes_once() -> None:
    h = Harness()
    h.api.script.extend([api_error(401, "Unauthorized", "expired"), ok()])
    assert h.client.call(get_item()) == {"sku": "SKU-1"}
    assert h.api.lwa.issued() == 2


def test_token_refresh_happens_only_once() -> None:
    h = Harness()
    h.api.rejected_tokens.update({"Atza|SENTINEL-access-1", "Atza|SENTINEL-access-2"})
    with pytest.raises(ForbiddenError) as info:
        h.client.call(get_item())
    assert len(h.api.calls) == 2
    assert h.api.lwa.issued() == 2
    assert info.value.status == 403


def test_403_for_a_missing_role_is_not_a_token_problem() -> None:
    h = Harness()
    h.api.script.append(api_error(403, "Unauthorized", "Access to requested resource is denied.", ""))
    with pytest.raises(ForbiddenError) as info:
        h.client.call(get_item())
    assert isinstance(info.value, UnauthorizedError)
    assert h.api.lwa.issued() == 1
    assert len(h.api.calls) == 1


# ---- retries ------------------------------------------------------------------------------------


def test_429_with_retry_after_waits_at_least_that_long() -> None:
    h = Harness()
    h.api.script.extend([throttled("3"), throttled("2"), ok()])
    assert h.client.call(get_item()) == {"sku": "SKU-1"}
    assert len(h.sleeps) == 2
    assert h.sleeps[0] >= 3 and h.sleeps[1] >= 2
    assert [t[1] for t in h.limiter.throttles] == [3.0, 2.0]


def test_429_without_retry_after_uses_full_jitter_within_bounds() -> None:
    h = Harness(max_attempts=6, backoff_base=1.0, backoff_cap=8.0)
    h.api.script.extend([throttled()] * 5 + [ok()])
    h.client.call(get_item())
    assert len(h.sleeps) == 5
    for n, slept in enumerate(h.sleeps, start=1):
        assert 0 <= slept <= min(8.0, 1.0 * 2 ** (n - 1)), (n, slept)
    assert len(set(h.sleeps)) > 1  # jittered, not fixed


def test_jitter_spreads_over_the_whole_window() -> None:
    wait = wait_full_jitter_retry_after(multiplier=1.0, max=60, rng=random.Random(1))

    class State:
        attempt_number = 4  # window [0, 8]
        outcome = None

    samples = [wait(State()) for _ in range(2000)]  # type: ignore[arg-type]
    assert min(samples) >= 0 and max(samples) <= 8
    assert min(samples) < 0.5 and max(samples) > 7.5  # full jitter, not "equal jitter"


def test_throttling_that_never_ends_raises_throttled_after_max_attempts() -> None:
    h = Harness(max_attempts=3)
    h.api.default = lambda r: throttled("1")
    with pytest.raises(ThrottledError) as info:
        h.client.call(get_item())
    assert len(h.api.calls) == 3
    assert info.value.code == "QuotaExceeded" and info.value.retry_after == 1.0
    assert info.value.retryable


def test_retry_time_is_bounded() -> None:
    h = Harness(max_attempts=20, max_retry_seconds=0.2)
    h.api.default = lambda r: throttled("0")
    import time as _time

    h.client._sleep = lambda s: _time.sleep(0.05)
    with pytest.raises(ThrottledError):
        h.client.call(get_item())
    assert len(h.api.calls) < 20


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(status: int) -> None:
    h = Harness()
    h.api.script.extend([api_error(status, "InternalFailure", "We encountered an internal error."), ok()])
    assert h.client.call(get_item()) == {"sku": "SKU-1"}
    assert len(h.api.calls) == 2


def test_server_error_after_retries_is_typed() -> None:
    h = Harness(max_attempts=2)
    h.api.default = lambda r: api_error(503, "ServiceUnavailable", "Service temporarily unavailable.")
    with pytest.raises(ServerError) as info:
        h.client.call(get_item())
    assert info.value.status == 503 and info.value.request_id == "req-503"


def test_timeouts_and_connection_errors_are_retried() -> None:
    h = Harness()
    h.api.script.extend([httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), ok()])
    assert h.client.call(get_item()) == {"sku": "SKU-1"}
    assert len(h.sleeps) == 2


def test_transport_failure_after_retries_is_typed() -> None:
    h = Harness(max_attempts=2)
    h.api.default = lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as info:
        h.client.call(get_item())
    assert info.value.operation == "getListingsItem"


def test_create_feed_is_not_retried_after_a_read_timeout() -> None:
    """Amazon may have created the feed: resubmitting could publish twice. The ledger decides."""
    h = Harness()
    h.api.script.extend([httpx.ReadTimeout("slow"), ok({"feedId": "F1"}, status=202)])
    with pytest.raises(TransportError):
        h.client.call(create_feed())
    assert len(h.api.calls) == 1


def test_create_feed_is_retried_when_it_never_reached_amazon_or_was_throttled() -> None:
    h = Harness()
    h.api.script.extend([httpx.ConnectError("refused"), throttled("1"), ok({"feedId": "F1"}, status=202)])
    assert h.client.call(create_feed()) == {"feedId": "F1"}
    assert len(h.api.calls) == 3


def test_create_feed_is_not_retried_after_a_500() -> None:
    h = Harness()
    h.api.script.extend([api_error(500, "InternalFailure", "oops"), ok({"feedId": "F1"}, status=202)])
    with pytest.raises(ServerError):
        h.client.call(create_feed())
    assert len(h.api.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        api_error(500, "InternalFailure", "We encountered an internal error."),
        httpx.ReadTimeout("slow"),
    ],
    ids=["500", "read-timeout"],
)
def test_create_feed_document_is_retried_after_a_500_or_a_read_timeout(failure: Any) -> None:
    """A second document is an unused upload slot, not a submission: unlike createFeed, retry it."""
    h = Harness()
    h.api.script.extend([failure, ok({"feedDocumentId": "D2", "url": "https://s3.test/up"}, status=201)])
    document = h.client.call(feeds.create_feed_document("application/json"))
    assert document.feed_document_id == "D2"
    assert [r.url.path for r in h.api.calls] == ["/feeds/2021-06-30/documents"] * 2
    assert [r.status for r in h.records] == [500 if isinstance(failure, httpx.Response) else None, 201]


# ---- error mapping ------------------------------------------------------------------------------


def test_400_is_not_retried_and_carries_amazons_error_list() -> None:
    h = Harness()
    h.api.script.append(
        httpx.Response(
            400,
            json={
                "errors": [
                    {"code": "InvalidInput", "message": "marketplaceIds is required", "details": ""},
                    {"code": "InvalidInput", "message": "sku too long"},
                ]
            },
            headers={"x-amzn-RequestId": "req-400"},
        )
    )
    with pytest.raises(InvalidRequestError) as info:
        h.client.call(get_item("SKU-9"))
    err = info.value
    assert len(h.api.calls) == 1
    assert (err.status, err.code, err.request_id, err.sku) == (400, "InvalidInput", "req-400", "SKU-9")
    assert [e.message for e in err.errors] == ["marketplaceIds is required", "sku too long"]
    assert str(err) == (
        "getListingsItem HTTP 400 InvalidInput: marketplaceIds is required "
        "(sku=SKU-9, seller=A1SELLER, request_id=req-400)"
    )


def test_404_is_not_found() -> None:
    h = Harness()
    h.api.script.append(api_error(404, "NOT_FOUND", "Resource not found."))
    with pytest.raises(NotFoundError):
        h.client.call(get_item())


def test_unexpected_success_code_is_an_error() -> None:
    h = Harness()
    h.api.script.append(ok({"feedId": "F1"}, status=200))  # createFeed answers 202
    with pytest.raises(SpApiError):
        h.client.call(create_feed())


def test_non_json_error_body_is_still_mapped() -> None:
    h = Harness()
    h.api.script.append(httpx.Response(413, content=b"<html>too large</html>"))
    with pytest.raises(InvalidRequestError) as info:
        h.client.call(get_item())
    assert "<html>" not in str(info.value)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


# ---- logs and observers -------------------------------------------------------------------------


def test_every_attempt_logs_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    h.api.script.extend([throttled("1"), ok(**{"x-amzn-RequestId": "req-42"})])
    caplog.set_level(logging.INFO, logger="spapi.client")
    with trace("run-2026-11-23"):
        h.client.call(get_item())
    records = [r for r in caplog.records if r.name == "spapi.client"]
    assert len(records) == 2
    last = records[-1]
    assert last.spapi_operation == "getListingsItem"  # type: ignore[attr-defined]
    assert last.spapi_status == 200  # type: ignore[attr-defined]
    assert last.spapi_request_id == "req-42"  # type: ignore[attr-defined]
    assert last.spapi_seller_id == "A1SELLER"  # type: ignore[attr-defined]
    assert last.spapi_marketplace_id == "ATVPDKIKX0DER"  # type: ignore[attr-defined]
    assert last.spapi_trace_id == "run-2026-11-23"  # type: ignore[attr-defined]
    assert isinstance(last.spapi_latency_ms, float)  # type: ignore[attr-defined]
    assert records[0].levelno == logging.WARNING and records[0].spapi_status == 429  # type: ignore[attr-defined]
    assert "request_id=req-42" in last.getMessage() and "trace_id=run-2026-11-23" in last.getMessage()


def test_on_call_receives_one_record_per_attempt() -> None:
    h = Harness()
    h.api.script.extend([throttled("1"), ok()])
    h.client.call(get_item())
    assert [(r.attempt, r.status, r.throttled) for r in h.records] == [(1, 429, True), (2, 200, False)]
    assert h.records[0].error_code == "QuotaExceeded"


def test_a_failing_observer_does_not_break_the_call() -> None:
    h = Harness()
    h.api.script.append(ok())

    def boom(record: CallRecord) -> None:
        raise RuntimeError("observer down")

    h.client.on_call = boom
    assert h.client.call(get_item()) == {"sku": "SKU-1"}


# ---- async twin ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_client_retries_refreshes_and_maps_errors() -> None:
    api = FakeSpApi()
    api.rejected_tokens.add("Atza|SENTINEL-access-1")
    api.script.extend([throttled("2"), ok(), api_error(404, "NOT_FOUND", "nope")])
    sleeps: list[float] = []
    async with AsyncSpApiClient(
        config(),
        transport=httpx.MockTransport(api.handle_async),
        limiter=RecordingLimiter(),  # type: ignore[arg-type]
        sleep=sleeps.append,
    ) as client:
        assert await client.call(get_item()) == {"sku": "SKU-1"}
        with pytest.raises(NotFoundError):
            await client.call(get_item("SKU-2"))
    assert api.lwa.issued() == 2  # first token rejected, refreshed once
    assert sleeps and sleeps[0] >= 2


def test_client_without_refresh_token_refuses_sp_api_calls() -> None:
    client = SpApiClient(
        config(refresh_token=None),
        transport=httpx.MockTransport(FakeSpApi()),
        limiter=RecordingLimiter(),  # type: ignore[arg-type]
    )
    with pytest.raises(ValueError, match="refresh token"):
        client.call(get_item())


def test_scripts_are_consumed() -> None:
    # guard for the fake itself: an unconsumed script would hide a missing retry
    h = Harness()
    h.api.script = deque([ok()])
    h.client.call(get_item())
    assert not h.api.script


# ---- pagination -----------------------------------------------------------------------------------


def test_paginate_get_feeds_sends_next_token_alone() -> None:
    from spapi import feeds

    def feed(n: int) -> dict[str, Any]:
        return {
            "feedId": f"F{n}",
            "feedType": "JSON_LISTINGS_FEED",
            "createdTime": "2026-11-23T10:00:00Z",
            "processingStatus": "DONE",
        }

    h = Harness()
    h.api.script.extend(
        [
            ok({"feeds": [feed(1), feed(2)], "nextToken": "tok-2"}),
            ok({"feeds": [feed(3)], "nextToken": "tok-3"}),
            ok({"feeds": [feed(4)]}),
        ]
    )
    pages = list(
        h.client.paginate(feeds.get_feeds(feed_types=["JSON_LISTINGS_FEED"], page_size=2), feeds.next_page)
    )
    assert [f.feed_id for p in pages for f in p.feeds] == ["F1", "F2", "F3", "F4"]
    queries = [dict(r.url.params) for r in h.api.calls]
    assert queries == [
        {"feedTypes": "JSON_LISTINGS_FEED", "pageSize": "2"},
        {"nextToken": "tok-2"},
        {"nextToken": "tok-3"},
    ]


@pytest.mark.asyncio
async def test_async_paginate_search_keeps_filters_and_replaces_page_token() -> None:
    from spapi import listings

    api = FakeSpApi()
    api.script.extend(
        [
            ok(
                {
                    "numberOfResults": 3,
                    "pagination": {"nextToken": "p2"},
                    "items": [{"sku": "A"}, {"sku": "B"}],
                }
            ),
            ok({"numberOfResults": 3, "pagination": {"previousToken": "p1"}, "items": [{"sku": "C"}]}),
        ]
    )
    async with AsyncSpApiClient(
        config(),
        transport=httpx.MockTransport(api.handle_async),
        limiter=RecordingLimiter(),  # type: ignore[arg-type]
    ) as client:
        first = listings.search_listings_items("A1SELLER", ["ATVPDKIKX0DER"], page_size=2)
        skus = [i.sku async for page in client.paginate(first, listings.next_page) for i in page.items]
    assert skus == ["A", "B", "C"]
    assert dict(api.calls[1].url.params) == {
        "marketplaceIds": "ATVPDKIKX0DER",
        "pageSize": "2",
        "pageToken": "p2",
    }


# ---- grantless ------------------------------------------------------------------------------------


def test_grantless_calls_use_a_client_credentials_token_even_without_a_refresh_token() -> None:
    api = FakeSpApi()
    api.script.extend([ok({"payload": []}), ok({"payload": []})])
    client = SpApiClient(
        config(refresh_token=None),
        transport=httpx.MockTransport(api),
        limiter=RecordingLimiter(),  # type: ignore[arg-type]
    )
    destinations = Call(
        operation="getDestinations",
        method="GET",
        path="/notifications/v1/destinations",
        parse=lambda r: r.json(),
        grantless_scope="sellingpartnerapi::notifications",
    )
    client.call(destinations)
    client.call(destinations)
    assert [f["grant_type"] for f in api.lwa.requests] == ["client_credentials"]
    assert api.lwa.requests[0]["scope"] == "sellingpartnerapi::notifications"
    assert api.tokens_seen == ["Atza|SENTINEL-access-1"] * 2


def test_seller_and_grantless_tokens_do_not_mix() -> None:
    h = Harness()
    h.api.script.extend([ok(), ok({"payload": []})])
    h.client.call(get_item())
    h.client.call(
        Call(
            operation="getDestinations",
            method="GET",
            path="/notifications/v1/destinations",
            parse=lambda r: r.json(),
            grantless_scope="sellingpartnerapi::notifications",
        )
    )
    assert [f["grant_type"] for f in h.api.lwa.requests] == ["refresh_token", "client_credentials"]
    assert h.api.tokens_seen[0] != h.api.tokens_seen[1]


def test_auth_log_line_names_the_call(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    h.api.rejected_tokens.add("Atza|SENTINEL-access-1")
    h.api.script.append(ok())
    caplog.set_level(logging.INFO, logger="spapi.auth")
    with trace("t-9"):
        h.client.call(get_item("SKU-7"))
    line = next(r.getMessage() for r in caplog.records if "rejected" in r.getMessage())
    assert "operation=getListingsItem" in line and "sku=SKU-7" in line and "trace_id=t-9" in line
