"""DAG schedules from the environment: what the demo uses to make the scheduled DAGs manual."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from listings_pipeline.schedules import env_name, schedule_for

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "@daily"),
        ("manual", None),
        ("None", None),
        ("", None),
        (" 0 3 * * * ", "0 3 * * *"),
        ("@hourly", "@hourly"),
    ],
)
def test_schedule_for(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str | None) -> None:
    if value is None:
        monkeypatch.delenv(env_name("catalog_feed_sync"), raising=False)
    else:
        monkeypatch.setenv(env_name("catalog_feed_sync"), value)
    assert env_name("catalog_feed_sync") == "SPAPI_SCHEDULE_CATALOG_FEED_SYNC"
    assert schedule_for("catalog_feed_sync", "@daily") == expected


PROBE = r"""
import sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
t = bag.dags["catalog_feed_sync"].timetable
print(type(t).__name__, getattr(t, "expression", "-"))
"""


def _summary(schedule: str) -> str:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "SPAPI_SCHEDULE_CATALOG_FEED_SYNC": schedule}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO_ROOT / "dags" / "catalog_feed_sync.py")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.airflow
def test_the_dag_file_honours_it() -> None:
    """Parsed in a fresh process, as the DAG processor would: the override reaches the DAG."""
    assert _summary("manual") == "NullTimetable -"
    assert _summary("0 3 * * *") == "CronTriggerTimetable 0 3 * * *"
