"""catalog_feed_sync end to end: ``dag.test()`` against the live sandbox, with the PostgreSQL warehouse.

The sample catalog covers three product types (SHIRT, LUGGAGE, HEADPHONES) on three marketplaces
(US and CA for one seller, DE for another) and has deliberate bad rows (include/sample_catalog/).

A run's cost is mostly the validate step, and that grows with the number of product types a branch
holds (one Great Expectations suite each, whatever the row count), not with its rows. So only the
test of what validation and the change detection do runs the whole sample catalog; the tests of what
happens to feeds Amazon ends badly run :func:`feed_catalog`: its SHIRT rows (more than
``per_sku_threshold`` per marketplace, so every branch still goes through a feed, with bad rows of its
own), one of them naming the brand Amazon rejects, on the same three branches.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from demo.sample_catalog import BAD_ROWS  # noqa: E402
from tests.dags.conftest import REPO, Warehouse, run_note, task_states, write_pipeline_config  # noqa: E402
from tests.fixtures.sandbox import Sandbox  # noqa: E402
from tests.fixtures.waiting import wait_until  # noqa: E402

NA, EU = "A1SANDBOXNA0001", "A3SANDBOXEU0003"
US, CA, DE = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9"


def read_catalog(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Pipeline:
    config_path: Path
    catalog: Path
    warehouse: Warehouse
    sandbox: Sandbox

    def run(self, without_retries: tuple[str, ...] = ()) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(REPO / "dags")).get_dag("catalog_feed_sync")
        assert dag is not None
        for task_id in without_retries:  # a task that should fail at once, not after retry delays
            dag.get_task(task_id).retries = 0
        return dag.test(run_conf={"config_path": str(self.config_path)})

    def run_ok(self) -> Any:
        """A run that records everything: its rows add up in run_summaries, and every task succeeds
        but ``outcome``, which fails (and with it the run) exactly when Amazon rejected a change of
        this run: the catalog's gated row, in whichever run parses its feed."""
        run = self.run()
        self.warehouse.assert_rows_add_up(run.run_id)
        rejected = self.scalar(
            "select sum(invalid) + sum(dead_lettered) from run_summaries where run_id = :run", run=run.run_id
        )
        states = task_states(run)
        assert states.pop("outcome") == {"failed" if rejected else "success"}, (rejected, states)
        assert all(s <= {"success", "skipped"} for s in states.values()), states
        assert run.state == ("failed" if rejected else "success")
        return run

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return self.warehouse.rows(sql, **params)

    def scalar(self, sql: str, **params: Any) -> Any:
        return self.warehouse.scalar(sql, **params)


def ended(sandbox: Sandbox, feed_ids: set[str]) -> bool:
    """Any end counts (DONE, FATAL, CANCELLED): what the next run makes of each is for the test to
    check; waiting is only so that it meets no feed Amazon is still processing."""
    status = {f["feed_id"]: f["status"] for f in sandbox.admin("GET", "/state")["feeds"]}
    return all(status.get(feed_id) in ("DONE", "FATAL", "CANCELLED") for feed_id in feed_ids)


SAMPLE_CATALOG = REPO / "include" / "sample_catalog" / "catalog.csv"
[GATED] = [b for b in BAD_ROWS if b.stage == "amazon"]


def feed_catalog(path: Path) -> Path:
    """The sample catalog's SHIRT rows, one of them (in GATED's marketplace) naming the brand Amazon
    rejects as GATED does, written to ``path``: one product type, one Great Expectations suite, per
    branch, and still the one rejection that the feed's report brings back."""
    rows = read_catalog(SAMPLE_CATALOG)
    bad = {(b.sku, b.marketplace_id) for b in BAD_ROWS}
    shirts = [r for r in rows if r["product_type"] == "SHIRT"]
    gated = next(
        r
        for r in shirts
        if r["marketplace_id"] == GATED.marketplace_id and (r["sku"], GATED.marketplace_id) not in bad
    )
    gated[GATED.column] = GATED.value or ""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(shirts)
    return path


def listed(catalog: Path) -> int:
    """How many of the catalog's rows pass the validation gate and the schema check: all but the
    deliberately bad ones (both rows of a duplicated SKU). The gated row does reach Amazon."""
    bad = {(b.sku, b.marketplace_id) for b in BAD_ROWS if b.stage != "amazon"}
    return len([r for r in read_catalog(catalog) if (r["sku"], r["marketplace_id"]) not in bad])


def make_pipeline(tmp_path: Path, catalog: Path, sandbox: Sandbox, warehouse: Warehouse) -> Pipeline:
    config = write_pipeline_config(tmp_path, catalog, **{"feed_poll_seconds: 5": "feed_poll_seconds: 0.1"})
    return Pipeline(config, catalog, warehouse, sandbox)


@pytest.fixture
def pipeline(
    tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None
) -> Pipeline:
    """The whole sample catalog."""
    catalog = tmp_path / "catalog.csv"
    shutil.copy(SAMPLE_CATALOG, catalog)
    return make_pipeline(tmp_path, catalog, sandbox_connections, pg_warehouse)


@pytest.fixture
def feed_pipeline(
    tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None
) -> Pipeline:
    """:func:`feed_catalog`: three branches, each sending a feed, one product type each."""
    catalog = feed_catalog(tmp_path / "catalog.csv")
    return make_pipeline(tmp_path, catalog, sandbox_connections, pg_warehouse)


def test_bad_rows_are_quarantined_good_ones_published_and_a_1_percent_change_resubmits_only_those(
    pipeline: Pipeline,
) -> None:
    run = pipeline.run_ok()
    assert run.state == "failed"  # Amazon rejected the gated row: see the note below

    # every deliberately bad row is quarantined with its column and rule, none published
    quarantined = {
        (r.sku, r.marketplace_id): r
        for r in pipeline.rows("select sku, marketplace_id, column_name, rule, reason from quarantine")
    }
    for bad in (b for b in BAD_ROWS if b.stage in ("validate", "schema")):
        row = quarantined[(bad.sku, bad.marketplace_id)]
        assert row.rule == bad.rule, bad
        assert row.reason, bad
    statuses = dict(pipeline.rows("select status, count(*) from listings group by status"))
    listed = len(read_catalog(pipeline.catalog))
    # accepted, and live where parse read it back from Amazon (listing_reads_per_branch a branch)
    assert statuses.get("accepted", 0) + statuses["live"] >= listed - 2 * len(BAD_ROWS)
    assert statuses["quarantined"] == len(
        {(b.sku, b.marketplace_id) for b in BAD_ROWS if b.stage != "amazon"}
    )

    # the sandbox's verdict on the gated brand came back through the report
    [gated] = [b for b in BAD_ROWS if b.stage == "amazon"]
    issue = pipeline.rows(
        "select source, code, severity, attribute_names, feed_id from listing_issues where sku = :sku",
        sku=gated.sku,
    )
    assert [(i.source, i.code, i.severity) for i in issue] == [("feed", "5665", "ERROR")]
    assert (
        pipeline.scalar(
            "select status from listings where sku = :sku and marketplace_id = :m", sku=gated.sku, m=US
        )
        == "dead_lettered"
    )
    letter = pipeline.rows("select code, state, reason from dead_letters where sku = :sku", sku=gated.sku)
    assert [(d.code, d.state) for d in letter] == [("5665", "open")] and "approval" in letter[0].reason
    # ... so the run, everything recorded, ended red, and its note says why at a glance
    note = run_note(run)
    assert note is not None and "needs attention. Amazon rejected 1 of " in note, note
    assert f"- `{gated.sku}` {gated.marketplace_id} 5665: " in note and "approval" in note
    quarantined_rows = pipeline.scalar(
        "select sum(quarantined) from run_summaries where run_id = :r", r=run.run_id
    )
    assert f"quarantined catalog rows: {quarantined_rows}" in note

    # the whole run is in the warehouse
    assert pipeline.scalar("select count(*) from publish_attempts where state = 'done'") == 3
    summaries = pipeline.rows("select seller_id, marketplace_id, latency, throttled_calls from run_summaries")
    assert len(summaries) == 3
    for summary in summaries:  # each branch's calls, found by their trace id
        assert {"createFeed", "getFeed", "getDefinitionsProductType"} <= set(summary.latency), summary
        assert summary.throttled_calls == 0
    assert pipeline.scalar("select count(*) from api_calls where operation = 'createFeed'") == 3
    first_feeds = {r.feed_id for r in pipeline.rows("select feed_id from feed_submissions")}

    # change 1% of the catalog: five prices
    rows = read_catalog(pipeline.catalog)
    quarantined_skus = {sku for sku, _ in quarantined} | {gated.sku}
    changed = [r for r in rows if r["sku"] not in quarantined_skus and r["marketplace_id"] in (US, DE)][:5]
    for r in changed:
        r["price"] = f"{float(r['price']) + 1:.2f}"
    with pipeline.catalog.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    second = pipeline.run_ok()
    assert second.state == "success"
    assert (run_note(second) or "").startswith("Run outcome: OK. 5 change(s) accepted, none rejected.")
    unchanged = pipeline.rows(
        "select sum(extracted) as extracted, sum(unchanged) as unchanged, sum(quarantined) as quarantined"
        " from run_summaries where run_id = :run",
        run=second.run_id,
    )[0]
    # the rows nobody touched are counted as such, not silently left out
    assert unchanged.unchanged >= unchanged.extracted - unchanged.quarantined - len(changed) - 1
    # five SKUs are under per_sku_threshold: the router sends them through the Listings Items API
    new_feeds = {r.feed_id for r in pipeline.rows("select feed_id from feed_submissions")} - first_feeds
    assert new_feeds == set()
    sent = {
        (r.sku, r.marketplace_id)
        for r in pipeline.rows(
            "select sku, marketplace_id from api_calls where operation = 'putListingsItem'"
        )
    }
    assert sent == {(r["sku"], r["marketplace_id"]) for r in changed}
    # ... and the run's summary counts them like a feed's messages
    figures = pipeline.rows(
        "select sum(planned) as planned, sum(submitted) as submitted, sum(accepted) as accepted"
        " from run_summaries where run_id = :run",
        run=second.run_id,
    )
    assert (figures[0].planned, figures[0].submitted, figures[0].accepted) == (5, 5, 5)
    done = "select count(*) from listings where status in ('accepted', 'live')"
    assert pipeline.scalar(done) == statuses.get("accepted", 0) + statuses["live"]


def test_fatal_and_cancelled_feeds_lose_nothing_and_go_round_again(feed_pipeline: Pipeline) -> None:
    """One run meets both ends: the sandbox's first feed ends FATAL, its second CANCELLED, the third DONE."""
    pipeline = feed_pipeline
    pipeline.sandbox.faults({"kind": "feed_fatal", "count": 1}, {"kind": "feed_cancelled", "count": 1})
    pipeline.run_ok()
    ended = pipeline.rows(
        "select processing_status, count(*) as n from feed_submissions group by processing_status"
    )
    assert {e.processing_status for e in ended} >= {"DONE", "FATAL"}
    assert {e.processing_status for e in ended} >= {"DONE", "CANCELLED"}
    assert {(e.processing_status, e.n) for e in ended} == {("DONE", 1), ("FATAL", 1), ("CANCELLED", 1)}
    ready = pipeline.scalar("select count(*) from listings where status = 'ready'")
    assert ready > 0  # the failed feeds' messages wait for the next run, none lost
    for status in ("FATAL", "CANCELLED"):  # ... those of each of them
        [feed] = pipeline.rows(
            "select seller_id, marketplace_ids from feed_submissions where processing_status = :s", s=status
        )
        [marketplace] = feed.marketplace_ids
        waiting = pipeline.scalar(
            "select count(*) from listings where status = 'ready' and seller_id = :s and marketplace_id = :m",
            s=feed.seller_id,
            m=marketplace,
        )
        assert waiting > 0, status
    assert pipeline.scalar("select count(*) from listings where status = 'submitted'") == 0
    assert pipeline.scalar("select count(*) from dead_letters where code = 'FATAL'") == 0

    pipeline.run_ok()
    assert pipeline.scalar("select count(*) from listings where status in ('ready', 'submitted')") == 0
    accepted = pipeline.scalar("select count(*) from listings where status in ('accepted', 'live')")
    quarantined = pipeline.scalar("select count(*) from listings where status = 'quarantined'")
    dead = pipeline.scalar("select count(*) from listings where status = 'dead_lettered'")
    total = pipeline.scalar("select count(*) from listings")
    assert accepted + quarantined + dead == total and dead == 1


def test_feeds_whose_parse_task_died_are_reconciled_by_the_next_run(feed_pipeline: Pipeline) -> None:
    """Amazon answered, but the parse tasks failed: the next run applies those reports, resends nothing."""
    pipeline = feed_pipeline
    pipeline.sandbox.faults({"kind": "error", "status": 404, "operation": "getFeedDocument"})
    first = pipeline.run(without_retries=("parse",))
    assert first.state == "failed"
    stranded = pipeline.scalar("select count(*) from listings where status = 'submitted'")
    assert stranded == listed(pipeline.catalog)  # every row that passed the gate
    feeds = {r.feed_id for r in pipeline.rows("select feed_id from feed_submissions")}
    assert len(feeds) == 3 and pipeline.scalar("select count(*) from message_results") == 0
    pipeline.sandbox.faults()  # Amazon's reports can be fetched again

    # The next run reconciles them at once: the run that submitted them is over.
    pipeline.run_ok()
    assert pipeline.scalar("select count(*) from listings where status = 'submitted'") == 0
    assert {r.feed_id for r in pipeline.rows("select feed_id from feed_submissions")} == feeds  # no resend
    assert pipeline.scalar("select count(*) from message_results") == stranded
    assert (
        pipeline.scalar("select count(*) from listings where status in ('accepted', 'live')") == stranded - 1
    )
    runs = {
        r.run_id
        for r in pipeline.rows("select distinct run_id from listing_events where cause like 'feed:%'")
    }
    assert runs == {first.run_id}  # applied under the run that submitted them


def test_feeds_whose_wait_task_died_are_reconciled_by_the_next_run(feed_pipeline: Pipeline) -> None:
    """The waiting task gave up (getFeed refused) while Amazon went on and finished the feeds."""
    pipeline = feed_pipeline
    pipeline.sandbox.faults({"kind": "error", "status": 404, "operation": "getFeed"})
    first = pipeline.run(without_retries=("submit_feed",))
    assert first.state == "failed"
    assert {r.state for r in pipeline.rows("select state from publish_attempts")} == {"feed_created"}
    stranded = pipeline.scalar("select count(*) from listings where status = 'submitted'")
    assert stranded == listed(pipeline.catalog)  # every row that passed the gate
    feeds = {r.feed_id for r in pipeline.rows("select feed_id from feed_submissions")}
    pipeline.sandbox.faults()
    # the next run must meet feeds Amazon has ended, not ones it is still processing
    wait_until(lambda: ended(pipeline.sandbox, feeds), timeout=60, what="the sandbox to end the feeds")

    pipeline.run_ok()
    assert {r.state for r in pipeline.rows("select state from publish_attempts")} == {"done"}
    assert {r.feed_id for r in pipeline.rows("select feed_id from feed_submissions")} == feeds  # no resend
    assert pipeline.scalar("select count(*) from listings where status = 'submitted'") == 0
    assert pipeline.scalar("select count(*) from message_results") == stranded
    assert pipeline.scalar("select count(*) from api_calls where operation = 'getFeed'") >= len(feeds)
