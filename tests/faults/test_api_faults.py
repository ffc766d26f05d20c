"""Faults of the API itself: throttling, server errors, timeouts, cut lines, LWA, dying tokens.

Each test injects the fault into the sandbox, runs the branch once, checks the end state and the
ledger invariant, then clears the fault and checks that one clean run converges (see README.md).
The client retries what is safe, the task retries the rest; createFeed is never repeated blindly,
so the point of most of these is that Amazon ends up with exactly one feed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.conftest import (
    GATED_SKU,
    Bench,
    assert_ledger_invariant,
    assert_rows_add_up,
)

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.slow]


def statuses_of(bench: Bench, operation: str) -> dict[str, int]:
    """How Amazon answered each call of ``operation`` (status -> count)."""
    by_operation = bench.sandbox.calls()["byOperation"]
    return dict(by_operation.get(operation, {}).get("statuses", {}))


def recorded(bench: Bench, run_id: str, where: str) -> int:
    return int(
        bench.warehouse.scalar(f"select count(*) from api_calls where run_id = :run and {where}", run=run_id)
    )


def assert_published_once(bench: Bench) -> None:
    """The run got everything through despite the fault, with one feed."""
    [feed] = bench.amazon_feeds()
    [attempt] = bench.attempts()
    assert (feed["status"], attempt.state, attempt.feed_id) == ("DONE", "done", feed["feed_id"])
    assert_ledger_invariant(bench, settled=True)


def test_a_429_storm_is_ridden_out_and_counted(bench: Bench) -> None:
    """The next 20 calls are throttled, whatever they are, and createFeed once more: the client
    backs off (and holds the shared bucket), the schemas come from the shipped copies when their
    calls give up, and a throttled createFeed (Amazon did nothing) is safe to send again."""
    bench.sandbox.faults(
        {"kind": "throttle", "operation": "createFeed", "count": 1},
        {"kind": "throttle", "operation": "*", "count": 20},
    )
    run = bench.run()
    assert run.ok, run.failed
    assert statuses_of(bench, "createFeed") == {"429": 1, "202": 1}
    assert_published_once(bench)
    throttled = recorded(bench, run.run_id, "status = 429 and throttled")
    assert throttled >= 21  # 20 + createFeed's, and any the sandbox's own limiter adds
    assert run.summary is not None and run.summary["throttled_calls"] == throttled  # run_summaries knows
    bench.clean_run()
    assert len(bench.amazon_feeds()) == 1  # nothing changed, nothing sent again


def test_a_5xx_burst_on_the_feed_path(bench: Bench) -> None:
    """A 500 from createFeed may mean Amazon created the feed: the retry looks before it creates."""
    bench.sandbox.faults(
        {"kind": "error", "status": 503, "operation": "getDefinitionsProductType", "count": 4},
        {"kind": "error", "status": 503, "operation": "createFeedDocument", "count": 2},
        {"kind": "error", "status": 500, "operation": "createFeed", "count": 1},
        {"kind": "error", "status": 503, "operation": "getFeed", "count": 3},
        {"kind": "error", "status": 500, "operation": "getFeedDocument", "count": 2},
    )
    run = bench.run()
    assert run.ok, run.failed
    assert run.tries["submit_feed"] == 2  # createFeed's 500 failed the first try
    assert statuses_of(bench, "createFeed") == {"500": 1, "202": 1}
    assert statuses_of(bench, "getFeeds") == {"200": 1}  # the orphan lookup found nothing
    assert_published_once(bench)
    assert recorded(bench, run.run_id, "status >= 500") == 12
    bench.clean_run()


@pytest.mark.parametrize(
    "create_feed",
    [
        pytest.param({"kind": "latency", "seconds": 1.5, "count": 1}, id="before-amazon-acts"),
        pytest.param({"kind": "late_answer", "seconds": 1.5, "count": 1}, id="after-amazon-acted"),
    ],
)
def test_timeouts(bench: Bench, create_feed: dict[str, Any]) -> None:
    """Read timeouts (the connection's read_timeout is 1 s) on every step of the feed path. A
    createFeed that timed out may or may not have created the feed; the retry finds the feed when
    it exists and creates one when it does not, never a second."""
    bench.sandbox.faults(
        {"kind": "latency", "seconds": 1.5, "operation": "getDefinitionsProductType", "count": 1},
        {**create_feed, "operation": "createFeed"},
        {"kind": "latency", "seconds": 1.5, "operation": "getFeed", "count": 1},
        {"kind": "late_answer", "seconds": 1.5, "operation": "getFeedDocument", "count": 1},
    )
    run = bench.run()
    assert run.ok, run.failed
    assert run.tries["submit_feed"] == 2
    assert_published_once(bench)
    bench.clean_run()


@pytest.mark.parametrize(
    "create_feed",
    [
        pytest.param({"kind": "drop", "count": 1}, id="before-amazon-acts"),
        pytest.param({"kind": "drop_answer", "count": 1}, id="after-amazon-acted"),
    ],
)
def test_dropped_connections(bench: Bench, create_feed: dict[str, Any]) -> None:
    """Cut lines on every step; on createFeed both before Amazon read the request and after it
    created the feed (the answer is lost)."""
    bench.sandbox.faults(
        {"kind": "drop", "operation": "getDefinitionsProductType", "count": 2},
        {"kind": "drop", "operation": "createFeedDocument", "count": 1},
        {**create_feed, "operation": "createFeed"},
        {"kind": "drop", "operation": "getFeed", "count": 2},
        {"kind": "drop_answer", "operation": "getFeedDocument", "count": 1},
    )
    run = bench.run()
    assert run.ok, run.failed
    assert run.tries["submit_feed"] == 2
    adopted = create_feed["kind"] == "drop_answer"
    assert statuses_of(bench, "createFeed") == ({"202": 1} if adopted else {"0": 1, "202": 1})
    assert_published_once(bench)
    bench.clean_run()


def test_an_lwa_outage_fails_the_submit_and_hands_its_skus_to_the_next_run(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    """No access token for the whole run: the schemas come from the shipped copies, every submit
    try fails before createFeedDocument, and the last one releases the SKUs at once (a short
    outage is ridden out by the client: tests/integration/test_lwa_outage.py)."""
    bench.sandbox.faults({"kind": "error", "status": 503, "operation": "lwaToken", "duration": 600})
    run = bench.run()
    assert run.failed_steps() == ["submit_feed"] and run.tries["submit_feed"] == 3
    assert "LwaError" in str(run.failed[0]) and bench.sandbox.calls()["byOperation"] == {}
    [attempt] = bench.attempts()
    assert attempt.state == "failed" and attempt.feed_id is None
    states = assert_ledger_invariant(bench)
    cause = f"publish_attempt:{attempt.id}:submit_failed"
    sent = bench.skus - {"NW-01M-BLK-S"}
    assert {states[s] for s in sent} == {"ready"}
    released = bench.warehouse.rows(
        "select distinct e.cause from listing_events e join listings l on l.id = e.listing_id"
        " where e.to_status = 'ready' and e.run_id = :run and e.cause like 'publish_attempt:%'",
        run=run.run_id,
    )
    assert [r.cause for r in released] == [cause]
    logged = capsys.readouterr().out
    assert f"its {len(sent)} SKUs are ready again" in logged
    assert "handling the failed submit failed too" not in logged
    bench.clean_run()
    assert len(bench.amazon_feeds()) == 1


def test_tokens_that_die_mid_run_are_replaced(bench: Bench) -> None:
    """Access tokens die 0.3 s after issue (expires_in still says an hour): Amazon answers 403,
    the client mints a new token once and repeats the call, and the run never notices."""
    bench.sandbox.faults({"kind": "token_expiry", "seconds": 0.3})
    run = bench.run()
    assert run.ok, run.failed
    refused = sum(statuses_of(bench, op).get("403", 0) for op in bench.sandbox.calls()["byOperation"])
    assert refused >= 1
    assert_published_once(bench)
    assert bench.statuses()[GATED_SKU] == "dead_lettered"
    assert run.summary is not None
    assert_rows_add_up(bench.warehouse, run.run_id)
    bench.clean_run()
