"""Benchmark: how long each DAG file takes to import in a fresh interpreter.

    .venv/bin/python -m benchmarks.bench_dag_import [--repeat 5]

Airflow's DAG processor imports every DAG file again and again, so a file's own import cost is paid
continuously. Each measurement is a fresh interpreter that first imports ``airflow.sdk`` (the
floor: what any DAG file costs, which we cannot change) and then runs the DAG file; the file's own
cost is the second part. Also printed: which heavy libraries the file pulled in (none may).

Target (issue #13): every DAG file's own import under 0.5 s, with no boto3, pandas, pyarrow or
Great Expectations loaded. The median of ``--repeat`` runs is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._common import REPO, verdict

TARGET_SECONDS = 0.5
HEAVY = ("boto3", "botocore", "pandas", "pyarrow", "great_expectations", "jsonschema_rs")

PROBE = r"""
import json, runpy, sys, time
sys.path[:0] = [sys.argv[2], sys.argv[3]]
started = time.perf_counter()
import airflow.sdk
from airflow.sdk import dag, task
floor = time.perf_counter() - started
before = set(sys.modules)
started = time.perf_counter()
runpy.run_path(sys.argv[1])
own = time.perf_counter() - started
heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(sys.argv[4].split(",")))
print(json.dumps({"floor": floor, "own": own, "heavy": heavy}))
"""


def measure(path: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, path, str(REPO / "dags"), str(REPO / "plugins"), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="fail on heavy imports only, not on time")
    args = parser.parse_args(argv)
    failed = False
    print(f"{'DAG file':<28} {'airflow.sdk s':>13} {'own s':>7} {'own/floor':>9}  heavy imports")
    for path in sorted((REPO / "dags").glob("*.py")):
        if path.name.startswith("_"):
            continue
        runs = [measure(str(path)) for _ in range(args.repeat)]
        floor = statistics.median(r["floor"] for r in runs)
        own = statistics.median(r["own"] for r in runs)
        heavy = sorted({name for r in runs for name in r["heavy"]})
        ok = own < TARGET_SECONDS and not heavy
        failed |= bool(heavy) if args.smoke else not ok
        print(
            f"{path.name:<28} {floor:>13.2f} {own:>7.2f} {own / floor:>9.2f}  {', '.join(heavy) or '-'}  "
            f"{verdict(ok)}",
            flush=True,
        )
    print(f"target: each file's own import < {TARGET_SECONDS} s (median of {args.repeat}), no heavy import")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
