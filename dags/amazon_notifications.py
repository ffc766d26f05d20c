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
   A recorded `FEED_PROCESSING_FINISHED` or `REPORT_PROCESSING_FINISHED` is what a waiting feed's
   or report's trigger looks for between polls (it then polls at once: the wait ends early, polling
   stays the fallback).
2. **refresh_schemas**: after a `PRODUCT_TYPE_DEFINITIONS_CHANGE`, the mapped product types'
   schemas are fetched again for that seller's marketplaces, so the next check uses Amazon's new
   rules (nothing to do, and no call, for a batch without one).

Subscriptions are made by `amazon_notifications_setup`. Without a `notifications` section in the
config this DAG watches nothing and only runs when triggered (and then says why it cannot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task

from listings_pipeline.from_amazon.definitions_refresh import SchemaRefresh
from listings_pipeline.from_amazon.notifications import IntakeSummary
from listings_pipeline.notification_queue import ASSET_NAME, NotificationQueueTrigger, watched_queue
from listings_pipeline.schedules import manual_retries

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
    default_args=manual_retries(),
)
def amazon_notifications() -> None:
    @task
    def take_in(triggering_asset_events: Any = None, run_id: str | None = None) -> IntakeSummary:
        from listings_pipeline.from_amazon import notifications

        extras = [event.extra for events in (triggering_asset_events or {}).values() for event in events]
        return notifications.run(extras, str(run_id))

    @task
    def refresh_schemas(summary: IntakeSummary) -> list[SchemaRefresh]:
        if not summary["definitions_changed"]:
            return []
        from listings_pipeline.from_amazon import definitions_refresh

        return definitions_refresh.refresh(None, summary["definitions_changed"])

    refresh_schemas(cast(IntakeSummary, take_in()))  # TaskFlow passes the XCom at run time


amazon_notifications()
