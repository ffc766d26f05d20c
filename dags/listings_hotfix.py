"""
### Listings hotfix

Change a few listings now, through the Listings Items API (answers in seconds, issues inline),
instead of waiting for the next catalog feed sync. Fill in the form:

- **who and where**: the seller and its marketplaces;
- **which SKUs**: paste them, one per line or separated by commas (at most 500);
- **what**: a new price, a new quantity, an attribute patch, a delete, or a full put of the
  catalog's current row;
- **preview** (on by default): Amazon validates the change and stores nothing, so you see its
  issues first. Switch it off to send the change for real.

Tasks: **validate_form** (a wrong form fails here, with one sentence per problem), **plan** (one
change per SKU and marketplace, in batches of 20), **apply** (one mapped task per batch, through the
shared rate limiter; results and issues go to the warehouse, and rejected or failed changes to
`dead_letters`), **summarise**, and **outcome**: the run's note gives the counts and Amazon's first
rejections, and the run fails here when Amazon rejected a change (a preview: would reject it), a
call failed, or a change was dead-lettered.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.changes import BatchResult, ChangeBatch, HotfixForm, HotfixSummary
from listings_pipeline.config import marketplace_choices
from listings_pipeline.json_types import JsonObject
from listings_pipeline.outcome import RunOutcome

WHO = "Who and where"
WHAT = "What to change"
PRICE = "Price (action: price)"
STOCK = "Quantity (action: quantity)"
PATCH = "Attribute patch (action: patch)"
# every marketplace; the form's first task checks they are in the seller's region
MARKETPLACES = marketplace_choices()


@dag(
    dag_id=Path(__file__).stem,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["spapi", "listings", "per-sku", "operator"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "seller_id": Param(
            type="string",
            minLength=1,
            title="Seller id",
            description_md="The selling partner id, as in the pipeline config (e.g. `A1SANDBOXNA0001`).",
            section=WHO,
        ),
        "marketplace_ids": Param(
            ["ATVPDKIKX0DER"],
            type="array",
            minItems=1,
            items={"type": "string", "enum": list(MARKETPLACES)},
            values_display=MARKETPLACES,
            title="Marketplaces",
            description_md="One or more marketplaces of the seller's region (North America).",
            section=WHO,
        ),
        "skus": Param(
            type="string",
            format="multiline",
            minLength=1,
            title="SKUs",
            description_md="Seller SKUs, one per line or separated by commas; duplicates are ignored. "
            "At most 500: larger change sets belong to the catalog feed sync.",
            section=WHO,
        ),
        "action": Param(
            "price",
            type="string",
            enum=["price", "quantity", "patch", "delete", "put_from_catalog"],
            values_display={
                "price": "Set the price",
                "quantity": "Set the quantity (stock)",
                "patch": "Patch attributes (JSON)",
                "delete": "Delete the listing",
                "put_from_catalog": "Re-send the full listing from the catalog",
            },
            title="Action",
            description_md="Fill in only the section of the chosen action; a field of another action "
            "is refused, so that nothing is sent by mistake.",
            section=WHAT,
        ),
        "product_type": Param(
            None,
            type=["null", "string"],
            title="Product type",
            description_md="Amazon product type, e.g. `LUGGAGE`. Required for price, quantity and patch "
            "(Amazon's patch needs it); put from catalog takes it from the catalog row.",
            section=WHAT,
        ),
        "preview": Param(
            True,
            type="boolean",
            title="Preview only",
            description_md="**On** (the safe default): Amazon validates the change "
            "(`mode=VALIDATION_PREVIEW`) and stores nothing; you get its verdict and issues. "
            "**Off**: the change is sent for real. Delete has no preview: switch it off to delete.",
            section=WHAT,
        ),
        "price": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            title="Price",
            description_md="The new price, tax included where the marketplace shows prices with tax.",
            section=PRICE,
        ),
        "currency": Param(
            None,
            type=["null", "string"],
            title="Currency",
            description_md="ISO 4217 code of the marketplace's currency: `USD`, `CAD`, `MXN`, `BRL`.",
            section=PRICE,
        ),
        "sale_price": Param(
            None, type=["null", "number"], title="Sale price", description_md="Optional.", section=PRICE
        ),
        "sale_start": Param(None, type=["null", "string"], format="date", title="Sale from", section=PRICE),
        "sale_end": Param(None, type=["null", "string"], format="date", title="Sale until", section=PRICE),
        "minimum_price": Param(
            None,
            type=["null", "number"],
            title="Minimum allowed price",
            description_md="Optional; must not be above the price.",
            section=PRICE,
        ),
        "maximum_price": Param(
            None,
            type=["null", "number"],
            title="Maximum allowed price",
            description_md="Optional; must not be below the price.",
            section=PRICE,
        ),
        "quantity": Param(None, type=["null", "integer"], minimum=0, title="Quantity", section=STOCK),
        "handling_time": Param(
            None,
            type=["null", "integer"],
            title="Handling time (days)",
            description_md="Optional, 1 to 30 days between order and shipment.",
            section=STOCK,
        ),
        "attribute_patch": Param(
            None,
            type=["null", "string"],
            format="multiline",
            title="Patch operations (JSON)",
            description_md='A JSON list, e.g. `[{"op": "replace", "path": "/attributes/color", '
            '"value": [{"value": "Navy", "language_tag": "en_US", "marketplace_id": "ATVPDKIKX0DER"}]}]`. '
            "Only top-level `/attributes/<name>` paths; `op` is add, replace, merge or delete; "
            "`value` is always a list of objects.",
            section=PATCH,
        ),
        "config_path": Param(
            None,
            type=["null", "string"],
            title="Pipeline config",
            description_md="Path of the pipeline YAML; empty for `include/pipeline.yaml`.",
            section="Advanced",
        ),
    },
)
def listings_hotfix() -> None:
    @task
    def validate_form(params: JsonObject | None = None) -> HotfixForm:  # the form as typed in
        from airflow.sdk.exceptions import AirflowFailException

        from listings_pipeline.connections import SpApiConnectionError
        from listings_pipeline.to_amazon import per_sku

        try:
            return per_sku.validate_form(dict(params or {}))
        except (per_sku.HotfixFormError, SpApiConnectionError) as err:  # retrying would not fix it
            raise AirflowFailException(str(err)) from None

    @task
    def plan(request: HotfixForm, run_id: str | None = None) -> list[ChangeBatch]:
        from listings_pipeline.to_amazon import per_sku

        return per_sku.plan(request, str(run_id))

    @task
    def apply(batch: ChangeBatch, run_id: str | None = None) -> BatchResult:
        from listings_pipeline.to_amazon import per_sku

        return per_sku.apply(batch, str(run_id))

    @task
    def summarise(results: list[BatchResult]) -> HotfixSummary:
        from listings_pipeline.to_amazon import per_sku

        return per_sku.summarise(results)

    @task
    def outcome(summary: HotfixSummary, request: HotfixForm, ti: Any = None) -> RunOutcome:
        from listings_pipeline import outcome as verdict
        from listings_pipeline.run_notes import conclude

        return conclude(ti, verdict.of_hotfix(summary, preview=request["preview"]), request["config_path"])

    form = validate_form()
    outcome(summarise(apply.expand(batch=plan(form))), form)


listings_hotfix()
