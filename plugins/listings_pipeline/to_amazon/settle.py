"""Settling what earlier runs left with Amazon before a run plans anything new."""

from __future__ import annotations

import logging

from listings_pipeline.branch import Branch
from listings_pipeline.config import load_config
from listings_pipeline.run_files import BranchPaths
from listings_pipeline.to_amazon import amazon_view
from listings_pipeline.to_amazon.reconcile import reconcile
from listings_pipeline.to_amazon.stale_feeds import settle_stale_feeds
from listings_pipeline.warehouse.db import (
    make_engine,
    warehouse_url,
)
from listings_pipeline.warehouse.models import (
    ListingStatus,
)

log = logging.getLogger(__name__)

L = ListingStatus


def settle(branch: Branch) -> Branch:
    """Step 4a: settle what earlier runs left with Amazon before anything new is planned.

    Feeds older than ``feed_wait_hours`` first (:mod:`stale_feeds`: cancelled while ``IN_QUEUE``,
    held while ``IN_PROGRESS``; one Amazon ended meanwhile is recorded), then every feed that ended
    without its outcome reaching the warehouse (:func:`reconcile`), then what Amazon shows of the
    branch's accepted and live listings, least recently read first (:mod:`amazon_view`: ``live``,
    or no longer). The SKUs that must not be sent in this run go to the branch's ``held.txt``,
    which :func:`plan` reads.
    """
    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        stale = settle_stale_feeds(config, seller_id, marketplace_id, branch["spapi_conn_id"], run_id, engine)
    finally:
        engine.dispose()
    for feed_id, why in stale.reasons().items():
        log.warning("%s/%s: stale feed %s %s", seller_id, marketplace_id, feed_id, why)
    reconciled = reconcile(branch)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        amazon_view.observe_branch(
            branch["spapi_conn_id"],
            engine,
            seller_id,
            marketplace_id,
            limit=config.listing_reads_per_branch,
            run_id=run_id,
            issue_locale=config.issue_locale,
        )
    finally:
        engine.dispose()
    settled = {r["feed_id"] for r in reconciled}
    hold = set(stale.hold) - {sku for f in stale.feeds if f.feed_id in settled for sku in f.skus}
    paths.root.mkdir(parents=True, exist_ok=True)
    tmp = paths.held.with_name(f".{paths.held.name}.tmp")
    tmp.write_text("".join(f"{sku}\n" for sku in sorted(hold)), encoding="utf-8")
    tmp.replace(paths.held)
    return {**branch, "reconciled_feeds": sorted(settled), "held": len(hold)}
