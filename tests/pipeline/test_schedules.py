"""DAG schedules and retry delays from the environment: what the demo uses to make the scheduled DAGs
manual and their retries quick."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from listings_pipeline.schedules import (
    RETRY_DELAY_ENV,
    backoff_retries,
    env_name,
    manual_retries,
    retry_delay,
    schedule_for,
)

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


def test_retries_keep_their_delays_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RETRY_DELAY_ENV, raising=False)
    assert RETRY_DELAY_ENV == "SPAPI_RETRY_DELAY_SECONDS"
    assert backoff_retries(15) == {
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=15),
    }
    assert manual_retries() == {"retries": 2, "retry_delay": timedelta(seconds=30)}
    monkeypatch.setenv(RETRY_DELAY_ENV, " ")
    assert retry_delay(timedelta(minutes=1)) == timedelta(minutes=1)


def test_the_environment_sets_the_first_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the delay: the retries, the backoff and its ceiling stay the DAG's."""
    monkeypatch.setenv(RETRY_DELAY_ENV, "5")
    assert backoff_retries(30) == {
        "retries": 2,
        "retry_delay": timedelta(seconds=5),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    }
    assert manual_retries() == {"retries": 2, "retry_delay": timedelta(seconds=5)}
    monkeypatch.setenv(RETRY_DELAY_ENV, " 0.5 ")
    assert retry_delay(timedelta(minutes=1)) == timedelta(seconds=0.5)


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "1m"])
def test_a_retry_delay_that_is_not_seconds_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Loudly, at parse time (the DAG's import error), rather than quietly keeping the default."""
    monkeypatch.setenv(RETRY_DELAY_ENV, value)
    with pytest.raises(ValueError, match=RETRY_DELAY_ENV):
        retry_delay(timedelta(minutes=1))


PROBE = r"""
import sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.dags["catalog_feed_sync"]
t = dag.timetable
print(type(t).__name__, getattr(t, "expression", "-"), {task.retry_delay.total_seconds() for task in dag.tasks})
"""


def _summary(schedule: str, retry_delay: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != RETRY_DELAY_ENV}
    env.update({"PYTHONWARNINGS": "ignore", "SPAPI_SCHEDULE_CATALOG_FEED_SYNC": schedule})
    if retry_delay is not None:
        env[RETRY_DELAY_ENV] = retry_delay
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO_ROOT / "dags" / "catalog_feed_sync.py")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.airflow
def test_the_dag_file_honours_it() -> None:
    """Parsed in a fresh process, as the DAG processor would: the overrides reach the DAG's tasks."""
    assert _summary("manual") == "NullTimetable - {60.0}"
    assert _summary("0 3 * * *", retry_delay="4") == "CronTriggerTimetable 0 3 * * * {4.0}"
