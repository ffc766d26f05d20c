"""Which branches a run has: one per seller and marketplace of the pipeline config, behind the
connection gate, with the branch that quarantines rows nobody claims.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from listings_pipeline.branch import Branch
from listings_pipeline.config import load_config
from listings_pipeline.warehouse.db import (
    make_engine,
    session_scope,
    warehouse_url,
)
from listings_pipeline.warehouse.models import (
    ListingStatus,
)
from listings_pipeline.warehouse.records import ensure_seller

log = logging.getLogger(__name__)

L = ListingStatus


# --- targets and extract ----------------------------------------------------------------------------


def targets(
    config_path: str | None = None,
    only_sellers: list[str] | None = None,
    *,
    confirm_deletes: bool = False,
    only_skus: Sequence[str] | None = None,
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
    """
    config = load_config(config_path)
    skus = list(dict.fromkeys(sku.strip() for sku in only_skus or () if sku.strip()))
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
        unknown = set(only_sellers) - {t["seller_id"] for t in branches}
        if unknown:
            raise ValueError(f"sellers {sorted(unknown)} are not in the pipeline config")
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
