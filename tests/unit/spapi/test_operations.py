"""The operation builders: method, path, query, body, success codes, parse, and input checks.

Pure tests (no I/O). A last group cross-checks every builder against Amazon's Swagger models in
``include/spapi-models`` (``SPAPI_MODELS_DIR``, the ``models_dir`` fixture in tests/conftest.py):
skipped locally without them, failed on CI.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from spapi import definitions, feeds, listings
from spapi.call import Call
from spapi.models import (
    FeedDocument,
    ListingsFeed,
    ListingsItemPatchRequest,
    ListingsItemPutRequest,
    PatchOperation,
)
from tests.unit.spapi.fakes import respond

SELLER = "A1SELLER"
US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
SKU = "A/B C"
SKU_ENC = "A%2FB%20C"
PRESIGNED = "https://tortuga-prod-na.s3-external-1.amazonaws.com/%2FNinetyDays/amzn1.tortuga.4.na.abc?X-Amz-Signature=x%2By"

PUT_BODY = ListingsItemPutRequest(
    product_type="LUGGAGE",
    requirements="LISTING",
    attributes={"item_name": [{"value": "Case", "language_tag": "en_US", "marketplace_id": US}]},
)
PATCH_BODY = ListingsItemPatchRequest(
    product_type="LUGGAGE",
    patches=[
        PatchOperation(
            op="replace",
            path="/attributes/fulfillment_availability",
            value=[{"fulfillment_channel_code": "DEFAULT", "quantity": 10}],
        )
    ],
)
SUBMISSION = {"sku": SKU, "status": "ACCEPTED", "submissionId": "f1dc2914", "issues": []}
ITEM = {
    "sku": SKU,
    "summaries": [
        {
            "marketplaceId": US,
            "productType": "LUGGAGE",
            "status": ["BUYABLE"],
            "createdDate": "2021-02-01T00:00:00Z",
            "lastUpdatedDate": "2021-03-01T00:00:00Z",
        }
    ],
}


# --- listings ---------------------------------------------------------------------------------------


def test_get_listings_item() -> None:
    call = listings.get_listings_item(
        SELLER, SKU, [US, CA], included_data=["summaries", "issues"], issue_locale="en_US"
    )
    assert call.operation == "getListingsItem"
    assert call.method == "GET"
    assert call.path == f"/listings/2021-08-01/items/{SELLER}/{SKU_ENC}"
    assert call.query() == [
        ("marketplaceIds", f"{US},{CA}"),
        ("includedData", "summaries,issues"),
        ("issueLocale", "en_US"),
    ]
    assert call.json is None
    assert call.success == (200,)
    assert call.idempotent and call.sp_api
    assert (call.seller_id, call.sku, call.marketplace_id) == (SELLER, SKU, f"{US},{CA}")
    item = call.parse(respond(call, 200, ITEM))
    assert item.sku == SKU
    assert item.summaries is not None
    assert item.summaries[0].created_date == datetime(2021, 2, 1, tzinfo=UTC)


def test_get_listings_item_minimal_query() -> None:
    call = listings.get_listings_item(SELLER, "SKU-1", [US])
    assert call.query() == [("marketplaceIds", US)]
    assert call.marketplace_id == US


def test_put_listings_item() -> None:
    call = listings.put_listings_item(
        SELLER, SKU, US, PUT_BODY, mode="VALIDATION_PREVIEW", included_data=["identifiers", "issues"]
    )
    assert (call.operation, call.method) == ("putListingsItem", "PUT")
    assert call.path == f"/listings/2021-08-01/items/{SELLER}/{SKU_ENC}"
    assert call.query() == [
        ("marketplaceIds", US),
        ("includedData", "identifiers,issues"),
        ("mode", "VALIDATION_PREVIEW"),
    ]
    assert call.json == {
        "productType": "LUGGAGE",
        "requirements": "LISTING",
        "attributes": {"item_name": [{"value": "Case", "language_tag": "en_US", "marketplace_id": US}]},
    }
    assert call.success == (200,)
    assert (call.seller_id, call.sku, call.marketplace_id) == (SELLER, SKU, US)
    result = call.parse(respond(call, 200, SUBMISSION))
    assert result.accepted


def test_put_listings_item_accepts_a_mapping_body() -> None:
    call = listings.put_listings_item(SELLER, "S", US, {"productType": "LUGGAGE", "attributes": {}})
    assert call.json == {"productType": "LUGGAGE", "attributes": {}}
    with pytest.raises(ValueError, match="productType"):
        listings.put_listings_item(SELLER, "S", US, {"attributes": {}})


def test_put_invalid_submission_parses_as_a_result_not_an_error() -> None:
    call = listings.put_listings_item(SELLER, "S", US, PUT_BODY)
    body = {
        "sku": "S",
        "status": "INVALID",
        "submissionId": "x",
        "issues": [
            {"code": "90220", "message": "m", "severity": "ERROR", "categories": ["MISSING_ATTRIBUTE"]}
        ],
    }
    result = call.parse(respond(call, 200, body))
    assert result.is_invalid and not result.accepted
    assert [e.code for e in result.errors] == ["90220"]


def test_patch_listings_item() -> None:
    call = listings.patch_listings_item(SELLER, SKU, [US], PATCH_BODY, issue_locale="de_DE")
    assert (call.operation, call.method) == ("patchListingsItem", "PATCH")
    assert call.path == f"/listings/2021-08-01/items/{SELLER}/{SKU_ENC}"
    assert call.query() == [("marketplaceIds", US), ("issueLocale", "de_DE")]
    assert call.json == {
        "productType": "LUGGAGE",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 10}],
            }
        ],
    }
    assert call.success == (200,)
    assert call.parse(respond(call, 200, SUBMISSION)).submission_id == "f1dc2914"


def test_patch_listings_item_body_rules() -> None:
    with pytest.raises(ValueError, match="patches"):
        listings.patch_listings_item(SELLER, "S", [US], {"productType": "LUGGAGE", "patches": []})
    with pytest.raises(ValueError, match="productType"):
        listings.patch_listings_item(
            SELLER, "S", [US], {"patches": [{"op": "delete", "path": "/attributes/item_name"}]}
        )


def test_delete_listings_item() -> None:
    call = listings.delete_listings_item(SELLER, SKU, US, issue_locale="en_US")
    assert (call.operation, call.method) == ("deleteListingsItem", "DELETE")
    assert call.path == f"/listings/2021-08-01/items/{SELLER}/{SKU_ENC}"
    assert call.query() == [("marketplaceIds", US), ("issueLocale", "en_US")]
    assert call.json is None
    assert call.success == (200,)
    assert (call.sku, call.marketplace_id) == (SKU, US)
    assert call.parse(respond(call, 200, SUBMISSION)).accepted


@pytest.mark.parametrize(
    "build",
    [
        lambda mp: listings.put_listings_item(SELLER, "S", mp, PUT_BODY),
        lambda mp: listings.delete_listings_item(SELLER, "S", mp),
        lambda mp: definitions.get_definitions_product_type("LUGGAGE", mp),
    ],
    ids=["put", "delete", "getDefinitionsProductType"],
)
@pytest.mark.parametrize("marketplace", [[US], [US, CA], "", f"{US},{CA}", None])
def test_exactly_one_marketplace(build: Callable[[Any], Call[Any]], marketplace: Any) -> None:
    with pytest.raises(ValueError, match="marketplace_id"):
        build(marketplace)


def test_search_listings_items() -> None:
    call = listings.search_listings_items(
        SELLER,
        [US],
        identifiers=["GM-ZDPI-9B4E", "HW-ZDPI-9B4E"],
        identifiers_type="SKU",
        included_data=["summaries", "offers"],
        created_after=datetime(2024, 3, 1, 2, 30, tzinfo=timezone(timedelta(hours=1))),
        last_updated_before="2024-05-01T01:15:00.000Z",
        with_issue_severity=["ERROR"],
        with_status=["BUYABLE"],
        without_status=["DISCOVERABLE"],
        sort_by="sku",
        sort_order="ASC",
        page_size=20,
        page_token="tok",
    )
    assert (call.operation, call.method) == ("searchListingsItems", "GET")
    assert call.path == f"/listings/2021-08-01/items/{SELLER}"
    assert dict(call.query()) == {
        "marketplaceIds": US,
        "includedData": "summaries,offers",
        "identifiers": "GM-ZDPI-9B4E,HW-ZDPI-9B4E",
        "identifiersType": "SKU",
        "createdAfter": "2024-03-01T01:30:00.000Z",
        "lastUpdatedBefore": "2024-05-01T01:15:00.000Z",
        "withIssueSeverity": "ERROR",
        "withStatus": "BUYABLE",
        "withoutStatus": "DISCOVERABLE",
        "sortBy": "sku",
        "sortOrder": "ASC",
        "pageSize": "20",
        "pageToken": "tok",
    }
    assert call.sku is None
    results = call.parse(
        respond(call, 200, {"numberOfResults": 3, "pagination": {"nextToken": "n2"}, "items": [ITEM]})
    )
    assert results.number_of_results == 3
    assert results.next_token == "n2"
    assert results.items[0].sku == SKU


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page_size": 21}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"identifiers": [f"S{i}" for i in range(21)], "identifiers_type": "SKU"}, "identifiers"),
        ({"identifiers": ["S1"]}, "identifiers_type"),
        ({"identifiers_type": "SKU"}, "identifiers"),
        ({"identifiers_type": "ISSN", "identifiers": ["1"]}, "identifiers_type"),
        (
            {"identifiers": ["S1"], "identifiers_type": "SKU", "variation_parent_sku": "P"},
            "variation_parent_sku",
        ),
        ({"variation_parent_sku": "P", "package_hierarchy_sku": "Q"}, "package_hierarchy_sku"),
        ({"included_data": ["identifiers"]}, "included_data"),
        ({"with_status": ["DELETED"]}, "with_status"),
        ({"with_issue_severity": ["INFO"]}, "with_issue_severity"),
        ({"sort_by": "price"}, "sort_by"),
        ({"sort_order": "desc"}, "sort_order"),
        ({"created_after": datetime(2024, 1, 1)}, "created_after"),  # naive
        ({"page_token": ""}, "page_token"),
    ],
)
def test_search_listings_items_input_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        listings.search_listings_items(SELLER, [US], **kwargs)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: listings.get_listings_item("", "S", [US]), "seller_id"),
        (lambda: listings.get_listings_item(SELLER, "", [US]), "sku"),
        (lambda: listings.get_listings_item(SELLER, "S", []), "marketplace_ids"),
        (lambda: listings.get_listings_item(SELLER, "S", US), "marketplace_ids"),  # a bare string
        (
            lambda: listings.get_listings_item(SELLER, "S", [US], included_data=["identifiers"]),
            "included_data",
        ),
        (lambda: listings.put_listings_item(SELLER, "S", US, PUT_BODY, mode="LIVE"), "mode"),  # type: ignore[arg-type]
        (
            lambda: listings.put_listings_item(SELLER, "S", US, PUT_BODY, included_data=["summaries"]),
            "included_data",
        ),
        (
            lambda: listings.put_listings_item(SELLER, "S", US, PUT_BODY, included_data=["identifiers"]),
            "identifiers",
        ),
        (lambda: listings.patch_listings_item(SELLER, "S", [], PATCH_BODY), "marketplace_ids"),
        (lambda: listings.search_listings_items(SELLER, []), "marketplace_ids"),
    ],
)
def test_listings_input_errors(build: Callable[[], Call[Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


# --- feeds ------------------------------------------------------------------------------------------


def test_create_feed_document() -> None:
    call = feeds.create_feed_document()
    assert (call.operation, call.method, call.path) == (
        "createFeedDocument",
        "POST",
        "/feeds/2021-06-30/documents",
    )
    assert call.json == {"contentType": "application/json"}
    assert call.query() == []
    assert call.success == (201,)
    assert call.idempotent is False
    doc = call.parse(respond(call, 201, {"feedDocumentId": "doc-1", "url": PRESIGNED}))
    assert (doc.feed_document_id, doc.url) == ("doc-1", PRESIGNED)


def test_upload_feed_document() -> None:
    feed = ListingsFeed.model_validate(
        {
            "header": {"sellerId": SELLER, "version": "2.0"},
            "messages": [{"messageId": 1, "sku": "S", "operationType": "DELETE"}],
        }
    )
    call = feeds.upload_feed_document(PRESIGNED, feed.to_json_bytes(), "application/json")
    assert (call.operation, call.method) == ("uploadFeedDocument", "PUT")
    assert call.path == PRESIGNED  # absolute and untouched: the signature covers it
    assert call.sp_api is False
    assert call.headers == {"Content-Type": "application/json"}
    assert json.loads(call.content or b"") == {
        "header": {"sellerId": SELLER, "version": "2.0"},
        "messages": [{"messageId": 1, "sku": "S", "operationType": "DELETE"}],
    }
    assert call.json is None
    assert call.success == (200,)
    assert call.parse(respond(call, 200)) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("/relative", b"x", "application/json"), "url"),
        (("", b"x", "application/json"), "url"),
        ((PRESIGNED, b"", "application/json"), "content"),
        ((PRESIGNED, "text", "application/json"), "content"),
        ((PRESIGNED, b"x", ""), "content_type"),
    ],
)
def test_upload_feed_document_input_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        feeds.upload_feed_document(*args)


def test_create_feed() -> None:
    call = feeds.create_feed("JSON_LISTINGS_FEED", [US, CA], "doc-1", {"k": "v"})
    assert (call.operation, call.method, call.path) == ("createFeed", "POST", "/feeds/2021-06-30/feeds")
    assert call.json == {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": [US, CA],
        "inputFeedDocumentId": "doc-1",
        "feedOptions": {"k": "v"},
    }
    assert call.success == (202,)
    assert call.idempotent is False
    assert call.feed_type == "JSON_LISTINGS_FEED"
    assert call.parse(respond(call, 202, {"feedId": "3485934"})).feed_id == "3485934"
    assert "feedOptions" not in feeds.create_feed("JSON_LISTINGS_FEED", [US], "doc-1").json


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", [US], "d"), "feed_type"),
        (("JSON_LISTINGS_FEED", [], "d"), "marketplace_ids"),
        (("JSON_LISTINGS_FEED", [f"M{i}" for i in range(26)], "d"), "marketplace_ids"),
        (("JSON_LISTINGS_FEED", [US], ""), "input_feed_document_id"),
        (("JSON_LISTINGS_FEED", [US], "d", {"k": 1}), "feed_options"),
    ],
)
def test_create_feed_input_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        feeds.create_feed(*args)


FEED = {
    "feedId": "F/1",
    "feedType": "JSON_LISTINGS_FEED",
    "createdTime": "2024-03-11T13:16:24.630Z",
    "processingStatus": "DONE",
    "resultFeedDocumentId": "res-1",
}


def test_get_feed() -> None:
    call = feeds.get_feed("F/1")
    assert (call.operation, call.method, call.path) == ("getFeed", "GET", "/feeds/2021-06-30/feeds/F%2F1")
    assert call.success == (200,)
    feed = call.parse(respond(call, 200, FEED))
    assert feed.is_terminal
    assert feed.result_feed_document_id == "res-1"


def test_get_feeds_first_page() -> None:
    call = feeds.get_feeds(
        feed_types=["JSON_LISTINGS_FEED"],
        marketplace_ids=[US],
        processing_statuses=["DONE", "FATAL"],
        created_since=datetime(2024, 1, 1, tzinfo=UTC),
        created_until="2024-01-31T00:00:00Z",
        page_size=100,
    )
    assert (call.operation, call.method, call.path) == ("getFeeds", "GET", "/feeds/2021-06-30/feeds")
    assert dict(call.query()) == {
        "feedTypes": "JSON_LISTINGS_FEED",
        "marketplaceIds": US,
        "processingStatuses": "DONE,FATAL",
        "createdSince": "2024-01-01T00:00:00.000Z",
        "createdUntil": "2024-01-31T00:00:00Z",
        "pageSize": "100",
    }
    page = call.parse(respond(call, 200, {"feeds": [FEED], "nextToken": "n2"}))
    assert page.next_token == "n2"
    assert page.feeds[0].feed_id == "F/1"


def test_get_feeds_next_page_sends_the_token_alone() -> None:
    call = feeds.get_feeds(next_token="n2")
    assert call.query() == [("nextToken", "n2")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "feed_types"),
        ({"next_token": "n", "feed_types": ["JSON_LISTINGS_FEED"]}, "next_token"),
        ({"next_token": "n", "page_size": 10}, "next_token"),
        ({"feed_types": ["X"], "page_size": 0}, "page_size"),
        ({"feed_types": ["X"], "page_size": 101}, "page_size"),
        ({"feed_types": []}, "feed_types"),
        ({"feed_types": [f"T{i}" for i in range(11)]}, "feed_types"),
        ({"feed_types": ["X"], "marketplace_ids": [f"M{i}" for i in range(11)]}, "marketplace_ids"),
        ({"feed_types": ["X"], "processing_statuses": ["FINISHED"]}, "processing_statuses"),
        ({"feed_types": "JSON_LISTINGS_FEED"}, "feed_types"),
    ],
)
def test_get_feeds_input_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        feeds.get_feeds(**kwargs)


def test_cancel_feed() -> None:
    call = feeds.cancel_feed("F1")
    assert (call.operation, call.method, call.path) == ("cancelFeed", "DELETE", "/feeds/2021-06-30/feeds/F1")
    assert call.success == (200,)
    assert call.parse(respond(call, 200)) is None


def test_get_feed_document() -> None:
    call = feeds.get_feed_document("res 1", enable_content_encoding_url_header=True)
    assert (call.operation, call.method) == ("getFeedDocument", "GET")
    assert call.path == "/feeds/2021-06-30/documents/res%201"
    assert call.query() == [("enableContentEncodingUrlHeader", "true")]
    assert feeds.get_feed_document("r").query() == []
    doc = call.parse(
        respond(call, 200, {"feedDocumentId": "res 1", "url": PRESIGNED, "compressionAlgorithm": "GZIP"})
    )
    assert doc.compression_algorithm == "GZIP"


@pytest.mark.parametrize(
    "build",
    [
        lambda: feeds.get_feed(""),
        lambda: feeds.cancel_feed(""),
        lambda: feeds.get_feed_document(""),
        lambda: feeds.get_feed_document("d", enable_content_encoding_url_header="yes"),  # type: ignore[arg-type]
    ],
)
def test_feed_id_input_errors(build: Callable[[], Call[Any]]) -> None:
    with pytest.raises(ValueError):
        build()


REPORT = {
    "header": {"sellerId": SELLER, "version": "2.0", "feedId": "F1"},
    "issues": [{"messageId": 1, "sku": "S", "code": "90220", "severity": "ERROR", "message": "m"}],
    "summary": {
        "errors": 1,
        "warnings": 0,
        "messagesProcessed": 1,
        "messagesAccepted": 0,
        "messagesInvalid": 1,
    },
}
REPORT_BYTES = orjson.dumps(REPORT)


def doc(compression: str | None) -> FeedDocument:
    body: dict[str, Any] = {"feedDocumentId": "res-1", "url": PRESIGNED}
    if compression:
        body["compressionAlgorithm"] = compression
    return FeedDocument.model_validate(body)


def test_download_feed_document_gunzips_gzip_documents() -> None:
    call = feeds.download_feed_document(doc("GZIP"))
    assert (call.operation, call.method, call.path) == ("downloadFeedDocument", "GET", PRESIGNED)
    assert call.sp_api is False
    assert call.success == (200,)
    data = call.parse(respond(call, 200, gzip.compress(REPORT_BYTES)))
    assert data == REPORT_BYTES
    report = feeds.parse_processing_report(data)
    assert report.header.feed_id == "F1"
    assert report.errors[0].code == "90220"


def test_download_feed_document_does_not_gunzip_twice() -> None:
    call = feeds.download_feed_document(doc("GZIP"))
    # S3 said Content-Encoding: gzip, so httpx already decompressed the body.
    response = respond(call, 200, gzip.compress(REPORT_BYTES), headers={"Content-Encoding": "gzip"})
    assert response.content == REPORT_BYTES
    assert call.parse(response) == REPORT_BYTES
    # Even a body that is itself gzip data is left alone when the transport already decoded it.
    double = gzip.compress(gzip.compress(REPORT_BYTES))
    response = respond(call, 200, double, headers={"Content-Encoding": "gzip"})
    assert call.parse(response) == gzip.compress(REPORT_BYTES)


def test_download_feed_document_only_gunzips_real_gzip() -> None:
    call = feeds.download_feed_document(doc("GZIP"))
    assert call.parse(respond(call, 200, REPORT_BYTES)) == REPORT_BYTES  # no magic bytes
    plain = feeds.download_feed_document(doc(None))
    gz = gzip.compress(REPORT_BYTES)
    assert plain.parse(respond(plain, 200, gz)) == gz  # not declared GZIP: untouched


def test_download_feed_document_needs_a_feed_document() -> None:
    with pytest.raises(ValueError, match="FeedDocument"):
        feeds.download_feed_document({"url": PRESIGNED})  # type: ignore[arg-type]


def test_parse_processing_report_rejects_other_formats() -> None:
    with pytest.raises(ValidationError):
        feeds.parse_processing_report(b"<xml/>")


# --- definitions -----------------------------------------------------------------------------------


def test_search_definitions_product_types() -> None:
    call = definitions.search_definitions_product_types([US], keywords=["luggage", "bag"], locale="en_US")
    assert (call.operation, call.method) == ("searchDefinitionsProductTypes", "GET")
    assert call.path == "/definitions/2020-09-01/productTypes"
    assert call.query() == [("keywords", "luggage,bag"), ("marketplaceIds", US), ("locale", "en_US")]
    assert call.success == (200,)
    body = {
        "productTypes": [{"name": "LUGGAGE", "displayName": "Luggage", "marketplaceIds": [US]}],
        "productTypeVersion": "UHqSqmb4FNUk=",
    }
    result = call.parse(respond(call, 200, body))
    assert result.product_types[0].display_name == "Luggage"
    call = definitions.search_definitions_product_types(
        [US], item_name="Running shoes", search_locale="en_US"
    )
    assert call.query() == [("marketplaceIds", US), ("itemName", "Running shoes"), ("searchLocale", "en_US")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keywords": ["a"], "item_name": "b"}, "keywords and item_name"),
        ({"keywords": []}, "keywords"),
        ({"keywords": "luggage"}, "keywords"),
        ({"item_name": ""}, "item_name"),
    ],
)
def test_search_definitions_input_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        definitions.search_definitions_product_types([US], **kwargs)
    with pytest.raises(ValueError, match="marketplace_ids"):
        definitions.search_definitions_product_types([])


DEFINITION = {
    "metaSchema": {"link": {"resource": "https://meta", "verb": "GET"}, "checksum": "c1"},
    "schema": {"link": {"resource": "https://schema", "verb": "GET"}, "checksum": "c2"},
    "requirements": "LISTING",
    "requirementsEnforced": "NOT_ENFORCED",
    "propertyGroups": {"offer": {"title": "Offer", "propertyNames": ["purchasable_offer"]}},
    "locale": "en_US",
    "marketplaceIds": [US],
    "productType": "LUGGAGE",
    "displayName": "Luggage",
    "productTypeVersion": {"version": "v1", "latest": True, "releaseCandidate": False},
}


def test_get_definitions_product_type() -> None:
    call = definitions.get_definitions_product_type(
        "LUGGAGE", US, seller_id=SELLER, requirements_enforced="NOT_ENFORCED", parentage_level="CHILD"
    )
    assert (call.operation, call.method) == ("getDefinitionsProductType", "GET")
    assert call.path == "/definitions/2020-09-01/productTypes/LUGGAGE"
    assert call.query() == [
        ("sellerId", SELLER),
        ("marketplaceIds", US),
        ("productTypeVersion", "LATEST"),
        ("requirements", "LISTING"),
        ("requirementsEnforced", "NOT_ENFORCED"),
        ("locale", "DEFAULT"),
        ("parentageLevel", "CHILD"),
    ]
    assert (call.seller_id, call.marketplace_id) == (SELLER, US)
    definition = call.parse(respond(call, 200, DEFINITION))
    assert definition.schema_.link.resource == "https://schema"
    assert definition.schema_.checksum == "c2"
    assert definition.property_groups["offer"].property_names == ["purchasable_offer"]
    assert "sellerId" not in dict(definitions.get_definitions_product_type("LUGGAGE", US).query())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requirements": "OFFER"}, "requirements"),
        ({"requirements_enforced": "MAYBE"}, "requirements_enforced"),
        ({"parentage_level": "SIBLING"}, "parentage_level"),
        ({"locale": ""}, "locale"),
        ({"product_type_version": ""}, "product_type_version"),
    ],
)
def test_get_definitions_input_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        definitions.get_definitions_product_type("LUGGAGE", US, **kwargs)
    with pytest.raises(ValueError, match="product_type"):
        definitions.get_definitions_product_type("", US)


def test_download_schema() -> None:
    call = definitions.download_schema(
        "https://selling-partner-definitions-prod.s3.amazonaws.com/schema/x.json?sig=1"
    )
    assert (call.operation, call.method) == ("downloadProductTypeSchema", "GET")
    assert call.sp_api is False
    assert call.path.startswith("https://")
    schema = {
        "$schema": "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"
    }
    assert call.parse(respond(call, 200, schema)) == schema
    with pytest.raises(ValueError, match="JSON object"):
        call.parse(respond(call, 200, [1]))
    with pytest.raises(ValueError, match="link_resource_url"):
        definitions.download_schema("/relative")


# --- against Amazon's Swagger models --------------------------------------------------------------

LISTINGS_MODEL = "models/listings-items-api-model/listingsItems_2021-08-01.json"
FEEDS_MODEL = "models/feeds-api-model/feeds_2021-06-30.json"
DEFINITIONS_MODEL = "models/product-type-definitions-api-model/definitionsProductTypes_2020-09-01.json"

# Every SP-API operation, built so that together the builds use every parameter Amazon declares
# (several builds where Amazon makes parameters mutually exclusive).
ALL_CALLS: dict[str, tuple[str, list[Callable[[], Call[Any]]]]] = {
    "getListingsItem": (
        LISTINGS_MODEL,
        [
            lambda: listings.get_listings_item(
                SELLER, SKU, [US], included_data=["issues"], issue_locale="en_US"
            )
        ],
    ),
    "putListingsItem": (
        LISTINGS_MODEL,
        [
            lambda: listings.put_listings_item(
                SELLER,
                SKU,
                US,
                PUT_BODY,
                mode="VALIDATION_PREVIEW",
                included_data=["identifiers"],
                issue_locale="x",
            )
        ],
    ),
    "patchListingsItem": (
        LISTINGS_MODEL,
        [
            lambda: listings.patch_listings_item(
                SELLER,
                SKU,
                [US],
                PATCH_BODY,
                mode="VALIDATION_PREVIEW",
                included_data=["issues"],
                issue_locale="x",
            )
        ],
    ),
    "deleteListingsItem": (
        LISTINGS_MODEL,
        [lambda: listings.delete_listings_item(SELLER, SKU, US, issue_locale="x")],
    ),
    "searchListingsItems": (
        LISTINGS_MODEL,
        [
            lambda: listings.search_listings_items(
                SELLER,
                [US],
                identifiers=["S"],
                identifiers_type="SKU",
                created_after="a",
                created_before="b",
                last_updated_after="c",
                last_updated_before="d",
                with_issue_severity=["ERROR"],
                with_status=["BUYABLE"],
                without_status=["BUYABLE"],
                sort_by="sku",
                sort_order="DESC",
                page_size=5,
                page_token="t",
                included_data=["issues"],
                issue_locale="x",
            ),
            lambda: listings.search_listings_items(SELLER, [US], variation_parent_sku="P"),
            lambda: listings.search_listings_items(SELLER, [US], package_hierarchy_sku="P"),
        ],
    ),
    "createFeedDocument": (FEEDS_MODEL, [lambda: feeds.create_feed_document()]),
    "createFeed": (FEEDS_MODEL, [lambda: feeds.create_feed("JSON_LISTINGS_FEED", [US], "d", {"k": "v"})]),
    "getFeed": (FEEDS_MODEL, [lambda: feeds.get_feed("F1")]),
    "getFeeds": (
        FEEDS_MODEL,
        [
            lambda: feeds.get_feeds(
                feed_types=["X"],
                marketplace_ids=[US],
                processing_statuses=["DONE"],
                created_since="a",
                created_until="b",
                page_size=10,
            ),
            lambda: feeds.get_feeds(next_token="n"),
        ],
    ),
    "cancelFeed": (FEEDS_MODEL, [lambda: feeds.cancel_feed("F1")]),
    "getFeedDocument": (
        FEEDS_MODEL,
        [lambda: feeds.get_feed_document("D1", enable_content_encoding_url_header=False)],
    ),
    "searchDefinitionsProductTypes": (
        DEFINITIONS_MODEL,
        [
            lambda: definitions.search_definitions_product_types(
                [US], keywords=["k"], locale="x", search_locale="y"
            ),
            lambda: definitions.search_definitions_product_types([US], item_name="n"),
        ],
    ),
    "getDefinitionsProductType": (
        DEFINITIONS_MODEL,
        [
            lambda: definitions.get_definitions_product_type(
                "LUGGAGE", US, seller_id=SELLER, parentage_level="NONE"
            )
        ],
    ),
}


@pytest.fixture
def swagger_operations(models_dir: Path) -> Callable[[str], dict[str, tuple[str, str, dict[str, Any]]]]:
    """operationId -> (METHOD, path template, operation) of one of Amazon's Swagger files.

    ``models_dir`` (tests/conftest.py) skips without Amazon's files, and fails under ``CI=true``.
    """

    def load(relative: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
        swagger = json.loads((models_dir / relative).read_text(encoding="utf-8"))
        return {
            op["operationId"]: (method.upper(), path, op)
            for path, methods in swagger["paths"].items()
            for method, op in methods.items()
            if method != "parameters"
        }

    return load


def test_every_swagger_operation_has_a_builder(
    swagger_operations: Callable[[str], dict[str, Any]],
) -> None:
    ops = {op for f in (LISTINGS_MODEL, FEEDS_MODEL, DEFINITIONS_MODEL) for op in swagger_operations(f)}
    assert ops == set(ALL_CALLS)


@pytest.mark.parametrize("operation_id", list(ALL_CALLS))
def test_call_matches_swagger(operation_id: str, swagger_operations: Callable[[str], dict[str, Any]]) -> None:
    swagger_file, builders = ALL_CALLS[operation_id]
    method, template, op = swagger_operations(swagger_file)[operation_id]
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    required = {n for n, p in declared.items() if p.get("required")}
    has_body = any(p["in"] == "body" for p in op.get("parameters", []))
    # The path is the template with each {param} replaced by one percent-encoded segment.
    path_pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
    all_sent: set[str] = set()
    for build in builders:
        call = build()
        assert call.operation == operation_id
        assert call.method == method
        assert call.sp_api is True
        assert re.match(path_pattern, call.path), (call.path, template)
        sent = dict(call.query())
        # Only query parameters Amazon declares, and all of the required ones.
        assert set(sent) <= set(declared), set(sent) - set(declared)
        if "nextToken" not in sent:  # getFeeds: the token is sent alone
            assert required <= set(sent)
        all_sent |= set(sent)
        # A body exactly when Amazon declares one.
        assert (call.json is not None) == has_body
        # Success codes are Amazon's 2xx responses.
        assert call.success == tuple(sorted(int(c) for c in op["responses"] if c.startswith("2")))
        # POSTs create things; a blind retry would duplicate them.
        assert call.idempotent is (method != "POST")
    assert all_sent == set(declared), f"no builder sends {set(declared) - all_sent}"
