"""The client from plugins/spapi against the real sandbox server over HTTP: tokens, listings CRUD and
preview, a full feed round trip, throttling, SigV4, and each fault the sandbox can inject."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from spapi import definitions, feeds, listings
from spapi.client import SpApiClient
from spapi.errors import (
    ForbiddenError,
    InvalidRequestError,
    LwaError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
)
from spapi.models.feeds import Feed, ProcessingReport
from spapi.models.listings import ListingsItemPatchRequest, ListingsItemPutRequest, PatchOperation
from spapi.ratelimit import MemoryBackend, RateLimiter
from tests.fixtures.sandbox import CA, REVOKED_TOKEN, SELLER, US, Sandbox, new_client
from tests.sandbox.conftest import luggage_attributes

pytestmark = pytest.mark.integration


def put_body(**overrides: Any) -> ListingsItemPutRequest:
    return ListingsItemPutRequest(
        product_type="LUGGAGE", requirements="LISTING", attributes=luggage_attributes(**overrides)
    )


# ---- tokens -------------------------------------------------------------------------------------


def test_token_is_minted_once_and_reused(sandbox: Sandbox, client: SpApiClient) -> None:
    for sku in ("T-1", "T-2", "T-3"):
        with pytest.raises(NotFoundError):
            client.call(listings.get_listings_item(SELLER, sku, [US]))
    assert client.tokens is not None and client.tokens.requests_made == 1


def test_revoked_refresh_token_is_an_lwa_error(sandbox: Sandbox) -> None:
    with (
        new_client(sandbox, refresh_token=REVOKED_TOKEN, seller_id="A4SANDBOXREVOKED") as client,
        pytest.raises(LwaError) as info,
    ):
        client.call(listings.get_listings_item("A4SANDBOXREVOKED", "X", [US]))
    assert info.value.error == "invalid_grant"
    assert REVOKED_TOKEN not in str(info.value)


def test_a_token_that_dies_early_is_refreshed_once(sandbox: Sandbox, client: SpApiClient) -> None:
    client.call(listings.put_listings_item(SELLER, "EXP-1", US, put_body()))
    sandbox.admin("POST", "/tokens/expire")  # every issued token is now dead, though expires_in said 3600
    item = client.call(listings.get_listings_item(SELLER, "EXP-1", [US]))
    assert item.sku == "EXP-1"
    assert client.tokens is not None and client.tokens.requests_made == 2


def test_token_expiry_fault(sandbox: Sandbox, client: SpApiClient) -> None:
    sandbox.faults({"kind": "token_expiry", "seconds": 0.2})
    client.call(listings.put_listings_item(SELLER, "EXP-2", US, put_body()))
    time.sleep(0.3)  # the token's 0.2 s life runs out: time passing is the fault itself
    assert client.call(listings.get_listings_item(SELLER, "EXP-2", [US])).sku == "EXP-2"
    assert client.tokens is not None and client.tokens.requests_made == 2  # it did die, and was renewed


# ---- listings ------------------------------------------------------------------------------------


def test_listings_crud_and_preview(client: SpApiClient) -> None:
    sku = "CRUD/1 A"  # reserved characters in the path
    preview = client.call(listings.put_listings_item(SELLER, sku, US, put_body(), mode="VALIDATION_PREVIEW"))
    assert preview.status == "VALID" and not preview.accepted
    with pytest.raises(NotFoundError):
        client.call(listings.get_listings_item(SELLER, sku, [US]))  # a preview stores nothing

    put = client.call(listings.put_listings_item(SELLER, sku, US, put_body()))
    assert put.accepted and put.sku == sku
    item = client.call(
        listings.get_listings_item(SELLER, sku, [US], included_data=["summaries", "attributes", "issues"])
    )
    assert item.sku == sku and item.attributes["brand"][0]["value"] == "Acme"

    patch = ListingsItemPatchRequest(
        product_type="LUGGAGE",
        patches=[
            PatchOperation(
                op="replace",
                path="/attributes/fulfillment_availability",
                value=[{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
            )
        ],
    )
    assert client.call(listings.patch_listings_item(SELLER, sku, [US], patch)).accepted
    item = client.call(
        listings.get_listings_item(SELLER, sku, [US], included_data=["fulfillmentAvailability"])
    )
    assert item.fulfillment_availability is not None
    assert item.fulfillment_availability[0].quantity == 3

    assert client.call(listings.delete_listings_item(SELLER, sku, US)).accepted
    with pytest.raises(NotFoundError):
        client.call(listings.get_listings_item(SELLER, sku, [US]))


def test_invalid_listing_is_a_200_result_with_issues(client: SpApiClient) -> None:
    body = ListingsItemPutRequest(
        product_type="LUGGAGE",
        requirements="LISTING",
        attributes={k: v for k, v in luggage_attributes().items() if k != "brand"},
    )
    result = client.call(listings.put_listings_item(SELLER, "BAD-1", US, body))
    assert result.status == "INVALID" and not result.accepted
    assert any("brand" in (issue.attribute_names or []) for issue in result.errors)
    preview = client.call(listings.put_listings_item(SELLER, "BAD-1", US, body, mode="VALIDATION_PREVIEW"))
    assert preview.is_invalid


def test_bad_request_maps_to_invalid_request_error(client: SpApiClient) -> None:
    call = listings.put_listings_item(SELLER, "TWO-MP", US, put_body())
    two_marketplaces = call.__class__(
        **{**call.__dict__, "params": {**call.params, "marketplaceIds": [US, CA]}}
    )
    with pytest.raises(InvalidRequestError) as info:
        client.call(two_marketplaces)
    assert info.value.status == 400 and info.value.errors and info.value.request_id


# ---- feeds ---------------------------------------------------------------------------------------


def submit_feed(client: SpApiClient, messages: list[dict[str, Any]]) -> str:
    document = orjson.dumps(
        {"header": {"sellerId": SELLER, "version": "2.0", "issueLocale": "en_US"}, "messages": messages}
    )
    created_doc = client.call(feeds.create_feed_document("application/json"))
    client.call(feeds.upload_feed_document(created_doc.url, document, "application/json"))
    return client.call(feeds.create_feed("JSON_LISTINGS_FEED", [US], created_doc.feed_document_id)).feed_id


def wait_for(client: SpApiClient, feed_id: str, timeout: float = 20) -> Feed:
    deadline = time.monotonic() + timeout
    while True:
        feed = client.call(feeds.get_feed(feed_id))
        if feed.is_terminal or time.monotonic() > deadline:
            return feed
        time.sleep(0.05)


def report_for(client: SpApiClient, feed: Feed) -> ProcessingReport:
    assert feed.result_feed_document_id
    document = client.call(feeds.get_feed_document(feed.result_feed_document_id))
    assert document.compression_algorithm == "GZIP"
    return feeds.parse_processing_report(client.call(feeds.download_feed_document(document)))


def test_full_feed_round_trip(client: SpApiClient) -> None:
    good = {
        "messageId": 1,
        "sku": "FEED-1",
        "operationType": "UPDATE",
        "productType": "LUGGAGE",
        "attributes": luggage_attributes(),
    }
    bad = {
        "messageId": 2,
        "sku": "FEED-2",
        "operationType": "UPDATE",
        "productType": "LUGGAGE",
        "attributes": {k: v for k, v in luggage_attributes().items() if k != "item_name"},
    }
    feed = wait_for(client, submit_feed(client, [good, bad]))
    assert feed.processing_status == "DONE"
    report = report_for(client, feed)
    assert report.summary.messages_processed == 2
    assert report.summary.messages_accepted == 1 and report.summary.messages_invalid == 1
    assert {i.message_id for i in report.errors} == {2}
    assert client.call(listings.get_listings_item(SELLER, "FEED-1", [US])).sku == "FEED-1"
    pages = list(
        client.paginate(feeds.get_feeds(feed_types=["JSON_LISTINGS_FEED"], page_size=1), feeds.next_page)
    )
    assert [f.feed_id for p in pages for f in p.feeds] == [feed.feed_id]


def test_malformed_document_ends_fatal(client: SpApiClient) -> None:
    doc = client.call(feeds.create_feed_document("application/json"))
    client.call(feeds.upload_feed_document(doc.url, b"{not json", "application/json"))
    feed_id = client.call(feeds.create_feed("JSON_LISTINGS_FEED", [US], doc.feed_document_id)).feed_id
    assert wait_for(client, feed_id).processing_status == "FATAL"


@pytest.mark.parametrize(("kind", "status"), [("feed_fatal", "FATAL"), ("feed_cancelled", "CANCELLED")])
def test_injected_feed_outcomes(sandbox: Sandbox, client: SpApiClient, kind: str, status: str) -> None:
    sandbox.faults({"kind": kind, "count": 1})
    message = {"messageId": 1, "sku": "F-1", "operationType": "DELETE"}
    assert wait_for(client, submit_feed(client, [message])).processing_status == status


def test_stuck_feed_can_be_cancelled_only_while_queued(sandbox: Sandbox, client: SpApiClient) -> None:
    sandbox.faults({"kind": "feed_stuck", "count": 1})
    feed_id = submit_feed(client, [{"messageId": 1, "sku": "S-1", "operationType": "DELETE"}])
    feed = wait_for(client, feed_id, timeout=1.0)
    assert feed.processing_status in ("IN_QUEUE", "IN_PROGRESS")


def test_report_naming_unknown_message_ids(sandbox: Sandbox, client: SpApiClient) -> None:
    sandbox.faults({"kind": "report_unknown_message_ids", "count": 1})
    message = {
        "messageId": 1,
        "sku": "U-1",
        "operationType": "UPDATE",
        "productType": "LUGGAGE",
        "attributes": luggage_attributes(),
    }
    report = report_for(client, wait_for(client, submit_feed(client, [message])))
    assert any(issue.message_id not in (None, 1) for issue in report.issues)


# ---- product type definitions --------------------------------------------------------------------


def test_product_type_definition_and_schema_download(client: SpApiClient) -> None:
    found = client.call(definitions.search_definitions_product_types([US], keywords=["luggage"]))
    assert "LUGGAGE" in [p.name for p in found.product_types]
    definition = client.call(definitions.get_definitions_product_type("LUGGAGE", US, seller_id=SELLER))
    schema = client.call(definitions.download_schema(definition.schema_.link.resource))
    assert "item_name" in schema["properties"]


# ---- throttling and faults -------------------------------------------------------------------------


def test_our_limiter_keeps_a_burst_free_of_429s(sandbox: Sandbox, client: SpApiClient) -> None:
    for n in range(40):
        with pytest.raises(NotFoundError):
            client.call(listings.get_listings_item(SELLER, f"RL-{n}", [US]))
    assert sandbox.calls()["throttled"] == 0


def test_without_our_limiter_429s_are_retried_to_success(sandbox: Sandbox) -> None:
    # a naive client (no buckets at all, so it cannot learn the rate either): the sandbox throttles it
    no_buckets = RateLimiter(MemoryBackend(), limits={}, feed_type_limits={})
    with new_client(sandbox, limiter=no_buckets, max_attempts=10) as client:
        for n in range(40):
            with pytest.raises(NotFoundError):
                client.call(listings.get_listings_item(SELLER, f"NL-{n}", [US]))
    assert sandbox.calls()["throttled"] > 0


def test_a_429_storm_ends_in_throttled_error(sandbox: Sandbox) -> None:
    sandbox.faults({"kind": "throttle", "operation": "getListingsItem"})
    with new_client(sandbox, max_attempts=3) as client, pytest.raises(ThrottledError) as info:
        client.call(listings.get_listings_item(SELLER, "STORM", [US]))
    assert info.value.code == "QuotaExceeded"
    assert sandbox.calls()["byOperation"]["getListingsItem"]["throttled"] == 3


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"kind": "throttle", "operation": "getListingsItem", "count": 2}, None),
        ({"kind": "error", "status": 503, "operation": "getListingsItem", "count": 2}, None),
        ({"kind": "error", "status": 500, "operation": "getListingsItem", "count": 2}, None),
        ({"kind": "drop", "operation": "getListingsItem", "count": 1}, None),
        ({"kind": "error", "status": 503, "operation": "getListingsItem"}, ServerError),
        ({"kind": "drop", "operation": "getListingsItem"}, TransportError),
    ],
    ids=["429-then-ok", "503-then-ok", "500-then-ok", "drop-then-ok", "503-forever", "drop-forever"],
)
def test_injected_call_faults(
    sandbox: Sandbox, rule: dict[str, Any], expected: type[Exception] | None
) -> None:
    with new_client(sandbox, max_attempts=3) as client:
        client.call(listings.put_listings_item(SELLER, "FAULT-1", US, put_body()))
        sandbox.faults(rule)
        if expected is None:
            assert client.call(listings.get_listings_item(SELLER, "FAULT-1", [US])).sku == "FAULT-1"
        else:
            with pytest.raises(expected):
                client.call(listings.get_listings_item(SELLER, "FAULT-1", [US]))


def test_added_latency_beyond_the_read_timeout_is_a_transport_error(sandbox: Sandbox) -> None:
    sandbox.faults({"kind": "latency", "seconds": 1.0, "operation": "getListingsItem"})
    with new_client(sandbox, read_timeout=0.3, max_attempts=2) as client, pytest.raises(TransportError):
        client.call(listings.get_listings_item(SELLER, "SLOW", [US]))


def test_create_feed_503_is_retried_but_never_duplicated(sandbox: Sandbox, client: SpApiClient) -> None:
    sandbox.faults({"kind": "error", "status": 503, "operation": "createFeed", "count": 1})
    submit_feed(client, [{"messageId": 1, "sku": "D-1", "operationType": "DELETE"}])
    state = sandbox.admin("GET", "/state")
    assert len(state["feeds"]) == 1


# ---- SigV4 --------------------------------------------------------------------------------------


def test_sigv4_signed_requests_are_accepted_and_bad_keys_rejected(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(sigv4=True, aws_keys={"AKIASANDBOXKEY000001": "sandbox/secret/key"})
    with new_client(
        sandbox,
        sigv4_enabled=True,
        aws_access_key_id="AKIASANDBOXKEY000001",
        aws_secret_access_key="sandbox/secret/key",
    ) as good:
        assert good.call(listings.put_listings_item(SELLER, "SIG-1", US, put_body())).accepted
    with (
        new_client(
            sandbox,
            sigv4_enabled=True,
            aws_access_key_id="AKIASANDBOXKEY000001",
            aws_secret_access_key="wrong",
        ) as bad,
        pytest.raises(ForbiddenError),
    ):
        bad.call(listings.get_listings_item(SELLER, "SIG-1", [US]))
    with new_client(sandbox) as unsigned, pytest.raises(ForbiddenError):
        unsigned.call(listings.get_listings_item(SELLER, "SIG-1", [US]))
