"""Faults of our side: a worker killed mid-submit or mid-poll, two runs of the DAG at once, and the
PostgreSQL warehouse connection dropped in the middle of a write.

A killed worker is :class:`WorkerKilled` raised at the exact point (no ``except Exception`` runs,
as with SIGKILL); Airflow then retries the task, which the harness does too. The connection drop
terminates the PostgreSQL backend serving the statement from another connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import pytest

from listings_pipeline.to_amazon import bulk
from listings_pipeline.to_amazon.publish import LedgerSubmitFeedOperator
from tests.faults.conftest import (
    QUARANTINED_SKU,
    BackendKiller,
    Bench,
    Run,
    StepFailed,
    WorkerKilled,
    assert_ledger_invariant,
    in_threads,
    wait_until,
)

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.slow]


class DiesBeforeCreateFeed(LedgerSubmitFeedOperator):
    def before_create_feed(self, context: Any, document_hash: str, feed_document_id: str) -> None:
        super().before_create_feed(context, document_hash, feed_document_id)
        raise WorkerKilled("after the upload, with the ledger at uploaded, before createFeed")


class DiesAfterCreateFeed(LedgerSubmitFeedOperator):
    def after_create_feed(self, context: Any, document_hash: str, feed_id: str) -> None:
        raise WorkerKilled("right after createFeed, before the ledger learnt the feed id")


class DiesResuming(LedgerSubmitFeedOperator):
    def execute_complete(self, context: Any, event: Any = None, document_hash: str = "") -> dict[str, Any]:
        raise WorkerKilled("resuming after the trigger fired, before the outcome was recorded")


def first_try(cls: type[LedgerSubmitFeedOperator]) -> Callable[[int], type[LedgerSubmitFeedOperator]]:
    return lambda try_number: cls if try_number == 1 else LedgerSubmitFeedOperator


def calls(bench: Bench, operation: str) -> int:
    return int(bench.sandbox.calls()["byOperation"].get(operation, {}).get("total", 0))


# ---- killed mid-submit ------------------------------------------------------------------------------


@pytest.mark.parametrize("dies", [DiesBeforeCreateFeed, DiesAfterCreateFeed], ids=["before", "after"])
def test_a_worker_killed_around_create_feed_is_retried_without_a_second_feed(
    bench: Bench, dies: type[LedgerSubmitFeedOperator]
) -> None:
    """The retry finds the ledger at ``uploaded`` and asks Amazon (getFeeds) whether the feed
    exists: it adopts the feed the dead try created, or creates the one it never did."""
    run = bench.run(operator=first_try(dies))
    assert run.ok and run.tries["submit_feed"] == 2
    assert calls(bench, "getFeeds") == 1 and calls(bench, "createFeed") == 1
    [feed] = bench.amazon_feeds()
    assert bench.attempts()[0].feed_id == feed["feed_id"]
    assert_ledger_invariant(bench, settled=True)
    bench.clean_run()


def test_a_submit_killed_for_good_after_create_feed(bench: Bench) -> None:
    """Every try is used up (here: the only one) and Amazon has a feed the ledger cannot name: its
    SKUs stay submitted, since that feed will be applied; the next run's reconcile finds it with
    getFeeds, adopts and applies it; the document is never sent twice."""
    run = bench.run(operator=first_try(DiesAfterCreateFeed), submit_tries=1)
    assert run.failed_steps() == ["submit_feed"]
    [attempt] = bench.attempts()
    [feed] = bench.amazon_feeds()
    assert (attempt.state, attempt.feed_id) == ("uploaded", None)
    states = assert_ledger_invariant(bench)
    assert {states[s] for s in bench.skus - {QUARANTINED_SKU}} == {"submitted"}
    bench.clean_run()
    assert [f["feed_id"] for f in bench.amazon_feeds()] == [feed["feed_id"]]  # adopted, not resent
    assert bench.attempts()[0].feed_id == feed["feed_id"]


# ---- killed mid-poll --------------------------------------------------------------------------------


def test_the_triggerer_killed_mid_poll(bench: Bench) -> None:
    """Airflow runs the trigger again, from what it serialized, on another triggerer."""
    run = bench.run(triggerer_dies=True)
    assert run.ok and run.tries["submit_feed"] == 1
    assert_ledger_invariant(bench, settled=True)
    assert len(bench.amazon_feeds()) == 1
    bench.clean_run()


def test_a_worker_killed_resuming_from_the_wait_is_retried_without_a_second_feed(bench: Bench) -> None:
    run = bench.run(operator=first_try(DiesResuming))
    assert run.ok and run.tries["submit_feed"] == 2
    assert calls(bench, "createFeed") == 1 and calls(bench, "getFeeds") == 0  # the ledger knew the feed
    assert_ledger_invariant(bench, settled=True)
    bench.clean_run()


@pytest.mark.parametrize(
    "grace_passed",
    [pytest.param(False, id="one-clean-run"), pytest.param(True, id="after-the-reconcile-grace")],
)
def test_a_wait_killed_for_good(bench: Bench, grace_passed: bool) -> None:
    """The DAG-level twin is tests/dags/test_catalog_feed_sync.py::
    test_feeds_whose_wait_task_died_are_reconciled_by_the_next_run; this one adds the invariant."""
    if grace_passed:
        bench.configure(reconcile_after_minutes=0.01)  # 0.6 s instead of 15 minutes
    run = bench.run(operator=first_try(DiesResuming), submit_tries=1)
    assert run.failed_steps() == ["submit_feed"]
    [attempt] = bench.attempts()
    assert attempt.state == "feed_created"
    wait_until(lambda: bench.amazon_feeds()[0]["status"] == "DONE")
    assert_ledger_invariant(bench)
    if grace_passed:
        time.sleep(1.0)  # the grace passes
    bench.clean_run()
    assert len(bench.amazon_feeds()) == 1
    applied = bench.warehouse.rows(
        "select distinct run_id from listing_events where cause = :c", c=f"feed:{attempt.feed_id}"
    )
    assert [r.run_id for r in applied] == [run.run_id]


def test_a_worker_killed_after_parse_committed_is_retried(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the poll: the parse task dies between its commit and Airflow recording its result."""
    real = bulk._apply_report
    died: list[str] = []

    def dies_once(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result = real(*args, **kwargs)
        if not died:
            died.append("parse")
            raise WorkerKilled("after the report was applied and committed")
        return result

    monkeypatch.setattr(bulk, "_apply_report", dies_once)
    run = bench.run()
    assert died and run.ok, run.failed
    assert_ledger_invariant(bench, settled=True)
    assert bench.warehouse.scalar("select count(*) from listing_issues where source = 'feed'") == 1
    bench.clean_run()


# ---- two runs at once ---------------------------------------------------------------------------------

# Two runs of the DAG that plan the same SKUs before either builds (max_active_runs=1 keeps one
# scheduler from it, not a second deployment, a backfill or a manual test run) build the same
# document, and the ledger has one attempt for it: it must reach Amazon once.


@pytest.mark.postgres
def test_two_runs_whose_tasks_interleave_send_the_document_once(pg_bench: Bench) -> None:
    """Both runs plan before either builds, so both build the same document; the first submits it
    and Amazon applies it; then the second run's submit must not send it again."""
    bench = pg_bench
    a, b = Run(bench.new_run_id()), Run(bench.new_run_id())
    bench.runs += [a, b]
    branch_a, branch_b = bench.prepare(a), bench.prepare(b)
    [doc_a], [doc_b] = bench.build(a, branch_a), bench.build(b, branch_b)
    assert doc_a["document"]["document_hash"] == doc_b["document"]["document_hash"]
    bench.parse(a, bench.submit(a, doc_a))
    with suppress(StepFailed):  # refusing is fine; sending it again is not
        bench.parse(b, bench.submit(b, doc_b))
    assert_ledger_invariant(bench)
    bench.clean_run()


@pytest.mark.postgres
def test_two_runs_submitting_the_same_document_at_the_same_moment_send_it_once(pg_bench: Bench) -> None:
    bench = pg_bench
    a, b = Run(bench.new_run_id()), Run(bench.new_run_id())
    bench.runs += [a, b]
    branch_a, branch_b = bench.prepare(a), bench.prepare(b)
    [doc_a], [doc_b] = bench.build(a, branch_a), bench.build(b, branch_b)
    # both past the ledger check before either creates its feed document
    bench.sandbox.faults({"kind": "latency", "seconds": 0.3, "operation": "createFeedDocument", "count": 2})
    start = threading.Barrier(2)

    def submit(run: Run, document: dict[str, Any]) -> None:
        start.wait()
        with suppress(StepFailed):  # a run may fail; the invariant decides whether that was safe
            bench.parse(run, bench.submit(run, document))

    in_threads(lambda: submit(a, doc_a), lambda: submit(b, doc_b))
    assert_ledger_invariant(bench)
    bench.clean_run()


# ---- the warehouse connection dropped mid-write ---------------------------------------------------


def moving_listings(column: str) -> Callable[[str, Any], bool]:
    """The bulk UPDATE of listings (PostgreSQL: ``UPDATE ... FROM`` a temporary table filled by
    COPY) that sets ``column``, from the table or bound once for every row: build sets
    ``submitted_hash``, parse ``last_submission_id``."""
    return lambda statement, _: statement.startswith('UPDATE "listings"') and f'"{column}" = ' in statement


WRITES: dict[str, tuple[str, Callable[[str, Any], bool]]] = {
    # the plan's new listings, as ready (COPY rows; the validate step's are quarantined)
    "plan": ("plan", lambda statement, row: statement == "COPY" and "ready" in row),
    "build": ("build", moving_listings("submitted_hash")),
    "ledger-after-createFeed": (
        "submit_feed",
        lambda statement, parameters: (
            statement.startswith("UPDATE publish_attempts") and "'feed_created'" in repr(parameters)
        ),
    ),
    "parse": ("parse", moving_listings("last_submission_id")),
    "summarise": ("summarise", lambda statement, _: statement.startswith("INSERT INTO run_summaries")),
}


@pytest.mark.postgres
@pytest.mark.parametrize("write", list(WRITES))
def test_the_warehouse_connection_dropped_mid_write(
    pg_bench: Bench, backend_killer: BackendKiller, write: str
) -> None:
    """The write's transaction dies with its connection: nothing of it is kept, the task's retry
    writes it again, and no step confuses a lost write with one that never had to happen (a
    ledger that lost feed_created finds the feed with getFeeds instead of creating another)."""
    step, matches = WRITES[write]
    backend_killer.arm(matches)
    run = pg_bench.run()
    assert backend_killer.killed, f"no {write} write was seen"
    assert run.ok, run.failed
    assert run.tries[step] == 2
    [feed] = pg_bench.amazon_feeds()
    assert pg_bench.attempts()[0].feed_id == feed["feed_id"]
    assert_ledger_invariant(pg_bench, settled=True)
    pg_bench.clean_run()
