"""What the trigger forms offer: the configured sellers and their marketplaces, by name.

This is the one place the pipeline config is read while a DAG file is parsed: a form that offers
the sellers it can act for is worth one small YAML read (about 3 ms, benchmarks/bench_dag_import.py
measures each DAG file). It reads the deployed config (``SPAPI_PIPELINE_CONFIG`` or
``include/pipeline.yaml``); a run pointed at another config file is still checked against that one
by its first task. A config that cannot be read must not break parsing: the forms then offer every
Amazon marketplace and take any seller id, and the run's first task reports the config's problem.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from listings_pipeline.config import load_config
from spapi.regions import COUNTRY_NAMES, MARKETPLACES, marketplace_name

log = logging.getLogger(__name__)


class FormChoices(NamedTuple):
    """Ids to offer, each with the label a form shows (Airflow's ``values_display``)."""

    sellers: dict[str, str]
    marketplaces: dict[str, str]


def all_marketplaces() -> dict[str, str]:
    """Every Amazon marketplace, by country name."""
    ordered = sorted(MARKETPLACES, key=lambda m: COUNTRY_NAMES[MARKETPLACES[m][0]])
    return {m: marketplace_name(m) for m in ordered}


def form_choices() -> FormChoices:
    """The configured sellers ("Demo Seller EU (A3SANDBOXEU0003)") and their marketplaces, in the
    config's order; no sellers and every marketplace when the config cannot be read."""
    try:
        config = load_config()
    except (OSError, ValueError) as err:
        log.warning("the forms offer no seller choice: %s", err)
        return FormChoices({}, all_marketplaces())
    sellers = {s.seller_id: f"{s.name} ({s.seller_id})" if s.name else s.seller_id for s in config.sellers}
    marketplaces = {m: marketplace_name(m) for s in config.sellers for m in s.marketplaces}
    return FormChoices(sellers, marketplaces)
