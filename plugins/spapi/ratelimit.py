"""Token buckets per (seller, region, operation), shared by threads, processes and machines.

Why shared: Airflow runs a DAG's tasks in many processes on many machines, and Amazon counts every
one of their calls against the same per-seller limit. A limiter per process would multiply the real
rate by the number of workers, so the bucket state lives in a backend they all see::

    MemoryBackend   one process (threads)             threading.Lock
    FileBackend     many processes on one machine     filelock + a small JSON file per bucket
    RedisBackend    many machines                     one Lua script, Redis server time

Why reservation: a caller *books* the next free slot and sleeps until it, instead of polling for a
token. The bucket may go negative (a queue of bookings), so N concurrent callers line up at exactly
``1/rate`` apart: no thundering herd when a token appears, no wasted polling, and the achieved rate
approaches the allowed one. A caller that would have to wait longer than it is willing to
(``max_wait``) books nothing and gets :class:`LimiterTimeout` with the wait, so it can defer.

The state of one bucket is ``(tokens, ts, rate, burst)``: ``tokens`` available at time ``ts``
(possibly negative, possibly with ``ts`` in the future after a 429 penalty), refilled at ``rate`` (the
documented one, or the one Amazon last reported in ``x-amzn-RateLimit-Limit``) up to ``burst`` (the
documented one less ``burst_margin``, or a lower one learned from 429s, below). The same arithmetic
runs in Python (:func:`_evaluate`) and in Lua (``_LUA``); tests run one suite over all three backends.

Why the burst is learned too: Amazon grants some selling partners less than the documented burst and
says so only with 429s (no header carries a burst). A bucket that kept the documented burst would
spend it after every idle spell and draw a 429 each time, however well it had learned the rate. So a
booking reports the tokens the bucket held at its slot (:class:`Slot`), and a 429 on a slot that
came out of tokens in hand is evidence: Amazon's bucket held less than one token where ours held
``tokens`` (this call's included), and at the same rate the two drift that far apart only when
Amazon's burst is lower than ours by more than ``tokens - 1``. The bucket's burst drops to the
largest whole burst that allows, less ``burst_margin``, and never below 1 (a bucket of 0 grants
nothing, ever). A 429 on a slot that had to wait (queued behind refill, or after a penalty) says
nothing about the burst: it is the jitter ``burst_margin`` absorbs, or a lower rate, which the header
teaches; it teaches nothing. The learned burst is stored beside the learned rate, in the same
backend, so one worker's 429 teaches every worker of the seller. It only goes down: each 429 gives an
upper bound and the lowest holds. Too low costs the first calls after an idle spell, spaced ``1/rate``
apart instead of going at once, never the steady rate; too high costs a 429 after every idle spell.
So errors are let fall on the cheap side: a 429 from another of Amazon's limits on the operation (per
application, docs/spapi-facts.md §1.4), or one met by a bucket that lost its state while Amazon's was
still drained, may teach a burst lower than the seller's.
A learned burst holds for :data:`BURST_RELEARN_SECONDS`; then the documented one is tried again: a
lesson taught by another limit's 429, or a burst Amazon has since raised, must not keep a seller
slow for good, and if the lower burst was right, one 429 an hour teaches it again. It is also
forgotten with the bucket: the memory backend's with the process, a file bucket's with its file, a
Redis bucket's ``idle_ttl`` after it is full again, like the learned rate.

Usage::

    limiter = limiter_from_url("redis://redis:6379/0")
    keys = limiter.keys_for("A1SELLER", "na", "createFeed", feed_type="JSON_LISTINGS_FEED")
    limiter.acquire(keys, max_wait=60)          # or: await limiter.acquire_async(keys)
    response = ...
    limiter.observe_rate_header(keys[0], response.headers.get("x-amzn-RateLimit-Limit"))

    booking = limiter.book(keys)                # as acquire, and keeps each bucket's slot
    ...                                         # a 429:
    limiter.on_throttled(keys[0], retry_after, booking.slots[keys[0]])
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from filelock import FileLock

from spapi.errors import ThrottledError
from spapi.rates import FEED_TYPE_LIMITS, OPERATION_LIMITS, Limit

if TYPE_CHECKING:
    import redis

__all__ = [
    "MAX_PENALTY",
    "MIN_RATE",
    "Booking",
    "BucketBackend",
    "BucketKey",
    "FileBackend",
    "LimiterTimeout",
    "MemoryBackend",
    "RateLimiter",
    "RedisBackend",
    "Slot",
    "limiter_from_url",
]

log = logging.getLogger("spapi.ratelimit")

# A rate learned from a header is never taken below this (one request per ~17 minutes): a garbage or
# tiny value must not park every worker for hours. Amazon's lowest documented rate is 0.0056/s.
MIN_RATE = 0.001
# A Retry-After longer than this is treated as this: a broken header must not stall the fleet for days.
MAX_PENALTY = 3600.0
# How long a learned rate is trusted locally before set_rate is sent again (it is cheap, but it is
# a round trip on every response otherwise).
_RATE_CACHE_SECONDS = 60.0
#: how long a burst learned from a 429 holds before the documented one is tried again (module docstring)
BURST_RELEARN_SECONDS = 3600.0
# Float noise from summing many 1/rate steps must not turn a wait of exactly max_wait into a timeout.
_EPSILON = 1e-9


class LimiterTimeout(ThrottledError):
    """The next slot is further away than the caller's ``max_wait``; nothing was booked.

    A :class:`ThrottledError`, so callers that already handle Amazon's 429 (retry later, defer the
    task) handle this too; ``retry_after`` is how long the wait would have been.
    """


@dataclass(frozen=True)
class BucketKey:
    """Who a bucket belongs to. Amazon counts limits per selling partner, region and operation.

    :param seller: the seller id, or an opaque hash of the app and grant for grantless calls.
    :param region: ``na``, ``eu`` or ``fe``.
    :param operation: Amazon's operationId, or ``feedType:<FEED_TYPE>`` for createFeed's second limit.
    """

    seller: str
    region: str
    operation: str

    @property
    def id(self) -> str:
        return f"spapi:rl:{self.seller}:{self.region}:{self.operation}"

    @property
    def feed_type(self) -> str | None:
        prefix = "feedType:"
        return self.operation[len(prefix) :] if self.operation.startswith(prefix) else None


@dataclass(frozen=True)
class Slot:
    """One booking in one bucket: when it may be used, and what the bucket believed it held then.

    :param wait: seconds to sleep before using it; above 0 when it was queued behind refill or a penalty.
    :param tokens: tokens the bucket held at the slot, this booking's included (at least ``cost``).
    :param burst: the most the bucket could hold when it was booked (documented or learned).
    """

    wait: float
    tokens: float
    burst: int


@dataclass(frozen=True)
class Booking:
    """What :meth:`RateLimiter.book` booked: the seconds waited in all, and each bucket's slot."""

    waited: float
    slots: Mapping[BucketKey, Slot]


@runtime_checkable
class BucketBackend(Protocol):
    """The atomic primitive each backend implements; the :class:`RateLimiter` does the rest.

    ``rate`` and ``burst`` are passed on every call rather than stored, so changing the documented
    figures needs no migration; a rate stored with :meth:`set_rate` takes precedence over ``rate``,
    and a burst stored with :meth:`lower_burst` over ``burst`` when it is lower.
    """

    def book(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> Slot:
        """Book ``cost`` tokens; the slot says when to use them and what the bucket held then.

        :raises LimiterTimeout: when the wait would exceed ``max_wait``; then nothing is booked.
        """
        ...

    def reserve(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> float:
        """:meth:`book`, returning only the seconds to sleep before using the tokens."""
        ...

    def set_rate(self, bucket_id: str, rate: float) -> None:
        """Store a rate learned from Amazon for every process sharing the backend."""
        ...

    def lower_burst(self, bucket_id: str, burst: int) -> None:
        """Store a burst learned from a 429 for every process, unless a lower one is stored already."""
        ...

    def penalize(self, bucket_id: str, seconds: float) -> None:
        """After a 429: nobody gets a token before now + ``seconds``, then the bucket refills from one."""
        ...

    def peek(self, bucket_id: str, rate: float, burst: int) -> float:
        """Seconds until one token is free, without booking it."""
        ...


@dataclass
class _State:
    tokens: float | None = None  # None: never used, so full
    ts: float | None = None
    rate: float | None = None  # learned with set_rate; overrides the caller's rate
    burst: int | None = None  # learned with lower_burst; caps the caller's burst
    burst_until: float | None = None  # when the learned burst is forgotten (the backend's clock)

    def to_json(self) -> dict[str, float | None]:
        return {
            "tokens": self.tokens,
            "ts": self.ts,
            "rate": self.rate,
            "burst": self.burst,
            "burst_until": self.burst_until,
        }

    @classmethod
    def from_json(cls, data: Any) -> _State:
        if not isinstance(data, dict):
            return cls()

        def num(name: str) -> float | None:
            value = data.get(name)
            return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

        burst = num("burst")
        return cls(
            tokens=num("tokens"),
            ts=num("ts"),
            rate=num("rate"),
            burst=int(burst) if burst is not None and burst >= 1 else None,
            burst_until=num("burst_until"),
        )

    def learned_burst(self, now: float) -> int | None:
        """The learned burst, unless it has expired (one stored before expiry existed is kept)."""
        if self.burst is None or (self.burst_until is not None and now >= self.burst_until):
            return None
        return self.burst

    def lowered(self, burst: int, now: float) -> _State:
        known = self.learned_burst(now)
        if known is not None and known <= burst:
            return self
        return replace(self, burst=burst, burst_until=now + BURST_RELEARN_SECONDS)


def _check(rate: float, burst: int, cost: float) -> None:
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive finite number, not {rate!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst!r}")
    if not (cost > 0 and math.isfinite(cost)):
        raise ValueError(f"cost must be a positive finite number, not {cost!r}")


def _evaluate(state: _State, now: float, rate: float, burst: int, cost: float) -> tuple[Slot, _State]:
    """Return the slot for booking ``cost`` tokens at ``now``, and the state once it is booked.

    Tokens count from ``ts``, which is in the future while a penalty or a queue of bookings lasts;
    nothing refills before it. ``_LUA`` mirrors this function line for line.
    """
    rate = state.rate or rate
    learned = state.learned_burst(now)
    burst = min(burst, learned) if learned else burst
    if state.tokens is None or state.ts is None:
        tokens, ts = float(burst), now
    else:
        tokens, ts = state.tokens, state.ts
    base = max(now, ts)
    avail = min(float(burst), tokens + (base - ts) * rate)
    ready = base if avail >= cost else base + (cost - avail) / rate
    slot = Slot(wait=ready - now, tokens=max(avail, cost), burst=burst)
    return slot, replace(state, tokens=avail - cost, ts=base)


def _penalized(state: _State, now: float, seconds: float) -> _State:
    # One token at now + seconds, then the normal refill: the first caller after the penalty goes
    # exactly at Retry-After and the rest follow at the rate, instead of a burst hitting Amazon
    # again. Refill accrued since ts is dropped on purpose: we were just told we are over the limit.
    until = now + seconds
    tokens = 1.0 if state.tokens is None else min(state.tokens, 1.0)
    ts = until if state.ts is None else max(state.ts, until)
    return replace(state, tokens=tokens, ts=ts)


def _timeout(wait: float, max_wait: float) -> LimiterTimeout:
    return LimiterTimeout(
        f"rate limiter: next slot in {wait:.3f}s, more than max_wait {max_wait:.3f}s", retry_after=wait
    )


class MemoryBackend:
    """Buckets in this process only: threads share them, other processes do not.

    :param clock: seconds on a clock that never goes back; injected by tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(buckets={len(self._states)})"

    def book(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> Slot:
        _check(rate, burst, cost)
        with self._lock:
            state = self._states.get(bucket_id) or _State()
            slot, booked = _evaluate(state, self._clock(), rate, burst, cost)
            if max_wait is not None and slot.wait > max_wait + _EPSILON:
                raise _timeout(slot.wait, max_wait)
            self._states[bucket_id] = booked
            return slot

    def reserve(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> float:
        return self.book(bucket_id, rate, burst, cost, max_wait).wait

    def set_rate(self, bucket_id: str, rate: float) -> None:
        _check(rate, 1, 1.0)
        with self._lock:
            state = self._states.setdefault(bucket_id, _State())
            state.rate = rate

    def lower_burst(self, bucket_id: str, burst: int) -> None:
        _check(1.0, burst, 1.0)
        with self._lock:
            self._states[bucket_id] = (self._states.get(bucket_id) or _State()).lowered(burst, self._clock())

    def penalize(self, bucket_id: str, seconds: float) -> None:
        with self._lock:
            state = self._states.get(bucket_id) or _State()
            self._states[bucket_id] = _penalized(state, self._clock(), seconds)

    def peek(self, bucket_id: str, rate: float, burst: int) -> float:
        _check(rate, burst, 1.0)
        with self._lock:
            state = self._states.get(bucket_id) or _State()
            return _evaluate(state, self._clock(), rate, burst, 1.0)[0].wait


class FileBackend:
    """Buckets shared by the processes of one machine (Airflow's LocalExecutor, several workers).

    Each bucket is a small JSON file guarded by a ``filelock`` lock file next to it, so the state
    survives process exit and a new task process continues where the last one stopped. Writes go
    through a temporary file and ``os.replace``: a process killed mid-write leaves the old state,
    not a torn file. The clock is wall time because it must agree between processes.

    :param directory: where the state files live; default ``<tempdir>/spapi-ratelimit``.
    :param clock: seconds since the epoch; injected by tests.
    :param lock_timeout: seconds to wait for a bucket's lock before raising ``filelock.Timeout``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        lock_timeout: float = 30.0,
    ) -> None:
        self.directory = Path(directory) if directory else Path(tempfile.gettempdir()) / "spapi-ratelimit"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock_timeout = lock_timeout
        self._locks: dict[str, FileLock] = {}
        self._locks_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.directory)!r})"

    def path_for(self, bucket_id: str) -> Path:
        """A readable, filesystem-safe name; the hash keeps ids that differ only in odd characters apart."""
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", bucket_id)[:120]
        digest = hashlib.sha256(bucket_id.encode()).hexdigest()[:12]
        return self.directory / f"{readable}-{digest}.json"

    def _lock(self, path: Path) -> FileLock:
        with self._locks_guard:
            lock = self._locks.get(str(path))
            if lock is None:
                # filelock polls a non-blocking flock; its default 50 ms would dominate under contention.
                lock = FileLock(f"{path}.lock", timeout=self._lock_timeout, poll_interval=0.001)
                self._locks[str(path)] = lock
            return lock

    @staticmethod
    def _read(path: Path) -> _State:
        try:
            return _State.from_json(json.loads(path.read_bytes()))
        except FileNotFoundError:
            return _State()
        except (OSError, ValueError):
            log.warning("rate limiter state %s is unreadable; starting that bucket afresh", path.name)
            return _State()

    @staticmethod
    def _write(path: Path, state: _State) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(state.to_json(), fh)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def book(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> Slot:
        _check(rate, burst, cost)
        path = self.path_for(bucket_id)
        with self._lock(path):
            slot, booked = _evaluate(self._read(path), self._clock(), rate, burst, cost)
            if max_wait is not None and slot.wait > max_wait + _EPSILON:
                raise _timeout(slot.wait, max_wait)
            self._write(path, booked)
            return slot

    def reserve(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> float:
        return self.book(bucket_id, rate, burst, cost, max_wait).wait

    def set_rate(self, bucket_id: str, rate: float) -> None:
        _check(rate, 1, 1.0)
        path = self.path_for(bucket_id)
        with self._lock(path):
            state = self._read(path)
            state.rate = rate
            self._write(path, state)

    def lower_burst(self, bucket_id: str, burst: int) -> None:
        _check(1.0, burst, 1.0)
        path = self.path_for(bucket_id)
        with self._lock(path):
            self._write(path, self._read(path).lowered(burst, self._clock()))

    def penalize(self, bucket_id: str, seconds: float) -> None:
        path = self.path_for(bucket_id)
        with self._lock(path):
            self._write(path, _penalized(self._read(path), self._clock(), seconds))

    def peek(self, bucket_id: str, rate: float, burst: int) -> float:
        _check(rate, burst, 1.0)
        path = self.path_for(bucket_id)
        with self._lock(path):
            return _evaluate(self._read(path), self._clock(), rate, burst, 1.0)[0].wait


# One script for every operation, so there is one SHA to load. Numbers cross the Lua boundary as
# strings formatted with %.17g: Redis truncates Lua numbers returned to the client to integers and
# formats arguments with only 14 digits, which would cost sub-millisecond precision on epoch times.
_LUA = """
local key = KEYS[1]
local op = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local idle_ttl = tonumber(ARGV[3])
local function fmt(x) return string.format('%.17g', x) end
local function keep(seconds)
  local ms = math.ceil(seconds * 1000)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local st = redis.call('HMGET', key, 'tokens', 'ts', 'rate', 'burst', 'burst_until')
local tokens, ts = tonumber(st[1]), tonumber(st[2])
local stored_rate, stored_burst = tonumber(st[3]), tonumber(st[4])
local burst_until = tonumber(st[5])
if stored_burst and burst_until and now >= burst_until then stored_burst = nil end

if op == 'reserve' or op == 'peek' then
  local rate = stored_rate or tonumber(ARGV[4])
  local burst = tonumber(ARGV[5])
  if stored_burst and stored_burst < burst then burst = stored_burst end
  local cost = tonumber(ARGV[6])
  local max_wait = tonumber(ARGV[7])
  if tokens == nil or ts == nil then tokens = burst; ts = now end
  local base = math.max(now, ts)
  local avail = math.min(burst, tokens + (base - ts) * rate)
  local ready = base
  if avail < cost then ready = base + (cost - avail) / rate end
  local wait = ready - now
  if op == 'peek' then return {'ok', fmt(wait)} end
  if max_wait >= 0 and wait > max_wait + 1e-9 then return {'timeout', fmt(wait)} end
  redis.call('HSET', key, 'tokens', fmt(avail - cost), 'ts', fmt(base))
  -- Idle long enough to be full again, the bucket equals a missing one; the TTL keeps learned
  -- rates and bursts for idle_ttl beyond that.
  local refill = (base - now) + (burst - (avail - cost)) / rate
  keep(math.max(refill, 0) + idle_ttl)
  return {'ok', fmt(wait), fmt(math.max(avail, cost)), fmt(burst)}
elseif op == 'set_rate' then
  redis.call('HSET', key, 'rate', ARGV[4])
  keep(idle_ttl)
  return {'ok', '0'}
elseif op == 'lower_burst' then
  local burst = tonumber(ARGV[4])
  if stored_burst == nil or burst < stored_burst then
    redis.call('HSET', key, 'burst', ARGV[4], 'burst_until', fmt(now + tonumber(ARGV[5])))
  end
  keep(idle_ttl)
  return {'ok', '0'}
elseif op == 'penalize' then
  local untl = now + tonumber(ARGV[4])
  if tokens == nil or tokens > 1 then tokens = 1 end
  if ts == nil or ts < untl then ts = untl end
  redis.call('HSET', key, 'tokens', fmt(tokens), 'ts', fmt(ts))
  keep((ts - now) + idle_ttl)
  return {'ok', '0'}
end
return redis.error_reply('spapi ratelimit: unknown op ' .. tostring(op))
"""


class RedisBackend:
    """Buckets shared by every machine that reaches one Redis (Celery or Kubernetes workers).

    Every operation is one Lua script run with EVALSHA (redis-py loads it on ``NOSCRIPT``), so a
    read-modify-write is atomic on the server without WATCH retries. Time is the Redis server's
    ``TIME``, so workers whose clocks disagree still agree on the schedule; the waits returned are
    durations, which mean the same on every machine. Keys expire once a bucket has been idle long
    enough to be full again plus ``idle_ttl``.

    :param client: a ``redis://``/``rediss://`` URL or a ``redis.Redis`` client (decoding or not).
    :param prefix: prepended to every bucket id, e.g. to keep environments apart in one Redis.
    :param idle_ttl: seconds an idle bucket (and a learned rate) is kept.
    :param clock: use this clock instead of the server's; only for tests.
    """

    def __init__(
        self,
        client: str | redis.Redis,
        *,
        prefix: str = "",
        idle_ttl: float = 3600.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        try:
            import redis as redis_lib
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(
                "RedisBackend needs the 'redis' package: pip install 'spapi-listings[redis]'"
            ) from exc
        if isinstance(client, str):
            client = redis_lib.Redis.from_url(client, socket_connect_timeout=5, socket_timeout=5)
        self.client = client
        self.prefix = prefix
        self.idle_ttl = idle_ttl
        self._clock = clock
        self._script = client.register_script(_LUA)

    def __repr__(self) -> str:
        # The connection kwargs may hold a password: show only where it points.
        kwargs = self.client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('db', 0)}"
        return f"{type(self).__name__}({where!r}, prefix={self.prefix!r})"

    def _run(self, bucket_id: str, op: str, *args: str | float) -> tuple[str, list[float]]:
        now = "" if self._clock is None else repr(self._clock())
        result = self._script(keys=[self.prefix + bucket_id], args=[op, now, repr(self.idle_ttl), *args])
        status, *values = (v.decode() if isinstance(v, bytes) else str(v) for v in result)
        return status, [float(v) for v in values]

    def book(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> Slot:
        _check(rate, burst, cost)
        limit = -1.0 if max_wait is None else max(max_wait, 0.0)
        status, values = self._run(
            bucket_id, "reserve", repr(float(rate)), burst, repr(float(cost)), repr(limit)
        )
        if status == "timeout":
            raise _timeout(values[0], limit)
        wait, tokens, booked_burst = values
        return Slot(wait=wait, tokens=tokens, burst=int(booked_burst))

    def reserve(
        self, bucket_id: str, rate: float, burst: int, cost: float = 1.0, max_wait: float | None = None
    ) -> float:
        return self.book(bucket_id, rate, burst, cost, max_wait).wait

    def set_rate(self, bucket_id: str, rate: float) -> None:
        _check(rate, 1, 1.0)
        self._run(bucket_id, "set_rate", repr(float(rate)))

    def lower_burst(self, bucket_id: str, burst: int) -> None:
        _check(1.0, burst, 1.0)
        self._run(bucket_id, "lower_burst", str(int(burst)), repr(BURST_RELEARN_SECONDS))

    def penalize(self, bucket_id: str, seconds: float) -> None:
        self._run(bucket_id, "penalize", repr(float(seconds)))

    def peek(self, bucket_id: str, rate: float, burst: int) -> float:
        _check(rate, burst, 1.0)
        return self._run(bucket_id, "peek", repr(float(rate)), burst, "1.0", "-1")[1][0]


class RateLimiter:
    """Amazon's per-operation limits over a shared :class:`BucketBackend`.

    :param backend: where bucket state lives; default :class:`MemoryBackend` (this process only).
    :param limits: rate and burst per operationId; operations not in it are not limited.
    :param feed_type_limits: createFeed's second limit per feed type (per seller and region).
    :param scale: multiplies every documented rate; the local sandbox runs its limits faster.
    :param burst_margin: tokens of each burst the limiter leaves unused (never below one token).
        Amazon's bucket sees a request a network latency after our slot; at full speed, one that
        arrives a millisecond earlier than its predecessors' latency finds that bucket a fraction of a
        token short and gets a 429. One spare token absorbs up to ``1/rate`` seconds of jitter and
        leaves the steady rate untouched; 0 spends the documented burst exactly.
    :param sleep: blocks the calling thread; injected by tests.
    :param async_sleep: suspends the calling coroutine; injected by tests.
    """

    def __init__(
        self,
        backend: BucketBackend | None = None,
        *,
        limits: Mapping[str, Limit] = OPERATION_LIMITS,
        feed_type_limits: Mapping[str, Limit] = FEED_TYPE_LIMITS,
        scale: float = 1.0,
        burst_margin: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"scale must be a positive finite number, not {scale!r}")
        if burst_margin < 0:
            raise ValueError(f"burst_margin must not be negative, not {burst_margin!r}")
        self.backend: BucketBackend = backend if backend is not None else MemoryBackend()
        self.limits = dict(limits)
        self.feed_type_limits = dict(feed_type_limits)
        self.scale = scale
        self.burst_margin = burst_margin
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._learned: dict[str, tuple[float, float]] = {}  # bucket id -> (rate, monotonic time sent)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.backend!r}, scale={self.scale})"

    def keys_for(
        self, seller: str, region: str, operation: str, feed_type: str | None = None
    ) -> list[BucketKey]:
        """The buckets a call must take a token from; an empty list means the call is not limited."""
        region = region.lower()
        keys = []
        if operation in self.limits:
            keys.append(BucketKey(seller, region, operation))
        if operation == "createFeed" and feed_type is not None and feed_type in self.feed_type_limits:
            keys.append(BucketKey(seller, region, f"feedType:{feed_type}"))
        return keys

    def limit_for(self, key: BucketKey) -> Limit | None:
        """The documented limit of ``key`` with scale and margin applied; ``None`` if unlimited."""
        feed_type = key.feed_type
        limit = self.feed_type_limits.get(feed_type) if feed_type else self.limits.get(key.operation)
        if limit is None or not math.isfinite(limit.rate) or limit.rate <= 0 or limit.burst < 1:
            return None
        return Limit(limit.rate * self.scale, max(1, limit.burst - self.burst_margin))

    def _limited(self, keys: Sequence[BucketKey]) -> list[tuple[BucketKey, Limit]]:
        out = []
        for key in keys:
            limit = self.limit_for(key)
            if limit is not None:
                out.append((key, limit))
        return out

    def _peek(self, key: BucketKey, limit: Limit) -> float:
        return max(0.0, self.backend.peek(key.id, limit.rate, limit.burst))

    def _acquire_flow(
        self, keys: Sequence[BucketKey], max_wait: float | None
    ) -> Generator[float, None, Booking]:
        """Sans-IO core of :meth:`book` and :meth:`book_async`: yields each sleep, returns the booking.

        With several buckets (createFeed), the one with the longest wait, else the lowest rate, is
        booked first and slept on; the others are booked only after it, so their tokens are not held
        while the scarce one refills. The upfront peek makes ``max_wait`` fail before anything is
        booked; only a race with another worker between peek and booking can make a later bucket
        time out after an earlier one was taken, and that costs one token, never a 429.
        """
        limited = self._limited(keys)
        if not limited:
            return Booking(0.0, {})
        if len(limited) > 1:
            waits = {key: self._peek(key, limit) for key, limit in limited}
            limited.sort(key=lambda kl: (-waits[kl[0]], kl[1].rate))
            longest = max(waits.values())
            if max_wait is not None and longest > max_wait + _EPSILON:
                raise self._enrich(_timeout(longest, max_wait), limited[0][0])
        waited = 0.0
        slots: dict[BucketKey, Slot] = {}
        for key, limit in limited:
            remaining = None if max_wait is None else max(0.0, max_wait - waited)
            try:
                slot = slots[key] = self.backend.book(key.id, limit.rate, limit.burst, 1.0, remaining)
            except LimiterTimeout as exc:
                raise self._enrich(exc, key, waited) from None
            if slot.wait > 0:
                yield slot.wait
                waited += slot.wait
        return Booking(waited, slots)

    @staticmethod
    def _enrich(exc: LimiterTimeout, key: BucketKey, waited: float = 0.0) -> LimiterTimeout:
        retry_after = (exc.retry_after or 0.0) + waited
        return LimiterTimeout(
            f"rate limiter: {key.operation} has no slot for {retry_after:.3f}s, more than max_wait allows",
            retry_after=retry_after,
            operation=key.operation,
            seller_id=key.seller,
        )

    def book(self, keys: Sequence[BucketKey], max_wait: float | None = None) -> Booking:
        """Book a slot in every bucket of ``keys`` and sleep until it; return what was booked.

        Pass a slot of the booking to :meth:`on_throttled` if Amazon answers 429: that is how the
        bucket learns a burst lower than the documented one.

        :raises LimiterTimeout: the wait would exceed ``max_wait``; nothing was booked.
        """
        flow = self._acquire_flow(keys, max_wait)
        while True:
            try:
                wait = next(flow)
            except StopIteration as stop:
                booking: Booking = stop.value
                return booking
            self._sleep(wait)

    async def book_async(self, keys: Sequence[BucketKey], max_wait: float | None = None) -> Booking:
        """:meth:`book` for coroutines: the wait is an ``asyncio.sleep``, so the loop runs on.

        The backend call itself is synchronous; it is one short lock or one Redis round trip.
        """
        flow = self._acquire_flow(keys, max_wait)
        while True:
            try:
                wait = next(flow)
            except StopIteration as stop:
                booking: Booking = stop.value
                return booking
            await self._async_sleep(wait)

    def acquire(self, keys: Sequence[BucketKey], max_wait: float | None = None) -> float:
        """:meth:`book`, returning only the seconds waited."""
        return self.book(keys, max_wait).waited

    async def acquire_async(self, keys: Sequence[BucketKey], max_wait: float | None = None) -> float:
        """:meth:`book_async`, returning only the seconds waited."""
        return (await self.book_async(keys, max_wait)).waited

    def time_until_available(self, keys: Sequence[BucketKey]) -> float:
        """Seconds until every bucket of ``keys`` has a token; lets a task defer instead of sleeping."""
        return max((self._peek(key, limit) for key, limit in self._limited(keys)), default=0.0)

    def observe_rate_header(self, key: BucketKey, value: str | None) -> None:
        """Follow ``x-amzn-RateLimit-Limit`` (decimal requests per second) for every worker.

        The header is the account-application limit Amazon actually applies, so it replaces the
        documented rate, up or down, and is never exceeded; it is taken as sent (not scaled), since it
        describes the server that answered. Missing or unparseable values are ignored: the header is
        best-effort and absent on 429s.
        """
        if value is None or self.limit_for(key) is None:
            return
        try:
            rate = float(value.strip())
        except ValueError:
            return
        if not math.isfinite(rate) or rate <= 0:
            return
        rate = max(rate, MIN_RATE)
        now = time.monotonic()
        known = self._learned.get(key.id)
        if known and math.isclose(known[0], rate, rel_tol=1e-9) and now - known[1] < _RATE_CACHE_SECONDS:
            return
        self.backend.set_rate(key.id, rate)
        self._learned[key.id] = (rate, now)

    def on_throttled(self, key: BucketKey, retry_after: float | None, slot: Slot | None = None) -> None:
        """A 429: hold the shared bucket so that every worker slows down, not only this one.

        Amazon sends no reset time with a 429, so without ``Retry-After`` the pause is one token's
        refill time at the current rate. With the refused call's ``slot`` the bucket also learns
        the burst it implies (module docstring); leave it out when the 429 may be another bucket's.
        """
        limit = self.limit_for(key)
        if limit is None:
            return
        if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
            seconds = retry_after
        else:
            learned = self._learned.get(key.id)
            seconds = 1.0 / (learned[0] if learned else limit.rate)
        self.backend.penalize(key.id, min(seconds, MAX_PENALTY))
        burst = self.burst_after_429(slot) if slot is not None else None
        if slot is not None and burst is not None:
            log.info("rate limiter: a 429 lowers the burst of %s from %d to %d", key.id, slot.burst, burst)
            self.backend.lower_burst(key.id, burst)

    def burst_after_429(self, slot: Slot) -> int | None:
        """The burst a bucket may keep once Amazon refused a call booked on ``slot``; None: no lesson.

        Amazon held under one token where ours held ``slot.tokens``, so its burst is below
        ``slot.burst - slot.tokens + 1``; ours keeps ``burst_margin`` of it spare, as it did of the
        documented one. A queued slot teaches nothing, and neither does a full bucket's refusal,
        which no lower burst explains (a drained bucket whose state was lost, another client).
        """
        if slot.wait > 0:
            return None
        amazons = math.ceil(slot.burst - slot.tokens)  # the largest whole burst below the bound
        if amazons < 1:
            return None
        burst = max(1, amazons - self.burst_margin)
        return burst if burst < slot.burst else None


_PROCESS_MEMORY_BACKEND = MemoryBackend()


def limiter_from_url(url: str | None, *, scale: float = 1.0, burst_margin: int = 1) -> RateLimiter:
    """Build a limiter from a connection-style URL, as kept in an Airflow connection.

    - ``memory://`` (or empty): this process only, shared by all its clients;
    - ``file:///path/to/dir`` (``file://`` alone: the default temp directory): one machine;
    - ``redis://host:port/db`` or ``rediss://...``: every machine; ``?key_prefix=...`` keeps
      environments apart in one Redis, other query parameters go to redis-py.
    """
    if not url or url.startswith("memory:"):
        # One backend per process: every client of this process for a seller shares its buckets.
        return RateLimiter(_PROCESS_MEMORY_BACKEND, scale=scale, burst_margin=burst_margin)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return RateLimiter(FileBackend(parts.path or None), scale=scale, burst_margin=burst_margin)
    if parts.scheme in ("redis", "rediss", "unix"):
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = next((v for k, v in query if k == "key_prefix"), "")
        rest = urlencode([(k, v) for k, v in query if k != "key_prefix"])
        backend = RedisBackend(urlunsplit(parts._replace(query=rest)), prefix=prefix)
        return RateLimiter(backend, scale=scale, burst_margin=burst_margin)
    raise ValueError(
        f"unsupported rate limiter URL scheme {parts.scheme!r}: use memory://, file:// or redis://"
    )
