"""The product type's schema per marketplace, through the Product Type Definitions API.

One implementation: :func:`listings_pipeline.catalog.schema_cache.fetch_schema` fetches and keeps
each schema by checksum, as a sync run's split step does, so a draft is checked against the very
file the run will check messages against. Offline, the cache and the shipped copies stand in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listings_pipeline.config import REPO_ROOT

if TYPE_CHECKING:
    from spapi.product_types import ProductTypeSchemas

__all__ = ["VENDORED_DEFINITIONS", "fetch_schemas", "schema_set"]

#: Amazon's own schemas and meta-schema, vendored (``Product.json`` is the real PRODUCT)
VENDORED_DEFINITIONS = REPO_ROOT / "include" / "spapi-models" / "schemas" / "definitions"


def fetch_schemas(
    conn_id: str,
    product_type: str,
    marketplaces: Sequence[str],
    cache_dir: Path,
    *,
    seller_id: str | None = None,
) -> None:
    """Fetch the schema of each marketplace into ``cache_dir`` (by checksum: unchanged ones are not
    downloaded again)."""
    from listings_pipeline.catalog.schema_cache import fetch_schema
    from spapi.hooks import SpApiHook

    with SpApiHook(conn_id).get_client() as client:
        for mid in marketplaces:
            fetch_schema(client, product_type, mid, cache_dir, seller_id=seller_id)


def schema_set(cache_dir: Path, marketplace_id: str, product_types_dir: Path) -> ProductTypeSchemas:
    """The schemas a sync run checks this marketplace's messages against (the cache first, then the
    shipped copies), plus Amazon's vendored definitions for a product type neither has."""
    from spapi.product_types import ProductTypeSchemas

    meta = cache_dir / "meta-schema.json"
    if not meta.exists():
        meta = VENDORED_DEFINITIONS / "meta-schema.json"
    return ProductTypeSchemas(meta, [cache_dir / marketplace_id, product_types_dir, VENDORED_DEFINITIONS])


def load_schema(schemas: ProductTypeSchemas, product_type: str) -> dict[str, Any]:
    if product_type not in schemas:
        raise LookupError(
            f"no schema for product type {product_type} (looked in {', '.join(map(str, schemas.directories))}); "
            "fetch it through the Product Type Definitions API (--conn-id)"
        )
    return schemas.schema(product_type)
