"""Product Type Definitions API 2020-09-01: one function per operation, each returning a :class:`Call`.

Pure: nothing here does I/O. ``getDefinitionsProductType`` returns *links*; fetch the JSON schema
itself with :func:`download_schema` (a presigned URL, valid 7 days; cache by ``checksum``)::

    definition = client.call(definitions.get_definitions_product_type("LUGGAGE", "ATVPDKIKX0DER"))
    schema = client.call(definitions.download_schema(definition.schema_.link.resource))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from .call import Call, path_part
from .models.common import enum_value, json_parser, optional_text, require_text, required_ids, single_id
from .models.definitions import ProductTypeDefinition, ProductTypeList

BASE = "/definitions/2020-09-01/productTypes"

REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
REQUIREMENTS_ENFORCED = ("ENFORCED", "NOT_ENFORCED")
PARENTAGE_LEVELS = ("NONE", "CHILD", "PARENT")


def search_definitions_product_types(
    marketplace_ids: Sequence[str],
    *,
    keywords: Sequence[str] | None = None,
    item_name: str | None = None,
    locale: str | None = None,
    search_locale: str | None = None,
) -> Call[ProductTypeList]:
    """``searchDefinitionsProductTypes``. ``keywords`` and ``item_name`` exclude each other."""
    ids = required_ids("marketplace_ids", marketplace_ids)
    words = None
    if keywords is not None:
        words = required_ids("keywords", keywords)
    name = optional_text("item_name", item_name)
    if words and name:
        raise ValueError("keywords and item_name cannot be combined; use only one of them")
    return Call(
        operation="searchDefinitionsProductTypes",
        method="GET",
        path=BASE,
        params={
            "keywords": words,
            "marketplaceIds": ids,
            "itemName": name,
            "locale": optional_text("locale", locale),
            "searchLocale": optional_text("search_locale", search_locale),
        },
        parse=json_parser(ProductTypeList),
        marketplace_id=",".join(ids),
    )


def get_definitions_product_type(
    product_type: str,
    marketplace_id: str,
    *,
    seller_id: str | None = None,
    product_type_version: str = "LATEST",
    requirements: str = "LISTING",
    requirements_enforced: str = "ENFORCED",
    locale: str = "DEFAULT",
    parentage_level: str | None = None,
) -> Call[ProductTypeDefinition]:
    """``getDefinitionsProductType`` for exactly one marketplace (Amazon's current limit).

    ``requirements_enforced="NOT_ENFORCED"`` gives a schema for partial updates and patches;
    ``seller_id`` fills in seller-specific values (such as brand names); ``product_type_version``
    is ``LATEST``, ``RELEASE_CANDIDATE`` or a version id.
    """
    ids = single_id("marketplace_id", marketplace_id)
    return Call(
        operation="getDefinitionsProductType",
        method="GET",
        path=f"{BASE}/{path_part(require_text('product_type', product_type))}",
        params={
            "sellerId": optional_text("seller_id", seller_id),
            "marketplaceIds": ids,
            "productTypeVersion": require_text("product_type_version", product_type_version),
            "requirements": enum_value("requirements", requirements, REQUIREMENTS),
            "requirementsEnforced": enum_value(
                "requirements_enforced", requirements_enforced, REQUIREMENTS_ENFORCED
            ),
            "locale": require_text("locale", locale),
            "parentageLevel": enum_value("parentage_level", parentage_level, PARENTAGE_LEVELS),
        },
        parse=json_parser(ProductTypeDefinition),
        seller_id=seller_id,
        marketplace_id=ids[0],
    )


def _parse_schema(response: httpx.Response) -> dict[str, Any]:
    document = orjson.loads(response.content)
    if not isinstance(document, dict):
        raise ValueError(f"a product type schema must be a JSON object, got {type(document).__name__}")
    return document


def download_schema(link_resource_url: str) -> Call[dict[str, Any]]:
    """``GET`` a product-type schema (or the meta-schema) from ``SchemaLink.link.resource``.

    A presigned URL: no SP-API auth, not rate limited (``sp_api=False``).
    """
    url = require_text("link_resource_url", link_resource_url)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError("link_resource_url must be an absolute http(s) URL")
    return Call(
        operation="downloadProductTypeSchema",
        method="GET",
        path=url,
        parse=_parse_schema,
        sp_api=False,
    )
