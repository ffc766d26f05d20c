"""
### Drift resolve

An operator's decision on drift that `listings_reconcile` found between Amazon and the warehouse
(`listing_drift`, the status page's Drift section). Fill in the form:

- **which drift**: the seller, the marketplace and the SKUs (pasted, one per line, or picked), and
  optionally only some kinds; only `open` drift is acted on;
- **what**: *resubmit* sends ours again: the listings go back to `ready` and this run triggers a
  `catalog_feed_sync` run narrowed to those SKUs, which sends the catalog's listing (price and
  stock included) through the router, the Listings Items API for a few SKUs or a feed for many.
  *accept Amazon's value* writes Amazon's price to `offers`, its quantity to `inventory`, records an
  inactive listing as not buyable, each with its old and new value and who decided, in the SKU's
  history; nothing is sent. A note says why.

Tasks: **resolve** (checks the whole form at once: a wrong one fails here with every problem on a
line of its own, in the failure message and the run's note; then acts in one transaction),
**outcome** (the note: what was done, each skipped SKU and why) and **resubmit_drift** (the
narrowed sync, only when something was resubmitted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, pick_one, seller_field, skus_field
from listings_pipeline.from_amazon.drift_resolution import DriftResolution
from listings_pipeline.json_types import JsonObject
from listings_pipeline.schedules import manual_retries
from listings_pipeline.to_amazon.resubmit import FEED_SYNC_DAG_ID, FeedSyncConf

CHOICES = form_choices()  # the deployed config's sellers and marketplaces (a few ms)
WHICH = "Which drift"
WHAT = "What to do"


@dag(
    dag_id=Path(__file__).stem,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["spapi", "listings", "drift", "operator"],
    default_args=manual_retries(),
    params={
        "seller_id": Param(**seller_field(CHOICES.sellers, only_configured=True, section=WHICH)),
        "marketplace_id": Param(
            None,
            type=["null", "string"],
            **pick_one(CHOICES.marketplaces),
            title="Marketplace",
            section=WHICH,
        ),
        "skus": Param(
            **skus_field(
                description_md="Seller SKUs with open drift, one per line or separated by commas.",
                section=WHICH,
            )
        ),
        "kinds": Param(
            [],
            type=["null", "array"],
            items={"type": "string"},
            examples=["unknown_to_catalog", "missing_on_amazon", "price", "quantity", "inactive"],
            title="Only these kinds",
            description_md="Empty: every kind of open drift of those SKUs.",
            section=WHICH,
        ),
        "action": Param(
            "resubmit",
            type="string",
            enum=["resubmit", "accept_amazon"],
            values_display={
                "resubmit": "Resubmit: send ours again (a narrowed catalog_feed_sync)",
                "accept_amazon": "Accept Amazon's value into the warehouse (nothing is sent)",
            },
            title="Action",
            section=WHAT,
        ),
        "note": Param(
            None,
            type=["null", "string"],
            title="Note",
            description_md="Why: recorded with each drift row it resolves (e.g. the ticket).",
            section=WHAT,
        ),
        "config_path": Param(**config_path_field(section="Advanced")),
    },
)
def drift_resolve() -> None:
    @task
    def resolve(
        params: JsonObject | None = None, run_id: str | None = None, ti: Any = None
    ) -> DriftResolution:
        from listings_pipeline.from_amazon.drift_actions import resolve_step
        from listings_pipeline.run_notes import refusing

        return refusing(ti, lambda: resolve_step(dict(params or {}), str(run_id)))

    @task
    def outcome(resolution: DriftResolution, ti: Any = None) -> str:
        from listings_pipeline.from_amazon.drift_outcome import conclude_resolution

        return conclude_resolution(ti, resolution)

    @task
    def feed_syncs(resolution: DriftResolution) -> list[FeedSyncConf]:
        return resolution["feed_syncs"]

    resolved = resolve()
    outcome(resolved)
    TriggerDagRunOperator.partial(
        task_id="resubmit_drift",
        trigger_dag_id=FEED_SYNC_DAG_ID,
        note="drift resubmitted by a drift_resolve run, sent now",
    ).expand(conf=feed_syncs(resolved))


drift_resolve()
