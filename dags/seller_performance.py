"""
### Seller performance

Amazon's view of each seller and marketplace of the pipeline config (`include/pipeline.yaml`),
every day, into the warehouse:

1. **targets**: one branch per seller and marketplace, behind the connection gate, and two report
   requests per branch: sales and traffic for the day (the one before the run, or *Day* from the
   form), account health as Amazon sees it now, always filed under the day before the run (Amazon
   keeps no past account health to ask for);
2. **request_report** (mapped, deferrable): `GET_V2_SELLER_PERFORMANCE_REPORT` (account health:
   order defect rate, late shipment, cancellation, tracking and delivery rates, policy violations)
   and `GET_SALES_AND_TRAFFIC_REPORT` (that day's sales, units, sessions and buy-box percentage, in
   total and per SKU), requested through the Reports API and waited for in the triggerer (with a
   notifications queue configured, Amazon's `REPORT_PROCESSING_FINISHED` ends the wait early;
   polling stays the fallback);
3. **load** (mapped): each document checked against Amazon's schema, then written to
   `account_health` / `account_health_metrics` or `sales_traffic_daily` / `sales_traffic_by_asin`;
   loading a day again replaces that day's figures and nothing else. A document that fails the
   schema is refused whole and kept for a person (`seller_report_loads` says why);
4. **outcome**: the run's note; the run ends red when an account health metric went past Amazon's
   target since its previous report, an account is not NORMAL, or a document was refused. A
   breach already reported is counted, not failed again (see
   `listings_pipeline.from_amazon.performance_outcome`).

Analysts read `v_account_health` and `v_sales_traffic_daily` (docs/analysts.md); operators the
status page's Seller performance section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, sellers_field
from listings_pipeline.from_amazon.performance_operator import PerformanceReportOperator
from listings_pipeline.from_amazon.performance_outcome import PerformanceOutcome
from listings_pipeline.from_amazon.performance_reports import PerformanceReportDone, PerformanceReportKwargs
from listings_pipeline.from_amazon.seller_performance import LoadResult
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
    tags=["spapi", "reports", "seller-performance"],
    default_args=backoff_retries(max_delay_minutes=15),
    params={
        "config_path": Param(**config_path_field()),
        "sellers": Param(**sellers_field(SELLERS, "read")),
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day",
            description_md="The day whose sales and traffic to load (UTC), again if it was loaded "
            "before; empty for the day before the run. Account health is Amazon's current view, always "
            "filed under the day before the run.",
        ),
    },
)
def seller_performance() -> None:
    @task
    def targets(
        params: JsonObject | None = None, ti: Any = None, dag_run: Any = None
    ) -> list[PerformanceReportKwargs]:  # the form as typed in
        from listings_pipeline.config import load_config
        from listings_pipeline.from_amazon.performance_reports import report_day, report_kwargs
        from listings_pipeline.from_amazon.processing_signals import wake_check_for
        from listings_pipeline.planning.targets import form_targets

        found = form_targets(ti, params, "seller_performance")
        params = params or {}
        config = load_config(params.get("config_path"))
        day, snapshot = report_day(params.get("day"), dag_run.run_after), report_day(None, dag_run.run_after)
        return report_kwargs(
            found, day, config.feed_poll_seconds, health_day=snapshot, wake_check=wake_check_for(config)
        )

    @task(
        map_index_template="{{ task.op_kwargs['done']['branch']['seller_id'] }}/{{ task.op_kwargs['done']['branch']['marketplace_id'] }} {{ task.op_kwargs['done']['report_type'] }}"
    )
    def load(done: PerformanceReportDone, run_id: str | None = None) -> LoadResult:
        from listings_pipeline.from_amazon import seller_performance

        return seller_performance.load_branch_report(done, str(run_id))

    @task
    def outcome(results: list[LoadResult], ti: Any = None) -> PerformanceOutcome:
        from listings_pipeline.from_amazon.performance_outcome import conclude

        return conclude(ti, results)

    reports = PerformanceReportOperator.partial(task_id="request_report").expand_kwargs(targets())
    outcome(load.expand(done=reports.output))


seller_performance()
