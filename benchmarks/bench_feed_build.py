"""Benchmark: build JSON_LISTINGS_FEED documents from N generated SKUs.

    .venv/bin/python -m benchmarks.bench_feed_build [--rows 100000 1000000] [--no-baseline]

Variants, each in a fresh subprocess (its own peak RSS):

* ``generate``: only generates and discards the rows (the cost of the test data itself);
* ``ours``: :func:`spapi.feed_documents.build_feed_documents` with ``validate=True``
  (operationType rules per message, orjson, streamed to disk, split at 25,000 messages / 10 MiB);
* ``baseline``: the naive way: a pydantic ``ListingsFeedMessage`` per row, ``to_wire`` per row,
  ``json.dumps`` of each whole in-memory document (messages kept in a list until the document is
  full; the size is tracked with a ``json.dumps`` per message so that documents stay <= 10 MiB).

Both variants consume the same generator, so their times include generating the rows (the
``generate`` line shows that share). Targets (for ``ours``, at 1M rows, on 2 cores): build + validate
under 60 s wall, peak RSS under 1 GiB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import generate_rows, run_variant, verdict, vm_hwm_bytes

TARGET_SECONDS_PER_MILLION = 60.0
TARGET_RSS_BYTES = 1024**3
SELLER_ID = "A1BENCHSELLER"
MAX_BYTES = 10 * 1024 * 1024
MAX_MESSAGES = 25_000


def _work_ours(rows: int, out: Path, seed: int) -> dict[str, Any]:
    from spapi.feed_documents import FeedLimits, build_feed_documents

    started = time.perf_counter()
    documents = build_feed_documents(
        SELLER_ID,
        generate_rows(rows, seed),
        out,
        issue_locale="en_US",
        limits=FeedLimits(MAX_MESSAGES, MAX_BYTES),
        validate=True,
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "documents": len(documents),
        "messages": sum(d.message_count for d in documents),
        "bytes": sum(d.size_bytes for d in documents),
        "max_document_bytes": max((d.size_bytes for d in documents), default=0),
    }


def _work_baseline(rows: int, out: Path, seed: int) -> dict[str, Any]:
    from spapi.models.common import to_wire
    from spapi.models.feeds import ListingsFeedHeader, ListingsFeedMessage

    started = time.perf_counter()
    header = to_wire(ListingsFeedHeader(seller_id=SELLER_ID, issue_locale="en_US"))
    overhead = len(json.dumps({"header": header, "messages": []}).encode())
    documents: list[tuple[str, int, int]] = []
    messages: list[dict[str, Any]] = []
    size = overhead

    def flush() -> None:
        nonlocal messages, size
        data = json.dumps({"header": header, "messages": messages}, sort_keys=True).encode()
        path = out / f"baseline-{len(documents) + 1:05d}.json"
        path.write_bytes(data)
        documents.append((hashlib.sha256(data).hexdigest(), len(data), len(messages)))
        messages = []
        size = overhead

    for row in generate_rows(rows, seed):
        model = ListingsFeedMessage.model_validate({**row, "messageId": len(messages) + 1})
        wire = to_wire(model)
        length = len(json.dumps(wire).encode()) + 2  # ", " separator
        if messages and (len(messages) >= MAX_MESSAGES or size + length > MAX_BYTES):
            flush()
            model = ListingsFeedMessage.model_validate({**row, "messageId": 1})
            wire = to_wire(model)
        messages.append(wire)
        size += length
    if messages:
        flush()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "documents": len(documents),
        "messages": sum(d[2] for d in documents),
        "bytes": sum(d[1] for d in documents),
        "max_document_bytes": max((d[1] for d in documents), default=0),
    }


def _work_generate(rows: int, out: Path, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    count = sum(1 for _ in generate_rows(rows, seed))
    return {"seconds": time.perf_counter() - started, "documents": 0, "messages": count, "bytes": 0}


WORKERS = {"generate": _work_generate, "ours": _work_ours, "baseline": _work_baseline}


def worker(variant: str, rows: int, seed: int) -> None:
    out = Path(tempfile.mkdtemp(prefix=f"bench-feed-{variant}-"))
    try:
        result = WORKERS[variant](rows, out, seed)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result["vm_hwm_bytes"] = vm_hwm_bytes()
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=20260807)
    parser.add_argument("--no-baseline", action="store_true", help="skip the (slow) naive baseline")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.rows[0], args.seed)
        return 0

    failed = False
    print(
        f"{'rows':>9} {'variant':<9} {'seconds':>8} {'rows/s':>10} {'peak RSS':>10} {'docs':>5} {'MB out':>8}"
    )
    for rows in args.rows:
        variants = ["generate", "ours"] + ([] if args.no_baseline else ["baseline"])
        measured = {}
        for variant in variants:
            m = run_variant(
                "benchmarks.bench_feed_build", variant, ["--rows", str(rows), "--seed", str(args.seed)]
            )
            measured[variant] = m
            seconds = m.result["seconds"]
            print(
                f"{rows:>9} {variant:<9} {seconds:>8.2f} {rows / seconds:>10,.0f} "
                f"{m.peak_rss_mib:>7.0f} MiB {m.result['documents']:>5} {m.result['bytes'] / 1e6:>8.1f}",
                flush=True,
            )
        ours = measured["ours"]
        if ours.result["messages"] != rows or ours.result["max_document_bytes"] > MAX_BYTES:
            print(
                f"  FAIL: ours wrote {ours.result['messages']} messages, largest document "
                f"{ours.result['max_document_bytes']} bytes"
            )
            failed = True
        if "baseline" in measured:
            base = measured["baseline"]
            print(
                f"  ours/baseline: time {ours.result['seconds'] / base.result['seconds']:.3f} "
                f"(ours {base.result['seconds'] / ours.result['seconds']:.1f}x faster), "
                f"peak RSS {ours.peak_rss_bytes / base.peak_rss_bytes:.2f}"
            )
        budget = TARGET_SECONDS_PER_MILLION * rows / 1_000_000
        time_ok = ours.result["seconds"] < budget
        rss_ok = ours.peak_rss_bytes < TARGET_RSS_BYTES
        failed |= not (time_ok and rss_ok)
        print(
            f"  target (ours, build+validate incl. row generation): < {budget:.1f} s "
            f"{verdict(time_ok)}; peak RSS < 1024 MiB {verdict(rss_ok)}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
