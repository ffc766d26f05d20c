"""Who triggered the Airflow run a task belongs to, for the history of what it changed.

Airflow 3.3 hands a task its DagRun (``get_current_context()["dag_run"]``), whose
``triggering_user_name`` is the user who triggered it from the UI, the REST API (the status page's
Replay button) or ``airflow dags test`` (``dag_test``), and ``None`` for a scheduled run. Read here
rather than passed down from each DAG file, so every path that writes to Amazon records it the same
way; outside a task (a script, a test) nobody is known.
"""

from __future__ import annotations

from typing import NamedTuple


class TriggeredBy(NamedTuple):
    """The run's user (``None``: scheduled, or not known) and DAG, which with the run id names it."""

    user: str | None = None
    dag_id: str | None = None


def current() -> TriggeredBy:
    """The running task's user and DAG; both ``None`` outside an Airflow task."""
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except (ImportError, RuntimeError):  # not inside a task
        return TriggeredBy()
    dag_run = context.get("dag_run")
    return TriggeredBy(
        user=getattr(dag_run, "triggering_user_name", None),
        dag_id=getattr(dag_run, "dag_id", None),
    )
