"""A lean harness for the fault matrix: one branch of ``catalog_feed_sync`` driven in process.

``dag.test()`` costs 30-60 s a run and each fault needs two or three runs, so the matrix drives the
DAG's own step functions instead, in the DAG's order and with its task semantics: extract, split,
check_chunk, join, plan and build (``listings_pipeline.bulk``), the real ``LedgerSubmitFeedOperator``
whose deferral is completed by running its real ``FeedProcessingTrigger`` against the sandbox, then
parse and summarise. Each task is tried as Airflow would try it (``retries=2`` in the DAG: three
tries, the submit operator told which try is the last through ``ti``), and a run stops where the
DAG run would (summarise is ``none_failed``). Only the retry delay is left out.

The branch is one seller and one marketplace with 22 rows of the sample catalog: 20 good, one that
the gate quarantines and one whose gated brand Amazon rejects, so that every end state of the ledger
invariant occurs in every scenario. ``per_sku_threshold`` is 0, so everything goes by feed.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import importlib
import itertools
import json
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from demo.sample_catalog import BAD_ROWS
from listings_pipeline.catalog import chunks, steps
from listings_pipeline.planning.plan import plan
from listings_pipeline.planning.targets import targets
from listings_pipeline.to_amazon import bulk
from listings_pipeline.to_amazon.publish import LedgerSubmitFeedOperator
from listings_pipeline.to_amazon.settle import settle
from listings_pipeline.warehouse import db
from tests.dags.conftest import Warehouse
from tests.fixtures.sandbox import APP_ID, APP_SECRET, SELLER, SELLER_TOKEN, US, Sandbox

REPO = Path(__file__).resolve().parents[2]
CONN_ID = "spapi_faults"
DAG_TRIES = 3  # catalog_feed_sync's default_args: retries=2
QUARANTINED_SKU = "NW-01M-BLK-S"  # no title: the gate quarantines it
GATED_SKU = "TT-04-CABIN-SLV"  # Amazon rejects its brand (5665): dead-lettered
GOOD_ROWS = 20

# Why a SKU may still be pending, as the latest listing_events cause says.
PENDING_CAUSES = {
    "ready": re.compile(r"^(plan|feed:[^:]+(:(fatal|cancelled))?|publish_attempt:\d+:submit_failed)$"),
    "submitted": re.compile(r"^feed_document:[0-9a-f]{16}$"),
}
NOT_FINISHED = ("recorded", "document_created", "uploaded", "feed_created")
# Amazon took the change: accepted, and live once Amazon's own view shows it (read after parse)
DONE = ("accepted", "live")


class WorkerKilled(BaseException):
    """The worker process died: no ``except Exception`` handler runs, as with SIGKILL."""


@dataclass
class TryOf:
    """The two fields of Airflow's task instance that decide whether a failed try is retried."""

    try_number: int
    max_tries: int


class StepFailed(Exception):
    """A task failed on its last try: the DAG run fails there."""

    def __init__(self, step: str, error: BaseException) -> None:
        super().__init__(f"{step} failed: {type(error).__name__}: {error}")
        self.step = step
        self.error = error


@dataclass
class Run:
    """What one run of the branch did."""

    run_id: str
    branch: dict[str, Any] | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    parsed: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    failed: list[StepFailed] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)  # step -> tries it took (all of its tasks)

    @property
    def ok(self) -> bool:
        return not self.failed

    def failed_steps(self) -> list[str]:
        return [f.step for f in self.failed]


Submitter = Callable[[int], type[LedgerSubmitFeedOperator]]


def _catalog_rows() -> list[dict[str, str]]:
    with (REPO / "include" / "sample_catalog" / "catalog.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["marketplace_id"] == US]
    bad = {b.sku for b in BAD_ROWS}
    by_type: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["sku"] not in bad:
            by_type.setdefault(row["product_type"], []).append(row)
    good: list[dict[str, str]] = []
    while len(good) < GOOD_ROWS:  # a few of each product type
        for candidates in by_type.values():
            if candidates and len(good) < GOOD_ROWS:
                good.append(candidates.pop(0))
    special = [r for r in rows if r["sku"] in (QUARANTINED_SKU, GATED_SKU)]
    assert len(special) == 2
    return good + special


@dataclass
class Bench:
    """One branch, its sandbox and its warehouse."""

    sandbox: Sandbox
    warehouse: Warehouse
    config_path: Path
    catalog: list[dict[str, str]]
    runs: list[Run] = field(default_factory=list)
    wait_seconds: float = 30.0  # the submit operator's wait_timeout (the trigger's deadline)
    # a sandbox started with processor_enabled=False: Amazon works on feeds only while a task waits
    process_while_waiting: bool = False

    @property
    def skus(self) -> set[str]:
        return {r["sku"] for r in self.catalog}

    @property
    def good_skus(self) -> set[str]:
        return self.skus - {QUARANTINED_SKU, GATED_SKU}

    def configure(self, **settings: Any) -> None:
        """Change pipeline settings (``reconcile_after_minutes``, ``max_feed_attempts``, ...)."""
        raw = yaml.safe_load(self.config_path.read_text())
        raw.update(settings)
        self.config_path.write_text(yaml.safe_dump(raw))

    def new_run_id(self) -> str:
        return f"manual__fault-{len(self.runs) + 1}-{uuid.uuid4().hex[:6]}"

    # ---- the DAG's tasks --------------------------------------------------------------------------

    @staticmethod
    def task(run: Run, step: str, fn: Callable[[int], Any], tries: int = DAG_TRIES) -> Any:
        """Call ``fn(try_number)`` as Airflow tries a task: again after a failure, until the last try."""
        for try_number in range(1, tries + 1):
            run.tries[step] = run.tries.get(step, 0) + 1
            try:
                return fn(try_number)
            except (Exception, WorkerKilled) as error:  # a killed worker's task is retried too
                if try_number == tries:
                    failure = StepFailed(step, error)
                    run.failed.append(failure)
                    raise failure from error
        raise AssertionError("unreachable")

    def prepare(self, run: Run, tries: int = DAG_TRIES) -> dict[str, Any]:
        """targets, extract, split, check_chunk, join, settle and plan."""
        [branch] = self.task(run, "targets", lambda _: targets(str(self.config_path)), tries)
        branch = self.task(run, "extract", lambda _: steps.extract(branch, run.run_id), tries)
        cut = self.task(run, "split", lambda _: chunks.split(branch), tries)
        for chunk in cut:
            self.task(run, "check_chunk", lambda _, chunk=chunk: chunks.check_chunk(chunk), tries)
        branch = self.task(run, "join", lambda _: chunks.join(cut), tries)
        branch = self.task(run, "settle", lambda _: settle(branch), tries)
        branch = self.task(run, "plan", lambda _: plan(branch), tries)
        run.branch = branch
        return branch

    def build(self, run: Run, branch: dict[str, Any], tries: int = DAG_TRIES) -> list[dict[str, Any]]:
        documents: list[dict[str, Any]] = self.task(run, "build", lambda _: bulk.build(branch), tries)
        run.documents = documents
        return documents

    def submit(
        self,
        run: Run,
        document: dict[str, Any],
        *,
        tries: int = DAG_TRIES,
        operator: Submitter | None = None,
        triggerer_dies: bool = False,
    ) -> dict[str, Any]:
        """One mapped ``submit_feed`` task: execute, defer, run the trigger, resume.

        :param operator: the operator class for each try (a subclass that dies somewhere).
        :param triggerer_dies: the triggerer running the first wait dies mid-poll; another one
            takes the trigger over from its serialized form, as Airflow does.
        """
        kwargs = {**document, "wait_timeout": timedelta(seconds=self.wait_seconds)}

        def attempt(try_number: int) -> dict[str, Any]:
            from airflow.sdk.exceptions import TaskDeferred

            cls = operator(try_number) if operator else LedgerSubmitFeedOperator
            context: Any = {"run_id": run.run_id, "ti": TryOf(try_number, tries - 1)}
            op = cls(task_id="submit_feed", fail_on_fatal=False, **kwargs)
            method, event, extra = "execute", None, {}
            while True:
                try:
                    if method == "execute":
                        return op.execute(context)  # type: ignore[no-any-return]
                    return getattr(op, method)(context, event, **extra)  # type: ignore[no-any-return]
                except TaskDeferred as deferred:
                    trigger = deferred.trigger
                    if triggerer_dies and try_number == 1 and method == "execute":
                        trigger = die_mid_poll(trigger)
                    with amazon_processing(self.sandbox) if self.process_while_waiting else nullcontext():
                        event = first_event(trigger, self.wait_seconds + 30)
                    method, extra = deferred.method_name, dict(deferred.kwargs or {})
                    # Airflow resumes a deferred task in a new operator instance
                    op = cls(task_id="submit_feed", fail_on_fatal=False, **kwargs)

        outcome: dict[str, Any] = self.task(run, "submit_feed", attempt, tries)
        run.outcomes.append(outcome)
        return outcome

    def parse(self, run: Run, outcome: dict[str, Any], tries: int = DAG_TRIES) -> dict[str, Any]:
        parsed: dict[str, Any] = self.task(run, "parse", lambda _: bulk.parse(outcome), tries)
        run.parsed.append(parsed)
        return parsed

    def summarise(self, run: Run) -> None:
        assert run.branch is not None
        branch = run.branch
        run.summary = self.task(
            run, "summarise", lambda _: bulk.summarise(run.run_id, "catalog_feed_sync", [branch], run.parsed)
        )

    def run(
        self,
        *,
        tries: int = DAG_TRIES,
        submit_tries: int | None = None,
        run_id: str | None = None,
        **submit_options: Any,
    ) -> Run:
        """One DAG run of the branch; a task failing for good ends it where Airflow would.

        ``submit_options`` go to :meth:`submit` for every document.
        """
        run = Run(run_id or self.new_run_id())
        self.runs.append(run)
        try:
            branch = self.prepare(run, tries)
            documents = self.build(run, branch, tries)
        except StepFailed:
            return run
        for document in documents:  # mapped tasks: one failing does not stop the others
            try:
                outcome = self.submit(run, document, tries=submit_tries or tries, **submit_options)
                self.parse(run, outcome, tries)
            except StepFailed:
                continue
        if run.ok:  # summarise is none_failed
            with suppress(StepFailed):
                self.summarise(run)
        return run

    def clean_run(self, *, published: bool = True) -> Run:
        """The run after the fault is cleared: it must succeed and leave nothing pending."""
        self.sandbox.faults()
        run = self.run()
        assert run.ok, run.failed
        assert_rows_add_up(self.warehouse, run.run_id)
        assert_ledger_invariant(self, settled=True, published=published)
        assert_views_add_up(self.warehouse)
        return run

    # ---- reading the warehouse and Amazon -----------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        return dict(self.warehouse.rows("select sku, status from listings where marketplace_id = :m", m=US))

    def amazon_feeds(self) -> list[dict[str, Any]]:
        feeds: list[dict[str, Any]] = self.sandbox.admin("GET", "/state")["feeds"]
        return feeds

    def attempts(self) -> list[Any]:
        return self.warehouse.rows("select * from publish_attempts order by id")


def assert_rows_add_up(warehouse: Warehouse, run_id: str) -> None:
    """The run's summary accounts for every row it extracted (tests/dags' check, which reads the
    reason columns as PostgreSQL returns them; SQLite returns JSON text through a text query)."""
    [summary] = warehouse.rows("select * from run_summaries where run_id = :run", run=run_id)
    reasons = [
        json.loads(value) if isinstance(value, str) else value or {}
        for value in (summary.skipped_reasons, summary.withheld_reasons)
    ]
    sent = summary.planned - summary.deleted
    assert summary.extracted == summary.quarantined + sent + summary.unchanged + summary.skipped, summary
    assert sum(reasons[0].values()) == summary.skipped, reasons[0]
    assert sum(reasons[1].values()) == summary.deletes_withheld, reasons[1]


def assert_views_add_up(warehouse: Warehouse) -> None:
    """The state model's invariants (docs/architecture.md, "Listing lifecycle") on the views the
    status page and analysts read: every listing once, in one status; in sync only while accepted or
    live with the wanted payload, so never more than those; live only while Amazon's last reading
    shows it; issue counts that are counts of the listing's own (never a preview's) issues; and the
    backlog apart from what is in sync."""
    listings = {
        (r.seller_id, r.marketplace_id, r.sku): r
        for r in warehouse.rows(
            "select seller_id, marketplace_id, sku, status, payload_hash, accepted_hash from listings"
        )
    }
    view = {
        (r.seller_id, r.marketplace_id, r.sku): r for r in warehouse.rows("select * from v_listing_status")
    }
    assert set(view) == set(listings), "v_listing_status has one row per listing"
    problems = []
    by_branch: dict[tuple[str, str], dict[str, int]] = {}
    for key, row in view.items():
        counts = by_branch.setdefault(key[:2], {"total": 0, "in_sync": 0, "with_errors": 0})
        counts["total"] += 1
        counts[row.status] = counts.get(row.status, 0) + 1
        counts["in_sync"] += int(row.in_sync)
        counts["with_errors"] += int(row.error_count > 0)
        listing = listings[key]
        wanted = listing.payload_hash is not None and listing.payload_hash == listing.accepted_hash
        if bool(row.in_sync) != (row.status in DONE and wanted):
            problems.append(f"{key}: in_sync {row.in_sync} for {row.status}, payload held: {wanted}")
        if row.status == "live" and not (row.buyable or row.discoverable):
            problems.append(f"{key}: live but Amazon shows it neither buyable nor discoverable")
        if not 0 <= row.error_count <= row.issue_count or not 0 <= row.warning_count <= row.issue_count:
            problems.append(f"{key}: issue counts {row.issue_count}/{row.error_count}/{row.warning_count}")
    own_errors = {
        (r.seller_id, r.marketplace_id, r.sku): r.n
        for r in warehouse.rows(
            "select seller_id, marketplace_id, sku, count(*) as n from listing_issues"
            " where severity = 'ERROR' and not preview group by seller_id, marketplace_id, sku"
        )
    }
    problems += [
        f"{key}: {row.error_count} current errors, {own_errors.get(key, 0)} of its own ever"
        for key, row in view.items()
        if row.error_count > own_errors.get(key, 0)
    ]
    for branch, counts in by_branch.items():
        statuses = sum(n for name, n in counts.items() if name not in ("total", "in_sync", "with_errors"))
        if statuses != counts["total"]:
            problems.append(f"{branch}: statuses add up to {statuses}, not {counts['total']}")
        if counts["in_sync"] > counts.get("accepted", 0) + counts.get("live", 0):
            problems.append(f"{branch}: in sync {counts['in_sync']} exceeds accepted + live: {counts}")
        if counts["with_errors"] > counts["total"]:
            problems.append(f"{branch}: with errors {counts['with_errors']} exceeds the total")
    backlog = {(r.seller_id, r.marketplace_id, r.sku) for r in warehouse.rows("select * from v_backlog")}
    problems += [f"{key}: in sync and in the backlog" for key in backlog if view[key].in_sync]
    problems += [f"{key}: deleted but in the backlog" for key in backlog if view[key].status == "deleted"]
    assert not problems, "the views do not add up:\n" + "\n".join(problems)


def die_mid_poll(trigger: Any) -> Any:
    """Run ``trigger`` until it has polled once, kill it there, and return the trigger another
    triggerer would build from the serialized form Airflow stored."""

    async def poll_then_die() -> None:
        events = trigger.run()
        try:
            await asyncio.wait_for(events.__anext__(), trigger.poll_interval / 2)
        except TimeoutError:
            return  # killed mid-poll
        finally:
            await events.aclose()
        raise AssertionError("the feed ended before the triggerer could die: make it slower")

    asyncio.run(poll_then_die())
    path, kwargs = trigger.serialize()
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    return cls(**kwargs)


def first_event(trigger: Any, limit: float) -> Any:
    """Run a trigger as the triggerer does, until its first event (its payload)."""

    async def run() -> Any:
        events = trigger.run()
        try:
            event = await asyncio.wait_for(events.__anext__(), limit)
        finally:
            await events.aclose()
        return event.payload

    return asyncio.run(run())


# ---- the ledger invariant ---------------------------------------------------------------------------


def _document_bytes(sandbox: Sandbox, document_id: str) -> bytes:
    import httpx

    response = httpx.get(f"{sandbox.url}/_sandbox/documents/{document_id}", timeout=10)
    response.raise_for_status()
    return response.content


def assert_ledger_invariant(
    bench: Bench, *, settled: bool = False, published: bool | None = None
) -> dict[str, str]:
    """Every catalog change is accepted, pending with a reason, quarantined or dead-lettered; no
    document was submitted twice; with ``settled`` (after the clean run) nothing is pending, and
    unless ``published`` is false every good row is accepted, the bad one quarantined and the
    gated one dead-lettered (as without any fault).

    No document twice is checked on Amazon's side, from the documents its feeds received: feeds of
    the same bytes follow one another, each earlier one ended FATAL or CANCELLED (Amazon applied
    nothing of it) before the next was created; likewise no SKU was in two feeds Amazon held at
    once. And the ledger knows every feed Amazon has. Returns each catalog SKU's status.
    """
    statuses = bench.statuses()
    events = {
        sku: (cause, to_status)
        for sku, cause, to_status in bench.warehouse.rows(
            "select l.sku, e.cause, e.to_status from listing_events e join listings l on l.id = e.listing_id"
            " where l.marketplace_id = :m order by e.id",
            m=US,
        )
    }
    letters = {
        r.sku
        for r in bench.warehouse.rows(
            "select sku from dead_letters where state = 'open' and marketplace_id = :m", m=US
        )
    }
    quarantined = {r.sku for r in bench.warehouse.rows("select distinct sku from quarantine")}
    problems = []
    for sku in sorted(bench.skus):
        status = statuses.get(sku)
        if status in DONE:
            continue
        if status == "quarantined" and sku in quarantined:
            continue
        if status == "dead_lettered" and sku in letters:
            continue
        cause = events.get(sku, ("", ""))[0]
        if not settled and status in PENDING_CAUSES and PENDING_CAUSES[status].match(cause):
            continue
        problems.append(f"{sku}: {status} (latest cause {cause!r})")
    what = "still pending after the clean run" if settled else "neither done nor pending with a reason"
    assert not problems, f"catalog changes {what}:\n" + "\n".join(problems)

    # Amazon's side: which document bytes and SKUs each feed received, and when it was with Amazon
    feeds = bench.amazon_feeds()
    received: dict[str, list[dict[str, Any]]] = {}
    holding: dict[str, list[dict[str, Any]]] = {}
    for feed in feeds:
        content = _document_bytes(bench.sandbox, feed["input_document_id"])
        received.setdefault(hashlib.sha256(content).hexdigest(), []).append(feed)
        for message in json.loads(content)["messages"]:
            holding.setdefault(message["sku"], []).append(feed)
    for digest, same in received.items():
        for earlier, later in itertools.pairwise(same):
            assert earlier["status"] in ("FATAL", "CANCELLED"), (
                f"document {digest[:12]} was submitted again ({later['feed_id']}) although Amazon "
                f"{earlier['status']} its feed {earlier['feed_id']}"
            )
    for sku, held in holding.items():
        for earlier, later in itertools.pairwise(held):
            assert earlier["ended"] is not None and earlier["ended"] <= later["created"], (
                f"{sku} was in feed {later['feed_id']} while Amazon still held feed {earlier['feed_id']} "
                f"({earlier['status']})"
            )
    known = {r.feed_id for r in bench.warehouse.rows("select feed_id from feed_submissions")}
    unknown = [f["feed_id"] for f in feeds if f["feed_id"] not in known]
    if settled:
        assert not unknown, f"feeds Amazon has but the ledger does not know: {unknown}"
        pending = [
            f"{s}: {n}" for s, n in statuses.items() if s in bench.skus and n in ("ready", "submitted")
        ]
        assert not pending, f"still pending after the clean run: {pending}"
        unfinished = [(a.id, a.state) for a in bench.attempts() if a.state in NOT_FINISHED]
        assert not unfinished, f"publish attempts not finished after the clean run: {unfinished}"
        busy = [(f["feed_id"], f["status"]) for f in feeds if f["status"] in ("IN_QUEUE", "IN_PROGRESS")]
        assert not busy, f"feeds still with Amazon after the clean run: {busy}"
    if published if published is not None else settled:
        assert {s for s in bench.good_skus if statuses.get(s) not in DONE} == set()
        assert statuses.get(QUARANTINED_SKU) == "quarantined"
        assert statuses.get(GATED_SKU) == "dead_lettered"
    return {sku: statuses.get(sku, "") for sku in bench.skus}


# ---- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite warehouse, copied for each test (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("faults-warehouse") / "warehouse.db"
    engine = db.make_engine(db.sqlite_url(path))
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_warehouse(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Warehouse]:
    path = tmp_path / "warehouse.db"
    shutil.copy(migrated_sqlite, path)
    url = db.sqlite_url(path)
    engine = db.make_engine(url)
    yield Warehouse(url, engine)
    engine.dispose()


@pytest.fixture
def postgres_warehouse(postgres_url: str) -> Iterator[Warehouse]:
    """A migrated warehouse in a fresh PostgreSQL schema."""
    schema = f"faults_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = (
        sa.make_url(postgres_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    db.upgrade(url)
    engine = db.make_engine(url)
    yield Warehouse(url, engine)
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The branch's catalog, one file for the session: every test reads the very same rows."""
    catalog = _catalog_rows()
    path = tmp_path_factory.mktemp("faults-catalog") / "catalog.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(catalog[0]))
        writer.writeheader()
        writer.writerows(catalog)
    return path


@pytest.fixture(autouse=True)
def quick_lwa_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """LWA's own backoff waits up to 8 s between token requests; an outage is the same outage
    without the wait (its timing is tests/integration/test_lwa_outage.py's business)."""
    from tenacity import wait_fixed

    from spapi import auth

    monkeypatch.setattr(auth, "wait_random_exponential", lambda **_: wait_fixed(0.01))


@pytest.fixture
def new_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_file: Path
) -> Callable[[Sandbox, Warehouse], Bench]:
    """Bench(sandbox, warehouse): the pipeline config, the ``spapi`` connection and the warehouse
    URL for one branch against them."""

    def make(sandbox: Sandbox, warehouse: Warehouse) -> Bench:
        with catalog_file.open(newline="") as handle:
            catalog = list(csv.DictReader(handle))
        config = {
            "environment": "sandbox",
            "var_dir": str(tmp_path / "var"),
            "mappings_dir": str(REPO / "include" / "catalog_mappings"),
            "product_types_dir": str(REPO / "include" / "product_types"),
            "content_policy": str(REPO / "include" / "content_policy.yaml"),
            "max_failing_share": 0.2,
            "per_sku_threshold": 0,
            "feed_wait_hours": 12,
            "reconcile_after_minutes": 15,
            "feed_poll_seconds": 0.1,
            "max_feed_attempts": 3,
            "sellers": [
                {
                    "seller_id": SELLER,
                    "spapi_conn_id": CONN_ID,
                    "region": "na",
                    "marketplaces": [US],
                    "catalog": str(catalog_file),
                }
            ],
        }
        config_path = tmp_path / "pipeline.yaml"
        config_path.write_text(yaml.safe_dump(config))
        extra = {
            "environment": "sandbox",
            "refresh_token": SELLER_TOKEN,
            "seller_id": SELLER,
            "region": "na",
            "endpoint_url": sandbox.url,
            "token_url": f"{sandbox.url}/auth/o2/token",
            "rate_scale": 50,
            # this test's own buckets, and quick retries: a fault that outlasts them fails the try
            "rate_limit_url": f"file://{tmp_path / 'limits'}",
            "backoff_base": 0.02,
            "backoff_cap": 0.2,
            "read_timeout": 1.0,
        }
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{CONN_ID.upper()}",
            json.dumps({"conn_type": "spapi", "login": APP_ID, "password": APP_SECRET, "extra": extra}),
        )
        monkeypatch.setenv("SPAPI_WAREHOUSE_URL", warehouse.url)
        monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
        return Bench(sandbox, warehouse, config_path, catalog)

    return make


@pytest.fixture
def bench(
    new_bench: Callable[[Sandbox, Warehouse], Bench], sandbox: Sandbox, sqlite_warehouse: Warehouse
) -> Bench:
    return new_bench(sandbox, sqlite_warehouse)


@pytest.fixture
def pg_bench(
    new_bench: Callable[[Sandbox, Warehouse], Bench], sandbox: Sandbox, postgres_warehouse: Warehouse
) -> Bench:
    return new_bench(sandbox, postgres_warehouse)


@contextmanager
def amazon_processing(sandbox: Sandbox, every: float = 0.05) -> Iterator[None]:
    """For a sandbox started with ``processor_enabled=False``: Amazon works through its feeds
    again while the block runs."""
    stop = threading.Event()

    def pump() -> None:
        while not stop.wait(every):
            sandbox.admin("POST", "/feeds/process")

    thread = threading.Thread(target=pump, name="amazon-processing", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def in_threads(*fns: Callable[[], Any]) -> list[Any]:
    """Run each function in its own thread; return their results (re-raising the first error)."""
    results: list[Any] = [None] * len(fns)
    errors: list[BaseException] = []

    def target(i: int, fn: Callable[[], Any]) -> None:
        try:
            results[i] = fn()
        except BaseException as err:  # handed to the caller
            errors.append(err)

    threads = [threading.Thread(target=target, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def time_passes(bench: Bench, *tables: str, **age: float) -> None:
    """Make the rows of ``tables`` look older (``hours=13``, ``minutes=20``): feed_wait_hours and the
    reconcile grace are measured in hours and minutes, not in test seconds."""
    with bench.warehouse.engine.begin() as conn:
        for table in tables or ("publish_attempts",):
            conn.execute(
                sa.text(f"update {table} set updated_at = :t"), {"t": datetime.now(UTC) - timedelta(**age)}
            )


@dataclass
class BackendKiller:
    """Drops the warehouse connection mid-write: before the first statement that ``matches``, the
    PostgreSQL backend serving it is terminated from another connection (``pg_terminate_backend``),
    so the statement meets a dead connection, exactly as when the server or the network goes away."""

    admin_url: str
    matches: Callable[[str, Any], bool] | None = None
    killed: list[str] = field(default_factory=list)

    def arm(self, matches: Callable[[str, Any], bool]) -> None:
        self.matches = matches

    def before_execute(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if self.matches is None or conn.dialect.name != "postgresql":
            return
        if not self.matches(statement, parameters):
            return
        self.matches = None  # once
        self._terminate(cursor.connection.info.backend_pid, statement.split("(")[0].strip())

    def _terminate(self, pid: int, what: str) -> None:
        admin = sa.create_engine(self.admin_url, poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as other:
                assert other.execute(
                    sa.text("select pg_terminate_backend(:pid, 5000)"), {"pid": pid}
                ).scalar()
        finally:
            admin.dispose()
        self.killed.append(what)

    def before_copy_row(self, copy: Any, row: Any) -> None:
        """The same for a row of a ``COPY`` (the bulk writes), which SQLAlchemy never sees: the
        matcher gets the statement ``"COPY"`` and the row."""
        if self.matches is None or not self.matches("COPY", row):
            return
        self.matches = None
        self._terminate(copy.connection.info.backend_pid, "COPY")


@pytest.fixture
def backend_killer(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BackendKiller]:
    import psycopg

    killer = BackendKiller(postgres_url)
    write_row = psycopg.Copy.write_row

    def watched(copy: Any, row: Any) -> None:
        killer.before_copy_row(copy, row)
        write_row(copy, row)

    monkeypatch.setattr(psycopg.Copy, "write_row", watched)
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", killer.before_execute)
    yield killer
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", killer.before_execute)
