"""
### FBA inventory sync

Reads the stock Amazon holds in its fulfillment centers for each seller and marketplace of the
pipeline config (`include/pipeline.yaml`) into the warehouse, every hour:

1. **targets**: one branch per seller and marketplace, behind the connection gate;
2. **read_stock** (one mapped task per branch): every page of the FBA Inventory API's
   `getInventorySummaries` with details, only the changes since the branch's last read
   (`startDateTime`), or everything on the first run, when *Read everything* is ticked, and once a
   day (Amazon's change feed does not see inbound quantities move). The fulfillable, inbound,
   reserved, unfulfillable and researching units land in `inventory` under `AMAZON_NA` /
   `AMAZON_EU` / `AMAZON_FE`, each change with its old and new value in `fba_stock_changes`, and the
   read in `fba_stock_reads`; analysts read `v_fba_stock` (docs/analysts.md);
3. **report**: the run's totals.

Nothing is sent to Amazon: FBA quantities are Amazon's, and `offers_inventory_sync` never writes
them either.

Why a DAG of its own rather than a task of `offers_inventory_sync`: that DAG pushes the catalog to
Amazon and ends red when Amazon rejects a change; this one pulls Amazon's figures and needs no
catalog. Apart, a throttled or failed FBA read neither holds back nor colours a price update,
either can be scheduled, paused or re-run alone, and a full re-read does not re-extract a catalog.
They share only the `inventory` table, on different rows (the merchant's `DEFAULT` channel there,
Amazon's channels here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.branch import Branch
from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, sellers_field
from listings_pipeline.from_amazon.fba_stock import StockRead, StockTotals
from listings_pipeline.json_types import JsonObject
from listings_pipeline.schedules import backoff_retries, schedule_for

# the deployed config's sellers, a multi-select (a few ms: forms.choices)
SELLERS = form_choices().sellers


@dag(
    dag_id=Path(__file__).stem,
    schedule=schedule_for(Path(__file__).stem, "@hourly"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["spapi", "fba", "inventory"],
    default_args=backoff_retries(max_delay_minutes=15),
    params={
        "config_path": Param(**config_path_field()),
        "sellers": Param(**sellers_field(SELLERS, "read")),
        "full": Param(
            False,
            type="boolean",
            title="Read everything",
            description_md="Read every SKU's FBA stock, not only the changes since the last read "
            "(Amazon's change feed does not see inbound quantities move; a full read runs daily anyway).",
        ),
    },
)
def fba_inventory_sync() -> None:
    @task
    def targets(params: JsonObject | None = None, ti: Any = None) -> list[Branch]:  # the form as typed in
        from listings_pipeline.planning.targets import form_targets

        return form_targets(ti, params, "fba_inventory_sync")

    @task(
        map_index_template="{{ task.op_kwargs['branch']['seller_id'] }}/{{ task.op_kwargs['branch']['marketplace_id'] }}"
    )
    def read_stock(branch: Branch, params: JsonObject | None = None, run_id: str | None = None) -> StockRead:
        from listings_pipeline.from_amazon import fba_stock

        return fba_stock.sync_branch(branch, str(run_id), full=bool((params or {}).get("full")))

    @task
    def report(reads: list[StockRead]) -> StockTotals:
        from listings_pipeline.from_amazon import fba_stock

        return fba_stock.totals(reads)

    report(read_stock.expand(branch=targets()))


fba_inventory_sync()
