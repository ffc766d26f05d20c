"""Token buckets per (operation, seller) at Amazon's documented rates, and createFeed's feed-type limit.

The figures are the sandbox's own (:mod:`sandbox.published`: the stricter of the model's usage plan
and the SDK's ``rate-limits.yml``), rates multiplied by ``rate_scale``. Buckets live in memory: a
restart refills them, as a long pause would.

``burst_scale`` below 1 plays a seller whose real bursts are lower than documented: Amazon grants
some selling partners less than its published figures and says so nowhere but in the 429s (it sends
no burst header), so a client must learn the burst from them; this is how to meet that here. A burst
is rounded down and never below 1. ``x-amzn-RateLimit-Limit`` still reports the rate only.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .published import FEED_TYPE_QUOTAS, USAGE_PLANS, Quota


def format_rate(rate: float) -> str:
    """A rate as Amazon writes it: ``5.0``, ``0.5``, ``0.0083``."""
    text = f"{rate:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        scale: float = 1.0,
        *,
        burst_scale: float = 1.0,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if scale <= 0:
            raise ValueError("rate_scale must be positive")
        if not (burst_scale > 0 and math.isfinite(burst_scale)):
            raise ValueError("burst_scale must be a positive finite number")
        self.scale = scale
        self.burst_scale = burst_scale
        self.enabled = enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self.throttles: dict[str, int] = {}

    def _scaled(self, quota: Quota) -> Quota:
        return Quota(quota.rate * self.scale, max(1, math.floor(quota.burst * self.burst_scale)))

    def limit(self, operation: str) -> Quota | None:
        plan = USAGE_PLANS.get(operation)
        return self._scaled(plan.bucket) if plan else None

    def rate_header(self, operation: str) -> str | None:
        plan = USAGE_PLANS.get(operation)
        return format_rate(plan.header_rate * self.scale) if plan else None

    def _take(self, key: tuple[str, ...], limit: Quota) -> bool:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(limit.rate, limit.burst, float(limit.burst), now)
            bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.updated) * bucket.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True
            self.throttles[key[0]] = self.throttles.get(key[0], 0) + 1
            return False

    def acquire(self, operation: str, seller_id: str) -> bool:
        """Take one token for ``operation``; False means answer 429."""
        limit = self.limit(operation)
        if not self.enabled or limit is None:
            return True
        return self._take((operation, seller_id), limit)

    def acquire_feed_type(self, feed_type: str, seller_id: str, region: str) -> bool:
        """createFeed's second throttle: 5 JSON_LISTINGS_FEED per 5 minutes per seller and region."""
        limit = FEED_TYPE_QUOTAS.get(feed_type)
        if not self.enabled or limit is None:
            return True
        return self._take((f"feedType:{feed_type}", seller_id, region), self._scaled(limit))

    def snapshot(self) -> dict[str, object]:
        now = self._clock()
        with self._lock:
            buckets = [
                {
                    "key": list(key),
                    "rate": b.rate,
                    "burst": b.burst,
                    "tokens": round(min(b.burst, b.tokens + (now - b.updated) * b.rate), 3),
                }
                for key, b in self._buckets.items()
            ]
            return {
                "scale": self.scale,
                "burstScale": self.burst_scale,
                "enabled": self.enabled,
                "throttles": dict(self.throttles),
                "buckets": buckets,
            }

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.throttles.clear()
