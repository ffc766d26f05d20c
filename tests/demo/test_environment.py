"""The environment of the demo's Airflow processes: what it changes in the DAGs, read back through the
DAGs' own parse-time functions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from demo.environment import MANUAL_DAGS, DemoLayout, airflow_env, prepare
from listings_pipeline.schedules import backoff_retries, env_name, schedule_for


def test_the_demo_makes_the_scheduled_dags_manual_and_their_retries_quick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = DemoLayout(tmp_path / "state")
    prepare(layout, fresh=True)

    env = airflow_env(layout)

    for name, value in env.items():
        if name.startswith("SPAPI_"):
            monkeypatch.setenv(name, value)
    assert {dag_id: schedule_for(dag_id, "@daily") for dag_id in MANUAL_DAGS} == dict.fromkeys(MANUAL_DAGS)
    assert env[env_name("catalog_feed_sync")] == "manual"
    # a retry after Airflow's defer race (apache/airflow#67287) seconds later, not a minute
    delay = backoff_retries(15)["retry_delay"]
    assert isinstance(delay, timedelta) and timedelta(seconds=1) <= delay <= timedelta(seconds=10), delay
