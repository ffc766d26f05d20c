"""Benchmark: per-SKU writes (``patchListingsItem``) from 4 worker processes against the sandbox,
with the shared Redis limiter ("ours") and without any limiter ("naive", retry on 429 only).

    .venv/bin/python -m benchmarks.bench_per_sku_throughput [--scale 4] [--seconds 20] [--repeat 1]
    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python -m benchmarks.bench_per_sku_throughput

Each variant gets a fresh sandbox (``sandbox.testing.serve``, in this process) at ``rate_scale``;
the sandbox scales the rate but not the burst, so patchListingsItem is allowed
``5/s x scale`` with a burst of 5 per seller. ``--skus`` listings are created with
putListingsItem first (another bucket; not measured). Then ``--workers`` processes (multiprocessing
``spawn``) each open an :class:`~spapi.client.SpApiClient`, warm up (LWA token, connection, one
getListingsItem), wait on a barrier and make their share of ``M = allowed rate x --seconds``
patchListingsItem calls over the fixed SKUs, each call retried by the client until it succeeds.

* ``ours``: ``limiter_from_url(REDIS_URL?key_prefix=<unique>, scale=scale)``: the documented
  rate and burst (minus ``burst_margin`` = 1), shared by the 4 processes through one Lua script
  on Redis server time, plus the rate learned from ``x-amzn-RateLimit-Limit``;
* ``naive``: ``RateLimiter(MemoryBackend(), limits={}, feed_type_limits={})``: no bucket, no
  header learning; a 429 is retried with the client's usual full-jitter backoff.

Both use the same retry settings (``max_attempts`` 20, backoff base 0.05 s, cap 1 s).
The wall time runs from the first call's start to the last call's end (wall clock, one machine).
429s and attempts are the sandbox's own counts (``GET /_sandbox/calls``).

Targets (issue 6, ``ours``): achieved rate >= 95% of the allowed rate, and < 1% of the attempts
answered 429. The achieved rate is judged two ways and both must pass: successful calls per
second against the allowed rate, and successful calls against the most the sandbox's bucket can
admit in the same wall time (``burst + rate x wall``, which does not credit the initial burst).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import verdict

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
OPERATION = "patchListingsItem"
TARGET_RATE_SHARE = 0.95
TARGET_429_SHARE = 0.01

# The sandbox's demo seller (sandbox/sellers.example.yaml; also tests/fixtures/sandbox.py).
APP_ID = "amzn1.application-oa2-client.sandbox-demo"
APP_SECRET = "sandbox-demo-secret"
SELLER = "A1SANDBOXNA0001"
SELLER_TOKEN = "Atzr|sandbox-na-0001"
US = "ATVPDKIKX0DER"

MAX_ATTEMPTS = 20
BACKOFF_BASE = 0.05
BACKOFF_CAP = 1.0


def skus(count: int) -> list[str]:
    return [f"BENCH-SKU-{i:04d}" for i in range(count)]


def luggage_attributes() -> dict[str, Any]:
    """A complete, valid LUGGAGE listing for the sandbox's schema (as in tests/sandbox/conftest.py)."""

    def v(value: Any, **extra: Any) -> list[dict[str, Any]]:
        return [{"value": value, "marketplace_id": US, **extra}]

    lang = {"language_tag": "en_US"}
    return {
        "item_name": v("Acme Carry-On Spinner 55 cm", **lang),
        "brand": v("Acme", **lang),
        "item_type_keyword": v("carry-on-luggage"),
        "color": v("Navy", **lang),
        "material": v("Polycarbonate", **lang),
        "luggage_size": v("medium"),
        "number_of_wheels": v(4),
        "wheel_type": v("spinner"),
        "country_of_origin": v("CN"),
        "externally_assigned_product_identifier": [
            {"type": "upc", "value": "714532191586", "marketplace_id": US}
        ],
        "condition_type": v("new_new"),
        "purchasable_offer": [
            {
                "currency": "USD",
                "marketplace_id": US,
                "our_price": [{"schedule": [{"value_with_tax": 129.99}]}],
            }
        ],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 12}],
    }


def patch_body(quantity: int) -> dict[str, Any]:
    return {
        "productType": "LUGGAGE",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }
        ],
    }


def client_config(base_url: str, scale: float) -> Any:
    from spapi.config import SpApiConfig

    return SpApiConfig(
        client_id=APP_ID,
        client_secret=APP_SECRET,
        refresh_token=SELLER_TOKEN,
        region="na",
        seller_id=SELLER,
        endpoint_url=base_url,
        token_url=f"{base_url}/auth/o2/token",
        rate_scale=scale,
        max_attempts=MAX_ATTEMPTS,
        backoff_base=BACKOFF_BASE,
        backoff_cap=BACKOFF_CAP,
    )


def make_limiter(variant: str, scale: float, redis_url: str, key_prefix: str, burst_margin: int) -> Any:
    from spapi.ratelimit import MemoryBackend, RateLimiter, limiter_from_url

    if variant == "ours":
        sep = "&" if "?" in redis_url else "?"
        url = f"{redis_url}{sep}key_prefix={key_prefix}"
        return limiter_from_url(url, scale=scale, burst_margin=burst_margin)
    if variant == "naive":
        return RateLimiter(MemoryBackend(), limits={}, feed_type_limits={})
    raise ValueError(variant)


# --- the worker process ---------------------------------------------------------------------------


def worker(
    index: int,
    variant: str,
    base_url: str,
    scale: float,
    redis_url: str,
    key_prefix: str,
    burst_margin: int,
    jobs: list[tuple[str, int]],
    barrier: Any,
    results: Any,
) -> None:
    """Warm up, wait for the others, then make this worker's calls; put one summary dict on ``results``."""
    from spapi import listings
    from spapi.client import CallRecord, SpApiClient
    from spapi.errors import SpApiError

    logging.getLogger("spapi").setLevel(logging.ERROR)  # one WARNING line per 429 otherwise
    records: list[CallRecord] = []
    limiter = make_limiter(variant, scale, redis_url, key_prefix, burst_margin)
    client = SpApiClient(client_config(base_url, scale), limiter=limiter, on_call=records.append)
    try:
        client.call(listings.get_listings_item(SELLER, jobs[0][0], [US]))  # token, connection, script
        records.clear()
        barrier.wait(timeout=120)
        first_start = time.time()
        ok = failed = not_accepted = 0
        for sku, quantity in jobs:
            try:
                result = client.call(listings.patch_listings_item(SELLER, sku, [US], patch_body(quantity)))
            except SpApiError:
                failed += 1
                continue
            if result.accepted:
                ok += 1
            else:
                not_accepted += 1
        last_end = time.time()
    finally:
        client.close()
    patch = [r for r in records if r.operation == OPERATION]
    results.put(
        {
            "worker": index,
            "ok": ok,
            "failed": failed,
            "not_accepted": not_accepted,
            "first_start": first_start,
            "last_end": last_end,
            "attempts": len(patch),
            "throttled": sum(1 for r in patch if r.status == 429),
            "latency_ms": sorted(r.latency_ms for r in patch),
            "limiter_wait_ms": sum(r.limiter_wait_ms for r in patch),
            # wall-clock start of each 429'd attempt, to see where in the run they happen
            "throttled_at": [r.started_at for r in patch if r.status == 429],
        }
    )


# --- one run of one variant -----------------------------------------------------------------------


def seed_listings(base_url: str, scale: float, sku_list: list[str]) -> None:
    """Create the listings with putListingsItem (its own bucket), paced so the seeding sees no 429."""
    from spapi import listings
    from spapi.client import SpApiClient
    from spapi.ratelimit import MemoryBackend, RateLimiter

    config = client_config(base_url, scale)
    body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()}
    with SpApiClient(config, limiter=RateLimiter(MemoryBackend(), scale=scale)) as client:
        for sku in sku_list:
            result = client.call(listings.put_listings_item(SELLER, sku, US, body))
            if not result.accepted:
                raise SystemExit(f"seeding {sku} was not accepted: {result.status} {result.errors}")


def run_once(variant: str, args: argparse.Namespace, calls: int) -> dict[str, Any]:
    from sandbox.settings import Settings
    from sandbox.testing import serve

    sku_list = skus(args.skus)
    jobs = [(sku_list[i % len(sku_list)], i % 250) for i in range(calls)]
    shares = [jobs[w :: args.workers] for w in range(args.workers)]
    key_prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-sku-") as tmp:
        settings = Settings(data_dir=Path(tmp), rate_scale=args.scale, processor_enabled=False)
        with serve(settings) as base_url:
            seed_listings(base_url, args.scale, sku_list)
            before = httpx.get(f"{base_url}/_sandbox/calls", params={"limit": 0}, timeout=10).json()
            barrier = ctx.Barrier(args.workers)
            results = ctx.Queue()
            procs = [
                ctx.Process(
                    target=worker,
                    args=(
                        w,
                        variant,
                        base_url,
                        args.scale,
                        args.redis_url,
                        key_prefix,
                        args.burst_margin,
                        shares[w],
                        barrier,
                        results,
                    ),
                    name=f"bench-{variant}-{w}",
                )
                for w in range(args.workers)
            ]
            for p in procs:
                p.start()
            summaries = []
            for _ in procs:
                summaries.append(results.get(timeout=600))
            for p in procs:
                p.join(timeout=30)
                if p.exitcode != 0:
                    raise SystemExit(f"{p.name} exited with {p.exitcode}")
            after = httpx.get(f"{base_url}/_sandbox/calls", params={"limit": 0}, timeout=10).json()

    if variant == "ours":  # the buckets would expire after an hour anyway
        import redis

        r = redis.Redis.from_url(args.redis_url)
        for key in r.scan_iter(match=f"{key_prefix}*"):
            r.delete(key)

    def counts(snapshot: dict[str, Any]) -> tuple[int, int]:
        entry = snapshot["byOperation"].get(OPERATION, {"total": 0, "throttled": 0})
        return entry["total"], entry["throttled"]

    attempts = counts(after)[0] - counts(before)[0]
    throttled = counts(after)[1] - counts(before)[1]
    first = min(s["first_start"] for s in summaries)
    last = max(s["last_end"] for s in summaries)
    latencies = sorted(x for s in summaries for x in s["latency_ms"])
    throttled_at = sorted(t for s in summaries for t in s["throttled_at"])
    return {
        "variant": variant,
        "calls": calls,
        "ok": sum(s["ok"] for s in summaries),
        "failed": sum(s["failed"] for s in summaries),
        "not_accepted": sum(s["not_accepted"] for s in summaries),
        "wall_s": last - first,
        "attempts": attempts,
        "throttled": throttled,
        "client_attempts": sum(s["attempts"] for s in summaries),
        "client_throttled": sum(s["throttled"] for s in summaries),
        "latency_p50_ms": latencies[len(latencies) // 2] if latencies else 0.0,
        "latency_p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
        "limiter_wait_s": sum(s["limiter_wait_ms"] for s in summaries) / 1000,
        "throttled_offsets_s": [round(t - first, 3) for t in throttled_at[:20]],
    }


# --- main -------------------------------------------------------------------------------------------


def check_redis(url: str) -> None:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:  # any failure means the "ours" variant cannot run
        raise SystemExit(
            f"Redis is not reachable at {url} ({type(exc).__name__}: {exc}); start one or set REDIS_URL"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=4.0, help="sandbox and limiter rate scale (default 4)")
    parser.add_argument("--seconds", type=float, default=20.0, help="M = allowed rate x this (default 20)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skus", type=int, default=40, help="listings created first and patched in turn")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant; the median is reported")
    parser.add_argument("--variants", nargs="+", default=["ours", "naive"], choices=["ours", "naive"])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument(
        "--burst-margin", type=int, default=1, help="the limiter's burst_margin for ours (default 1)"
    )
    parser.add_argument("--verbose", action="store_true", help="print each run and where its 429s fell")
    args = parser.parse_args(argv)

    from spapi.rates import OPERATION_LIMITS

    documented = OPERATION_LIMITS[OPERATION]
    allowed = documented.rate * args.scale
    burst = documented.burst  # the sandbox scales the rate only
    calls = round(allowed * args.seconds)
    if "ours" in args.variants:
        check_redis(args.redis_url)
    print(
        f"{OPERATION}: documented {documented.rate:g}/s burst {documented.burst}; sandbox rate_scale "
        f"{args.scale:g} -> allowed {allowed:g}/s, burst {burst}; {calls} calls by {args.workers} "
        f"processes over {args.skus} SKUs; ours: burst_margin {args.burst_margin}; "
        f"median of {args.repeat} run(s)"
    )

    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in args.variants}
    for repeat in range(args.repeat):
        for variant in args.variants:
            run = run_once(variant, args, calls)
            runs[variant].append(run)
            if args.verbose:
                print(f"  run {repeat + 1} {variant}: {run}")

    header = (
        f"{'variant':8} {'calls':>6} {'ok':>6} {'wall s':>7} {'calls/s':>8} {'of rate':>8} "
        f"{'of max':>7} {'attempts':>8} {'429s':>6} {'429 %':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header)
    medians: dict[str, dict[str, float]] = {}
    for variant, variant_runs in runs.items():
        rows = []
        for r in variant_runs:
            rate = r["ok"] / r["wall_s"]
            rows.append(
                {
                    "ok": r["ok"],
                    "failed": r["failed"] + r["not_accepted"],
                    "wall_s": r["wall_s"],
                    "rate": rate,
                    "of_rate": rate / allowed,
                    "of_max": r["ok"] / (burst + allowed * r["wall_s"]),
                    "attempts": r["attempts"],
                    "throttled": r["throttled"],
                    "share_429": r["throttled"] / r["attempts"] if r["attempts"] else 0.0,
                    "p50": r["latency_p50_ms"],
                    "p99": r["latency_p99_ms"],
                }
            )
        m = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        medians[variant] = m
        print(
            f"{variant:8} {calls:>6} {m['ok']:>6.0f} {m['wall_s']:>7.2f} {m['rate']:>8.2f} "
            f"{m['of_rate']:>8.1%} {m['of_max']:>7.1%} {m['attempts']:>8.0f} {m['throttled']:>6.0f} "
            f"{m['share_429']:>7.2%} {m['p50']:>7.1f} {m['p99']:>7.1f}"
        )
        if m["failed"]:
            print(f"  {variant}: {m['failed']:.0f} calls failed or were not accepted")

    ok = True
    if "ours" in medians:
        m = medians["ours"]
        rate_ok = m["of_rate"] >= TARGET_RATE_SHARE and m["of_max"] >= TARGET_RATE_SHARE
        share_ok = m["share_429"] < TARGET_429_SHARE
        complete = m["ok"] == calls
        ok = rate_ok and share_ok and complete
        print(
            f"target (ours): achieved >= {TARGET_RATE_SHARE:.0%} of the allowed rate "
            f"({m['of_rate']:.1%} of {allowed:g}/s, {m['of_max']:.1%} of burst + rate x wall) "
            f"{verdict(rate_ok)}; 429s < {TARGET_429_SHARE:.0%} of attempts ({m['share_429']:.2%}) "
            f"{verdict(share_ok)}; every call succeeded {verdict(complete)}"
        )
        if "naive" in medians:
            n = medians["naive"]
            print(
                f"ours/naive: rate {m['rate'] / n['rate']:.2f}, attempts {m['attempts'] / n['attempts']:.3f} "
                f"({n['attempts'] - m['attempts']:.0f} fewer), 429s {m['throttled']:.0f} vs {n['throttled']:.0f}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
