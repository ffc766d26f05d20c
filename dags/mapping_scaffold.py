"""
### Mapping scaffold

A first draft of the catalog mapping for a product type the pipeline does not map yet
(`include/catalog_mappings/<PRODUCT_TYPE>.yaml`), from Amazon's schema for it and a sample of the
seller's catalog. Fill in the form: the product type, the marketplaces to draft for, and the
seller whose connection fetches the schema (Product Type Definitions API, cached by checksum) and
whose catalog is sampled, unless you give another catalog file.

The run writes, under `<var_dir>/runs/<run id>/scaffold/`:

- `<PRODUCT_TYPE>.yaml`, the draft: every attribute the schema requires (and those its conditional
  rules require for the sample's values), each with the column it reads, the evidence and a
  confidence as comments, and `TODO` where a person must decide. The mapping loader refuses the
  file until no TODO is left, so it cannot go live half done;
- `<PRODUCT_TYPE>.coverage.txt` (and `.json`): required attributes mapped, defaulted and missing,
  columns not used, and the share of sample rows that pass the pipeline's own validate and map
  steps with the draft (TODOs left out).

The same from a shell: `python -m listings_pipeline.scaffold PRODUCT_TYPE --marketplace ID
--catalog PATH --conn-id CONN`. How to finish a draft: `docs/scaffold.md`.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, marketplaces_field, seller_field
from listings_pipeline.json_types import JsonObject
from listings_pipeline.scaffold.artifacts import ScaffoldArtifacts
from listings_pipeline.schedules import manual_retries

# the deployed config's sellers and their marketplaces (a few ms: forms.choices)
CHOICES = form_choices()


@dag(
    dag_id=Path(__file__).stem,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["spapi", "mappings", "operator"],
    default_args=manual_retries(),
    params={
        "product_type": Param(
            type="string",
            minLength=1,
            pattern="^[A-Za-z][A-Za-z0-9_]*$",
            title="Product type",
            description_md="Amazon's product type, e.g. `BACKPACK` (searchDefinitionsProductTypes finds it).",
        ),
        "marketplace_ids": Param(
            **marketplaces_field(
                CHOICES.marketplaces,
                description_md="The marketplaces to draft for: each gets its language, currency and labels.",
            )
        ),
        "seller_id": Param(
            **seller_field(
                CHOICES.sellers,
                only_configured=False,  # suggested; empty takes the config's first
                description_md="Its connection fetches the schema and its catalog is sampled; empty for "
                "the config's first seller.",
            )
        ),
        "catalog": Param(
            None,
            type=["null", "string"],
            title="Catalog (optional)",
            description_md="A catalog file or glob (CSV or Parquet, local or `s3://`) to sample instead "
            "of the seller's configured catalog.",
        ),
        "sample_rows": Param(
            2000,
            type="integer",
            minimum=1,
            title="Sample rows per marketplace",
            section="Advanced",
        ),
        "config_path": Param(**config_path_field(section="Advanced")),
    },
)
def mapping_scaffold() -> None:
    @task
    def draft(params: JsonObject | None = None, run_id: str | None = None) -> ScaffoldArtifacts:
        from listings_pipeline.scaffold.task import draft_from_form

        return draft_from_form(dict(params or {}), str(run_id))

    draft()


mapping_scaffold()
