"""Faults of Amazon's feed processing: FATAL, CANCELLED, feeds that never finish, and reports that
name messages the feed never had.

The DAG-level tests (tests/dags/test_catalog_feed_sync.py) show that FATAL and CANCELLED feeds go
round again; these add the ledger invariant, checked on Amazon's side: a document sent again only
after Amazon applied nothing of the earlier feed, and never while it still held it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.conftest import (
    GATED_SKU,
    QUARANTINED_SKU,
    Bench,
    Warehouse,
    assert_ledger_invariant,
    assert_rows_add_up,
    time_passes,
    wait_until,
)
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.slow]


def latest_causes(bench: Bench) -> dict[str, str]:
    return {
        sku: cause
        for sku, cause in bench.warehouse.rows(
            "select l.sku, e.cause from listing_events e join listings l on l.id = e.listing_id order by e.id"
        )
    }


@pytest.mark.parametrize("kind", ["feed_fatal", "feed_cancelled"])
def test_a_fatal_or_cancelled_feed_goes_round_again(bench: Bench, kind: str) -> None:
    bench.sandbox.faults({"kind": kind, "count": 1})
    run = bench.run()
    assert run.ok, run.failed
    [feed] = bench.amazon_feeds()
    ended = "FATAL" if kind == "feed_fatal" else "CANCELLED"
    assert feed["status"] == ended
    [parsed] = run.parsed
    assert (parsed["retry"], parsed["accepted"], parsed["dead_lettered"]) == (21, 0, 0)
    states = assert_ledger_invariant(bench)
    sent = bench.skus - {QUARANTINED_SKU}
    assert {states[s] for s in sent} == {"ready"}
    assert {latest_causes(bench)[s] for s in sent} == {f"feed:{feed['feed_id']}:{ended.lower()}"}
    assert_rows_add_up(bench.warehouse, run.run_id)

    bench.clean_run()
    first, second = bench.amazon_feeds()  # the same document again, after Amazon ended the first
    assert (first["status"], second["status"]) == (ended, "DONE")


def test_a_feed_that_is_always_fatal_is_dead_lettered_after_max_feed_attempts(bench: Bench) -> None:
    """Without a limit a FATAL document would go round every run for ever."""
    bench.sandbox.faults({"kind": "feed_fatal"})
    for expected in ("ready", "ready", "dead_lettered"):
        run = bench.run()
        assert run.ok, run.failed
        states = assert_ledger_invariant(bench)
        assert {states[s] for s in bench.skus - {QUARANTINED_SKU}} == {expected}
    letters = bench.warehouse.rows("select sku, code, state from dead_letters order by sku")
    assert {(r.code, r.state) for r in letters} == {("FATAL", "open")}
    assert {r.sku for r in letters} == bench.skus - {QUARANTINED_SKU}

    clean = bench.clean_run(published=False)  # nothing is sent until an operator replays them
    assert clean.branch is not None and clean.branch["skipped_reasons"] == {"dead_lettered": 21}
    assert [f["status"] for f in bench.amazon_feeds()] == ["FATAL"] * 3


def test_a_feed_stuck_in_queue_is_cancelled_before_its_skus_are_sent_again(
    new_bench: Callable[[Sandbox, Warehouse], Bench],
    start_sandbox: Callable[..., Sandbox],
    sqlite_warehouse: Warehouse,
) -> None:
    """Amazon never picks the feed up. After feed_wait_hours the next run cancels it (it is still
    IN_QUEUE, so cancelFeed works) and only then sends its SKUs again."""
    sandbox = start_sandbox(processor_enabled=False, feed_queue_seconds=0.0, feed_processing_seconds=0.0)
    bench = new_bench(sandbox, sqlite_warehouse)
    bench.wait_seconds = 0.5
    run = bench.run()
    assert run.failed_steps() == ["submit_feed"] and "FeedWaitTimeoutError" in str(run.failed[0])
    assert [f["status"] for f in bench.amazon_feeds()] == ["IN_QUEUE"]
    [attempt] = bench.attempts()
    assert attempt.state == "feed_created"
    states = assert_ledger_invariant(bench)
    assert {states[s] for s in bench.skus - {QUARANTINED_SKU}} == {"submitted"}

    time_passes(bench, hours=13)
    bench.wait_seconds, bench.process_while_waiting = 30.0, True  # Amazon works through feeds again
    bench.clean_run()
    stale, fresh = bench.amazon_feeds()
    assert (stale["feed_id"], stale["status"], fresh["status"]) == (attempt.feed_id, "CANCELLED", "DONE")


def test_a_feed_stuck_in_progress_holds_its_skus_until_amazon_ends_it(bench: Bench) -> None:
    """Amazon started applying the feed and never finishes. Cancelling is no longer possible and
    sending the SKUs again could land before the old document: they are held, with the reason
    counted, until Amazon ends it; then its report is applied, and nothing is sent again."""
    bench.sandbox.faults({"kind": "feed_stuck", "count": 1})
    bench.wait_seconds = 0.5
    first = bench.run()
    assert first.failed_steps() == ["submit_feed"]
    [feed] = bench.amazon_feeds()
    assert feed["status"] == "IN_PROGRESS"

    time_passes(bench, hours=13)
    held = bench.run()  # Amazon is still at it
    assert held.ok and held.documents == []
    assert held.branch is not None and held.branch["skipped_reasons"] == {"stale_feed_held": 21}
    states = assert_ledger_invariant(bench)
    assert {states[s] for s in bench.skus - {QUARANTINED_SKU}} == {"submitted"}
    assert [f["status"] for f in bench.amazon_feeds()] == ["IN_PROGRESS"]

    bench.sandbox.faults()  # Amazon finishes it
    wait_until(lambda: bench.amazon_feeds()[0]["status"] == "DONE")
    bench.wait_seconds = 30.0
    # the next run records that Amazon ended it and applies its report at once: no waiter is left
    bench.clean_run()
    assert [f["status"] for f in bench.amazon_feeds()] == ["DONE"]  # applied, never sent again
    applied = bench.warehouse.rows(
        "select distinct run_id from listing_events where cause = :c", c=f"feed:{feed['feed_id']}"
    )
    assert [r.run_id for r in applied] == [first.run_id]  # under the run that submitted it


def test_a_report_naming_unknown_message_ids_settles_every_known_one(bench: Bench) -> None:
    """The report carries an issue for a messageId the feed never had: kept as an issue for a person
    to see, never turned into a listing, and no SKU of the feed is left unsettled by it."""
    bench.sandbox.faults({"kind": "report_unknown_message_ids", "count": 1})
    run = bench.run()
    assert run.ok, run.failed
    [parsed] = run.parsed
    assert parsed["mismatches"] == 1 and parsed["accepted"] == 20 and parsed["dead_lettered"] == 1
    ghosts = bench.warehouse.rows("select sku, feed_id, code from listing_issues where sku like 'UNKNOWN-%'")
    assert [(g.feed_id, g.code) for g in ghosts] == [(bench.amazon_feeds()[0]["feed_id"], "4000001")]
    assert not any(sku.startswith("UNKNOWN-") for sku in bench.statuses())
    assert_ledger_invariant(bench, settled=True)
    assert bench.statuses()[GATED_SKU] == "dead_lettered"
    bench.clean_run()
