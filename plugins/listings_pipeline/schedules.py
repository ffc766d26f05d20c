"""DAG schedules and retry delays that a deployment can change without editing DAG files.

``SPAPI_SCHEDULE_<DAG_ID>`` (upper case), when set, replaces a DAG's schedule: a cron expression or
preset such as ``@hourly``, or ``none`` / ``manual`` for a DAG that only runs when triggered. The
one-command demo sets the scheduled DAGs to ``manual`` so that only the run it triggers happens.
``SPAPI_RETRY_DELAY_SECONDS``, when set, replaces every DAG's delay before a task's first retry (the
later ones still double from it, up to the DAG's maximum): the demo, whose sandbox answers in
seconds, sets a few seconds, so a task that fails once does not hold its run for a minute.
Reading an environment variable is the only work done at parse time: no file or database I/O.
"""

from __future__ import annotations

import os
from datetime import timedelta

MANUAL = frozenset({"", "none", "manual", "null"})
RETRY_DELAY_ENV = "SPAPI_RETRY_DELAY_SECONDS"


def env_name(dag_id: str) -> str:
    return f"SPAPI_SCHEDULE_{dag_id.upper()}"


def schedule_for(dag_id: str, default: str | None) -> str | None:
    """The DAG's schedule: ``$SPAPI_SCHEDULE_<DAG_ID>`` if set, else ``default``."""
    value = os.environ.get(env_name(dag_id))
    if value is None:
        return default
    value = value.strip()
    return None if value.lower() in MANUAL else value


def retry_delay(default: timedelta) -> timedelta:
    """The delay before a task's first retry: ``$SPAPI_RETRY_DELAY_SECONDS`` if set, else ``default``.

    A value that is not a number of seconds >= 0 raises, so a typo shows as the DAG's import error
    instead of quietly keeping the default.
    """
    value = os.environ.get(RETRY_DELAY_ENV)
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{RETRY_DELAY_ENV}={value!r} is not a number of seconds") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"{RETRY_DELAY_ENV}={value!r} is not a number of seconds >= 0")
    return timedelta(seconds=seconds)


def backoff_retries(max_delay_minutes: int) -> dict[str, object]:
    """``default_args`` of a scheduled DAG: two retries a minute apart (or
    ``$SPAPI_RETRY_DELAY_SECONDS``), doubling, at most ``max_delay_minutes`` apart (Amazon's
    throttling and outages pass; a run that waits them out beats one that fails and waits for the
    next schedule)."""
    return {
        "retries": 2,
        "retry_delay": retry_delay(timedelta(minutes=1)),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=max_delay_minutes),
    }


def manual_retries() -> dict[str, object]:
    """``default_args`` of a DAG an operator triggers (or an event starts): two retries 30 s apart,
    no backoff. Someone is waiting for the outcome, so a passing throttle or timeout is retried
    soon; a failure that lasts is theirs to see within about a minute, not after a long backoff.
    ``$SPAPI_RETRY_DELAY_SECONDS`` replaces the 30 s."""
    return {"retries": 2, "retry_delay": retry_delay(timedelta(seconds=30))}
