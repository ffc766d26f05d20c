"""Worker for the multi-process limiter tests; a module of its own so "spawn" children can import it.

Each worker stands for one Airflow task process: it builds its own backend from a picklable spec,
reports ready, waits for the common start, then books slots in one shared bucket as fast as the
limiter allows and records when it actually got each (``time.time()``, the clock all processes and
the local Redis server share).
"""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

from spapi.ratelimit import BucketBackend, FileBackend, RedisBackend


def make_backend(spec: dict[str, Any]) -> BucketBackend:
    if spec["kind"] == "file":
        return FileBackend(spec["directory"])
    if spec["kind"] == "redis":
        return RedisBackend(spec["url"], prefix=spec["prefix"])
    raise ValueError(f"unknown backend kind {spec['kind']!r}")


def hammer(
    spec: dict[str, Any],
    bucket_id: str,
    rate: float,
    burst: int,
    duration: float,
    ready: Queue[int],
    go: Event,
    start_at: Synchronized[float],
    results: Queue[list[float]],
) -> None:
    backend = make_backend(spec)
    backend.peek(bucket_id, rate, burst)  # connect / create the directory before the clock starts
    ready.put(1)
    if not go.wait(60):
        results.put([])
        return
    start = start_at.value
    end = start + duration
    time.sleep(max(0.0, start - time.time()))
    grants: list[float] = []
    while True:
        wait = backend.reserve(bucket_id, rate, burst)
        if time.time() + wait > end:
            break  # the slot lies after the measured period; leave it unused
        if wait > 0:
            time.sleep(wait)
        grants.append(time.time())
    results.put(grants)
