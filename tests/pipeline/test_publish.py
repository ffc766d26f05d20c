"""LedgerSubmitFeedOperator against the live sandbox and a real warehouse (SQLite and PostgreSQL):
a document is submitted once, whatever happens to the task."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

from airflow.sdk.exceptions import AirflowFailException, TaskDeferred  # noqa: E402

from listings_pipeline.to_amazon.publish import (  # noqa: E402
    LedgerSubmitFeedOperator,
    release_cause,
)
from listings_pipeline.to_amazon.stale_feeds import AmbiguousSubmissionError, document_cause  # noqa: E402
from listings_pipeline.warehouse import db, lifecycle  # noqa: E402
from listings_pipeline.warehouse.models import (  # noqa: E402
    ApiCall,
    Listing,
    ListingEvent,
    ListingStatus,
    PublishAttempt,
)
from listings_pipeline.warehouse.records import ensure_seller  # noqa: E402
from spapi import feeds  # noqa: E402
from spapi.client import SpApiClient  # noqa: E402
from spapi.errors import InvalidRequestError, ServerError, SpApiError  # noqa: E402
from spapi.feed_documents import FeedDocument, build_feed_documents  # noqa: E402
from spapi.ratelimit import MemoryBackend, RateLimiter  # noqa: E402
from tests.fixtures.sandbox import APP_ID, APP_SECRET, SELLER, SELLER_TOKEN, US, Sandbox  # noqa: E402


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A freshly migrated warehouse, reachable as the ``warehouse_default`` connection."""
    if request.param == "sqlite":
        url = db.sqlite_url(tmp_path / "warehouse.db")
        schema = None
    else:
        base = request.getfixturevalue("postgres_url")
        schema = f"pub_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = str(
            sa.make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        ensure_seller(session, SELLER, region="na")
    engine.dispose()
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
    yield url
    if schema:
        admin = sa.create_engine(request.getfixturevalue("postgres_url"))
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def seller_conn(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPAPI_SANDBOX",
        json.dumps(
            {
                "conn_type": "spapi",
                "login": APP_ID,
                "password": APP_SECRET,
                "extra": {
                    "environment": "sandbox",
                    "refresh_token": SELLER_TOKEN,
                    "seller_id": SELLER,
                    "endpoint_url": sandbox.url,
                    "token_url": f"{sandbox.url}/auth/o2/token",
                    "rate_scale": 50,
                },
            }
        ),
    )
    return "spapi_sandbox"


def document(tmp_path: Path, sku: str = "PUB-1") -> Path:
    path = tmp_path / f"{sku}.json"
    body = {
        "header": {"sellerId": SELLER, "version": "2.0"},
        "messages": [{"messageId": 1, "sku": sku, "operationType": "DELETE"}],
    }
    path.write_bytes(orjson.dumps(body))
    return path


def operator(
    path: Path, conn_id: str, cls: type[LedgerSubmitFeedOperator] = LedgerSubmitFeedOperator
) -> LedgerSubmitFeedOperator:
    op = cls(
        task_id="submit",
        document_path=str(path),
        marketplace_ids=[US],
        seller_id=SELLER,
        message_count=1,
        spapi_conn_id=conn_id,
        poll_interval=0.05,
    )
    # a limiter of its own, so tests do not share buckets through the process-wide memory backend
    op.hook.__dict__["client"] = op.hook.get_client(
        on_call=op.call_log, limiter=RateLimiter(MemoryBackend(), scale=50)
    )
    return op


def attempts(url: str) -> list[PublishAttempt]:
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        rows = list(session.scalars(sa.select(PublishAttempt)))
        session.expunge_all()
    engine.dispose()
    return rows


def feeds_in(sandbox: Sandbox) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = sandbox.admin("GET", "/state")["feeds"]
    return result


CONTEXT: dict[str, Any] = {"run_id": "manual__test"}


def test_submit_records_the_ledger_then_defers(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    op = operator(document(tmp_path), seller_conn)
    with pytest.raises(TaskDeferred) as info:
        op.execute(CONTEXT)  # type: ignore[arg-type]
    [attempt] = attempts(warehouse)
    assert attempt.state == "feed_created" and attempt.feed_id == info.value.trigger.feed_id  # type: ignore[attr-defined]
    assert attempt.run_id == "manual__test" and attempt.feed_document_id
    outcome = op.execute_complete(
        CONTEXT,
        {"status": "success", "feed_id": attempt.feed_id, "processing_status": "DONE"},
        document_hash=attempt.document_hash,
    )  # type: ignore[arg-type]
    assert outcome["processing_status"] == "DONE"
    assert attempts(warehouse)[0].state == "done"
    engine = db.make_engine(warehouse)
    with engine.connect() as conn:
        operations = set(conn.scalars(sa.select(ApiCall.operation)))
    engine.dispose()
    assert {"createFeedDocument", "uploadFeedDocument", "createFeed", "getFeed"} <= operations


def test_a_retried_task_waits_for_the_same_feed(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    path = document(tmp_path)
    with pytest.raises(TaskDeferred):
        operator(path, seller_conn).execute(CONTEXT)  # type: ignore[arg-type]
    # the retry waits for the same feed, or (when the sandbox has finished it already) reads its outcome
    try:
        outcome: dict[str, Any] = operator(path, seller_conn).execute(CONTEXT)  # type: ignore[arg-type]
        waited_for = outcome["feed_id"]
    except TaskDeferred as again:
        waited_for = again.trigger.feed_id  # type: ignore[attr-defined]
    assert len(feeds_in(sandbox)) == 1
    assert waited_for == feeds_in(sandbox)[0]["feed_id"]


class KilledAfterCreateFeed(LedgerSubmitFeedOperator):
    def after_create_feed(self, context: Any, document_hash: str, feed_id: str) -> None:
        raise KeyboardInterrupt("worker killed right after createFeed")


def test_a_task_killed_right_after_create_feed_does_not_submit_again(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    path = document(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        operator(path, seller_conn, KilledAfterCreateFeed).execute(CONTEXT)  # type: ignore[arg-type]
    [attempt] = attempts(warehouse)
    assert (
        attempt.state == "uploaded" and attempt.feed_id is None
    )  # the feed exists, the ledger does not know
    retry = operator(path, seller_conn)
    try:
        outcome: dict[str, Any] | None = retry.execute(CONTEXT)  # type: ignore[arg-type]
    except TaskDeferred as deferred:
        outcome = {"feed_id": deferred.trigger.feed_id}  # type: ignore[attr-defined]
    assert len(feeds_in(sandbox)) == 1
    assert outcome is not None and outcome["feed_id"] == feeds_in(sandbox)[0]["feed_id"]
    assert attempts(warehouse)[0].feed_id == outcome["feed_id"]


def test_an_ambiguous_recovery_stops_instead_of_guessing(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    path = document(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        operator(path, seller_conn, KilledAfterCreateFeed).execute(CONTEXT)  # type: ignore[arg-type]
    other = operator(document(tmp_path, "PUB-OTHER"), seller_conn, KilledAfterCreateFeed)
    with pytest.raises(KeyboardInterrupt):
        other.execute(CONTEXT)  # type: ignore[arg-type]
    with pytest.raises(AmbiguousSubmissionError, match="2 unclaimed feeds"):
        operator(path, seller_conn).execute(CONTEXT)  # type: ignore[arg-type]
    assert len(feeds_in(sandbox)) == 2


def test_a_cancelled_feed_is_submitted_anew(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    sandbox.faults({"kind": "feed_cancelled", "count": 1})
    path = document(tmp_path)
    op = operator(path, seller_conn)
    op.deferrable = False
    op.fail_on_fatal = False
    assert op.execute(CONTEXT)["processing_status"] == "CANCELLED"  # type: ignore[arg-type]
    assert attempts(warehouse)[0].state == "cancelled"
    again = operator(path, seller_conn)
    again.deferrable = False
    assert again.execute(CONTEXT)["processing_status"] == "DONE"  # type: ignore[arg-type]
    assert len(feeds_in(sandbox)) == 2
    assert attempts(warehouse)[0].state == "done"
    with again.hook.get_client() as client:
        assert client.call(feeds.get_feed(attempts(warehouse)[0].feed_id or "")).processing_status == "DONE"


def test_a_later_run_resubmits_a_finished_document_but_a_retry_of_the_same_run_does_not(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    path = document(tmp_path)
    first = operator(path, seller_conn)
    first.deferrable = False
    assert first.execute(CONTEXT)["processing_status"] == "DONE"  # type: ignore[arg-type]
    same_run = operator(path, seller_conn)
    same_run.deferrable = False
    assert same_run.execute(CONTEXT)["processing_status"] == "DONE"  # type: ignore[arg-type]
    assert len(feeds_in(sandbox)) == 1
    next_run = operator(path, seller_conn)
    next_run.deferrable = False
    assert next_run.execute({"run_id": "scheduled__next"})["processing_status"] == "DONE"  # type: ignore[arg-type]
    assert len(feeds_in(sandbox)) == 2
    [attempt] = attempts(warehouse)
    assert attempt.run_id == "scheduled__next" and attempt.state == "done"


# ---- a submit that fails for good ---------------------------------------------------------------------

SKUS = ["REL-1", "REL-2", "REL-3"]


@dataclass
class TryOf:
    """The two fields of Airflow's task instance that decide whether a failed try is retried."""

    try_number: int
    max_tries: int


def built(tmp_path: Path, skus: list[str] = SKUS, name: str = "docs") -> FeedDocument:
    """A document with its SKU sidecar, as bulk.build writes it, and its SKUs moved to submitted."""
    [document] = build_feed_documents(
        SELLER, [{"sku": sku, "operationType": "DELETE"} for sku in skus], tmp_path / name
    )
    return document


def mark_submitted(url: str, document: FeedDocument, run_id: str = "manual__test") -> None:
    rows = [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in document.message_index().skus]
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        lifecycle.transition_many(session, rows, cause="plan", run_id=run_id, to_status=ListingStatus.READY)
        lifecycle.transition_many(
            session,
            rows,
            cause=document_cause(document.sha256),
            run_id=run_id,
            to_status=ListingStatus.SUBMITTED,
        )
    engine.dispose()


def statuses(url: str) -> dict[str, str]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        found = {sku: status for sku, status in conn.execute(sa.select(Listing.sku, Listing.status))}
    engine.dispose()
    return found


def latest_causes(url: str) -> dict[str, tuple[str, str | None]]:
    """sku -> (cause, run id) of its latest lifecycle event."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Listing.sku, ListingEvent.cause, ListingEvent.run_id)
            .join(ListingEvent, ListingEvent.listing_id == Listing.id)
            .order_by(ListingEvent.id)
        )
        found = {sku: (cause, run_id) for sku, cause, run_id in rows}
    engine.dispose()
    return found


def submit_op(document: FeedDocument, conn_id: str) -> LedgerSubmitFeedOperator:
    op = operator(document.path, conn_id)
    op.message_count = document.message_count
    op.deferrable = False
    # quick client retries, so a fault that never ends fails the try in well under a second
    op.hook.__dict__["client"].close()
    op.hook.__dict__["client"] = SpApiClient(
        op.hook.conn_config.model_copy(update={"backoff_base": 0.01, "backoff_cap": 0.02}),
        on_call=op.call_log,
        limiter=RateLimiter(MemoryBackend(), scale=50),
    )
    return op


def run_try(
    op: LedgerSubmitFeedOperator, try_number: int, max_tries: int, run_id: str = "manual__test"
) -> Any:
    return op.execute({"run_id": run_id, "ti": TryOf(try_number, max_tries)})  # type: ignore[arg-type]


def input_documents(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [d for d in sandbox.admin("GET", "/state")["documents"] if d["kind"] == "input"]


def test_create_feed_document_is_retried_after_a_5xx_and_one_document_is_submitted(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    sandbox.faults({"kind": "error", "status": 500, "operation": "createFeedDocument", "count": 1})
    document = built(tmp_path)
    mark_submitted(warehouse, document)
    assert run_try(submit_op(document, seller_conn), 1, 2)["processing_status"] == "DONE"
    assert len(input_documents(sandbox)) == 1 and len(feeds_in(sandbox)) == 1
    assert sandbox.calls()["byOperation"]["createFeedDocument"]["statuses"] == {"500": 1, "201": 1}


def test_a_submit_failing_for_good_before_create_feed_returns_its_skus_to_ready_at_once(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    sandbox.faults({"kind": "error", "status": 503, "operation": "createFeedDocument"})  # Amazon is down
    document = built(tmp_path)
    mark_submitted(warehouse, document)
    with pytest.raises(ServerError):
        run_try(submit_op(document, seller_conn), 1, 2)  # Airflow retries this one: nothing moves
    assert set(statuses(warehouse).values()) == {"submitted"}
    assert attempts(warehouse)[0].state == "recorded"
    with pytest.raises(ServerError):
        run_try(submit_op(document, seller_conn), 3, 2)  # the last try
    [attempt] = attempts(warehouse)
    assert attempt.state == "failed" and attempt.feed_id is None and "ServerError" in (attempt.error or "")
    assert statuses(warehouse) == dict.fromkeys(SKUS, "ready")
    assert latest_causes(warehouse) == dict.fromkeys(SKUS, (release_cause(attempt.id), "manual__test"))
    assert feeds_in(sandbox) == []


def test_amazon_refusing_create_feed_returns_the_skus_to_ready(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    sandbox.faults({"kind": "error", "status": 400, "operation": "createFeed", "count": 1})
    document = built(tmp_path)
    mark_submitted(warehouse, document)
    with pytest.raises(InvalidRequestError):
        run_try(submit_op(document, seller_conn), 1, 0)  # no retries configured: the only try
    [attempt] = attempts(warehouse)
    assert attempt.state == "failed" and attempt.feed_document_id is not None  # it had reached createFeed
    assert statuses(warehouse) == dict.fromkeys(SKUS, "ready")
    assert feeds_in(sandbox) == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "error", "status": 500, "operation": "createFeed", "count": 1},
        {"kind": "drop", "operation": "createFeed", "count": 1},
    ],
    ids=["500", "dropped-connection"],
)
def test_a_create_feed_amazon_may_have_acted_on_keeps_the_skus_submitted(
    tmp_path: Path,
    sandbox: Sandbox,
    seller_conn: str,
    warehouse: str,
    fault: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.faults(fault)
    document = built(tmp_path)
    mark_submitted(warehouse, document)
    with pytest.raises(SpApiError):
        run_try(submit_op(document, seller_conn), 3, 2)
    [attempt] = attempts(warehouse)
    assert attempt.state == "uploaded" and attempt.feed_id is None  # the orphan lookup decides later
    assert set(statuses(warehouse).values()) == {"submitted"}
    logged = capsys.readouterr().out  # the task logger writes through structlog
    assert "may have created a feed" in logged and "SKUs stay submitted" in logged


def test_a_cleared_task_takes_its_released_skus_back_and_submits_its_document(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    sandbox.faults({"kind": "error", "status": 400, "operation": "createFeed", "count": 1})
    document = built(tmp_path)
    mark_submitted(warehouse, document)
    with pytest.raises(InvalidRequestError):
        run_try(submit_op(document, seller_conn), 1, 0)
    assert statuses(warehouse) == dict.fromkeys(SKUS, "ready")
    # an operator clears the failed task: same run, first try again
    assert run_try(submit_op(document, seller_conn), 1, 0)["processing_status"] == "DONE"
    assert statuses(warehouse) == dict.fromkeys(SKUS, "submitted")  # parse moves them on
    assert latest_causes(warehouse) == dict.fromkeys(SKUS, (document_cause(document.sha256), "manual__test"))
    assert len(feeds_in(sandbox)) == 1 and attempts(warehouse)[0].state == "done"


def test_a_cleared_task_does_not_send_its_document_once_a_later_run_planned_its_skus(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    sandbox.faults({"kind": "error", "status": 400, "operation": "createFeed", "count": 1})
    document = built(tmp_path)
    mark_submitted(warehouse, document)
    with pytest.raises(InvalidRequestError):
        run_try(submit_op(document, seller_conn), 1, 0)
    engine = db.make_engine(warehouse)
    with db.session_scope(engine) as session:  # a later run planned a changed REL-2 (still ready)
        lifecycle.transition_many(
            session,
            [{"seller_id": SELLER, "marketplace_id": US, "sku": "REL-2", "payload_hash": "f" * 64}],
            cause="plan",
            run_id="scheduled__later",
            to_status=ListingStatus.READY,
        )
    engine.dispose()
    with pytest.raises(AirflowFailException, match=f"planned again since \\({US}/REL-2\\)"):
        run_try(submit_op(document, seller_conn), 1, 0)
    assert feeds_in(sandbox) == [] and statuses(warehouse) == dict.fromkeys(SKUS, "ready")
    assert attempts(warehouse)[0].state == "failed"


def test_a_new_run_with_the_same_document_submits_it_after_a_release(
    tmp_path: Path, sandbox: Sandbox, seller_conn: str, warehouse: str
) -> None:
    sandbox.faults({"kind": "error", "status": 400, "operation": "createFeed", "count": 1})
    document = built(tmp_path)
    mark_submitted(warehouse, document)
    with pytest.raises(InvalidRequestError):
        run_try(submit_op(document, seller_conn), 1, 0)
    mark_submitted(warehouse, document, run_id="scheduled__next")  # the next run's plan and build
    outcome = run_try(submit_op(document, seller_conn), 1, 0, run_id="scheduled__next")
    assert outcome["processing_status"] == "DONE" and len(feeds_in(sandbox)) == 1
    [attempt] = attempts(warehouse)
    assert attempt.state == "done" and attempt.run_id == "scheduled__next"
