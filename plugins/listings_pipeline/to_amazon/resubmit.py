"""A replay's requeued feed letters, sent now: one ``catalog_feed_sync`` run per seller, narrowed to
their SKUs, triggered by ``dead_letter_replay`` itself.

Replaying a feed letter only puts its listing back to ``ready``; left there, it waits for the next
scheduled ``catalog_feed_sync``. The replay DAG can instead end with :func:`resubmit_feed_letters`,
which triggers those runs after ``summarise``: the replay's changes are committed by then, so the
sync always plans listings the replay has already requeued (triggered side by side, the sync could
plan first and skip them as ``dead_lettered``). The sync takes the SKUs as its ``skus`` param
(:func:`listings_pipeline.planning.targets.targets`, ``only_skus``): it sends only those and
deletes nothing.

Both DAGs must carry their half (:data:`RESUBMIT_TASK_ID` here, :data:`NARROW_PARAM` there); the
status page reads the deployed DAGs to tell an operator which of the two ways a feed letter goes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final, TypedDict

from listings_pipeline.to_amazon.letters import ReplaySummary

FEED_SYNC_DAG_ID: Final = "catalog_feed_sync"
NARROW_PARAM: Final = "skus"
"""``catalog_feed_sync``'s param that narrows a run to some SKUs."""
RESUBMIT_TASK_ID: Final = "resubmit_feed_letters"
"""The replay DAG's task that triggers the narrowed runs."""


class FeedSyncConf(TypedDict):
    """A narrowed ``catalog_feed_sync`` run's conf: one seller, the SKUs its replay requeued."""

    sellers: list[str]
    skus: list[str]
    config_path: str | None


def feed_sync_confs(summary: ReplaySummary, config_path: str | None = None) -> list[FeedSyncConf]:
    """One conf per seller whose feed letters this replay requeued (none for a dry run, whose
    letters are only ``would_replay``), SKUs sorted."""
    by_seller: dict[str, set[str]] = defaultdict(set)
    for result in summary["results"]:
        if result["outcome"] == "requeued":
            by_seller[result["seller_id"]].add(result["sku"])
    return [
        {"sellers": [seller_id], NARROW_PARAM: sorted(skus), "config_path": config_path}
        for seller_id, skus in sorted(by_seller.items())
    ]


def resubmit_feed_letters(summary: Any) -> Any:
    """Add to the DAG being defined the step that triggers :func:`feed_sync_confs`' runs after
    ``summary`` (the replay's ``summarise`` output): the replay DAG's one line of wiring. A run with
    nothing requeued triggers nothing (the mapped task has no items and is skipped)."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
    from airflow.sdk import task

    @task(task_id=f"{RESUBMIT_TASK_ID}_confs")
    def confs(summary: ReplaySummary, params: dict[str, Any] | None = None) -> list[FeedSyncConf]:
        return feed_sync_confs(summary, (params or {}).get("config_path"))

    return TriggerDagRunOperator.partial(
        task_id=RESUBMIT_TASK_ID,
        trigger_dag_id=FEED_SYNC_DAG_ID,
        note="feed dead letters requeued by a dead_letter_replay run, sent now",
    ).expand(conf=confs(summary))
