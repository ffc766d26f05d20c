"""Benchmark: per-SKU writes (``patchListingsItem``) from 4 worker processes against the sandbox,
with the shared Redis limiter ("ours") and without any limiter ("naive", retry on 429 only), against a
sandbox that enforces the documented limits and one that is stricter than them.

    .venv/bin/python -m benchmarks.bench_per_sku_throughput [--scale 4] [--seconds 20] [--repeat 1]
    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python -m benchmarks.bench_per_sku_throughput

Each run gets a fresh sandbox (``sandbox.testing.serve``, in this process):

* ``documented``: ``rate_scale`` = ``--scale``, so patchListingsItem is allowed ``5/s x scale``
  with the documented burst of 5 per seller (the sandbox scales rates, not bursts);
* ``strict``: a seller granted less than documented: the rate times ``--strict-rate`` (the sandbox
  reports it in ``x-amzn-RateLimit-Limit``, as Amazon does) and the burst times
  ``--strict-burst`` (sandbox ``burst_scale``; no header tells it, only 429s do). The clients
  still start from the documented figures.

``--skus`` listings are created with putListingsItem first (another bucket; not measured). Then
``--workers`` processes (multiprocessing ``spawn``) each open an :class:`~spapi.client.SpApiClient`
with no LWA token and no connection yet, wait on a barrier and make their share of
``M = allowed rate x --seconds`` patchListingsItem calls over the fixed SKUs, each call retried by
the client until it succeeds. So each worker's first call fetches its token, as a fresh task's does;
the sandbox answers token requests after ``--lwa-latency`` seconds (default 0.3, a fault rule), as
LWA's endpoint does from a task, rather than in the millisecond a local server takes.
The calls run in ``--phases`` phases separated by ``--pause`` seconds of idleness (every worker
waits for the others at the end of a phase, then sleeps), long enough for every bucket to fill up
again: the first calls after a pause are where a burst larger than the server's shows.

* ``ours``: ``limiter_from_url(REDIS_URL?key_prefix=<unique>, scale=scale)``: the documented
  rate and burst (minus ``burst_margin`` = 1), shared by the 4 processes through one Lua script
  on Redis server time, plus the rate and burst learned from Amazon's answers;
* ``naive``: ``RateLimiter(MemoryBackend(), limits={}, feed_type_limits={})``: no bucket, no
  header learning; a 429 is retried with the client's usual full-jitter backoff. It runs against the
  documented server only, unless ``--naive-strict``: it is the baseline, and a stricter server
  only refuses it more often.

Both use the same retry settings (``max_attempts`` 20, backoff base 0.05 s, cap 1 s).
The wall time is the sum of the phases', each from its first call's start to its last call's end
(wall clock, one machine). 429s and attempts are the sandbox's own counts (``GET /_sandbox/calls``).
From the clients' own records: ``first`` counts the 429s drawn by each worker's very first call (all
its attempts); ``start`` the 429s in the run's first second, where a first call that leaves late
collides with the calls booked after it; ``idle`` the 429s in the first second after each pause.

Targets (issues 6 and 13, ``ours``, against every server): achieved rate >= 95% of the server's
allowed rate, and <= 1% of the attempts answered 429, the first calls included. The achieved rate is
judged two ways and both must pass: successful calls per second against the allowed rate, and
successful calls against the most the sandbox's bucket can admit in the same wall time
(``burst + rate x wall`` per phase, which does not credit the initial bursts).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import verdict

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
OPERATION = "patchListingsItem"
SEED_OPERATION = "putListingsItem"
TARGET_RATE_SHARE = 0.95
TARGET_429_SHARE = 0.01
START_WINDOW = 1.0  # seconds after a (re)start in which 429s are counted as the start's
VARIANTS = ("ours", "naive")
SERVERS = ("documented", "strict")

# The sandbox's demo seller (sandbox/sellers.example.yaml; also tests/fixtures/sandbox.py).
APP_ID = "amzn1.application-oa2-client.sandbox-demo"
APP_SECRET = "sandbox-demo-secret"
SELLER = "A1SANDBOXNA0001"
SELLER_TOKEN = "Atzr|sandbox-na-0001"
US = "ATVPDKIKX0DER"

MAX_ATTEMPTS = 20
BACKOFF_BASE = 0.05
BACKOFF_CAP = 1.0


@dataclass(frozen=True)
class Server:
    """What the sandbox of one run enforces, as sandbox settings and as the figures it allows."""

    name: str
    rate_scale: float
    burst_scale: float
    rate: float  # patchListingsItem per second
    burst: int

    @classmethod
    def for_run(cls, name: str, args: argparse.Namespace) -> Server:
        from spapi.rates import OPERATION_LIMITS

        documented = OPERATION_LIMITS[OPERATION]
        rate_share, burst_share = (args.strict_rate, args.strict_burst) if name == "strict" else (1.0, 1.0)
        # The sandbox rounds a scaled burst down and keeps at least one token, so this does too.
        burst = max(1, int(documented.burst * burst_share))
        return cls(
            name, args.scale * rate_share, burst_share, documented.rate * args.scale * rate_share, burst
        )


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
    phases: list[list[tuple[str, int]]],
    pause: float,
    barrier: Any,
    results: Any,
) -> None:
    """Wait for the others, then make this worker's calls phase by phase; put one summary on ``results``.

    Nothing is fetched before the barrier (no token, no connection, no Redis script): the first call
    pays for all of it, as the first call of a fresh Airflow task does.
    """
    from spapi import listings
    from spapi.client import CallRecord, SpApiClient
    from spapi.errors import SpApiError

    logging.getLogger("spapi").setLevel(logging.ERROR)  # one WARNING line per 429 otherwise
    records: list[CallRecord] = []
    limiter = make_limiter(variant, scale, redis_url, key_prefix, burst_margin)
    client = SpApiClient(client_config(base_url, scale), limiter=limiter, on_call=records.append)
    ok = failed = not_accepted = 0
    spans: list[tuple[float, float]] = []
    first_429s = 0  # drawn by this worker's very first call

    def patch(sku: str, quantity: int) -> None:
        nonlocal ok, failed, not_accepted
        try:
            result = client.call(listings.patch_listings_item(SELLER, sku, [US], patch_body(quantity)))
        except SpApiError:
            failed += 1
            return
        if result.accepted:
            ok += 1
        else:
            not_accepted += 1

    try:
        barrier.wait(timeout=120)
        for number, jobs in enumerate(phases):
            if number:
                barrier.wait(timeout=120)  # every worker is idle from here on
                time.sleep(pause)
            start = time.time()
            for sku, quantity in jobs:
                patch(sku, quantity)
                if not spans and ok + failed + not_accepted == 1:
                    first_429s = sum(1 for r in records if r.status == 429)
            spans.append((start, time.time()))
    finally:
        client.close()
    patch_records = [r for r in records if r.operation == OPERATION]
    results.put(
        {
            "worker": index,
            "ok": ok,
            "failed": failed,
            "not_accepted": not_accepted,
            "spans": spans,
            "first_429s": first_429s,
            "attempts": len(patch_records),
            "throttled": sum(1 for r in patch_records if r.status == 429),
            "latency_ms": sorted(r.latency_ms for r in patch_records),
            "limiter_wait_ms": sum(r.limiter_wait_ms for r in patch_records),
            # wall-clock time each 429 was recorded, to see where in the run they happen
            "throttled_at": [r.started_at for r in patch_records if r.status == 429],
        }
    )


# --- one run of one variant against one server ------------------------------------------------------


def seed_listings(base_url: str, server: Server, sku_list: list[str]) -> None:
    """Create the listings with putListingsItem (its own bucket), one at a time at the server's rate,
    so that the seeding sees no 429 from either server."""
    from spapi import listings
    from spapi.client import SpApiClient
    from spapi.ratelimit import MemoryBackend, RateLimiter
    from spapi.rates import OPERATION_LIMITS, Limit

    rate = OPERATION_LIMITS[SEED_OPERATION].rate * server.rate_scale
    limiter = RateLimiter(MemoryBackend(), limits={SEED_OPERATION: Limit(rate, 1)}, burst_margin=0)
    config = client_config(base_url, server.rate_scale)
    body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes()}
    with SpApiClient(config, limiter=limiter) as client:
        for sku in sku_list:
            result = client.call(listings.put_listings_item(SELLER, sku, US, body))
            if not result.accepted:
                raise SystemExit(f"seeding {sku} was not accepted: {result.status} {result.errors}")


def split(jobs: list[tuple[str, int]], workers: int, phases: int) -> list[list[list[tuple[str, int]]]]:
    """Each worker's share of each phase: worker w's phases, then the jobs of each."""
    per_phase = [jobs[p::phases] for p in range(phases)]
    return [[phase[w::workers] for phase in per_phase] for w in range(workers)]


def run_once(variant: str, server: Server, args: argparse.Namespace, calls: int) -> dict[str, Any]:
    from sandbox.settings import Settings
    from sandbox.testing import serve

    sku_list = skus(args.skus)
    jobs = [(sku_list[i % len(sku_list)], i % 250) for i in range(calls)]
    shares = split(jobs, args.workers, args.phases)
    key_prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-sku-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            rate_scale=server.rate_scale,
            burst_scale=server.burst_scale,
            processor_enabled=False,
            faults=({"kind": "latency", "seconds": args.lwa_latency, "operation": "lwaToken"},),
        )
        with serve(settings) as base_url:
            seed_listings(base_url, server, sku_list)
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
                        args.scale,  # the clients know only the documented limits
                        args.redis_url,
                        key_prefix,
                        args.burst_margin,
                        shares[w],
                        args.pause,
                        barrier,
                        results,
                    ),
                    name=f"bench-{variant}-{server.name}-{w}",
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

    # A phase runs from its first call's start to its last call's end, over every worker.
    phase_walls = [
        max(s["spans"][p][1] for s in summaries) - min(s["spans"][p][0] for s in summaries)
        for p in range(args.phases)
    ]
    starts = [min(s["spans"][p][0] for s in summaries) for p in range(args.phases)]
    latencies = sorted(x for s in summaries for x in s["latency_ms"])
    throttled_at = sorted(t for s in summaries for t in s["throttled_at"])
    return {
        "variant": variant,
        "server": server.name,
        "calls": calls,
        "ok": sum(s["ok"] for s in summaries),
        "failed": sum(s["failed"] for s in summaries),
        "not_accepted": sum(s["not_accepted"] for s in summaries),
        "phase_walls": phase_walls,
        "attempts": counts(after)[0] - counts(before)[0],
        "throttled": counts(after)[1] - counts(before)[1],
        "first_429s": sum(s["first_429s"] for s in summaries),
        "start_429s": sum(1 for t in throttled_at if starts[0] <= t < starts[0] + START_WINDOW),
        "idle_429s": sum(1 for t in throttled_at for p in starts[1:] if p <= t < p + START_WINDOW),
        "client_attempts": sum(s["attempts"] for s in summaries),
        "client_throttled": sum(s["throttled"] for s in summaries),
        "latency_p50_ms": latencies[len(latencies) // 2] if latencies else 0.0,
        "latency_p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
        "limiter_wait_s": sum(s["limiter_wait_ms"] for s in summaries) / 1000,
        "throttled_offsets_s": [round(t - starts[0], 3) for t in throttled_at[:20]],
    }


def figures(run: dict[str, Any], server: Server) -> dict[str, float]:
    """One run's row: rates against what the server allows, 429s overall and where they fell."""
    wall = sum(run["phase_walls"])
    rate = run["ok"] / wall
    most = sum(server.burst + server.rate * w for w in run["phase_walls"])
    return {
        "ok": run["ok"],
        "failed": run["failed"] + run["not_accepted"],
        "wall_s": wall,
        "rate": rate,
        "of_rate": rate / server.rate,
        "of_max": run["ok"] / most,
        "attempts": run["attempts"],
        "throttled": run["throttled"],
        "share_429": run["throttled"] / run["attempts"] if run["attempts"] else 0.0,
        "first_429s": run["first_429s"],
        "start_429s": run["start_429s"],
        "idle_429s": run["idle_429s"],
        "p50": run["latency_p50_ms"],
        "p99": run["latency_p99_ms"],
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=4.0, help="sandbox and limiter rate scale (default 4)")
    parser.add_argument("--seconds", type=float, default=20.0, help="M = allowed rate x this (default 20)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skus", type=int, default=40, help="listings created first and patched in turn")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant; the median is reported")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument(
        "--servers",
        nargs="+",
        default=list(SERVERS),
        choices=SERVERS,
        help="documented limits, or stricter ones (default both; naive runs against documented only "
        "unless --naive-strict)",
    )
    parser.add_argument("--naive-strict", action="store_true", help="run naive against strict as well")
    parser.add_argument(
        "--strict-rate", type=float, default=0.8, help="strict server: share of the documented rate (0.8)"
    )
    parser.add_argument(
        "--strict-burst", type=float, default=0.4, help="strict server: share of the documented burst (0.4)"
    )
    parser.add_argument("--phases", type=int, default=3, help="phases of calls, idle pauses between (3)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of each idle pause (default 1)")
    parser.add_argument(
        "--lwa-latency", type=float, default=0.3, help="seconds the sandbox takes to answer for a token (0.3)"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument(
        "--burst-margin", type=int, default=1, help="the limiter's burst_margin for ours (default 1)"
    )
    parser.add_argument("--verbose", action="store_true", help="print each run and where its 429s fell")
    args = parser.parse_args(argv)
    if args.phases < 1:
        parser.error("--phases must be at least 1")
    return args


def planned_runs(args: argparse.Namespace) -> list[tuple[str, Server]]:
    servers = [Server.for_run(name, args) for name in args.servers]
    return [
        (variant, server)
        for server in servers
        for variant in args.variants
        if not (variant == "naive" and server.name == "strict" and not args.naive_strict)
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from spapi.rates import OPERATION_LIMITS

    documented = OPERATION_LIMITS[OPERATION]
    plan = planned_runs(args)
    if any(variant == "ours" for variant, _ in plan):
        check_redis(args.redis_url)
    print(
        f"{OPERATION}: documented {documented.rate:g}/s burst {documented.burst}; the clients use "
        f"rate_scale {args.scale:g} -> {documented.rate * args.scale:g}/s; {args.workers} processes over "
        f"{args.skus} SKUs in {args.phases} phase(s) {args.pause:g} s apart; LWA answers in "
        f"{args.lwa_latency:g} s; ours: burst_margin {args.burst_margin}; median of {args.repeat} run(s)"
    )
    for server in dict.fromkeys(server for _, server in plan):
        print(
            f"  server {server.name}: allows {server.rate:g}/s, burst {server.burst}; "
            f"{round(server.rate * args.seconds)} calls"
        )

    runs: dict[tuple[str, Server], list[dict[str, Any]]] = {run: [] for run in plan}
    for repeat in range(args.repeat):
        for variant, server in plan:
            run = run_once(variant, server, args, round(server.rate * args.seconds))
            runs[(variant, server)].append(run)
            if args.verbose:
                print(f"  run {repeat + 1} {variant}/{server.name}: {run}")

    print(
        f"{'variant':8} {'server':10} {'calls':>6} {'ok':>6} {'wall s':>7} {'calls/s':>8} {'of rate':>8} "
        f"{'of max':>7} {'attempts':>8} {'429s':>5} {'429 %':>6} {'first':>5} {'start':>5} {'idle':>5} "
        f"{'p50 ms':>7} {'p99 ms':>7}"
    )
    medians: dict[tuple[str, Server], dict[str, float]] = {}
    for (variant, server), variant_runs in runs.items():
        rows = [figures(r, server) for r in variant_runs]
        m = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        medians[(variant, server)] = m
        calls = variant_runs[0]["calls"]
        print(
            f"{variant:8} {server.name:10} {calls:>6} {m['ok']:>6.0f} {m['wall_s']:>7.2f} {m['rate']:>8.2f} "
            f"{m['of_rate']:>8.1%} {m['of_max']:>7.1%} {m['attempts']:>8.0f} {m['throttled']:>5.0f} "
            f"{m['share_429']:>6.2%} {m['first_429s']:>5.0f} {m['start_429s']:>5.0f} "
            f"{m['idle_429s']:>5.0f} {m['p50']:>7.1f} {m['p99']:>7.1f}"
        )
        if m["failed"]:
            print(f"  {variant}/{server.name}: {m['failed']:.0f} calls failed or were not accepted")
    print(
        f"429s: first = at each worker's first call, start = in the run's first {START_WINDOW:g} s, "
        f"idle = in the first {START_WINDOW:g} s after each pause"
    )
    verdicts = [report_target(medians, runs, server) for server in dict.fromkeys(s for _, s in plan)]
    return 0 if all(verdicts) else 1


def report_target(
    medians: dict[tuple[str, Server], dict[str, float]],
    runs: dict[tuple[str, Server], list[dict[str, Any]]],
    server: Server,
) -> bool:
    """Print the verdict for ours against ``server`` and how it compares with naive; True if it passes."""
    m = medians.get(("ours", server))
    if m is None:
        return True
    calls = runs[("ours", server)][0]["calls"]
    rate_ok = m["of_rate"] >= TARGET_RATE_SHARE and m["of_max"] >= TARGET_RATE_SHARE
    share_ok = m["share_429"] <= TARGET_429_SHARE
    complete = m["ok"] == calls
    print(
        f"target (ours, {server.name}): achieved >= {TARGET_RATE_SHARE:.0%} of the allowed rate "
        f"({m['of_rate']:.1%} of {server.rate:g}/s, {m['of_max']:.1%} of burst + rate x wall) "
        f"{verdict(rate_ok)}; 429s <= {TARGET_429_SHARE:.0%} of attempts, first calls included "
        f"({m['share_429']:.2%}; {m['start_429s']:.0f} at the start, {m['first_429s']:.0f} at first "
        f"calls, {m['idle_429s']:.0f} after pauses) {verdict(share_ok)}; "
        f"every call succeeded {verdict(complete)}"
    )
    n = medians.get(("naive", server))
    if n is not None:
        print(
            f"ours/naive ({server.name}): rate {m['rate'] / n['rate']:.2f}, attempts "
            f"{m['attempts'] / n['attempts']:.3f} ({n['attempts'] - m['attempts']:.0f} fewer), "
            f"429s {m['throttled']:.0f} vs {n['throttled']:.0f}"
        )
    return rate_ok and share_ok and complete


if __name__ == "__main__":
    sys.exit(main())
