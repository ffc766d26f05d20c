"""
### Listings reconcile

Compares Amazon's view of each seller's listings with the warehouse, daily, for each seller and
marketplace of the pipeline config (`include/pipeline.yaml`), and records where they disagree:

1. **targets**: one branch per seller and marketplace, behind the connection gate;
2. **request_report** (one mapped task per branch): Amazon's `GET_MERCHANT_LISTINGS_ALL_DATA`
   requested, then waited for in the triggerer (no worker slot is held while Amazon works on it;
   with a notifications queue configured, Amazon's `REPORT_PROCESSING_FINISHED` ends the wait
   early, polling staying the fallback);
3. **check** (one mapped task per branch): the report downloaded and compared with the warehouse's
   listings, offers and merchant stock. Each disagreement is a row of `listing_drift`: on Amazon but
   unknown to the catalog, accepted once but missing on Amazon, a different price or quantity, or
   inactive / suppressed on Amazon while we expect it to sell. Drift already open is updated, drift
   no longer seen becomes `gone`; the comparison itself is a `drift_checks` row. Analysts read
   `v_drift` (docs/analysts.md), operators the status page's Drift section;
4. **summarise** the run, and **outcome**: the run's note gives the figures, and the run fails here
   when a check found drift no earlier run had reported (everything is recorded by then). Drift
   still open from earlier runs is counted in the note but does not fail the run again.

Nothing is sent to Amazon. An operator resolves drift with the `drift_resolve` DAG: resubmit ours
(a `catalog_feed_sync` run narrowed to those SKUs) or accept Amazon's value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, sellers_field
from listings_pipeline.from_amazon.drift_outcome import DriftOutcome
from listings_pipeline.from_amazon.listings_report import ListingsReportOperator, ReportDone, ReportKwargs
from listings_pipeline.from_amazon.reconcile import DriftFound, DriftTotals
from listings_pipeline.json_types import JsonObject
from listings_pipeline.schedules import backoff_retries, schedule_for

# the deployed config's sellers, a multi-select (a few ms: forms.choices)
SELLERS = form_choices().sellers


@dag(
    dag_id=Path(__file__).stem,
    schedule=schedule_for(Path(__file__).stem, "@daily"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["spapi", "listings", "reports", "drift"],
    default_args=backoff_retries(max_delay_minutes=15),
    params={
        "config_path": Param(**config_path_field()),
        "sellers": Param(**sellers_field(SELLERS, "check")),
    },
)
def listings_reconcile() -> None:
    @task
    def targets(
        params: JsonObject | None = None, ti: Any = None
    ) -> list[ReportKwargs]:  # the form as typed in
        from listings_pipeline.config import load_config
        from listings_pipeline.from_amazon.listings_report import report_kwargs
        from listings_pipeline.from_amazon.processing_signals import wake_check_for
        from listings_pipeline.planning.targets import form_targets

        branches = form_targets(ti, params, "listings_reconcile")
        config = load_config((params or {}).get("config_path"))
        return report_kwargs(branches, config.feed_poll_seconds, wake_check=wake_check_for(config))

    @task(
        map_index_template="{{ task.op_kwargs['done']['branch']['seller_id'] }}/{{ task.op_kwargs['done']['branch']['marketplace_id'] }}"
    )
    def check(done: ReportDone, run_id: str | None = None) -> DriftFound:
        from listings_pipeline.from_amazon import reconcile

        return reconcile.check_branch(done, str(run_id))

    @task
    def summarise(found: list[DriftFound]) -> DriftTotals:
        from listings_pipeline.from_amazon import reconcile

        return reconcile.totals(found)

    @task
    def outcome(totals: DriftTotals, ti: Any = None) -> DriftOutcome:
        from listings_pipeline.from_amazon.drift_outcome import conclude

        return conclude(ti, totals)

    reports = ListingsReportOperator.partial(task_id="request_report").expand_kwargs(targets())
    outcome(summarise(check.expand(done=reports.output)))


listings_reconcile()
