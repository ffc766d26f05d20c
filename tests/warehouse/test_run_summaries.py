"""``run_summaries`` tells the truth about a run, on SQLite and PostgreSQL.

- ``status`` is the outcome the run's ``outcome`` task reaches from the same figures: a branch whose
  changes Amazon rejected, or one that was dead-lettered, ``needs_attention``; quarantined rows and
  retries alone do not (``outcome.needs_attention``).
- Quarantine rows name their DAG, read from the running task's context as listing events do, so a
  run's quarantined SKUs are its own DAG's even when another DAG's run has the same id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, select

from listings_pipeline.branch import Branch
from listings_pipeline.catalog.steps import quarantine
from listings_pipeline.summaries import record_summaries
from listings_pipeline.to_amazon.offers import Unsendable, _quarantine
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import Quarantine, RunSummary
from tests.warehouse.conftest import DE, SELLER, US

RUN = "scheduled__2026-12-03T00:00:00+00:00"  # the daily catalog sync's and the hourly offers sync's


def _branch(marketplace_id: str = US) -> Branch:
    return {
        "seller_id": SELLER,
        "marketplace_id": marketplace_id,
        "spapi_conn_id": "spapi_test",
        "region": "na",
        "config_path": None,
        "run_id": RUN,
    }


@contextmanager
def _task_of(dag_id: str) -> Iterator[None]:
    """Inside a task of ``dag_id``: the context Airflow's task runner sets before ``execute``."""
    from airflow.sdk.execution_time.context import set_current_context

    dag_run = SimpleNamespace(dag_id=dag_id, run_id=RUN, triggering_user_name=None)
    with set_current_context({"dag_run": dag_run}):  # type: ignore[typeddict-item]
        yield


def _catalog_row(sku: str | None, rule: str = "required_columns") -> dict[str, Any]:
    return {"sku": sku, "product_type": "SHIRT", "column_name": "brand", "value": None, "rule": rule,
            "reason": "brand is empty", "source_file": "catalog.csv", "source_line": 7}  # fmt: skip


def _offer_row(sku: str) -> Unsendable:
    return {"sku": sku, "product_type": "SHIRT", "column_name": "price", "value": "abc",
            "reason": "not a number", "source_file": "catalog.csv", "source_line": 9}  # fmt: skip


def test_status_is_the_outcome_tasks_verdict_per_branch(warehouse_engine: Engine) -> None:
    uk_like, fr = "A13V1IB3VIYZZH", "APJ6JRA9NG5V4"
    rows = [
        (_branch(US), {"submitted": 10, "accepted": 10, "quarantined": 3}),
        (_branch(DE), {"submitted": 10, "accepted": 9, "invalid": 1}),
        (_branch(uk_like), {"submitted": 2, "accepted": 1, "dead_lettered": 1}),
        (_branch(fr), {"submitted": 2, "accepted": 0, "retry": 2}),
    ]
    with session_scope(warehouse_engine) as s:
        totals = record_summaries(s, RUN, "catalog_feed_sync", rows)

    assert totals["invalid"] == 1 and totals["branches"] == 4
    with session_scope(warehouse_engine) as s:
        statuses = dict(s.execute(select(RunSummary.marketplace_id, RunSummary.status)).all())
    assert statuses == {US: "success", DE: "needs_attention", uk_like: "needs_attention", fr: "success"}


def test_quarantine_rows_name_their_dag_and_each_dag_counts_its_own(warehouse_engine: Engine) -> None:
    with _task_of("catalog_feed_sync"):
        quarantine(warehouse_engine, _branch(), [_catalog_row("A"), _catalog_row("B")], "validation")
    with _task_of("offers_inventory_sync"):
        _quarantine(warehouse_engine, SELLER, US, RUN, [_offer_row("C")])
    quarantine(warehouse_engine, _branch(), [_catalog_row("OLD")], "validation")  # no task: no DAG

    with session_scope(warehouse_engine) as s:
        named = dict(s.execute(select(Quarantine.sku, Quarantine.dag_id)).all())
        assert named == {"A": "catalog_feed_sync", "B": "catalog_feed_sync", "C": "offers_inventory_sync",
                         "OLD": None}  # fmt: skip
        record_summaries(s, RUN, "catalog_feed_sync", [(_branch(), {"quarantined": 3})])
        record_summaries(s, RUN, "offers_inventory_sync", [(_branch(), {"quarantined": 1})])
    with session_scope(warehouse_engine) as s:
        skus = dict(s.execute(select(RunSummary.dag_id, RunSummary.quarantined_skus)).all())
    # a row that names no DAG (written before 0006) still counts for either
    assert skus == {"catalog_feed_sync": 3, "offers_inventory_sync": 2}


def test_the_runs_section_shows_each_dags_own_new_quarantined_skus(warehouse_engine: Engine) -> None:
    """The status page's Runs: two DAGs' runs of one id no longer share their quarantined SKUs."""
    from sqlalchemy.orm import Session

    from listings_pipeline.status_page.runs import recent_runs

    with _task_of("catalog_feed_sync"):
        quarantine(warehouse_engine, _branch(), [_catalog_row("A")], "validation")
    with _task_of("offers_inventory_sync"):
        _quarantine(warehouse_engine, SELLER, US, RUN, [_offer_row("C")])
    with session_scope(warehouse_engine) as s:
        record_summaries(s, RUN, "catalog_feed_sync", [(_branch(), {"quarantined": 1})])
        record_summaries(s, RUN, "offers_inventory_sync", [(_branch(), {"quarantined": 1})])

    with Session(warehouse_engine) as s:
        blocks = recent_runs(s)
    new = {b.dag_id: [(n.kind, [x.sku for x in n.skus]) for r in b.runs for n in r.new] for b in blocks}
    assert new == {
        "catalog_feed_sync": [("quarantined", ["A"])],
        "offers_inventory_sync": [("quarantined", ["C"])],
    }
