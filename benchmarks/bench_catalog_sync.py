"""Benchmark: a whole catalog through the bulk path's own steps, end to end.

    .venv/bin/python -m benchmarks.bench_catalog_sync [--rows 100000 1000000] [--incremental]
    .venv/bin/python -m benchmarks.bench_catalog_sync --rows 2000 --smoke      # what CI runs

The steps are the ones ``catalog_feed_sync`` runs for one seller and marketplace, called as its
tasks call them: ``extract`` -> ``split`` (what needs the whole catalog: unchanged rows, duplicates)
-> ``check`` (one task per chunk of ``--chunk-rows`` rows: the Great Expectations rules, the mapping,
the product type's schema check) -> ``join`` (quarantine, Data Docs, the messages file) -> ``settle``
-> ``plan`` -> ``build`` (feed documents on disk, SKUs moved to ``submitted`` in the warehouse). The
catalog is the sample catalog's amazon.com rows of three product types, repeated with fresh SKUs and
codes, one row in 100 spoilt (``_catalog.py``); the product type schemas come from a local sandbox
through the Product Type Definitions API, as in a run; the warehouse is SQLite (``--warehouse`` for
PostgreSQL).

Each step runs in a fresh process of its own, with Airflow imported first, as an Airflow task
runs: what the tasks hand each other goes from step to step as JSON (what XCom carries), so a
step's memory is its own and the run's peak RSS is the largest process's. The chunks' tasks run
``--workers`` at a time (default 2: two Celery worker slots, this machine's two cores), each in
its own process. A run's time is the sum of the steps' own times (``check``: first start to last
end).

* ``full``: every step on a fresh warehouse, each step timed on its own;
* ``incremental`` (``--incremental``): after ``full``, Amazon is taken to have accepted everything
  it was sent, one good row in 100 gets a new price, and the same steps run again;
* ``floor``: bare ``orjson.dumps`` of the messages ``full`` built, one by one: what writing the
  messages costs with no checking at all. Ours/floor says how far the pipeline is from it.
* ``warehouse floor`` (SQLite): the rows ``full``'s plan wrote (listings, payloads, events) inserted
  again into a new warehouse by bare ``sqlite3`` calls in one transaction: what storing them costs
  SQLite itself. Plan/floor says how much of the plan step is ours.

Targets (issue #13, 2 cores): 1M rows end to end in 60 s (budget scales with ``--rows``), peak
RSS under 1 GiB, the incremental run at most a fifth of the full one and sending at most 1.05x
the changed rows. Correctness is checked in every mode: exactly the spoilt rows are quarantined and
every other row is in a document. ``--smoke`` reports the figures but fails only on correctness,
because at a few thousand rows fixed costs (Great Expectations' setup) dominate any time budget.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

from benchmarks._catalog import write_catalog
from benchmarks._common import REPO, run_variant, verdict, vm_hwm_bytes
from listings_pipeline.config import PipelineConfig

TARGET_SECONDS_PER_MILLION = 60.0
TARGET_RSS_BYTES = 1024**3
INCREMENTAL_SHARE = 0.2  # the incremental run's wall time against the full run's
INCREMENTAL_SENT = 1.05  # messages sent against rows changed
SELLER_ID = "A1SANDBOXNA0001"  # a demo seller the sandbox knows
REFRESH_TOKEN = "Atzr|sandbox-na-0001"
APP_ID = "amzn1.application-oa2-client.sandbox-demo"
APP_SECRET = "sandbox-demo-secret"
US = "ATVPDKIKX0DER"
STEPS = ("extract", "split", "check", "join", "settle", "plan", "build")


# --- the worker: one run of the steps ------------------------------------------------------------------


def _initial_branch(config_path: str) -> dict[str, Any]:
    return {
        "seller_id": SELLER_ID,
        "marketplace_id": US,
        "spapi_conn_id": "spapi_bench",
        "region": "na",
        "config_path": config_path,
        "claims_defects": True,
        "confirm_deletes": False,
    }


def _run_step(name: str, state_file: str, run_id: str, profile: bool) -> dict[str, Any]:
    """One step, in this process only, as an Airflow task runs it: its input comes in and its
    output goes out as JSON (what XCom carries: a branch, a branch's chunks, one chunk), so nothing
    a later step uses stays in memory from an earlier one."""
    import airflow.sdk  # noqa: F401  # a task's process has Airflow loaded before the task starts

    from listings_pipeline.catalog import chunks, steps
    from listings_pipeline.planning.plan import plan
    from listings_pipeline.to_amazon import bulk
    from listings_pipeline.to_amazon.settle import settle

    path = Path(state_file)
    state: Any = json.loads(path.read_text())
    calls = {
        "extract": lambda b: steps.extract(b, run_id),
        "split": chunks.split,
        "check": chunks.check_chunk,
        "join": chunks.join,
        "settle": settle,
        "plan": plan,
        "build": lambda b: {**b, "bench_documents": [dict(d) for d in bulk.build(b)]},
    }
    profiler = cProfile.Profile() if profile else None
    if os.environ.get("BENCH_TRACE_MEMORY") == name:
        tracemalloc.start(8)
    began, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    state = calls[name](state)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(
            os.environ.get("BENCH_PROFILE_SORT", "cumulative")
        ).print_stats(40)
    if tracemalloc.is_tracing():
        _print_memory_peak()
    path.write_text(json.dumps(state, default=str))
    return {"seconds": seconds, "cpu": cpu}


def _print_memory_peak() -> None:
    """Where the memory still held at the end of a step was allocated (``BENCH_TRACE_MEMORY=step``:
    Python allocations only, on stderr), to find what grows with the catalog."""
    current, peak = tracemalloc.get_traced_memory()
    print(f"tracemalloc: {current / 2**20:.0f} MiB held, peak {peak / 2**20:.0f} MiB", file=sys.stderr)
    for stat in tracemalloc.take_snapshot().statistics("traceback")[:12]:
        print(f"{stat.size / 2**20:8.1f} MiB {stat.count:>9} blocks", file=sys.stderr)
        for line in stat.traceback.format()[-8:]:
            print("    " + line, file=sys.stderr)


def _run_steps(config_path: str, run_id: str, env: dict[str, str], profile: str | None, workers: int) -> Any:
    """Every step in its own process, one after the other, and each chunk's ``check`` in a process
    of its own, ``workers`` at a time (Celery workers taking the mapped tasks): the step's time is
    from the first chunk's start to the last one's end. The run's peak RSS is the largest process's,
    since no two steps or chunks share one."""
    from concurrent.futures import ThreadPoolExecutor

    work = Path(tempfile.mkdtemp(prefix="bench-steps-"))
    state = work / "branch.json"
    state.write_text(json.dumps(_initial_branch(config_path)))
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}  # the step's own CPU seconds (all its chunks'): steadier on a busy machine
    peak: dict[str, int] = {}

    def step(name: str, file: Path) -> Any:
        options = ["--step", name, "--branch", str(file), "--run-id", run_id]
        return run_variant(
            "benchmarks.bench_catalog_sync",
            "step",
            [*options, *(["--profile", name] if profile == name else [])],
            env,
        )

    try:
        for name in STEPS:
            if name == "check":
                files = []
                for chunk in json.loads(state.read_text()):
                    files.append(work / f"chunk-{chunk['index']}.json")
                    files[-1].write_text(json.dumps(chunk))
                began = time.perf_counter()
                with ThreadPoolExecutor(workers) as pool:
                    measured = list(pool.map(lambda f: step("check", f), files))
                seconds[name] = time.perf_counter() - began
                cpu[name] = sum(m.result["cpu"] for m in measured)
                peak[name] = max(m.peak_rss_bytes for m in measured)
                continue
            measured_step = step(name, state)
            seconds[name] = measured_step.result["seconds"]
            cpu[name] = measured_step.result["cpu"]
            peak[name] = measured_step.peak_rss_bytes
            if name == "split":
                chunk_count = len(json.loads(state.read_text()))
        branch = json.loads(state.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    documents = branch.get("bench_documents") or []
    return _Run(
        {
            "seconds": sum(seconds.values()),
            "steps": seconds,
            "cpu_of": cpu,
            "peak_of": peak,
            "chunks": chunk_count,
            "quarantined": branch.get("quarantined", 0),
            "documents": [d["document_path"] for d in documents],
            "sent": sum(int(d.get("message_count", 0)) for d in documents),
        },
        max(peak.values()),
    )


class _Run:
    """A whole run's figures, shaped like one measured variant."""

    def __init__(self, result: dict[str, Any], peak_rss_bytes: int) -> None:
        self.result = result
        self.peak_rss_bytes = peak_rss_bytes
        self.peak_rss_mib = peak_rss_bytes / 2**20


def _warm_schema_cache(config_path: str) -> dict[str, Any]:
    """Fetch the product type schemas as a run's map step does: a deployment's cache is warm, and
    a cache filled mid-benchmark would make the incremental run a new recipe (``catalog.unchanged``)."""
    from listings_pipeline.catalog.steps import fetch_product_type_schemas
    from listings_pipeline.config import load_config

    branch: Any = {
        "seller_id": SELLER_ID,
        "marketplace_id": US,
        "spapi_conn_id": "spapi_bench",
        "run_id": "warm",
    }
    fetch_product_type_schemas(load_config(config_path), branch, {"SHIRT", "LUGGAGE", "HEADPHONES"})
    return {"seconds": 0.0}


def _floor(documents: list[str]) -> dict[str, Any]:
    """Serialise the built messages again with nothing else: the least any pipeline must spend."""
    import orjson

    spent = 0.0
    messages = 0
    size = 0
    for path in documents:
        body = orjson.loads(Path(path).read_bytes())
        began = time.perf_counter()
        for message in body["messages"]:
            size += len(orjson.dumps(message, option=orjson.OPT_SORT_KEYS))
        spent += time.perf_counter() - began
        messages += len(body["messages"])
        del body
    return {"seconds": spent, "messages": messages, "bytes": size}


#: what plan writes, read back after the run: its new listings (as build left them: one hash more,
#: ``submitted_hash``), their payloads, and its events
_PLANNED = "(SELECT listing_id FROM listing_events WHERE cause = 'plan')"
_PLAN_WRITES = (
    ("listings", f"WHERE id IN {_PLANNED}"),
    ("listing_payloads", f"WHERE listing_id IN {_PLANNED}"),
    ("listing_events", "WHERE cause = 'plan'"),
)


def _warehouse_floor(source: str, target: Path) -> dict[str, Any]:
    """The rows a plan wrote into the warehouse (``source``, SQLite), inserted again with nothing
    else into a new warehouse of the same schema and settings: bare DB-API executemany calls, one
    transaction, the commit included. Only the inserts and the commit are timed, not reading the
    rows back. What storing a plan's writes costs SQLite itself, which no code of ours can go below."""
    import sqlite3

    from listings_pipeline.warehouse import db

    url = f"sqlite:///{target}"
    db.upgrade(url)
    _register_seller(url)
    read = sqlite3.connect(f"file:{source.removeprefix('sqlite:///')}?mode=ro", uri=True)
    engine = db.make_engine(url)
    spent: dict[str, float] = {}
    rows = 0
    try:
        with engine.connect() as connection:
            driver: Any = connection.connection.driver_connection
            driver.execute("BEGIN IMMEDIATE")
            for table, where in _PLAN_WRITES:
                cursor = read.execute(f"SELECT * FROM {table} {where}")
                names = ", ".join(d[0] for d in cursor.description)
                marks = ", ".join("?" for _ in cursor.description)
                statement = f"INSERT INTO {table} ({names}) VALUES ({marks})"
                spent[table] = 0.0
                while batch := cursor.fetchmany(5000):
                    began = time.perf_counter()
                    driver.executemany(statement, batch)
                    spent[table] += time.perf_counter() - began
                    rows += len(batch)
            began = time.perf_counter()
            driver.execute("COMMIT")
            spent["commit"] = time.perf_counter() - began
    finally:
        read.close()
        engine.dispose()
    return {"seconds": sum(spent.values()), "rows": rows, "parts": spent}


def worker(variant: str, args: argparse.Namespace) -> None:
    if variant == "floor":
        result = _floor(json.loads(Path(args.documents).read_text()))
    elif variant == "warehouse-floor":
        result = _warehouse_floor(args.warehouse, Path(args.floor_db))
    elif variant == "warm":
        result = _warm_schema_cache(args.config)
    else:
        result = _run_step(args.step, args.branch, args.run_id, bool(args.profile))
    result["vm_hwm_bytes"] = vm_hwm_bytes()
    print(json.dumps(result))


# --- the parent: data, services, verdicts ----------------------------------------------------------------


def _config(tmp: Path, catalog: Path, warehouse: str, chunk_rows: int) -> tuple[Path, dict[str, str]]:
    raw = yaml.safe_load((REPO / "include" / "pipeline.yaml").read_text())
    include = REPO / "include"
    raw.update(
        var_dir=str(tmp / "var"),
        mappings_dir=str(include / "catalog_mappings"),
        product_types_dir=str(include / "product_types"),
        content_policy=str(include / "content_policy.yaml"),
        per_sku_threshold=0,  # everything through feeds: this is the bulk path's benchmark
        chunk_rows=chunk_rows,
        sellers=[
            {
                "seller_id": SELLER_ID,
                "spapi_conn_id": "spapi_bench",
                "region": "na",
                "marketplaces": [US],
                "catalog": str(catalog),
                "catalog_all_marketplaces": False,
            }
        ],
    )
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, {"SPAPI_WAREHOUSE_URL": warehouse}


def _connection_env(sandbox_url: str) -> dict[str, str]:
    extra = {
        "environment": "sandbox",
        "refresh_token": REFRESH_TOKEN,
        "seller_id": SELLER_ID,
        "region": "na",
        "endpoint_url": sandbox_url,
        "token_url": f"{sandbox_url}/auth/o2/token",
        "rate_scale": 50,
    }
    connection = {"conn_type": "spapi", "login": APP_ID, "password": APP_SECRET, "extra": extra}
    return {"AIRFLOW_CONN_SPAPI_BENCH": json.dumps(connection)}


def _register_seller(warehouse: str) -> None:
    from listings_pipeline.warehouse import db
    from listings_pipeline.warehouse.records import ensure_seller

    engine = db.make_engine(warehouse)
    with db.session_scope(engine) as session:
        ensure_seller(session, SELLER_ID, region="na", spapi_conn_id="spapi_bench")
    engine.dispose()


def _accept_everything_sent(warehouse: str) -> None:
    """What Amazon's processing reports would do after the full run, without the feeds: every SKU
    sent is accepted as sent (the incremental run measures extract..build, not Amazon)."""
    import sqlalchemy as sa

    engine = sa.create_engine(warehouse)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE listings SET status = 'accepted', accepted_hash = payload_hash, "
                "submitted_hash = payload_hash WHERE status = 'submitted'"
            )
        )
    engine.dispose()


def _print_run(rows: int, name: str, measured: Any) -> None:
    result = measured.result
    seconds = result["seconds"]
    steps = "  ".join(
        f"{step} {result['steps'][step]:.1f}s/{result['cpu_of'][step]:.1f}cpu/{result['peak_of'][step] / 2**20:.0f}M"
        for step in STEPS
    )
    print(
        f"{rows:>9} {name:<12} {seconds:>8.1f} {rows / seconds:>9,.0f} {measured.peak_rss_mib:>7.0f} MiB  "
        f"sent {result['sent']:>8,}   {result['chunks']} chunk(s)  {steps}",
        flush=True,
    )


def _measure(rows: int, args: argparse.Namespace) -> bool:
    """One size: full run, floor, and (if asked) incremental run; True when every check passes."""
    from sandbox.settings import Settings
    from sandbox.testing import serve

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    ok = True
    try:
        warehouse = args.warehouse or f"sqlite:///{tmp / 'warehouse.db'}"
        began = time.perf_counter()
        catalog = write_catalog(tmp / "catalog.csv", rows, bad_every=args.bad_every)
        print(
            f"{rows:>9} {'(catalog)':<12} {time.perf_counter() - began:>8.1f} s to write, {catalog.bad} spoilt"
        )
        config, env = _config(tmp, catalog.path, warehouse, args.chunk_rows)
        from listings_pipeline.warehouse import db

        db.upgrade(warehouse)
        _register_seller(warehouse)
        settings = Settings(data_dir=tmp / "sandbox", rate_scale=50.0)
        with serve(settings) as sandbox_url:
            env.update(_connection_env(sandbox_url))
            common = ["--config", str(config)]
            run_variant("benchmarks.bench_catalog_sync", "warm", common, env)
            profile_full = args.profile if args.profile_run == "full" else None
            full = _run_steps(str(config), "bench__full", env, profile_full, args.workers)
            _print_run(rows, "full", full)
            good = rows - catalog.bad
            result = full.result
            counted = result["quarantined"] == catalog.bad and result["sent"] == good
            ok &= counted
            print(
                f"  correctness: quarantined {result['quarantined']:,} of {catalog.bad:,} spoilt, "
                f"sent {result['sent']:,} of {good:,} good {verdict(counted)}"
            )
            listed = tmp / "documents.json"
            listed.write_text(json.dumps(result["documents"]))
            floor = run_variant("benchmarks.bench_catalog_sync", "floor", ["--documents", str(listed)]).result
            print(
                f"  floor (orjson.dumps of the {floor['messages']:,} messages): {floor['seconds']:.2f} s; "
                f"ours/floor {result['seconds'] / max(floor['seconds'], 1e-9):.0f}x"
            )
            if warehouse.startswith("sqlite"):
                stored = run_variant(
                    "benchmarks.bench_catalog_sync",
                    "warehouse-floor",
                    ["--warehouse", warehouse, "--floor-db", str(tmp / "floor.db")],
                ).result
                plan_seconds = result["steps"]["plan"]
                # a listing, its payload and its first event for each message sent: else the floor
                # measured other rows than plan's, and its ratio would mean nothing
                whole = stored["rows"] == 3 * result["sent"]
                ok &= whole
                print(
                    f"  warehouse floor (the {stored['rows']:,} rows plan wrote, inserted again by bare "
                    f"sqlite3 calls, commit included): {stored['seconds']:.1f} s "
                    f"({', '.join(f'{part} {t:.1f}' for part, t in stored['parts'].items())}); "
                    f"plan/floor {plan_seconds / max(stored['seconds'], 1e-9):.1f}x; "
                    f"3 rows per message sent {verdict(whole)}"
                )
            budget = TARGET_SECONDS_PER_MILLION * rows / 1_000_000
            time_ok = result["seconds"] < budget
            rss_ok = full.peak_rss_bytes < TARGET_RSS_BYTES
            print(
                f"  target: end to end < {budget:.1f} s {verdict(time_ok)} "
                f"({rows / result['seconds']:,.0f} rows/s, need {rows / budget:,.0f}); "
                f"peak RSS < 1024 MiB {verdict(rss_ok)}"
            )
            if not args.smoke:
                ok &= time_ok and rss_ok
            if args.incremental:
                _accept_everything_sent(warehouse)
                changed = write_catalog(
                    tmp / "catalog.csv", rows, bad_every=args.bad_every, reprice_every=100
                )
                profile_again = args.profile if args.profile_run == "incremental" else None
                again = _run_steps(str(config), "bench__incr", env, profile_again, args.workers)
                _print_run(rows, "incremental", again)
                share = again.result["seconds"] / result["seconds"]
                sent = again.result["sent"]
                share_ok = share <= INCREMENTAL_SHARE
                sent_ok = len(changed.repriced) <= sent <= INCREMENTAL_SENT * len(changed.repriced)
                print(
                    f"  target: incremental/full {share:.2f} <= {INCREMENTAL_SHARE} {verdict(share_ok)}; "
                    f"sent {sent:,} for {len(changed.repriced):,} changed (<= {INCREMENTAL_SENT}x) "
                    f"{verdict(sent_ok)}"
                )
                ok &= sent_ok and (share_ok or args.smoke)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--bad-every", type=int, default=100, help="one row in this many is spoilt")
    parser.add_argument(
        "--incremental", action="store_true", help="also time a run with 1%% of prices changed"
    )
    parser.add_argument(
        "--warehouse", help="SQLAlchemy URL of an empty warehouse (default: a new SQLite file)"
    )
    parser.add_argument("--smoke", action="store_true", help="fail on correctness only, not on time")
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=PipelineConfig.model_fields["chunk_rows"].default,
        help="rows per chunk task (the pipeline config's chunk_rows; default: its default)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="chunk tasks run at once (Celery workers' slots; default 2)"
    )
    parser.add_argument(
        "--profile", choices=STEPS, help="print cProfile's top functions of this step (stderr)"
    )
    parser.add_argument(
        "--profile-run",
        choices=("full", "incremental"),
        default="full",
        help="the run whose step --profile profiles (incremental needs --incremental)",
    )
    parser.add_argument(
        "--worker", choices=("warm", "step", "floor", "warehouse-floor"), help=argparse.SUPPRESS
    )
    parser.add_argument("--floor-db", help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--branch", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    parser.add_argument("--documents", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args)
        return 0
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    print(
        f"{'rows':>9} {'run':<12} {'seconds':>8} {'rows/s':>9} {'peak RSS':>11}  each step (its own process): seconds/CPU seconds/peak RSS"
    )
    ok = all([_measure(rows, args) for rows in args.rows])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
