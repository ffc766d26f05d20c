"""
### Catalog feed sync

Keeps each seller's Amazon listings in step with its catalog, through `JSON_LISTINGS_FEED` feeds.
One branch per seller and marketplace from the pipeline config (`include/pipeline.yaml`):

1. **extract** the catalog into a run-scoped Parquet snapshot;
2. **split** it into chunks of `chunk_rows` rows, after deciding what needs the whole catalog (rows
   unchanged since Amazon accepted them, duplicates); **check_chunk** (one task per chunk, on any
   worker) validates its rows with Great Expectations' rules, maps the good ones to listing messages
   and checks those against the product type's schema; **join** puts the chunks back together in
   order: bad rows go to `quarantine` with the rule and value, and the branch fails only when the
   failing share passes `max_failing_share`;
3. **settle** what earlier runs left with Amazon: feeds still unfinished after `feed_wait_hours` are
   cancelled while `IN_QUEUE` and their SKUs held while `IN_PROGRESS`; feeds that finished but never
   reached the warehouse (their wait or parse task died) are applied under the run that sent them.
   Then **plan**: only new, changed (and, if enabled, removed) SKUs go on. A SKU is deleted only after a
   clean read of the whole catalog and when no row of the seller still holds it; a branch above the
   mass-delete guard stops until an operator confirms on a manual run. A change set of up to
   `per_sku_threshold` SKUs goes through the Listings Items API instead of a feed;
4. **build** feed documents (at most 25,000 messages or 10 MiB each), kept under `var/runs/`;
5. **submit** each document once (the `publish_attempts` ledger), and
6. **wait** in the triggerer, not a worker, until Amazon has processed it;
7. **parse** the processing report into `message_results` and `listing_issues`; rejected SKUs go
   to `dead_letters`, retryable ones come back next run;
8. **summarise** the run in `run_summaries` and as an event of the `run_summaries` Asset;
9. **outcome**: the run's note gives the counts and Amazon's first rejections, and the run fails here
   when Amazon rejected a change or one was dead-lettered (everything is recorded by then).

Manual runs can narrow the sellers (a choice of the config's) or the SKUs, or point at another
config file; **targets** checks that form first, and a wrong one fails there with every problem on a
line of its own, in the failure message and the run's note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.assets import RUN_SUMMARIES
from listings_pipeline.branch import Branch, Chunk, ChunkDone
from listings_pipeline.changes import BranchSent
from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, sellers_field
from listings_pipeline.json_types import JsonObject
from listings_pipeline.outcome import RunOutcome
from listings_pipeline.run_totals import RunTotals
from listings_pipeline.schedules import backoff_retries, schedule_for
from listings_pipeline.to_amazon.feed_outcomes import FeedOutcome, FeedResult, SubmitKwargs
from listings_pipeline.to_amazon.publish import LedgerSubmitFeedOperator

# the deployed config's sellers, a multi-select (a few ms: forms.choices)
SELLERS = form_choices().sellers


@dag(
    dag_id=Path(__file__).stem,
    schedule=schedule_for(Path(__file__).stem, "@daily"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["spapi", "listings", "bulk"],
    default_args=backoff_retries(max_delay_minutes=30),
    params={
        "config_path": Param(**config_path_field()),
        "sellers": Param(**sellers_field(SELLERS, "sync")),
        "skus": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Only these SKUs",
            description_md=(
                "Send only these SKUs' changes (e.g. dead letters just replayed), one per line; nothing "
                "else is sent and nothing is deleted. Empty: the whole catalog. A SKU with quotes, "
                "spaces or invisible characters is refused unless the warehouse knows it."
            ),
        ),
        "confirm_deletes": Param(
            False,
            type="boolean",
            title="Confirm mass deletion",
            description_md=(
                "A branch that would delete more SKUs than `max_deletes` or `max_delete_share` of its "
                "listings stops and says how many. Check this on a **manual** run to let those "
                "deletions go through; scheduled runs ignore it."
            ),
        ),
    },
)
def catalog_feed_sync() -> None:
    @task
    def targets(
        params: JsonObject | None = None, dag_run: Any = None, ti: Any = None
    ) -> list[Branch]:  # the form as typed in
        from listings_pipeline.planning.targets import form_targets

        params = params or {}
        manual = str(getattr(dag_run, "run_type", "")).lower().endswith("manual")
        return form_targets(
            ti,
            params,
            "catalog_feed_sync",
            confirm_deletes=manual and bool(params.get("confirm_deletes")),
            only_skus=params.get("skus") or None,
        )

    @task(
        map_index_template="{{ task.op_kwargs['branch']['seller_id'] }}/{{ task.op_kwargs['branch']['marketplace_id'] }}"
    )
    def extract(branch: Branch, run_id: str | None = None) -> Branch:
        from listings_pipeline.catalog import steps

        return steps.extract(branch, str(run_id))

    @task
    def split(branch: Branch) -> list[Chunk]:
        from listings_pipeline.catalog import chunks

        return chunks.split(branch)

    @task
    def all_chunks(per_branch: list[list[Chunk]]) -> list[Chunk]:
        return [chunk for branch_chunks in per_branch for chunk in branch_chunks]

    @task(
        map_index_template=(
            "{{ task.op_kwargs['chunk']['branch']['seller_id'] }}/"
            "{{ task.op_kwargs['chunk']['branch']['marketplace_id'] }} "
            "{{ task.op_kwargs['chunk']['index'] + 1 }}/{{ task.op_kwargs['chunk']['of'] }}"
        )
    )
    def check_chunk(chunk: Chunk) -> ChunkDone:
        from listings_pipeline.catalog import chunks

        return chunks.check_chunk(chunk)

    @task
    def join(branch_chunks: list[Chunk]) -> Branch:
        from listings_pipeline.catalog import chunks

        return chunks.join(branch_chunks)

    @task
    def settle(branch: Branch) -> Branch:
        from listings_pipeline.to_amazon.settle import settle as settle_branch

        return settle_branch(branch)

    @task
    def plan(branch: Branch) -> Branch:
        from airflow.sdk.exceptions import AirflowFailException

        from listings_pipeline.planning.plan import MassDeleteError
        from listings_pipeline.planning.plan import plan as plan_branch

        try:
            return plan_branch(branch)
        except MassDeleteError as err:  # a retry would find the same catalog: ask a person
            raise AirflowFailException(str(err)) from None

    @task
    def build(branch: Branch) -> list[SubmitKwargs]:
        from listings_pipeline.to_amazon import bulk

        return bulk.build(branch)

    @task
    def apply_per_sku(branch: Branch) -> BranchSent:
        from listings_pipeline.to_amazon import per_sku

        return per_sku.apply_branch(branch)

    @task
    def documents(per_branch: list[list[SubmitKwargs]]) -> list[SubmitKwargs]:
        return [document for branch_documents in per_branch for document in branch_documents]

    @task
    def parse(outcome: FeedOutcome) -> FeedResult:
        from listings_pipeline.to_amazon import bulk

        return bulk.parse(outcome)

    @task(outlets=[RUN_SUMMARIES], trigger_rule="none_failed")
    def summarise(
        branches: list[Branch],
        parsed: list[FeedResult],
        per_sku: list[BranchSent],
        run_id: str | None = None,
        dag_run: Any = None,
        outlet_events: Any = None,
    ) -> RunTotals:
        from listings_pipeline.to_amazon import bulk

        started = getattr(dag_run, "start_date", None)
        summary = bulk.summarise(
            str(run_id), "catalog_feed_sync", list(branches), list(parsed or []), started, list(per_sku or [])
        )
        if outlet_events is not None:
            outlet_events[RUN_SUMMARIES].extra = summary
        return summary

    @task
    def outcome(totals: RunTotals, params: JsonObject | None = None, ti: Any = None) -> RunOutcome:
        from listings_pipeline import outcome as verdict
        from listings_pipeline.run_notes import conclude

        return conclude(ti, verdict.of_catalog(totals), (params or {}).get("config_path"))

    cut = split.expand(branch=extract.expand(branch=targets()))
    checked = check_chunk.expand(chunk=all_chunks(cut))
    mapped = join.expand(branch_chunks=cut)
    checked >> mapped
    planned = plan.expand(branch=settle.expand(branch=mapped))
    submitted = LedgerSubmitFeedOperator.partial(task_id="submit_feed", fail_on_fatal=False).expand_kwargs(
        documents(build.expand(branch=planned))
    )
    outcome(summarise(planned, parse.expand(outcome=submitted.output), apply_per_sku.expand(branch=planned)))


catalog_feed_sync()
