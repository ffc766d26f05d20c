"""settle_stale_feeds against the live sandbox and a real warehouse (SQLite and PostgreSQL): a feed
Amazon has not finished after feed_wait_hours is cancelled while it is IN_QUEUE, and held while it
is IN_PROGRESS or cannot be cancelled, so that an older document never lands after a newer one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

from airflow.sdk.exceptions import TaskDeferred  # noqa: E402

from listings_pipeline.branch import Branch  # noqa: E402
from listings_pipeline.config import PipelineConfig, SellerConfig  # noqa: E402
from listings_pipeline.to_amazon.reconcile import reconcile  # noqa: E402
from listings_pipeline.to_amazon.stale_feeds import Settlement, StaleFeeds, settle_stale_feeds  # noqa: E402
from listings_pipeline.warehouse import db, lifecycle  # noqa: E402
from listings_pipeline.warehouse.models import (  # noqa: E402
    ApiCall,
    FeedSubmission,
    ListingStatus,
    PublishAttempt,
)
from spapi import feeds  # noqa: E402
from spapi.feed_documents import FeedDocument  # noqa: E402
from spapi.hooks import SpApiHook  # noqa: E402
from spapi.ratelimit import MemoryBackend, RateLimiter  # noqa: E402
from tests.fixtures.sandbox import SELLER, US, Sandbox  # noqa: E402
from tests.pipeline import test_publish as publish_tests  # noqa: E402
from tests.pipeline.test_publish import (  # noqa: E402
    SKUS,
    attempts,
    built,
    feeds_in,
    latest_causes,
    mark_submitted,
    operator,
    statuses,
)

# the publish tests' warehouse (SQLite and PostgreSQL) and seller connection
warehouse = publish_tests.warehouse
seller_conn = publish_tests.seller_conn

SETTLING_RUN = "scheduled__settle"


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A sandbox whose feeds move only when a test says so (POST /_sandbox/feeds/process)."""
    return start_sandbox(processor_enabled=False, feed_queue_seconds=0.0, feed_processing_seconds=0.0)


def config() -> PipelineConfig:
    seller = SellerConfig(
        seller_id=SELLER, spapi_conn_id="spapi_sandbox", marketplaces=(US,), catalog="catalog.csv"
    )
    return PipelineConfig(sellers=(seller,), feed_wait_hours=12, reconcile_after_minutes=15)


def submitted_feed(tmp_path: Path, url: str, conn_id: str, *, age_hours: float = 13) -> FeedDocument:
    """A document built, its SKUs submitted, its feed created (IN_QUEUE) ``age_hours`` ago."""
    document = built(tmp_path)
    mark_submitted(url, document)
    op = operator(document.path, conn_id)
    op.message_count = document.message_count
    with pytest.raises(TaskDeferred):
        op.execute({"run_id": "manual__test"})  # type: ignore[arg-type]
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        session.execute(
            sa.update(PublishAttempt).values(updated_at=datetime.now(UTC) - timedelta(hours=age_hours))
        )
    engine.dispose()
    return document


def settle(url: str, conn_id: str) -> StaleFeeds:
    engine = db.make_engine(url)
    try:
        return settle_stale_feeds(config(), SELLER, US, conn_id, SETTLING_RUN, engine)
    finally:
        engine.dispose()


def calls_of(url: str, run_id: str = SETTLING_RUN) -> list[tuple[str, int | None]]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ApiCall.operation, ApiCall.status).where(ApiCall.run_id == run_id).order_by(ApiCall.id)
        )
        found = [(operation, status) for operation, status in rows]
    engine.dispose()
    return found


def feed_status(url: str, feed_id: str) -> str:
    return feed_row(url, feed_id)[0]


def feed_row(url: str, feed_id: str) -> tuple[str, datetime | None, datetime | None]:
    """The feed's status and processing times as the warehouse has them."""
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        feed = session.get_one(FeedSubmission, feed_id)
        found = (feed.processing_status, feed.processing_started_at, feed.processing_ended_at)
    engine.dispose()
    return found


def amazon_row(conn_id: str, feed_id: str) -> tuple[str, datetime | None, datetime | None]:
    """The same, as the sandbox's getFeed answers."""
    with SpApiHook(conn_id).get_client(limiter=RateLimiter(MemoryBackend(), scale=50)) as client:
        feed = client.call(feeds.get_feed(feed_id))
    return str(feed.processing_status), feed.processing_start_time, feed.processing_end_time


def to_in_progress(sandbox: Sandbox) -> None:
    sandbox.admin("POST", "/feeds/process")
    assert [f["status"] for f in feeds_in(sandbox)] == ["IN_PROGRESS"]


def test_a_stale_feed_in_queue_is_cancelled_and_its_skus_released(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    submitted_feed(tmp_path, warehouse, seller_conn)
    [feed] = feeds_in(sandbox)
    stale = settle(warehouse, seller_conn)
    assert stale.release == frozenset(SKUS) and stale.hold == frozenset()
    [settled] = stale.feeds
    assert (settled.feed_id, settled.settlement, settled.processing_status) == (
        feed["feed_id"],
        Settlement.CANCELLED,
        "CANCELLED",
    )
    assert "cancelFeed accepted" in stale.reasons()[feed["feed_id"]]
    assert [f["status"] for f in feeds_in(sandbox)] == ["CANCELLED"]
    [attempt] = attempts(warehouse)
    assert attempt.state == "cancelled" and SETTLING_RUN in (attempt.error or "")
    assert feed_status(warehouse, feed["feed_id"]) == "CANCELLED"
    # cancelled in the queue: Amazon says when, and that it never started
    assert feed_row(warehouse, feed["feed_id"]) == amazon_row(seller_conn, feed["feed_id"])
    assert feed_row(warehouse, feed["feed_id"])[1:2] == (None,)
    assert statuses(warehouse) == dict.fromkeys(SKUS, "ready")
    assert latest_causes(warehouse) == dict.fromkeys(
        SKUS, (f"feed:{feed['feed_id']}:cancelled", SETTLING_RUN)
    )
    assert calls_of(warehouse) == [("getFeed", 200), ("cancelFeed", 200), ("getFeed", 200)]


def test_a_stale_feed_in_progress_is_held_until_it_ends(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    submitted_feed(tmp_path, warehouse, seller_conn)
    to_in_progress(sandbox)
    stale = settle(warehouse, seller_conn)
    assert stale.hold == frozenset(SKUS) and stale.release == frozenset()
    assert [f.settlement for f in stale.feeds] == [Settlement.IN_PROGRESS]
    assert calls_of(warehouse) == [("getFeed", 200)]  # Amazon refuses to cancel a feed in progress
    assert attempts(warehouse)[0].state == "feed_created"
    assert set(statuses(warehouse).values()) == {"submitted"}
    # the feed list shows what Amazon said: in progress since it started
    [feed_id] = [f["feed_id"] for f in feeds_in(sandbox)]
    running = feed_row(warehouse, feed_id)
    assert running == amazon_row(seller_conn, feed_id) and running[1] is not None and running[2] is None
    # Amazon finishes it: the ledger learns it, and the SKUs wait for reconcile to apply the report
    sandbox.admin("POST", "/feeds/process")
    ended = settle(warehouse, seller_conn)
    assert ended.hold == frozenset(SKUS) and [f.settlement for f in ended.feeds] == [Settlement.ENDED]
    assert attempts(warehouse)[0].state == "done"
    done = feed_row(warehouse, feed_id)
    assert done == amazon_row(seller_conn, feed_id) and done[0] == "DONE" and done[2] is not None
    # a run a minute later, before reconcile may take it, still holds them (no call to Amazon)
    again = settle(warehouse, seller_conn)
    assert again.hold == frozenset(SKUS) and len(calls_of(warehouse)) == 2


def test_a_refused_cancel_holds_the_skus(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    submitted_feed(tmp_path, warehouse, seller_conn)
    sandbox.faults({"kind": "error", "status": 400, "operation": "cancelFeed"})
    stale = settle(warehouse, seller_conn)
    assert stale.hold == frozenset(SKUS) and stale.release == frozenset()
    [settled] = stale.feeds
    assert settled.settlement == Settlement.CANCEL_REFUSED and settled.processing_status == "IN_QUEUE"
    assert "cancelFeed refused (InvalidRequestError 400 InvalidInput" in settled.reason
    assert calls_of(warehouse) == [("getFeed", 200), ("cancelFeed", 400), ("getFeed", 200)]
    assert [f["status"] for f in feeds_in(sandbox)] == ["IN_QUEUE"]
    assert attempts(warehouse)[0].state == "feed_created"
    assert set(statuses(warehouse).values()) == {"submitted"}


def test_an_unreadable_feed_status_holds_the_skus(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    submitted_feed(tmp_path, warehouse, seller_conn)
    sandbox.faults({"kind": "error", "status": 403, "operation": "getFeed"})
    stale = settle(warehouse, seller_conn)
    assert stale.hold == frozenset(SKUS) and [f.settlement for f in stale.feeds] == [Settlement.UNKNOWN]
    assert [f["status"] for f in feeds_in(sandbox)] == ["IN_QUEUE"]  # nothing cancelled blind


def test_only_the_skus_the_cancelled_document_still_holds_are_released(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    submitted_feed(tmp_path, warehouse, seller_conn)
    engine = db.make_engine(warehouse)
    with db.session_scope(engine) as session:  # REL-3 went out later in another document
        key = {"seller_id": SELLER, "marketplace_id": US, "sku": "REL-3"}
        lifecycle.transition_many(session, [key], cause="plan", to_status=ListingStatus.READY)
        lifecycle.transition_many(
            session, [key], cause="feed_document:" + "e" * 16, to_status=ListingStatus.SUBMITTED
        )
    engine.dispose()
    stale = settle(warehouse, seller_conn)
    assert stale.release == {"REL-1", "REL-2"} and stale.hold == frozenset()
    assert statuses(warehouse) == {"REL-1": "ready", "REL-2": "ready", "REL-3": "submitted"}


def test_a_feed_within_feed_wait_hours_is_left_alone(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    submitted_feed(tmp_path, warehouse, seller_conn, age_hours=11)
    assert settle(warehouse, seller_conn) == StaleFeeds()
    assert calls_of(warehouse) == [] and [f["status"] for f in feeds_in(sandbox)] == ["IN_QUEUE"]


def test_a_feed_reconcile_finds_ended_gets_amazons_times(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    """Nobody waited for this feed to the end (its task died): the next run's reconcile asks Amazon,
    applies the report, and the feed's row gets the times getFeed gave."""
    submitted_feed(tmp_path, warehouse, seller_conn, age_hours=1)
    [feed_id] = [f["feed_id"] for f in feeds_in(sandbox)]
    sandbox.admin("POST", "/feeds/process")
    sandbox.admin("POST", "/feeds/process")
    assert [f["status"] for f in feeds_in(sandbox)] == ["DONE"]
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        yaml.safe_dump(
            {**config().model_dump(mode="json", exclude_defaults=True), "var_dir": str(tmp_path / "var")}
        )
    )
    branch: Branch = {
        "seller_id": SELLER,
        "marketplace_id": US,
        "spapi_conn_id": seller_conn,
        "config_path": str(path),
        "run_id": SETTLING_RUN,
    }
    [result] = reconcile(branch)
    assert (result["feed_id"], result["processing_status"]) == (feed_id, "DONE")
    assert attempts(warehouse)[0].state == "done"
    row = feed_row(warehouse, feed_id)
    assert row == amazon_row(seller_conn, feed_id) and None not in row
