"""The publish ledger: one row per document, however often a task retries, and only legal moves."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from listings_pipeline.warehouse import ledger
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.ledger import LedgerError, advance, idempotency_key, record_attempt
from listings_pipeline.warehouse.models import FeedSubmission, PublishAttempt
from tests.warehouse.conftest import DE, SELLER, UK, US

DOC = "d" * 64
OTHER_DOC = "e" * 64


def _record(
    engine: Engine, document_hash: str = DOC, run_id: str = "run-1", markets: list[str] | None = None
) -> int:
    with session_scope(engine) as s:
        attempt = record_attempt(
            s, SELLER, markets or [US], document_hash, f"/docs/{document_hash[:6]}.json", 3, run_id
        )
        return attempt.id


def _count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(PublishAttempt)) or 0


def test_idempotency_key_is_a_function_of_seller_marketplace_set_and_document() -> None:
    key = idempotency_key(SELLER, [US, DE], DOC)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == idempotency_key(SELLER, [DE, US, DE], DOC)  # a set: order and repeats do not count
    assert idempotency_key(SELLER, US, DOC) == idempotency_key(SELLER, [US], DOC)
    assert len({key, idempotency_key("A2OTHER", [US, DE], DOC), idempotency_key(SELLER, [US], DOC)}) == 3
    assert key != idempotency_key(SELLER, [US, DE], OTHER_DOC)


@pytest.mark.usefixtures("backend")
class TestRecordAttempt:
    def test_a_retry_finds_the_same_row(self, warehouse_engine: Engine) -> None:
        first = _record(warehouse_engine, run_id="run-1")
        again = _record(warehouse_engine, run_id="run-1-retry")
        assert again == first
        assert _count(warehouse_engine) == 1
        with session_scope(warehouse_engine) as s:
            row = s.get_one(PublishAttempt, first)
            assert (row.state, row.run_id, row.message_count, row.marketplace_ids) == (
                "recorded",
                "run-1",
                3,
                [US],
            )
            assert row.idempotency_key == idempotency_key(SELLER, [US], DOC)
            assert row.feed_id is None

    def test_the_retry_sees_how_far_the_first_try_got(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3, "run-1")
            advance(s, attempt, "uploaded", feed_document_id="amzn1.tortuga.doc1")
            advance(s, attempt, "feed_created", feed_id="50001")
        with session_scope(warehouse_engine) as s:
            retried = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3, "run-1")
            assert (retried.state, retried.feed_id, retried.feed_document_id) == (
                "feed_created",
                "50001",
                "amzn1.tortuga.doc1",
            )
            assert ledger.find_attempt(s, SELLER, US, DOC) is retried
            assert ledger.find_attempt(s, SELLER, US, OTHER_DOC) is None

    def test_another_document_or_marketplace_set_is_another_attempt(self, warehouse_engine: Engine) -> None:
        ids = {
            _record(warehouse_engine, DOC),
            _record(warehouse_engine, OTHER_DOC),
            _record(warehouse_engine, DOC, markets=[US, UK]),
        }
        assert len(ids) == 3
        assert _count(warehouse_engine) == 3

    def test_needs_a_marketplace(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s, pytest.raises(ValueError, match="marketplace"):
            record_attempt(s, SELLER, [], DOC, "/docs/a.json", 3)

    def test_concurrent_recorders_get_one_row(self, warehouse_engine: Engine) -> None:
        """Two workers record the same document at the same moment, each in its own transaction."""
        barrier = threading.Barrier(2)
        ids: list[int] = []
        errors: list[BaseException] = []

        def worker(run_id: str) -> None:
            try:
                with session_scope(warehouse_engine) as s:
                    barrier.wait(timeout=10)
                    attempt = record_attempt(s, SELLER, [US, DE], DOC, "/docs/a.json", 3, run_id)
                    ids.append(attempt.id)
                    time.sleep(0.2)  # hold the transaction open: the other insert must wait for it
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(f"run-{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert len(ids) == 2 and ids[0] == ids[1]
        assert _count(warehouse_engine) == 1


@pytest.mark.usefixtures("backend")
class TestAdvance:
    def test_the_happy_path_and_its_feed_submission(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3, "run-1")
            advance(s, attempt, "document_created", feed_document_id="doc-1")
            advance(s, attempt, "uploaded")
            advance(s, attempt, "feed_created", feed_id="50001")
            feed = s.get_one(FeedSubmission, "50001")
            assert (feed.attempt_id, feed.seller_id, feed.processing_status, feed.feed_type) == (
                attempt.id,
                SELLER,
                "IN_QUEUE",
                "JSON_LISTINGS_FEED",
            )
            assert (feed.marketplace_ids, feed.document_hash) == ([US], DOC)
            advance(s, attempt, "done")
            assert attempt.state == "done"
            assert s.get_one(FeedSubmission, "50001").processing_status == "DONE"
            assert ledger.pending_attempts(s) == []

    @pytest.mark.parametrize(
        ("path", "illegal"),
        [
            ([], "done"),
            ([], "feed_created"),
            (["uploaded"], "recorded"),
            (["uploaded", "feed_created"], "uploaded"),
            (["uploaded", "feed_created"], "failed"),
            (["uploaded", "feed_created", "done"], "uploaded"),
            (["uploaded", "feed_created", "fatal"], "done"),
        ],
    )
    def test_illegal_moves_are_refused_with_a_clear_error(
        self, warehouse_engine: Engine, path: list[str], illegal: str
    ) -> None:
        fields = {"uploaded": {"feed_document_id": "doc-1"}, "feed_created": {"feed_id": "50001"}}
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3)
            for state in path:
                advance(s, attempt, state, **fields.get(state, {}))
            current = attempt.state
            with pytest.raises(LedgerError) as caught:
                advance(s, attempt, illegal)
            message = str(caught.value)
            assert f"publish attempt {attempt.id}" in message
            assert f"illegal transition {current} -> {illegal}" in message
            assert s.get_one(PublishAttempt, attempt.id).state == current

    @pytest.mark.parametrize("end", ["done", "fatal"])
    def test_a_later_run_can_re_arm_a_finished_document(self, warehouse_engine: Engine, end: str) -> None:
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3, run_id="run-1")
            advance(s, attempt, "uploaded", feed_document_id="doc-1")
            advance(s, attempt, "feed_created", feed_id="50001")
            advance(s, attempt, end)
            advance(s, attempt, "recorded", run_id="run-2")
            assert (attempt.state, attempt.feed_id, attempt.run_id) == ("recorded", None, "run-2")
            advance(s, attempt, "uploaded", feed_document_id="doc-2")
            advance(s, attempt, "feed_created", feed_id="50002")
            history = s.scalars(select(FeedSubmission.feed_id).where(FeedSubmission.attempt_id == attempt.id))
            assert sorted(history) == ["50001", "50002"]

    def test_a_second_feed_for_the_same_document_is_refused(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3)
            advance(s, attempt, "uploaded", feed_document_id="doc-1")
            advance(s, attempt, "feed_created", feed_id="50001")
            advance(s, attempt, "feed_created", feed_id="50001")  # a retried task saying it again: fine
            with pytest.raises(LedgerError, match="already has feed 50001; refusing feed 50002"):
                advance(s, attempt, "feed_created", feed_id="50002")
            with pytest.raises(LedgerError, match="feed_document_id can only be set"):
                advance(s, attempt, "done", feed_document_id="doc-2")

    def test_required_fields(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3)
            with pytest.raises(LedgerError, match="needs a feed_document_id"):
                advance(s, attempt, "uploaded")
            with pytest.raises(
                LedgerError, match="feed_id is set by -> feed_created, not by recorded -> uploaded"
            ):
                advance(s, attempt, "uploaded", feed_document_id="doc-1", feed_id="50001")
            advance(s, attempt, "uploaded", feed_document_id="doc-1")
            with pytest.raises(LedgerError, match="needs a feed_id"):
                advance(s, attempt, "feed_created")
            with pytest.raises(LedgerError, match="unknown state 'sent'"):
                advance(s, attempt, "sent")
            with pytest.raises(TypeError, match="unexpected fields"):
                advance(s, attempt, "failed", feed_type="X")

    def test_document_steps_may_be_redone_before_the_feed_exists(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3)
            advance(s, attempt, "uploaded", feed_document_id="doc-1")
            advance(s, attempt, "document_created", feed_document_id="doc-2")
            assert attempt.feed_document_id == "doc-2"

    def test_a_failed_attempt_can_be_re_armed(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3)
            advance(s, attempt, "uploaded", feed_document_id="doc-1")
            advance(s, attempt, "failed", error="createFeed answered 400 InvalidInput")
            assert ledger.pending_attempts(s) == []
            advance(s, attempt, "recorded", run_id="run-2")
            assert (attempt.state, attempt.feed_document_id, attempt.error, attempt.run_id) == (
                "recorded",
                None,
                None,
                "run-2",
            )
            assert ledger.pending_attempts(s, SELLER) == [attempt]

    def test_advance_reads_the_row_again(self, warehouse_engine: Engine) -> None:
        """A stale object (another worker moved the row) is checked against the database, not itself."""
        with session_scope(warehouse_engine) as s:
            attempt_id = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3).id
        with Session(warehouse_engine, expire_on_commit=False) as first:
            stale = first.get_one(PublishAttempt, attempt_id)
        with warehouse_engine.begin() as other:
            other.execute(
                sa.update(PublishAttempt)
                .where(PublishAttempt.id == attempt_id)
                .values(state="feed_created", feed_document_id="doc-1", feed_id="50001")
            )
        assert stale.state == "recorded"
        with (
            session_scope(warehouse_engine) as s,
            pytest.raises(LedgerError, match="illegal transition feed_created -> document_created"),
        ):
            advance(s, stale, "document_created", feed_document_id="doc-9")


T_START = datetime(2026, 11, 23, 10, 0, 5, 250000, tzinfo=UTC)
T_END = datetime(2026, 11, 23, 10, 41, 10, tzinfo=UTC)


@pytest.mark.usefixtures("backend")
class TestRecordProcessing:
    def _feed(self, engine: Engine) -> None:
        with session_scope(engine) as s:
            attempt = record_attempt(s, SELLER, [US], DOC, "/docs/a.json", 3)
            advance(s, attempt, "uploaded", feed_document_id="doc-1")
            advance(s, attempt, "feed_created", feed_id="50001")

    def _row(self, engine: Engine) -> tuple[str, datetime | None, datetime | None]:
        with session_scope(engine) as s:
            feed = s.get_one(FeedSubmission, "50001")
            return feed.processing_status, feed.processing_started_at, feed.processing_ended_at

    def test_amazons_status_and_times_land_on_the_feed(self, warehouse_engine: Engine) -> None:
        self._feed(warehouse_engine)
        assert self._row(warehouse_engine) == ("IN_QUEUE", None, None)
        with session_scope(warehouse_engine) as s:
            ledger.record_processing(s, "50001", "IN_PROGRESS", started_at=T_START)
        assert self._row(warehouse_engine) == ("IN_PROGRESS", T_START, None)
        with session_scope(warehouse_engine) as s:
            ledger.record_processing(s, "50001", "DONE", started_at=T_START, ended_at=T_END)
        assert self._row(warehouse_engine) == ("DONE", T_START, T_END)  # microseconds kept, in UTC

    def test_an_older_answer_neither_reopens_a_feed_nor_clears_its_times(
        self, warehouse_engine: Engine
    ) -> None:
        self._feed(warehouse_engine)
        with session_scope(warehouse_engine) as s:
            ledger.record_processing(s, "50001", "DONE", started_at=T_START, ended_at=T_END)
            # a stale-feed check that asked while the feed was still running answers last
            ledger.record_processing(s, "50001", "IN_PROGRESS", started_at=None, ended_at=None)
        assert self._row(warehouse_engine) == ("DONE", T_START, T_END)

    def test_the_ledger_ending_an_attempt_ends_its_feed_and_keeps_its_times(
        self, warehouse_engine: Engine
    ) -> None:
        self._feed(warehouse_engine)
        with session_scope(warehouse_engine) as s:
            ledger.record_processing(s, "50001", "IN_PROGRESS", started_at=T_START)
            advance(s, s.scalars(select(PublishAttempt)).one(), "fatal")
        assert self._row(warehouse_engine) == ("FATAL", T_START, None)

    def test_a_feed_the_ledger_never_recorded_is_left_alone(self, warehouse_engine: Engine) -> None:
        with session_scope(warehouse_engine) as s:
            ledger.record_processing(s, "99999", "DONE", started_at=T_START, ended_at=T_END)
            assert s.get(FeedSubmission, "99999") is None
