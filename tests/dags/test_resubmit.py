"""Requeued feed letters sent now: the replay's last step triggers one ``catalog_feed_sync`` run per
seller, narrowed to the SKUs it requeued (``to_amazon.resubmit``), run for real with ``dag.test()``
in a DAG that wires it the way ``dead_letter_replay`` does, against ``catalog_feed_sync`` as parsed
into the metadata DB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from listings_pipeline.to_amazon.letters import LetterResult, ReplaySummary
from listings_pipeline.to_amazon.resubmit import (
    FEED_SYNC_DAG_ID,
    NARROW_PARAM,
    RESUBMIT_TASK_ID,
    feed_sync_confs,
)
from tests.dags.conftest import REPO

EU_SELLER = "A3SANDBOXEU0003"
US_SELLER = "A1SANDBOXNA0001"


def result(seller_id: str, sku: str, outcome: Any) -> LetterResult:
    return {
        "id": 1,
        "seller_id": seller_id,
        "marketplace_id": "ATVPDKIKX0DER",
        "sku": sku,
        "path": "feed",
        "code": "5665",
        "outcome": outcome,
        "detail": None,
        "attempts": 1,
    }


def summary(*results: LetterResult) -> ReplaySummary:
    counts = {
        name: 0
        for name in (
            "resolved",
            "failed_again",
            "pending",
            "requeued",
            "discarded",
            "skipped",
            "would_replay",
        )
    }
    return {"letters": len(results), **counts, "message": "", "results": list(results)}  # type: ignore[typeddict-item]


def test_one_narrowed_sync_per_seller_of_the_requeued_letters_only() -> None:
    replayed = summary(
        result(US_SELLER, "B", "requeued"),
        result(US_SELLER, "A", "requeued"),
        result(EU_SELLER, "E", "requeued"),
        result(US_SELLER, "SENT", "resolved"),  # a Listings API letter: the replay sent it itself
        result(US_SELLER, "DRY", "would_replay"),
    )
    assert feed_sync_confs(replayed, "/etc/pipeline.yaml") == [
        {"sellers": [US_SELLER], NARROW_PARAM: ["A", "B"], "config_path": "/etc/pipeline.yaml"},
        {"sellers": [EU_SELLER], NARROW_PARAM: ["E"], "config_path": "/etc/pipeline.yaml"},
    ]
    assert feed_sync_confs(summary(result(US_SELLER, "DRY", "would_replay"))) == []


@pytest.fixture
def feed_sync_dag(airflow_db: None) -> None:
    """``catalog_feed_sync`` in the metadata DB, as the dag-processor leaves it: a run can be triggered."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    bag = BundleDagBag(
        dag_folder=str(REPO / "dags" / f"{FEED_SYNC_DAG_ID}.py"),
        bundle_path=bundle.path,
        bundle_name=bundle.name,
    )
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, bundle.name, bundle.version)


def feed_sync_runs() -> dict[str, Any]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return {
            run.run_id: (str(run.state), run.conf, run.note)
            for run in session.scalars(select(DagRun).where(DagRun.dag_id == FEED_SYNC_DAG_ID))
        }


WIRING_DAG = """
import pendulum
from airflow.sdk import dag, task

from listings_pipeline.to_amazon.resubmit import resubmit_feed_letters
from tests.dags.test_resubmit import US_SELLER, result, summary


@dag(dag_id="resubmit_wiring", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def resubmit_wiring():
    @task
    def summarise():
        return summary(result(US_SELLER, "RP-FEED", "requeued"), result(US_SELLER, "RP-API", "resolved"))

    resubmit_feed_letters(summarise())  # the line dead_letter_replay adds after its summarise


resubmit_wiring()
"""


@pytest.mark.airflow
@pytest.mark.slow
def test_the_replays_last_step_triggers_the_narrowed_syncs(feed_sync_dag: None, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    (tmp_path / "resubmit_wiring.py").write_text(WIRING_DAG)
    bag = BundleDagBag(dag_folder=str(tmp_path), bundle_path=tmp_path, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    wiring = bag.get_dag("resubmit_wiring")
    assert wiring is not None

    before = feed_sync_runs()
    run = wiring.test()
    assert run.state == "success"
    states = {ti.task_id: (ti.state, ti.map_index) for ti in run.get_task_instances()}
    assert states[RESUBMIT_TASK_ID] == ("success", 0), states
    new = {k: v for k, v in feed_sync_runs().items() if k not in before}
    assert [(state, conf) for state, conf, _ in new.values()] == [
        ("queued", {"sellers": [US_SELLER], NARROW_PARAM: ["RP-FEED"], "config_path": None})
    ]
