"""What the warehouse already knows of the SKUs a form names: their listings and product types.

A SKU the pipeline has listed is no typo whatever characters it holds (``forms.skus``), and its
product type is the one the warehouse recorded (``listings.product_type``), so a hotfix need not
be told it. Read by the forms' first tasks, never at parse time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from listings_pipeline.config import PipelineConfig


class KnownListing(TypedDict):
    """One ``listings`` row of a SKU a form names."""

    seller_id: str
    marketplace_id: str
    sku: str
    product_type: str | None


def known_listings(
    config: PipelineConfig, skus: Sequence[str], seller_ids: Sequence[str] | None = None
) -> list[KnownListing]:
    """The listings of ``skus`` (of ``seller_ids``, or of any seller), in any marketplace."""
    if not skus:
        return []
    from sqlalchemy import select

    from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
    from listings_pipeline.warehouse.models import Listing

    query = select(Listing.seller_id, Listing.marketplace_id, Listing.sku, Listing.product_type).where(
        Listing.sku.in_(list(dict.fromkeys(skus)))
    )
    if seller_ids is not None:
        query = query.where(Listing.seller_id.in_(list(seller_ids)))
    engine = make_engine(warehouse_url(config.warehouse_conn_id), read_only=True)
    try:
        with session_scope(engine) as session:
            return [
                {
                    "seller_id": row.seller_id,
                    "marketplace_id": row.marketplace_id,
                    "sku": row.sku,
                    "product_type": row.product_type,
                }
                for row in session.execute(query.order_by(Listing.id))
            ]
    finally:
        engine.dispose()
