"""Listings Items API 2021-08-01: one function per operation, each returning a :class:`Call`.

Pure: nothing here does I/O. Execute with ``client.call(call)``. Inputs are checked against
Amazon's model (``listingsItems_2021-08-01.json``) and a bad one raises ``ValueError`` naming the
parameter. SKUs go into the path percent-encoded (they may contain ``/``).

Remember that put, patch and delete answer HTTP 200 even for a rejected submission: check
:attr:`ListingsItemSubmissionResponse.accepted` / ``.is_invalid`` / ``.errors``.

Paging ``searchListingsItems``: pass ``ItemSearchResults.next_token`` back as ``page_token`` with
the same filters (at most 1000 SKUs can be paged through).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from .call import Call, path_part
from .models.common import (
    enum_list,
    enum_value,
    id_list,
    int_range,
    iso8601,
    json_parser,
    optional_text,
    require_text,
    required_ids,
    single_id,
    to_wire,
)
from .models.listings import (
    ITEM_INCLUDED_DATA,
    SUBMISSION_INCLUDED_DATA,
    Item,
    ItemSearchResults,
    ListingsItemPatchRequest,
    ListingsItemPutRequest,
    ListingsItemSubmissionResponse,
)

BASE = "/listings/2021-08-01/items"

Mode = Literal["VALIDATION_PREVIEW"]
MODES = ("VALIDATION_PREVIEW",)
IDENTIFIERS_TYPES = ("ASIN", "EAN", "FNSKU", "GTIN", "ISBN", "JAN", "MINSAN", "SKU", "UPC")
ISSUE_SEVERITIES = ("WARNING", "ERROR")
LISTING_STATUSES = ("BUYABLE", "DISCOVERABLE")
SORT_BY = ("sku", "createdDate", "lastUpdatedDate")
SORT_ORDER = ("ASC", "DESC")
MAX_SEARCH_PAGE_SIZE = 20
MAX_SEARCH_IDENTIFIERS = 20

_parse_item = json_parser(Item)
_parse_submission = json_parser(ListingsItemSubmissionResponse)
_parse_search = json_parser(ItemSearchResults)


def _item_path(seller_id: str, sku: str) -> str:
    return f"{BASE}/{path_part(require_text('seller_id', seller_id))}/{path_part(require_text('sku', sku))}"


def _submission_query(
    marketplace_ids: list[str],
    mode: str | None,
    included_data: Sequence[str] | None,
    issue_locale: str | None,
) -> dict[str, Any]:
    mode = enum_value("mode", mode, MODES)
    included = enum_list("included_data", included_data, SUBMISSION_INCLUDED_DATA)
    if included and "identifiers" in included and mode != "VALIDATION_PREVIEW":
        raise ValueError("included_data 'identifiers' can only be requested with mode='VALIDATION_PREVIEW'")
    return {
        "marketplaceIds": marketplace_ids,
        "includedData": included,
        "mode": mode,
        "issueLocale": optional_text("issue_locale", issue_locale),
    }


def _joined(ids: list[str]) -> str:
    return ",".join(ids)


def get_listings_item(
    seller_id: str,
    sku: str,
    marketplace_ids: Sequence[str],
    *,
    included_data: Sequence[str] | None = None,
    issue_locale: str | None = None,
) -> Call[Item]:
    """``getListingsItem``: ``GET /listings/2021-08-01/items/{sellerId}/{sku}``.

    ``included_data`` defaults (on Amazon's side) to ``["summaries"]``.
    """
    ids = required_ids("marketplace_ids", marketplace_ids)
    return Call(
        operation="getListingsItem",
        method="GET",
        path=_item_path(seller_id, sku),
        params={
            "marketplaceIds": ids,
            "includedData": enum_list("included_data", included_data, ITEM_INCLUDED_DATA),
            "issueLocale": optional_text("issue_locale", issue_locale),
        },
        parse=_parse_item,
        seller_id=seller_id,
        sku=sku,
        marketplace_id=_joined(ids),
    )


def put_listings_item(
    seller_id: str,
    sku: str,
    marketplace_id: str,
    body: ListingsItemPutRequest | Mapping[str, Any],
    *,
    mode: Mode | None = None,
    included_data: Sequence[str] | None = None,
    issue_locale: str | None = None,
) -> Call[ListingsItemSubmissionResponse]:
    """``putListingsItem``: full create-or-replace of a listing in exactly one marketplace.

    ``mode="VALIDATION_PREVIEW"`` validates without persisting (status ``VALID``/``INVALID``).
    """
    ids = single_id("marketplace_id", marketplace_id)
    request = ListingsItemPutRequest.model_validate(body)
    return Call(
        operation="putListingsItem",
        method="PUT",
        path=_item_path(seller_id, sku),
        params=_submission_query(ids, mode, included_data, issue_locale),
        json=to_wire(request),
        parse=_parse_submission,
        seller_id=seller_id,
        sku=sku,
        marketplace_id=ids[0],
    )


def patch_listings_item(
    seller_id: str,
    sku: str,
    marketplace_ids: Sequence[str],
    body: ListingsItemPatchRequest | Mapping[str, Any],
    *,
    mode: Mode | None = None,
    included_data: Sequence[str] | None = None,
    issue_locale: str | None = None,
) -> Call[ListingsItemSubmissionResponse]:
    """``patchListingsItem``: JSON Patch of top-level attributes. ``productType`` and >= 1 patch
    are required (enforced by :class:`ListingsItemPatchRequest`)."""
    ids = required_ids("marketplace_ids", marketplace_ids)
    request = ListingsItemPatchRequest.model_validate(body)
    return Call(
        operation="patchListingsItem",
        method="PATCH",
        path=_item_path(seller_id, sku),
        params=_submission_query(ids, mode, included_data, issue_locale),
        json=to_wire(request),
        parse=_parse_submission,
        seller_id=seller_id,
        sku=sku,
        marketplace_id=_joined(ids),
    )


def delete_listings_item(
    seller_id: str,
    sku: str,
    marketplace_id: str,
    *,
    issue_locale: str | None = None,
) -> Call[ListingsItemSubmissionResponse]:
    """``deleteListingsItem`` in exactly one marketplace."""
    ids = single_id("marketplace_id", marketplace_id)
    return Call(
        operation="deleteListingsItem",
        method="DELETE",
        path=_item_path(seller_id, sku),
        params={"marketplaceIds": ids, "issueLocale": optional_text("issue_locale", issue_locale)},
        parse=_parse_submission,
        seller_id=seller_id,
        sku=sku,
        marketplace_id=ids[0],
    )


def search_listings_items(
    seller_id: str,
    marketplace_ids: Sequence[str],
    *,
    identifiers: Sequence[str] | None = None,
    identifiers_type: str | None = None,
    variation_parent_sku: str | None = None,
    package_hierarchy_sku: str | None = None,
    created_after: datetime | str | None = None,
    created_before: datetime | str | None = None,
    last_updated_after: datetime | str | None = None,
    last_updated_before: datetime | str | None = None,
    with_issue_severity: Sequence[str] | None = None,
    with_status: Sequence[str] | None = None,
    without_status: Sequence[str] | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
    included_data: Sequence[str] | None = None,
    issue_locale: str | None = None,
) -> Call[ItemSearchResults]:
    """``searchListingsItems``: ``GET /listings/2021-08-01/items/{sellerId}``.

    Rules from the model: ``identifiers`` (<= 20) and ``identifiers_type`` go together;
    ``identifiers``, ``variation_parent_sku`` and ``package_hierarchy_sku`` exclude each other;
    ``page_size`` is 1..20 (Amazon's default 10).
    """
    ids = required_ids("marketplace_ids", marketplace_ids)
    idents = id_list("identifiers", identifiers, max_items=MAX_SEARCH_IDENTIFIERS)
    ident_type = enum_value("identifiers_type", identifiers_type, IDENTIFIERS_TYPES)
    if idents and ident_type is None:
        raise ValueError("identifiers_type is required when identifiers are given")
    if ident_type is not None and not idents:
        raise ValueError("identifiers are required when identifiers_type is given")
    variation_parent = optional_text("variation_parent_sku", variation_parent_sku)
    package_hierarchy = optional_text("package_hierarchy_sku", package_hierarchy_sku)
    exclusive = [
        name
        for name, value in (
            ("identifiers", idents),
            ("variation_parent_sku", variation_parent),
            ("package_hierarchy_sku", package_hierarchy),
        )
        if value
    ]
    if len(exclusive) > 1:
        raise ValueError(f"{' and '.join(exclusive)} cannot be combined; use only one of them")
    return Call(
        operation="searchListingsItems",
        method="GET",
        path=f"{BASE}/{path_part(require_text('seller_id', seller_id))}",
        params={
            "marketplaceIds": ids,
            "issueLocale": optional_text("issue_locale", issue_locale),
            "includedData": enum_list("included_data", included_data, ITEM_INCLUDED_DATA),
            "identifiers": idents,
            "identifiersType": ident_type,
            "variationParentSku": variation_parent,
            "packageHierarchySku": package_hierarchy,
            "createdAfter": iso8601("created_after", created_after),
            "createdBefore": iso8601("created_before", created_before),
            "lastUpdatedAfter": iso8601("last_updated_after", last_updated_after),
            "lastUpdatedBefore": iso8601("last_updated_before", last_updated_before),
            "withIssueSeverity": enum_list("with_issue_severity", with_issue_severity, ISSUE_SEVERITIES),
            "withStatus": enum_list("with_status", with_status, LISTING_STATUSES),
            "withoutStatus": enum_list("without_status", without_status, LISTING_STATUSES),
            "sortBy": enum_value("sort_by", sort_by, SORT_BY),
            "sortOrder": enum_value("sort_order", sort_order, SORT_ORDER),
            "pageSize": int_range("page_size", page_size, 1, MAX_SEARCH_PAGE_SIZE),
            "pageToken": optional_text("page_token", page_token),
        },
        parse=_parse_search,
        seller_id=seller_id,
        marketplace_id=_joined(ids),
    )


def next_page(page: ItemSearchResults, call: Call[ItemSearchResults]) -> Call[ItemSearchResults] | None:
    """The ``searchListingsItems`` call for the next page: same filters, ``pageToken`` replaced."""
    token = page.next_token
    if not token:
        return None
    return dataclasses.replace(call, params={**call.params, "pageToken": token})
