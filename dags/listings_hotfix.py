"""
### Listings hotfix

Change a few listings now, through the Listings Items API (answers in seconds, issues inline),
instead of waiting for the next catalog feed sync. Fill in the form:

- **who, where, which SKUs** (the open section): a seller of the pipeline config, some of its
  marketplaces, and the SKUs, pasted one per line or separated by commas (at most 500);
- **what**: the action, then the fields of its own section (opened by hand: Airflow opens only the
  first one): a new price, a new quantity, an attribute patch; a delete or a full put of the
  catalog's current row need none;
- **product type**: only for SKUs the warehouse does not know yet; a known SKU's product type is
  the warehouse's (`listings.product_type`);
- **preview** (on by default): Amazon validates the change and stores nothing, so you see its
  issues first. Switch it off to send the change for real.

Tasks: **validate_form** checks the whole form at once (against the pipeline config, the
warehouse and the seller's connection too); a wrong form fails here, with every problem on a line
of its own, in the task's failure message and in the run's note. Then **plan** (one change per SKU
and marketplace, in batches of 20), **apply** (one mapped task per batch, through the shared rate
limiter; results and issues go to the warehouse, and rejected or failed changes to
`dead_letters`), **summarise**, and **outcome**: the run's note gives the counts and Amazon's first
rejections, and the run fails here when Amazon rejected a change (a preview: would reject it), a
call failed, or a change was dead-lettered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.changes import BatchResult, ChangeBatch, HotfixForm, HotfixSummary
from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import marketplaces_field, seller_field, skus_field
from listings_pipeline.json_types import JsonObject
from listings_pipeline.outcome import RunOutcome
from listings_pipeline.schedules import manual_retries

PRICE = "Price: for the action 'Set the price'"
STOCK = "Quantity: for the action 'Set the quantity'"
PATCH = "Attribute patch: for the action 'Patch attributes'"
# the deployed config's sellers and their marketplaces (a few ms: forms.choices)
CHOICES = form_choices()


@dag(
    dag_id=Path(__file__).stem,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["spapi", "listings", "per-sku", "operator"],
    default_args=manual_retries(),
    # The fields every change needs have no section: Airflow's form shows them in its first section,
    # the only one it opens (the sections' open state is not a Param option in Airflow 3.3).
    params={
        "seller_id": Param(
            **seller_field(
                CHOICES.sellers,
                only_configured=True,
                required=True,
                description_md="A seller of the pipeline config (its selling partner id).",
            )
        ),
        "marketplace_ids": Param(
            **marketplaces_field(
                CHOICES.marketplaces, description_md="One or more of the seller's marketplaces."
            )
        ),
        "skus": Param(
            **skus_field(
                required=True,
                description_md="Seller SKUs, one per line or separated by commas; duplicates are ignored. "
                "At most 500: larger change sets belong to the catalog feed sync. A SKU with quotes, "
                "spaces or invisible characters is refused unless the warehouse knows it.",
            )
        ),
        "action": Param(
            "price",
            type="string",
            enum=["price", "quantity", "patch", "delete", "put_from_catalog"],
            values_display={
                "price": "Set the price (open the section Price)",
                "quantity": "Set the quantity, stock (open the section Quantity)",
                "patch": "Patch attributes, JSON (open the section Attribute patch)",
                "delete": "Delete the listing (preview off)",
                "put_from_catalog": "Re-send the full listing from the catalog",
            },
            title="Action",
            description_md="Fill in only the section of the chosen action; a field of another action "
            "is refused, so that nothing is sent by mistake.",
        ),
        "preview": Param(
            True,
            type="boolean",
            title="Preview only",
            description_md="**On** (the safe default): Amazon validates the change "
            "(`mode=VALIDATION_PREVIEW`) and stores nothing; you get its verdict and issues. "
            "**Off**: the change is sent for real. Delete has no preview: switch it off to delete.",
        ),
        "product_type": Param(
            None,
            type=["null", "string"],
            title="Product type (optional)",
            description_md="Empty for SKUs the warehouse knows: their product type is the warehouse's "
            "(`listings.product_type`), and a different one given here is refused. Needed, in capitals "
            "(e.g. `LUGGAGE`), for a SKU it does not know, for price, quantity and patch (Amazon's "
            "patch names it); put from catalog takes it from the catalog row.",
        ),
        "price": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            title="Price",
            description_md="The new price, tax included where the marketplace shows prices with tax; "
            "no finer than the currency's coins (0.01 USD, 1 JPY).",
            section=PRICE,
        ),
        "currency": Param(
            None,
            type=["null", "string"],
            title="Currency",
            description_md="The marketplace's own currency, in capitals, e.g. `USD` (United States), "
            "`CAD` (Canada), `EUR` (Germany): the price is checked against it. One run prices "
            "marketplaces of one currency.",
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
            description_md="Path of the pipeline YAML; empty for `include/pipeline.yaml`. The seller "
            "choice above is the deployed config's.",
            section="Advanced",
        ),
    },
)
def listings_hotfix() -> None:
    @task
    def validate_form(params: JsonObject | None = None, ti: Any = None) -> HotfixForm:  # the form as typed in
        from listings_pipeline.forms.hotfix import validate_form as check
        from listings_pipeline.forms.problems import FormError
        from listings_pipeline.run_notes import refuse

        try:
            return check(dict(params or {}))
        except FormError as err:  # every problem at once, in the note and the failure message
            refuse(ti, err)

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
