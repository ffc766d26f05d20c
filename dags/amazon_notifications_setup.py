"""
### Amazon notifications setup

Subscribes each seller of the pipeline config (`include/pipeline.yaml`) to the notifications
`amazon_notifications` reads, delivered to the SQS queue of the config's `notifications` section:
the destination (the queue, created once for the application with a grantless token) and, per
seller, `FEED_PROCESSING_FINISHED`, `REPORT_PROCESSING_FINISHED`, `LISTINGS_ITEM_STATUS_CHANGE`,
`LISTINGS_ITEM_ISSUES_CHANGE` (payload 2023-12-13) and `PRODUCT_TYPE_DEFINITIONS_CHANGE`.

Idempotent: what exists is kept, a subscription pointing at another queue is moved to this one.
Daily, so that a seller added to the config is subscribed by the next day; trigger it to do so now.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, sellers_field
from listings_pipeline.from_amazon.notification_setup import SellerSetup
from listings_pipeline.json_types import JsonObject
from listings_pipeline.schedules import retry_delay, schedule_for

SELLERS = form_choices().sellers


@dag(
    dag_id=Path(__file__).stem,
    schedule=schedule_for(Path(__file__).stem, "@daily"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["spapi", "notifications"],
    default_args={"retries": 2, "retry_delay": retry_delay(timedelta(minutes=1))},
    params={
        "config_path": Param(**config_path_field()),
        "sellers": Param(**sellers_field(SELLERS, "subscribe")),
    },
)
def amazon_notifications_setup() -> None:
    @task
    def subscribe(params: JsonObject | None = None) -> list[SellerSetup]:
        from listings_pipeline.from_amazon import notification_setup

        params = params or {}
        config_path = params.get("config_path")
        sellers = params.get("sellers")
        return notification_setup.set_up(
            str(config_path) if config_path else None,
            [str(s) for s in sellers] if isinstance(sellers, list) and sellers else None,
        )

    subscribe()


amazon_notifications_setup()
