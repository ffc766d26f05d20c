"""Every DAG file imports cleanly, without heavy imports or connection lookups at parse time.

Each file is parsed in a fresh interpreter, so that what one file imports cannot hide another's,
and ``sys.modules`` shows exactly what parsing pulled in.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))

PROBE = r"""
import json, sys, time
from unittest import mock
from airflow.sdk import BaseHook

def refuse(*args, **kwargs):
    raise AssertionError(f"connection looked up at parse time: {args}")

HEAVY = ("pandas", "great_expectations", "pyarrow", "sqlalchemy_utils", "boto3", "botocore", "jsonschema_rs")

with mock.patch.object(BaseHook, "get_connection", side_effect=refuse):
    from airflow.dag_processing.dagbag import DagBag
    before = set(sys.modules)
    start = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed = time.perf_counter() - start
loaded = set(sys.modules) - before
print(json.dumps({
    "errors": {k: str(v)[-2000:] for k, v in bag.import_errors.items()},
    "elapsed": elapsed,
    "dags": {
        dag_id: {"tags": sorted(dag.tags), "retries": [t.retries for t in dag.tasks]}
        for dag_id, dag in bag.dags.items()
    },
    "heavy": sorted(m for m in loaded if m.split(".")[0] in HEAVY),
}))
"""


def parse(path: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_parses_cleanly(path: Path) -> None:
    result = parse(path)
    assert result["errors"] == {}
    dags = result["dags"]
    assert isinstance(dags, dict) and dags, f"{path.name} defines no DAG"
    for dag_id, info in dags.items():
        assert info["tags"], f"{dag_id} has no tags"
        assert min(info["retries"]) >= 2, f"{dag_id} has tasks with fewer than 2 retries"
    assert result["heavy"] == [], f"{path.name} imports heavy libraries at parse time"
    # how long parsing takes is measured by benchmarks/bench_dag_import.py, not asserted here


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_reaches_the_client_only_through_the_pipeline_package(path: Path) -> None:
    """dags -> listings_pipeline -> spapi: a DAG file that imports spapi itself couples the wiring
    to the client's internals, which the pipeline package exists to hide."""
    direct = sorted(m for m in _imported_modules(path) if m == "spapi" or m.startswith("spapi."))
    assert direct == [], f"{path.name} imports {direct}"
