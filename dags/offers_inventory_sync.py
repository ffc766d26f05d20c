"""
### Offers and inventory sync

Keeps each seller's prices and merchant-fulfilled stock on Amazon in step with its catalog, every
hour. One branch per seller and marketplace from the pipeline config (`include/pipeline.yaml`):

1. **extract** the catalog into a run-scoped Parquet snapshot;
2. **plan**: read price (our price, currency, optional sale price with dates, minimum and maximum
   allowed) and quantity / handling time per SKU; compare with the warehouse's `offers` and
   `inventory` tables and keep only the SKUs that changed. FBA stock (a `fulfillment_channel`
   other than `DEFAULT`/`MFN`) is Amazon's: neither sent nor taken from the catalog
   (`fba_inventory_sync` reads it from Amazon); a row whose price or stock cannot be
   read goes to `quarantine` with its column, value and reason. The **router** then picks the path:
   up to `per_sku_threshold` SKUs (default 50) go through the Listings Items API, more through a
   `JSON_LISTINGS_FEED` of `PATCH` messages;
3. **apply** (per-SKU route): one mapped task per batch of `patchListingsItem` calls through the
   shared rate limiter; rejected or failed changes go to `dead_letters`;
4. **build / submit_feed / parse** (feed route): the bulk path's own steps, then **record_feed**;
5. accepted changes are written to `offers` / `inventory`, so the next run sends nothing for them;
   **summarise** writes `run_summaries` (one row per seller and marketplace) and an event of the
   `run_summaries` Asset;
6. **outcome**: the run's note gives the counts and Amazon's first rejections, and the run fails here
   when Amazon rejected a change or one was dead-lettered (everything is recorded by then).

Manual runs can narrow the sellers (a choice of the config's) or point at another config file; an
unknown seller fails **targets** with the problem in the failure message and the run's note.

Both writes use JSON Patch `merge`: fields this sync does not own (an existing discount set
elsewhere, an FBA `fulfillment_availability` entry) are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.assets import RUN_SUMMARIES
from listings_pipeline.branch import Branch
from listings_pipeline.changes import ChangeBatch, OfferBatchResult
from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, sellers_field
from listings_pipeline.json_types import JsonObject
from listings_pipeline.outcome import RunOutcome
from listings_pipeline.run_totals import OffersSummary
from listings_pipeline.schedules import backoff_retries, schedule_for
from listings_pipeline.to_amazon.feed_outcomes import (
    FeedOutcome,
    FeedRecorded,
    OffersFeedResult,
    SubmitKwargs,
)
from listings_pipeline.to_amazon.publish import LedgerSubmitFeedOperator

# the deployed config's sellers, a multi-select (a few ms: forms.choices)
SELLERS = form_choices().sellers


@dag(
    dag_id=Path(__file__).stem,
    schedule=schedule_for(Path(__file__).stem, "@hourly"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["spapi", "listings", "offers", "inventory"],
    default_args=backoff_retries(max_delay_minutes=15),
    params={
        "config_path": Param(**config_path_field()),
        "sellers": Param(**sellers_field(SELLERS, "sync")),
    },
)
def offers_inventory_sync() -> None:
    @task
    def targets(params: JsonObject | None = None, ti: Any = None) -> list[Branch]:  # the form as typed in
        from listings_pipeline.planning.targets import form_targets

        return form_targets(ti, params, "offers_inventory_sync")

    @task(
        map_index_template="{{ task.op_kwargs['branch']['seller_id'] }}/{{ task.op_kwargs['branch']['marketplace_id'] }}"
    )
    def extract(branch: Branch, run_id: str | None = None) -> Branch:
        from listings_pipeline.catalog import steps

        return steps.extract(branch, str(run_id))

    @task
    def plan(branch: Branch) -> Branch:
        from listings_pipeline.to_amazon import offers

        return offers.plan(branch)

    @task
    def api_batches(planned: list[Branch]) -> list[ChangeBatch]:
        return [
            batch for branch in planned if branch["route"] == "listings_api" for batch in branch["batches"]
        ]

    @task
    def feed_branches(planned: list[Branch]) -> list[Branch]:
        return [branch for branch in planned if branch["route"] == "feed" and branch["planned"]]

    @task
    def apply(batch: ChangeBatch, run_id: str | None = None) -> OfferBatchResult:
        from listings_pipeline.to_amazon import offers

        return offers.apply(batch, str(run_id))

    @task
    def build(branch: Branch) -> list[SubmitKwargs]:
        from listings_pipeline.to_amazon import bulk

        return bulk.build(branch)

    @task
    def documents(per_branch: list[list[SubmitKwargs]]) -> list[SubmitKwargs]:
        return [document for branch_documents in per_branch for document in branch_documents]

    @task
    def parse(outcome: FeedOutcome) -> OffersFeedResult:
        from listings_pipeline.to_amazon import bulk

        parsed = bulk.parse(outcome)
        return {**parsed, "config_path": outcome["document"].get("config_path")}

    @task
    def record_feed(parsed: OffersFeedResult, run_id: str | None = None) -> FeedRecorded:
        from listings_pipeline.to_amazon import offers

        return offers.record_feed(parsed, str(run_id), parsed.get("config_path"))

    @task(outlets=[RUN_SUMMARIES], trigger_rule="none_failed")
    def summarise(
        planned: list[Branch],
        applied: list[OfferBatchResult],
        fed: list[FeedRecorded],
        run_id: str | None = None,
        dag_run: Any = None,
        outlet_events: Any = None,
    ) -> OffersSummary:
        from listings_pipeline.to_amazon import offers

        summary = offers.summarise(
            planned,
            applied or [],
            fed or [],
            run_id=str(run_id),
            started_at=getattr(dag_run, "start_date", None),
        )
        if outlet_events is not None:
            outlet_events[RUN_SUMMARIES].extra = summary
        return summary

    planned = plan.expand(branch=extract.expand(branch=targets()))
    applied = apply.expand(batch=api_batches(planned))
    submitted = LedgerSubmitFeedOperator.partial(task_id="submit_feed", fail_on_fatal=False).expand_kwargs(
        documents(build.expand(branch=feed_branches(planned)))
    )
    fed = record_feed.expand(parsed=parse.expand(outcome=submitted.output))

    @task
    def outcome(summary: OffersSummary, params: JsonObject | None = None, ti: Any = None) -> RunOutcome:
        from listings_pipeline import outcome as verdict
        from listings_pipeline.run_notes import conclude

        return conclude(ti, verdict.of_offers(summary), (params or {}).get("config_path"))

    outcome(summarise(planned, applied, fed))


offers_inventory_sync()
