"""
### Amazon notifications

Runs whenever Amazon's notifications arrive on the SQS queue of the pipeline config's
`notifications` section: an `AssetWatcher` on the queue (the common-messaging provider's
`MessageQueueTrigger`, scheme `sqs`, in the triggerer) turns each batch it receives into an asset
event, and each event starts a run.

1. **take_in**: each notification recorded once in `amazon_notifications`, by Amazon's
   notificationId (SQS delivers at least once: a second delivery changes nothing).
   `LISTINGS_ITEM_STATUS_CHANGE` moves the listing to `live` when Amazon shows it buyable or
   discoverable, back to `accepted` when suppressed or deleted; `LISTINGS_ITEM_ISSUES_CHANGE`
   records its issues' severities and enforcement actions in `listing_issues`; an older
   notification than one already applied to the listing is `stale`. Recorded messages leave the
   queue; a message that cannot be read stays, is counted in `notification_rejects` (the status
   page shows it), and goes to the dead-letter queue after the queue's `maxReceiveCount` receives.

Subscriptions are made by `amazon_notifications_setup`. Without a `notifications` section in the
config this DAG watches nothing and only runs when triggered (and then says why it cannot).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task

from listings_pipeline.from_amazon.notifications import IntakeSummary
from listings_pipeline.notification_queue import ASSET_NAME, NotificationQueueTrigger, watched_queue

QUEUE = watched_queue()  # one small YAML read, as the forms do
SCHEDULE = (
    [Asset(ASSET_NAME, watchers=[AssetWatcher(name=ASSET_NAME, trigger=NotificationQueueTrigger(QUEUE))])]
    if QUEUE is not None
    else None
)


@dag(
    dag_id=Path(__file__).stem,
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["spapi", "notifications"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
)
def amazon_notifications() -> None:
    @task
    def take_in(triggering_asset_events: Any = None, run_id: str | None = None) -> IntakeSummary:
        from listings_pipeline.from_amazon import notifications

        extras = [event.extra for events in (triggering_asset_events or {}).values() for event in events]
        return notifications.run(extras, str(run_id))

    take_in()


amazon_notifications()
