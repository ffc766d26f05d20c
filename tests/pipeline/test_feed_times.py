"""A feed that goes through the sandbox ends with Amazon's processing times in the warehouse (SQLite
and PostgreSQL): ``feed_submissions`` holds getFeed's ``processingStartTime`` and
``processingEndTime``, ``v_feed_health`` has its turnaround, and the status page lists it finished.

The submit defers and the real ``FeedProcessingTrigger`` waits for the feed, as in Airflow; the
times are compared with what the sandbox's getFeed answers afterwards, not with the sandbox's
internals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

from airflow.sdk.exceptions import TaskDeferred  # noqa: E402

from listings_pipeline.status_page import queries  # noqa: E402
from listings_pipeline.warehouse import db  # noqa: E402
from listings_pipeline.warehouse.models import FeedSubmission  # noqa: E402
from spapi import feeds  # noqa: E402
from spapi.hooks import SpApiHook  # noqa: E402
from spapi.models.feeds import Feed  # noqa: E402
from spapi.ratelimit import MemoryBackend, RateLimiter  # noqa: E402
from tests.fixtures.sandbox import Sandbox  # noqa: E402
from tests.pipeline import test_publish as publish_tests  # noqa: E402
from tests.pipeline.test_publish import CONTEXT, attempts, document, operator  # noqa: E402

# the publish tests' warehouse (SQLite and PostgreSQL) and seller connection
warehouse = publish_tests.warehouse
seller_conn = publish_tests.seller_conn


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A sandbox slow enough that the submit always defers, and whose feeds take a measurable time."""
    return start_sandbox(feed_queue_seconds=0.5, feed_processing_seconds=0.5)


def first_event(trigger: Any, limit: float = 30.0) -> dict[str, Any]:
    """Run the trigger as the triggerer does, until its event."""

    async def run() -> dict[str, Any]:
        events = trigger.run()
        try:
            event = await asyncio.wait_for(events.__anext__(), limit)
        finally:
            await events.aclose()
        payload: dict[str, Any] = event.payload
        return payload

    return asyncio.run(run())


def amazon_feed(conn_id: str, feed_id: str) -> Feed:
    with SpApiHook(conn_id).get_client(limiter=RateLimiter(MemoryBackend(), scale=50)) as client:
        return client.call(feeds.get_feed(feed_id))


def test_a_feed_ends_with_amazons_processing_times_its_turnaround_and_finished_on_the_page(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    path = document(tmp_path)
    with pytest.raises(TaskDeferred) as deferred:
        operator(path, seller_conn).execute(CONTEXT)  # type: ignore[arg-type]
    event = first_event(deferred.value.trigger)
    # Airflow resumes the task in a new operator instance, with the event
    outcome = operator(path, seller_conn).execute_complete(
        CONTEXT,  # type: ignore[arg-type]
        event,
        **(deferred.value.kwargs or {}),
    )
    assert outcome["processing_status"] == "DONE"
    [attempt] = attempts(warehouse)
    assert attempt.state == "done" and attempt.feed_id == outcome["feed_id"]

    amazon = amazon_feed(seller_conn, outcome["feed_id"])
    assert amazon.processing_start_time is not None and amazon.processing_end_time is not None
    engine = db.make_engine(warehouse)
    try:
        with Session(engine) as session:
            row = session.get_one(FeedSubmission, outcome["feed_id"])
            assert (row.processing_status, row.processing_started_at, row.processing_ended_at) == (
                "DONE",
                amazon.processing_start_time,
                amazon.processing_end_time,
            )
            created_at = row.created_at
            [listed] = queries.recent_feeds(session)
        with engine.connect() as conn:
            [health] = conn.execute(sa.text("SELECT * FROM v_feed_health")).mappings().all()
    finally:
        engine.dispose()

    # the sandbox queues a feed 0.5 s and processes it 0.5 s: both show in the figures
    processing = (amazon.processing_end_time - amazon.processing_start_time).total_seconds()
    assert processing >= 0.4
    assert (health["feeds"], health["feeds_done"], health["feeds_pending"]) == (1, 1, 0)
    assert float(health["avg_processing_seconds"]) == pytest.approx(processing, abs=0.01)
    turnaround = (amazon.processing_end_time - created_at).total_seconds()
    assert turnaround > 0
    assert float(health["avg_turnaround_seconds"]) == pytest.approx(turnaround, abs=0.01)

    # the page lists it as Amazon does: finished, with its processing time (not "queued")
    assert (listed.feed_id, listed.processing_status, listed.finished, listed.progress) == (
        outcome["feed_id"],
        "DONE",
        True,
        1.0,
    )
    assert listed.processing_ended_at == amazon.processing_end_time
    assert listed.duration_seconds == pytest.approx(turnaround, abs=0.01)
