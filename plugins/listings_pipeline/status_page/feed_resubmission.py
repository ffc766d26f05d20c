"""When a feed dead letter replayed from the page really reaches Amazon, read from the DAGs as deployed.

A feed letter's replay sends nothing: it puts the listing back to ``ready``. The listing is sent by
a ``catalog_feed_sync`` run, either one the replay starts itself, narrowed to its SKUs (when the
deployed replay DAG has the ``resubmit_feed_letters`` step and the deployed sync the ``skus``
param it fills in: :mod:`listings_pipeline.to_amazon.resubmit`), or the next scheduled one, which
never comes while the sync is paused. The page reads which from Airflow's metadata DB (the
serialized DAGs and ``DagModel``), not from this repository's code, so the Replay dialog says what
the deployment will do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from airflow.models.dag import DagModel
from airflow.models.dagbag import DBDagBag
from airflow.utils.session import create_session

from listings_pipeline.status_page.trigger import DagState, dag_state
from listings_pipeline.to_amazon.resubmit import FEED_SYNC_DAG_ID, NARROW_PARAM, RESUBMIT_TASK_ID


@dataclass(frozen=True)
class FeedResubmission:
    sync: DagState
    """``catalog_feed_sync``: known, paused, broken?"""
    started_by_replay: bool
    """The replay starts a ``catalog_feed_sync`` run narrowed to the requeued SKUs."""
    next_run_after: datetime | None
    """When the scheduler creates the next scheduled ``catalog_feed_sync`` run (``None``: none is due)."""


def feed_resubmission(replay_dag_id: str) -> FeedResubmission:
    bag = DBDagBag()
    with create_session() as session:
        replay = bag.get_latest_version_of_dag(replay_dag_id, session=session)
        sync = bag.get_latest_version_of_dag(FEED_SYNC_DAG_ID, session=session)
        model = DagModel.get_current(FEED_SYNC_DAG_ID, session=session)
        next_run_after = model.next_dagrun_create_after if model is not None else None
    wired = (
        replay is not None
        and RESUBMIT_TASK_ID in replay.task_ids
        and sync is not None
        and NARROW_PARAM in sync.params
    )
    return FeedResubmission(dag_state(FEED_SYNC_DAG_ID), wired, next_run_after)
