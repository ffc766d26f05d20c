"""A ``PRODUCT_TYPE_DEFINITIONS_CHANGE`` notification refreshes the cached product-type schemas.

Amazon sends it when it releases new product type definitions (a new ``ProductTypeVersion``,
sometimes new product types) for a seller, in one marketplace or all. The catalog's listings are
checked against the cached schemas (``<var_dir>/product_types/<marketplace>/``, kept by checksum,
:mod:`listings_pipeline.catalog.schema_cache`), which the catalog sync otherwise refreshes only
when it runs; here every product type the mappings cover is fetched again for the seller's
marketplaces the notification names, so the next check (a hotfix's, a preview's, the next sync's)
uses Amazon's new rules. A schema Amazon did not change costs one getDefinitionsProductType call
and no download. The Great Expectations suite is built from the mappings at each run
(``catalog.validation.build_suite``) and holds no copy of a schema: the refreshed schema is all the
next validation needs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from listings_pipeline.from_amazon.notifications import DefinitionsChanged

log = logging.getLogger(__name__)


class SchemaRefresh(TypedDict):
    seller_id: str
    marketplace_id: str
    product_type: str
    #: the schema's checksum now cached; None when Amazon could not give it (``error`` says why)
    checksum: str | None
    error: str | None


def refresh(config_path: str | None, changes: list[DefinitionsChanged]) -> list[SchemaRefresh]:
    """Fetch the mapped product types' schemas again for each (seller, marketplace) changed."""
    from listings_pipeline.catalog.mapping import load_mappings
    from listings_pipeline.catalog.schema_cache import fetch_schema
    from listings_pipeline.config import load_config
    from spapi.errors import SpApiError
    from spapi.hooks import SpApiHook

    config = load_config(config_path)
    product_types = sorted(load_mappings(config.mappings_dir))
    wanted: dict[str, set[str]] = {}
    for change in changes:
        try:
            seller = config.seller(change["seller_id"])
        except KeyError:
            log.warning("definitions changed for %s, a seller this config does not have", change["seller_id"])
            continue
        marketplace = change["marketplace_id"]
        named = [marketplace] if marketplace else list(seller.marketplaces)
        wanted.setdefault(seller.seller_id, set()).update(m for m in named if m in seller.marketplaces)
    out: list[SchemaRefresh] = []
    for seller_id, markets in sorted(wanted.items()):
        seller = config.seller(seller_id)
        with SpApiHook(seller.spapi_conn_id).get_client() as client:
            for marketplace_id in sorted(markets):
                for product_type in product_types:
                    try:
                        cached = fetch_schema(
                            client,
                            product_type,
                            marketplace_id,
                            config.var_dir / "product_types",
                            seller_id=seller_id,
                        )
                    except SpApiError as err:
                        log.warning(
                            "could not refresh the %s schema for %s: %s", product_type, marketplace_id, err
                        )
                        out.append(
                            SchemaRefresh(
                                seller_id=seller_id,
                                marketplace_id=marketplace_id,
                                product_type=product_type,
                                checksum=None,
                                error=str(err),
                            )
                        )
                        continue
                    out.append(
                        SchemaRefresh(
                            seller_id=seller_id,
                            marketplace_id=marketplace_id,
                            product_type=product_type,
                            checksum=cached.checksum,
                            error=None,
                        )
                    )
    log.info("product type schemas refreshed: %d", sum(1 for r in out if r["error"] is None))
    return out
