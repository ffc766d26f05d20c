"""The shared rate limiter: bucket arithmetic on a fake clock for every backend, then real concurrency.

The semantic tests run once per backend (memory, file, Redis) with an injected clock, so the Lua
script is held to exactly the same schedule as the Python code. The concurrency tests use real time
and real threads or processes, and check both sides: never more than the bucket allows, and close to
what it allows (a limiter that never grants passes the first check alone).
"""

from __future__ import annotations

import asyncio
import bisect
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spapi.errors import ThrottledError
from spapi.ratelimit import (
    BURST_RELEARN_SECONDS,
    MIN_RATE,
    BucketBackend,
    BucketKey,
    FileBackend,
    LimiterTimeout,
    MemoryBackend,
    RateLimiter,
    RedisBackend,
    Slot,
    limiter_from_url,
)
from spapi.rates import FEED_TYPE_LIMITS, OPERATION_LIMITS, Limit
from tests.unit.spapi import _ratelimit_worker

SELLER = "A1SELLER"
OP = "testOp"  # rate 2/s, burst 3 in LIMITS below: waits come out as round numbers
LIMITS = {OP: Limit(2.0, 3), "slowOp": Limit(0.5, 1)}


class FakeClock:
    """Wall-clock-like seconds that move only when a test sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Recording:
    """Wraps a backend and records each call with the clock, to check order and arguments."""

    inner: BucketBackend
    clock: FakeClock
    calls: list[tuple[str, str, float]] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    bursts: list[int] = field(default_factory=list)

    def book(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> Slot:
        self.calls.append(("book", bucket_id, self.clock()))
        return self.inner.book(bucket_id, rate, burst, cost, max_wait)

    def reserve(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> float:
        return self.book(bucket_id, rate, burst, cost, max_wait).wait

    def set_rate(self, bucket_id: str, rate: float) -> None:
        self.calls.append(("set_rate", bucket_id, self.clock()))
        self.rates.append(rate)
        self.inner.set_rate(bucket_id, rate)

    def lower_burst(self, bucket_id: str, burst: int) -> None:
        self.calls.append(("lower_burst", bucket_id, self.clock()))
        self.bursts.append(burst)
        self.inner.lower_burst(bucket_id, burst)

    def penalize(self, bucket_id: str, seconds: float) -> None:
        self.calls.append(("penalize", bucket_id, seconds))
        self.inner.penalize(bucket_id, seconds)

    def peek(self, bucket_id: str, rate: float, burst: int) -> float:
        return self.inner.peek(bucket_id, rate, burst)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "file", pytest.param("redis", marks=pytest.mark.redis)])
def backends(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Callable[[], BucketBackend]:
    """Returns a factory of backends that share state, as separate processes would."""
    if request.param == "memory":
        shared = MemoryBackend(clock=clock)
        return lambda: shared
    if request.param == "file":
        return lambda: FileBackend(tmp_path / "buckets", clock=clock)
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    return lambda: RedisBackend(url, prefix=prefix, clock=clock)


@pytest.fixture
def backend(backends: Callable[[], BucketBackend]) -> BucketBackend:
    return backends()


def make_limiter(
    backend: BucketBackend,
    clock: FakeClock,
    *,
    limits: Mapping[str, Limit] = LIMITS,
    feed_type_limits: Mapping[str, Limit] = FEED_TYPE_LIMITS,
    scale: float = 1.0,
) -> RateLimiter:
    """A limiter on the fake clock that spends the whole burst, so waits are easy to predict."""
    return RateLimiter(
        backend,
        limits=limits,
        feed_type_limits=feed_type_limits,
        scale=scale,
        burst_margin=0,
        sleep=clock.sleep,
        async_sleep=clock.async_sleep,
    )


def key(operation: str = OP, seller: str = SELLER) -> BucketKey:
    return BucketKey(seller, "na", operation)


# -- bucket arithmetic, every backend ---------------------------------------------------------------


def test_burst_then_steady_rate(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock)
    start = clock()
    waits = [limiter.acquire([key()]) for _ in range(9)]
    assert waits[:3] == [0.0, 0.0, 0.0]  # the bucket starts full
    assert waits[3:] == pytest.approx([0.5] * 6)  # then one token per 1/rate
    assert clock() - start == pytest.approx(3.0)


def test_bookings_queue_up_without_sleeping(backend: BucketBackend) -> None:
    """Concurrent callers each get their own later slot: waits add up instead of colliding."""
    waits = [backend.reserve("b", 2.0, 3) for _ in range(7)]
    assert waits == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0])
    assert backend.peek("b", 2.0, 3) == pytest.approx(2.5)


def test_refill_is_capped_at_burst(backend: BucketBackend, clock: FakeClock) -> None:
    for _ in range(3):
        backend.reserve("b", 2.0, 3)
    clock.sleep(600)
    waits = [backend.reserve("b", 2.0, 3) for _ in range(4)]
    assert waits == pytest.approx([0, 0, 0, 0.5])


def test_max_wait_raises_without_booking(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock)
    for _ in range(3):
        limiter.acquire([key()])
    before = clock()
    with pytest.raises(LimiterTimeout) as info:
        limiter.acquire([key()], max_wait=0.4)
    assert isinstance(info.value, ThrottledError)
    assert info.value.retry_after == pytest.approx(0.5)
    assert info.value.operation == OP
    assert clock() == before  # did not sleep
    # Nothing was booked: the next caller still gets the first free slot, not the second.
    assert backend.peek(key().id, 2.0, 3) == pytest.approx(0.5)
    assert limiter.acquire([key()], max_wait=0.5) == pytest.approx(0.5)  # exactly max_wait is allowed


def test_max_wait_zero_is_a_try(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock)
    assert [limiter.acquire([key()], max_wait=0) for _ in range(3)] == [0.0, 0.0, 0.0]
    with pytest.raises(LimiterTimeout):
        limiter.acquire([key()], max_wait=0)


def test_set_rate_is_shared(backends: Callable[[], BucketBackend], clock: FakeClock) -> None:
    one, other = make_limiter(backends(), clock), make_limiter(backends(), clock)
    one.observe_rate_header(key(), "1.0")  # Amazon says 1/s, not the documented 2/s
    assert [other.acquire([key()]) for _ in range(5)] == pytest.approx([0, 0, 0, 1.0, 1.0])
    # A rate learned for one seller's bucket does not touch another's.
    assert [other.acquire([key(seller="A2OTHER")]) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_penalize_holds_everyone_then_refills_from_one(
    backends: Callable[[], BucketBackend], clock: FakeClock
) -> None:
    one, other = backends(), backends()
    one.penalize("b", 2.0)
    assert other.peek("b", 2.0, 3) == pytest.approx(2.0)
    waits = [other.reserve("b", 2.0, 3) for _ in range(3)]
    # Nobody before now+2 s, then the rate, not a burst the moment the penalty ends.
    assert waits == pytest.approx([2.0, 2.5, 3.0])


def test_penalize_does_not_shorten_an_existing_queue(backend: BucketBackend) -> None:
    for _ in range(9):
        backend.reserve("b", 2.0, 3)  # booked up to +3 s
    backend.penalize("b", 1.0)
    assert backend.peek("b", 2.0, 3) >= 3.0


def test_on_throttled_penalizes_with_retry_after_or_one_token(
    backend: BucketBackend, clock: FakeClock
) -> None:
    limiter = make_limiter(backend, clock)
    limiter.on_throttled(key(), 7.0)
    assert limiter.time_until_available([key()]) == pytest.approx(7.0)
    limiter.on_throttled(key("slowOp"), None)  # no Retry-After (Amazon's usual 429): 1/rate
    assert limiter.time_until_available([key("slowOp")]) == pytest.approx(2.0)
    limiter.on_throttled(key("unknownOp"), 5.0)  # unlimited operations have no bucket to hold
    assert limiter.time_until_available([key("unknownOp")]) == 0.0


def test_a_booking_reports_each_slot(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock)
    slots = [limiter.book([key()]).slots[key()] for _ in range(4)]
    # The burst goes out of tokens in hand; the fourth waits for one to refill, and holds only it.
    assert slots == [
        Slot(wait=0.0, tokens=3.0, burst=3),
        Slot(wait=0.0, tokens=2.0, burst=3),
        Slot(wait=0.0, tokens=1.0, burst=3),
        Slot(wait=pytest.approx(0.5), tokens=1.0, burst=3),
    ]
    assert limiter.book([]).slots == {}


def test_a_429_on_tokens_in_hand_lowers_the_shared_burst(
    backends: Callable[[], BucketBackend], clock: FakeClock
) -> None:
    """Amazon's burst is 2 where 3 is documented: of three calls at once, it refuses the third."""
    one, other = make_limiter(backends(), clock), make_limiter(backends(), clock)
    bookings = [one.book([key()]) for _ in range(3)]
    one.on_throttled(key(), None, bookings[2].slots[key()])  # booked with 1 token of 3 in hand
    clock.sleep(600)  # idle: the penalty is long over and the bucket full again, up to 2
    assert [other.acquire([key()]) for _ in range(3)] == pytest.approx([0, 0, 0.5])
    assert other.book([key()]).slots[key()].burst == 2
    # Another seller's bucket keeps the documented burst.
    assert [other.acquire([key(seller="A2OTHER")]) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_a_learned_burst_is_forgotten_after_an_hour_so_a_raised_burst_is_used_again(
    backend: BucketBackend, clock: FakeClock
) -> None:
    """A 429 from another of Amazon's limits, or a burst Amazon has raised since, must not keep a
    seller slow for good: after BURST_RELEARN_SECONDS the documented burst is tried again."""
    backend.lower_burst("b", 1)
    assert [backend.reserve("b", 2.0, 3) for _ in range(2)] == pytest.approx([0, 0.5])
    clock.sleep(BURST_RELEARN_SECONDS - 10)  # still learned: a full bucket holds one token
    assert [backend.reserve("b", 2.0, 3) for _ in range(2)] == pytest.approx([0, 0.5])
    clock.sleep(10)
    assert backend.book("b", 2.0, 3).burst == 3
    clock.sleep(60)
    assert [backend.reserve("b", 2.0, 3) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])
    # learned again, by a later 429: the lesson holds for a new hour
    backend.lower_burst("b", 2)
    clock.sleep(60)
    assert backend.book("b", 2.0, 3).burst == 2
    clock.sleep(BURST_RELEARN_SECONDS)
    assert backend.book("b", 2.0, 3).burst == 3


def test_a_429_on_a_queued_slot_teaches_no_burst(backend: BucketBackend, clock: FakeClock) -> None:
    """A queued slot held exactly one token: its 429 is timing jitter or a lower rate, not the burst."""
    recording = Recording(backend, clock)
    limiter = make_limiter(recording, clock)
    queued = [limiter.book([key()]) for _ in range(4)][-1].slots[key()]
    limiter.on_throttled(key(), None, queued)
    # Nor does a 429 on a full bucket's first token: no lower burst explains it.
    limiter.on_throttled(key("slowOp"), None, limiter.book([key("slowOp")]).slots[key("slowOp")])
    assert recording.bursts == []
    clock.sleep(600)
    assert [limiter.acquire([key()]) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_the_learned_burst_only_goes_down_and_never_below_one(
    backend: BucketBackend, clock: FakeClock
) -> None:
    backend.lower_burst("b", 2)
    backend.lower_burst("b", 3)  # a later, weaker lesson does not undo a stronger one
    assert [backend.reserve("b", 2.0, 3) for _ in range(3)] == pytest.approx([0, 0, 0.5])
    with pytest.raises(ValueError, match="burst"):
        backend.lower_burst("b", 0)
    # With a margin of 1, Amazon's burst of 1 leaves nothing spare, yet the bucket keeps one token.
    limiter = RateLimiter(backend, limits={OP: Limit(2.0, 4)}, burst_margin=1, sleep=clock.sleep)
    bookings = [limiter.book([key()]) for _ in range(3)]  # 3 of 3 in hand, 2, 1
    limiter.on_throttled(key(), None, bookings[1].slots[key()])
    clock.sleep(600)
    assert [limiter.acquire([key()]) for _ in range(2)] == pytest.approx([0, 0.5])


@pytest.mark.parametrize(
    ("slot", "margin", "expected"),
    [
        (Slot(wait=0.0, tokens=2.0, burst=4), 1, 1),  # Amazon's burst is at most 2
        (Slot(wait=0.0, tokens=1.0, burst=4), 1, 2),  # at most 3
        (Slot(wait=0.0, tokens=1.0001, burst=4), 1, 2),  # a little refill since does not change that
        (Slot(wait=0.0, tokens=1.0, burst=4), 0, 3),
        (Slot(wait=0.0, tokens=1.5, burst=4), 0, 3),  # below 3.5: 3
        (Slot(wait=0.0, tokens=4.0, burst=4), 0, None),  # a full bucket refused: not the burst
        (Slot(wait=0.0, tokens=1.0, burst=1), 0, None),  # nothing lower to learn
        (Slot(wait=0.0, tokens=3.0, burst=4), 1, 1),  # Amazon's is 1: no room for the margin, yet 1
        (Slot(wait=0.25, tokens=1.0, burst=4), 0, None),  # queued
    ],
)
def test_burst_after_429(slot: Slot, margin: int, expected: int | None) -> None:
    limiter = RateLimiter(limits=LIMITS, burst_margin=margin)
    assert limiter.burst_after_429(slot) == expected


def test_time_until_available_books_nothing(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock)
    for _ in range(3):
        assert limiter.time_until_available([key()]) == 0.0
        limiter.acquire([key()])
    assert limiter.time_until_available([key()]) == pytest.approx(0.5)
    assert limiter.time_until_available([key()]) == pytest.approx(0.5)


def test_create_feed_takes_both_buckets(backend: BucketBackend, clock: FakeClock) -> None:
    """createFeed: 1 per 120 s (burst 15) and, per feed type, 5 per 300 s (burst 5)."""
    recording = Recording(backend, clock)
    limiter = make_limiter(recording, clock, limits=OPERATION_LIMITS, feed_type_limits=FEED_TYPE_LIMITS)
    keys = limiter.keys_for(SELLER, "NA", "createFeed", feed_type="JSON_LISTINGS_FEED")
    assert [k.id for k in keys] == [
        f"spapi:rl:{SELLER}:na:createFeed",
        f"spapi:rl:{SELLER}:na:feedType:JSON_LISTINGS_FEED",
    ]
    start = clock()
    grants = []
    for _ in range(30):
        limiter.acquire(keys)
        grants.append(clock() - start)

    # The feed-type limit binds first: 5 at once, then one per 60 s.
    assert grants[:5] == [0.0] * 5
    assert grants[5] == pytest.approx(60.0)
    for i, t in enumerate(grants):  # never more than 5 + 5 in any 300 s
        assert bisect.bisect_right(grants, t + 300 - 1e-6) - i <= 10
    # Once its burst of 15 is spent, the operation limit binds: one per 1/0.0083 s.
    assert grants[-1] - grants[-2] == pytest.approx(1 / 0.0083)

    # While the feed-type bucket is empty, the operation bucket is booked only after the wait,
    # so its token is not held for a minute.
    calls = [(bucket.rsplit(":", 1)[-1], at - start) for op, bucket, at in recording.calls if op == "book"]
    assert calls[10:12] == [("JSON_LISTINGS_FEED", 0.0), ("createFeed", pytest.approx(60.0))]


def test_two_buckets_max_wait_checks_both_before_booking(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock, limits=OPERATION_LIMITS, feed_type_limits=FEED_TYPE_LIMITS)
    keys = limiter.keys_for(SELLER, "na", "createFeed", feed_type="JSON_LISTINGS_FEED")
    for _ in range(5):
        limiter.acquire(keys)
    with pytest.raises(LimiterTimeout) as info:
        limiter.acquire(keys, max_wait=10)
    assert info.value.retry_after == pytest.approx(60.0)
    # The operation bucket (15 - 5 = 10 tokens) was not touched by the failed attempt.
    op_key = keys[0]
    for _ in range(10):
        assert backend.reserve(op_key.id, 0.0083, 15) == 0.0
    assert backend.reserve(op_key.id, 0.0083, 15) > 0


def test_unknown_operations_are_unlimited(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock, limits=OPERATION_LIMITS)
    assert limiter.keys_for(SELLER, "na", "uploadFeedDocument") == []
    assert limiter.keys_for(SELLER, "na", "getListingsItem") == [key("getListingsItem")]
    # A feed type without a documented limit adds no bucket; only createFeed has feed-type limits.
    assert limiter.keys_for(SELLER, "na", "createFeed", feed_type="POST_PRODUCT_DATA") == [key("createFeed")]
    assert limiter.keys_for(SELLER, "na", "getFeed", feed_type="JSON_LISTINGS_FEED") == [key("getFeed")]
    assert limiter.acquire([], max_wait=0) == 0.0
    assert limiter.acquire([key("uploadFeedDocument")] * 3, max_wait=0) == 0.0
    assert limiter.time_until_available([]) == 0.0


def test_acquire_async(backend: BucketBackend, clock: FakeClock) -> None:
    limiter = make_limiter(backend, clock)

    async def main() -> list[float]:
        return [await limiter.acquire_async([key()]) for _ in range(5)]

    assert asyncio.run(main()) == pytest.approx([0, 0, 0, 0.5, 0.5])
    with pytest.raises(LimiterTimeout):
        asyncio.run(limiter.acquire_async([key()], max_wait=0.1))


# -- limiter settings, memory backend -----------------------------------------------------------


def test_bucket_key_id() -> None:
    assert (
        BucketKey("A1", "eu", "feedType:JSON_LISTINGS_FEED").id
        == "spapi:rl:A1:eu:feedType:JSON_LISTINGS_FEED"
    )
    assert BucketKey("A1", "eu", "feedType:JSON_LISTINGS_FEED").feed_type == "JSON_LISTINGS_FEED"
    assert BucketKey("A1", "eu", "createFeed").feed_type is None


def test_scale_multiplies_documented_rates(clock: FakeClock) -> None:
    limiter = make_limiter(MemoryBackend(clock=clock), clock, scale=10.0)
    assert [limiter.acquire([key()]) for _ in range(5)] == pytest.approx([0, 0, 0, 0.05, 0.05])


def test_default_burst_margin_leaves_one_token(clock: FakeClock) -> None:
    limiter = RateLimiter(MemoryBackend(clock=clock), sleep=clock.sleep)
    assert limiter.burst_margin == 1
    k = limiter.keys_for(SELLER, "na", "getListingsItem")
    assert [limiter.acquire(k) for _ in range(5)] == pytest.approx([0, 0, 0, 0, 0.2])  # burst 5 - 1
    assert limiter.limit_for(key("getFeedDocument")) == Limit(0.0222, 9)
    assert RateLimiter(limits={"one": Limit(1.0, 1)}).limit_for(key("one")) == Limit(1.0, 1)  # never 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("abc", None),
        ("5,0", None),
        ("nan", None),
        ("inf", None),
        ("0", None),
        ("-1.0", None),
        ("5.0", 5.0),
        (" 0.0083 ", 0.0083),
        ("0.04512", 0.04512),
        ("10", 10.0),  # above the documented 2/s: the header is the limit Amazon applies
        ("1e-9", MIN_RATE),
    ],
)
def test_observe_rate_header(clock: FakeClock, header: str | None, expected: float | None) -> None:
    recording = Recording(MemoryBackend(clock=clock), clock)
    limiter = make_limiter(recording, clock)
    limiter.observe_rate_header(key(), header)
    assert recording.rates == ([] if expected is None else [pytest.approx(expected)])


def test_observe_rate_header_is_not_resent_when_unchanged(clock: FakeClock) -> None:
    recording = Recording(MemoryBackend(clock=clock), clock)
    limiter = make_limiter(recording, clock)
    for header in ("5.0", "5.0", "5", "2.5", "2.5"):
        limiter.observe_rate_header(key(), header)
    limiter.observe_rate_header(key("unknownOp"), "5.0")  # no bucket, nothing to learn
    assert recording.rates == [5.0, 2.5]


def test_validation() -> None:
    backend = MemoryBackend()
    with pytest.raises(ValueError, match="rate"):
        backend.reserve("b", 0.0, 1)
    with pytest.raises(ValueError, match="burst"):
        backend.reserve("b", 1.0, 0)
    with pytest.raises(ValueError, match="scale"):
        RateLimiter(scale=0)


def test_limiter_from_url(tmp_path: Path) -> None:
    assert isinstance(limiter_from_url(None).backend, MemoryBackend)
    assert isinstance(limiter_from_url("memory://").backend, MemoryBackend)
    # every memory:// limiter of a process shares one backend, so two clients cannot double the rate
    assert limiter_from_url("memory://").backend is limiter_from_url(None).backend
    file_limiter = limiter_from_url(f"file://{tmp_path}/rl", scale=3.0)
    assert isinstance(file_limiter.backend, FileBackend)
    assert file_limiter.backend.directory == tmp_path / "rl"
    assert file_limiter.scale == 3.0
    with pytest.raises(ValueError, match="scheme"):
        limiter_from_url("postgres://x")


# -- backend specifics ------------------------------------------------------------------------------


def test_file_state_survives_the_process(tmp_path: Path, clock: FakeClock) -> None:
    first = FileBackend(tmp_path, clock=clock)
    for _ in range(3):
        first.reserve("spapi:rl:A1:na:feedType:JSON_LISTINGS_FEED", 2.0, 3)
    del first
    again = FileBackend(tmp_path, clock=clock)
    assert again.peek("spapi:rl:A1:na:feedType:JSON_LISTINGS_FEED", 2.0, 3) == pytest.approx(0.5)
    [state] = tmp_path.glob("*.json")
    assert state.name.startswith("spapi_rl_A1_na_feedType_JSON_LISTINGS_FEED-")


def test_file_backend_recovers_from_a_torn_state_file(tmp_path: Path, clock: FakeClock) -> None:
    backend = FileBackend(tmp_path, clock=clock)
    backend.path_for("b").write_text('{"tokens": -4, "ts"')
    assert backend.reserve("b", 2.0, 3) == 0.0  # treated as a fresh, full bucket


def test_file_backend_ignores_a_learned_burst_below_one(tmp_path: Path, clock: FakeClock) -> None:
    backend = FileBackend(tmp_path, clock=clock)
    backend.path_for("b").write_text('{"burst": 0}')  # written by hand, or by a broken version
    assert [backend.reserve("b", 2.0, 3) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_file_backend_default_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The backend creates its directory: point the temp dir at the test's own, so the real
    # <tempdir>/spapi-ratelimit (which a running pipeline may be using) is neither made nor touched.
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert FileBackend().directory == tmp_path / "spapi-ratelimit"
    assert (tmp_path / "spapi-ratelimit").is_dir()


@pytest.mark.redis
def test_redis_uses_server_time_and_expires_keys(redis_url: str, redis_prefix: str) -> None:
    import redis

    backend = RedisBackend(redis.Redis.from_url(redis_url), prefix=redis_prefix, idle_ttl=60)
    # The waits are measured on the server's clock; our own clock brackets when each booking can have
    # happened, so the bounds widen on a busy machine instead of failing there.
    eps = 1e-3
    before_first = time.monotonic()
    waits = [backend.reserve("b", 2.0, 2) for _ in range(3)]
    after_third = time.monotonic()
    assert waits[:2] == [0.0, 0.0]
    # The third slot is 0.5 s after the first booking.
    assert 0.5 - (after_third - before_first) - eps <= waits[2] <= 0.5 + eps
    time.sleep(0.2)  # the server's clock must move on: that it is the server's is what is tested
    before_fourth = time.monotonic()
    fourth = backend.reserve("b", 2.0, 2)
    after_fourth = time.monotonic()
    # The fourth is 1.0 s after the first booking, less the time that passed on the server: at least
    # the sleep, with sub-second precision (a clock in whole seconds would give 1.0 or 0.0).
    assert 1.0 - (after_fourth - before_first) - eps <= fourth <= 1.0 - (before_fourth - after_third) + eps
    ttl = backend.client.pttl(redis_prefix + "b")
    since_fourth_ms = (time.monotonic() - after_fourth) * 1000
    assert 60_000 - since_fourth_ms < ttl <= 62_100  # idle_ttl + the time to refill (4 tokens at 2/s)
    backend.set_rate("other", 3.0)
    assert 0 < backend.client.pttl(redis_prefix + "other") <= 60_000
    assert "password" not in repr(RedisBackend("redis://:password@127.0.0.1:6379/15"))


@pytest.mark.redis
def test_redis_keeps_a_learned_burst_as_long_as_a_learned_rate(redis_url: str, redis_prefix: str) -> None:
    backend = RedisBackend(redis_url, prefix=redis_prefix, idle_ttl=60)
    backend.lower_burst("b", 2)
    backend.lower_burst("b", 4)
    assert backend.client.hget(redis_prefix + "b", "burst") == b"2"
    assert 0 < backend.client.pttl(redis_prefix + "b") <= 60_000
    assert backend.book("b", 2.0, 3).burst == 2


@pytest.mark.redis
def test_redis_reloads_a_flushed_script(redis_url: str, redis_prefix: str) -> None:
    backend = RedisBackend(redis_url, prefix=redis_prefix)
    backend.client.script_flush()  # e.g. a Redis restart: EVALSHA answers NOSCRIPT
    assert backend.reserve("b", 1.0, 1) == 0.0


@pytest.mark.redis
def test_redis_from_url_key_prefix(redis_url: str, redis_prefix: str) -> None:
    limiter = limiter_from_url(f"{redis_url}?key_prefix={redis_prefix}&socket_timeout=3")
    assert isinstance(limiter.backend, RedisBackend)
    assert limiter.backend.prefix == redis_prefix
    limiter.acquire(limiter.keys_for(SELLER, "na", "getFeed"))
    assert limiter.backend.client.exists(f"{redis_prefix}spapi:rl:{SELLER}:na:getFeed")


# -- real concurrency -------------------------------------------------------------------------------


def max_in_window(times: list[float], window: float) -> int:
    """The most grants in any closed window of ``window`` seconds (windows start at a grant)."""
    times = sorted(times)
    return max((bisect.bisect_right(times, t + window) - i for i, t in enumerate(times)), default=0)


@pytest.mark.slow  # how many slots the threads use depends on how soon the OS wakes them
@pytest.mark.timing
def test_threads_share_one_bucket() -> None:
    rate, burst, duration, n_threads = 50.0, 5, 1.0, 8
    backend = MemoryBackend()
    slots: list[float] = []  # when the limiter said each caller may go
    woke: list[float] = []  # when each caller actually went
    guard = threading.Lock()
    start = time.monotonic()
    end = start + duration

    def worker() -> None:
        while True:
            wait = backend.reserve("b", rate, burst)
            slot = time.monotonic() + wait
            if slot > end:
                return
            time.sleep(wait)
            with guard:
                slots.append(slot)
                woke.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    allowed = rate * duration + burst
    assert 0.8 * allowed <= len(slots) <= allowed + 1
    lateness = max(w - s for w, s in zip(woke, slots, strict=True))
    for window in (0.05, 0.1, 0.25, 0.5, 1.0):
        # The schedule itself: exact, up to the +1 of a closed window.
        assert max_in_window(slots, window) <= rate * window + burst + 1, window
        # What threads did: a caller the OS woke late lands in a later window, so allow the
        # measured scheduling lateness on top (a few ms on an idle machine).
        assert max_in_window(woke, window) <= rate * (window + lateness) + burst + 1, (window, lateness)


def run_processes(
    spec: dict[str, object], rate: float, burst: int, duration: float, n: int = 4
) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    start_at = ctx.Value("d", 0.0)
    bucket = f"spapi:rl:proc-test-{uuid.uuid4().hex[:8]}:na:op"
    procs = [
        ctx.Process(
            target=_ratelimit_worker.hammer,
            args=(spec, bucket, rate, burst, duration, ready, go, start_at, results),
            daemon=True,
        )
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=60)  # spawned interpreters start slowly on a busy machine
        start_at.value = time.time() + 0.2
        go.set()
        grants = [t for _ in procs for t in results.get(timeout=60)]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    return [t - start_at.value for t in grants]


def check_shared_schedule(grants: list[float], rate: float, burst: int, duration: float) -> None:
    allowed = rate * duration + burst
    # Limiting: every slot lies in [first booking, end], and a bucket that starts full at the first
    # booking has at most burst + rate * duration of those (+1 for float rounding at the edge).
    assert len(grants) <= allowed + 1
    # Utilisation: four processes together keep the bucket busy (80 %: a spawned worker that the OS
    # deschedules for a while books nothing meanwhile, but the other three still do).
    assert len(grants) >= 0.8 * allowed
    assert min(grants) >= -0.01
    # A late wake-up moves a grant into a later window; 0.1 s of lateness is 2 grants at 20/s.
    assert max_in_window(grants, duration / 2) <= rate * duration / 2 + burst + 2


@pytest.mark.slow
@pytest.mark.timing
def test_processes_share_a_file_bucket(tmp_path: Path) -> None:
    rate, burst, duration = 20.0, 4, 1.5
    grants = run_processes({"kind": "file", "directory": str(tmp_path)}, rate, burst, duration)
    check_shared_schedule(grants, rate, burst, duration)


@pytest.mark.slow
@pytest.mark.timing
@pytest.mark.redis
def test_processes_share_a_redis_bucket(redis_url: str, redis_prefix: str) -> None:
    rate, burst, duration = 20.0, 4, 1.5
    grants = run_processes({"kind": "redis", "url": redis_url, "prefix": redis_prefix}, rate, burst, duration)
    check_shared_schedule(grants, rate, burst, duration)
