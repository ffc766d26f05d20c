"""LedgerSubmitFeedOperator against the live sandbox and a real warehouse (SQLite and PostgreSQL):
a document is submitted once, whatever happens to the task."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

from airflow.sdk.exceptions import TaskDeferred  # noqa: E402

from listings_pipeline.publish import AmbiguousSubmissionError, LedgerSubmitFeedOperator  # noqa: E402
from listings_pipeline.warehouse import db  # noqa: E402
from listings_pipeline.warehouse.models import ApiCall, PublishAttempt  # noqa: E402
from listings_pipeline.warehouse.records import ensure_seller  # noqa: E402
from spapi import feeds  # noqa: E402
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
    with pytest.raises(TaskDeferred) as again:
        operator(path, seller_conn).execute(CONTEXT)  # type: ignore[arg-type]
    assert len(feeds_in(sandbox)) == 1
    assert again.value.trigger.feed_id == feeds_in(sandbox)[0]["feed_id"]  # type: ignore[attr-defined]


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
