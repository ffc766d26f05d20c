"""Which branches a run has: one per seller and marketplace of the pipeline config, behind the
connection gate, with the branch that quarantines rows nobody claims.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from listings_pipeline.branch import Branch
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.forms.fields import entries
from listings_pipeline.forms.problems import FormError, FormProblem, problem
from listings_pipeline.forms.skus import check_skus
from listings_pipeline.warehouse.db import (
    make_engine,
    session_scope,
    warehouse_url,
)
from listings_pipeline.warehouse.models import (
    ListingStatus,
)
from listings_pipeline.warehouse.records import ensure_seller

if TYPE_CHECKING:
    from listings_pipeline.run_notes import PushesXCom

log = logging.getLogger(__name__)

L = ListingStatus


# --- targets and extract ----------------------------------------------------------------------------


def targets(
    config_path: str | None = None,
    only_sellers: list[str] | None = None,
    *,
    confirm_deletes: bool = False,
    only_skus: Sequence[str] | None = None,
    form: str = "sync",
) -> list[Branch]:
    """One branch per seller and marketplace; ``only_sellers`` narrows a manual run, and
    ``only_skus`` narrows what it sends (e.g. dead letters just replayed, sent now rather than with
    the next scheduled run): the rest of the catalog is still read, so quarantine and the counts
    are whole, but only these SKUs' changes go to Amazon, and nothing is deleted.

    Several sellers may share one catalog file; a row that belongs to none of their branches (its
    marketplace is empty, unknown or served by nobody, or it cannot be read at all) must still be
    quarantined, and only once: the run's first branch reading that catalog claims such rows.
    ``confirm_deletes`` is an operator's confirmation, on a manual run, of deletions above the
    mass-delete guard.

    :param form: the DAG whose form ``only_sellers`` and ``only_skus`` came from, as its errors name it.
    :raises FormError: every unknown seller and bad SKU at once (``forms.skus``).
    """
    config = load_config(config_path)
    skus = _narrowed_skus(config, only_sellers, only_skus, form)
    branches = [
        Branch(
            seller_id=t["seller_id"],
            marketplace_id=t["marketplace_id"],
            spapi_conn_id=t["spapi_conn_id"],
            region=t["region"],
            config_path=config_path,
        )
        for t in config.targets()
    ]
    if only_sellers:
        branches = [t for t in branches if t["seller_id"] in only_sellers]
    from listings_pipeline.connections import check_connections

    # before anything is read or sent: every connection usable and of the config's environment
    check_connections(config, [t["spapi_conn_id"] for t in branches])
    claimed: list[Any] = []
    for branch in branches:
        catalog = config.seller(branch["seller_id"]).catalog
        branch["claims_defects"] = catalog not in claimed
        if catalog not in claimed:
            claimed.append(catalog)
        branch["confirm_deletes"] = confirm_deletes
        if skus:
            branch["only_skus"] = skus
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            for seller in config.sellers:
                ensure_seller(
                    session, seller.seller_id, region=seller.region, spapi_conn_id=seller.spapi_conn_id
                )
    finally:
        engine.dispose()
    return branches


def form_targets(
    ti: PushesXCom,
    params: Mapping[str, Any] | None,
    form: str,
    *,
    confirm_deletes: bool = False,
    only_skus: Sequence[str] | None = None,
) -> list[Branch]:
    """The ``targets`` task of a DAG whose form has ``config_path`` and ``sellers``: :func:`targets`
    for them, a form's problems refusing the run and a connection problem failing it without
    retries (:func:`listings_pipeline.run_notes.refusing`).

    :param form: the DAG whose form ``params`` is, as its errors name it.
    """
    from listings_pipeline.run_notes import refusing

    params = params or {}
    return refusing(
        ti,
        lambda: targets(
            params.get("config_path"),
            params.get("sellers") or None,
            confirm_deletes=confirm_deletes,
            only_skus=only_skus,
            form=form,
        ),
    )


def _narrowed_skus(
    config: PipelineConfig, only_sellers: Sequence[str] | None, only_skus: Sequence[str] | None, form: str
) -> list[str]:
    """The SKUs a manual run is narrowed to, once each; :class:`FormError` for every seller not in
    the config and every SKU the forms' rules refuse (one the warehouse knows passes as it is)."""
    from listings_pipeline.forms.known import known_listings

    problems: list[FormProblem] = []
    sellers = [s.seller_id for s in config.sellers]
    for seller_id in dict.fromkeys(only_sellers or ()):
        if seller_id not in sellers:
            known = ", ".join(sellers)
            problems.append(
                problem(
                    "sellers", f"{seller_id!r} is not a seller of the pipeline config (its sellers: {known})"
                )
            )
    values = entries(list(only_skus or ())) or []
    named = [sku for sku in values if sku]
    known_skus = {
        k["sku"] for k in known_listings(config, named, list(only_sellers) if only_sellers else None)
    }
    skus, wrong = check_skus(values, known=known_skus)
    problems += wrong
    if problems:
        raise FormError(form, problems)
    return skus
