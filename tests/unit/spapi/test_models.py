"""The pydantic models against Amazon's own models, schemas and examples.

Amazon's files live in ``include/spapi-models`` (override with ``SPAPI_MODELS_DIR``; see the
``models_dir`` fixture in tests/conftest.py). Without them the tests that need them are skipped
locally and fail on CI (``CI=true``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from pydantic import BaseModel, ValidationError

from spapi.models import (
    CreateFeedDocumentResponse,
    CreateFeedDocumentSpecification,
    CreateFeedResponse,
    CreateFeedSpecification,
    ErrorList,
    Feed,
    FeedDocument,
    GetFeedsResponse,
    Issue,
    Item,
    ItemSearchResults,
    ListingsFeed,
    ListingsFeedHeader,
    ListingsFeedMessage,
    ListingsItemPatchRequest,
    ListingsItemPutRequest,
    ListingsItemSubmissionResponse,
    PatchOperation,
    ProcessingReport,
    ProductTypeDefinition,
    ProductTypeList,
    to_wire,
)
from spapi.models import definitions as defs_models
from spapi.models import listings as listings_models

LISTINGS = "models/listings-items-api-model/listingsItems_2021-08-01.json"
FEEDS = "models/feeds-api-model/feeds_2021-06-30.json"
DEFINITIONS = "models/product-type-definitions-api-model/definitionsProductTypes_2020-09-01.json"
FEED_SCHEMA = "schemas/feeds/listings-feed-schema-v2.json"
FEED_EXAMPLE = "schemas/feeds/listings-feed-schema-v2.example.json"
MESSAGE_SCHEMA = "schemas/feeds/listings-feed-message-schema-v2.json"
REPORT_SCHEMA = "schemas/feeds/listings-feed-processing-report-schema-v2.json"
REPORT_EXAMPLE = "schemas/feeds/listings-feed-processing-report-schema-v2.example.json"

# operationId -> model of its 2xx body (None: no body).
RESPONSE_MODELS: dict[str, dict[str, type[BaseModel] | None]] = {
    LISTINGS: {
        "getListingsItem": Item,
        "putListingsItem": ListingsItemSubmissionResponse,
        "patchListingsItem": ListingsItemSubmissionResponse,
        "deleteListingsItem": ListingsItemSubmissionResponse,
        "searchListingsItems": ItemSearchResults,
    },
    FEEDS: {
        "createFeedDocument": CreateFeedDocumentResponse,
        "createFeed": CreateFeedResponse,
        "getFeed": Feed,
        "getFeeds": GetFeedsResponse,
        "cancelFeed": None,
        "getFeedDocument": FeedDocument,
    },
    DEFINITIONS: {
        "searchDefinitionsProductTypes": ProductTypeList,
        "getDefinitionsProductType": ProductTypeDefinition,
    },
}

# Our model -> (Swagger file, definition name): field names and required-ness must match.
DEFINITION_MODELS: list[tuple[type[BaseModel], str, str]] = [
    (Issue, LISTINGS, "Issue"),
    (listings_models.IssueEnforcements, LISTINGS, "IssueEnforcements"),
    (listings_models.IssueEnforcementAction, LISTINGS, "IssueEnforcementAction"),
    (listings_models.IssueExemption, LISTINGS, "IssueExemption"),
    (Item, LISTINGS, "Item"),
    (listings_models.ItemSummaryByMarketplace, LISTINGS, "ItemSummaryByMarketplace"),
    (listings_models.ItemImage, LISTINGS, "ItemImage"),
    (listings_models.ItemOfferByMarketplace, LISTINGS, "ItemOfferByMarketplace"),
    (listings_models.ItemProcurement, LISTINGS, "ItemProcurement"),
    (listings_models.ItemRelationshipsByMarketplace, LISTINGS, "ItemRelationshipsByMarketplace"),
    (listings_models.ItemRelationship, LISTINGS, "ItemRelationship"),
    (listings_models.ItemVariationTheme, LISTINGS, "ItemVariationTheme"),
    (listings_models.ItemProductTypeByMarketplace, LISTINGS, "ItemProductTypeByMarketplace"),
    (listings_models.FulfillmentAvailability, LISTINGS, "FulfillmentAvailability"),
    (listings_models.Money, LISTINGS, "Money"),
    (listings_models.Points, LISTINGS, "Points"),
    (listings_models.Audience, LISTINGS, "Audience"),
    (listings_models.Pagination, LISTINGS, "Pagination"),
    (ItemSearchResults, LISTINGS, "ItemSearchResults"),
    (PatchOperation, LISTINGS, "PatchOperation"),
    (ListingsItemPatchRequest, LISTINGS, "ListingsItemPatchRequest"),
    (ListingsItemPutRequest, LISTINGS, "ListingsItemPutRequest"),
    (ListingsItemSubmissionResponse, LISTINGS, "ListingsItemSubmissionResponse"),
    (listings_models.ItemIdentifiersByMarketplace, LISTINGS, "ItemIdentifiersByMarketplace"),
    (ErrorList, LISTINGS, "ErrorList"),
    (CreateFeedDocumentSpecification, FEEDS, "CreateFeedDocumentSpecification"),
    (CreateFeedDocumentResponse, FEEDS, "CreateFeedDocumentResponse"),
    (CreateFeedSpecification, FEEDS, "CreateFeedSpecification"),
    (CreateFeedResponse, FEEDS, "CreateFeedResponse"),
    (Feed, FEEDS, "Feed"),
    (GetFeedsResponse, FEEDS, "GetFeedsResponse"),
    (FeedDocument, FEEDS, "FeedDocument"),
    (ProductTypeList, DEFINITIONS, "ProductTypeList"),
    (defs_models.ProductType, DEFINITIONS, "ProductType"),
    (ProductTypeDefinition, DEFINITIONS, "ProductTypeDefinition"),
    (defs_models.SchemaLink, DEFINITIONS, "SchemaLink"),
    (defs_models.PropertyGroup, DEFINITIONS, "PropertyGroup"),
    (defs_models.ProductTypeVersion, DEFINITIONS, "ProductTypeVersion"),
]


Loader = Callable[[str], Any]


@cache
def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def amazon(models_dir: Path) -> Loader:
    """Load one of Amazon's JSON files (a fresh copy; tests may mutate it).

    ``models_dir`` (tests/conftest.py) is ``include/spapi-models`` or ``SPAPI_MODELS_DIR``; it
    skips when the folder is missing, and fails instead under ``CI=true``.
    """

    def load(relative: str) -> Any:
        return copy.deepcopy(_read(models_dir / relative))

    return load


def operations(swagger: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op
        for methods in swagger["paths"].values()
        for method, op in methods.items()
        if method != "parameters"
    }


def sandbox_examples(op: dict[str, Any]) -> list[tuple[int, dict[str, Any] | None]]:
    out = []
    for code, response in op["responses"].items():
        for example in response.get("x-amzn-api-sandbox", {}).get("static", []):
            out.append((int(code), example.get("response")))
    return out


def fields_by_alias(model: type[BaseModel]) -> dict[str, Any]:
    return {(f.alias or name): f for name, f in model.model_fields.items()}


# --- against the Swagger models -------------------------------------------------------------------


@pytest.mark.parametrize("swagger_file", list(RESPONSE_MODELS))
def test_every_operation_has_a_response_model(swagger_file: str, amazon: Loader) -> None:
    assert set(operations(amazon(swagger_file))) == set(RESPONSE_MODELS[swagger_file])


@pytest.mark.parametrize(
    ("swagger_file", "operation_id"),
    [(f, op) for f, ops in RESPONSE_MODELS.items() for op in ops],
)
def test_sandbox_responses_parse_and_round_trip(swagger_file: str, operation_id: str, amazon: Loader) -> None:
    op = operations(amazon(swagger_file))[operation_id]
    examples = sandbox_examples(op)
    assert examples, f"{operation_id} has no sandbox examples"
    for status, body in examples:
        if 200 <= status < 300:
            model = RESPONSE_MODELS[swagger_file][operation_id]
            if model is None:
                assert body is None, f"{operation_id} {status} should have no body"
                continue
        else:
            model = ErrorList
        assert body is not None
        parsed = model.model_validate(body)
        # Nothing lost or renamed: the dump is Amazon's JSON again.
        assert to_wire(parsed) == body, f"{operation_id} {status}"


@pytest.mark.parametrize(
    ("model", "swagger_file", "definition"),
    DEFINITION_MODELS,
    ids=[d for _, _, d in DEFINITION_MODELS],
)
def test_model_fields_match_swagger_definition(
    model: type[BaseModel], swagger_file: str, definition: str, amazon: Loader
) -> None:
    spec = amazon(swagger_file)["definitions"][definition]
    fields = fields_by_alias(model)
    assert set(fields) == set(spec["properties"]), definition
    for name, field in fields.items():
        assert field.is_required() == (name in spec.get("required", [])), f"{definition}.{name}"


def test_patch_operation_op_enum_matches_model(amazon: Loader) -> None:
    spec = amazon(LISTINGS)["definitions"]["PatchOperation"]["properties"]["op"]
    for op in spec["enum"]:
        value = None if op == "delete" else [{"value": 1}]
        PatchOperation(op=op, path="/attributes/x", value=value)
    with pytest.raises(ValidationError):
        PatchOperation(op="remove", path="/attributes/x", value=[{}])  # type: ignore[arg-type]


# --- JSON_LISTINGS_FEED document ------------------------------------------------------------------


def test_feed_example_parses_and_round_trips_against_schema(amazon: Loader) -> None:
    example = amazon(FEED_EXAMPLE)
    feed = ListingsFeed.model_validate(example)
    assert [m.operation_type for m in feed.messages] == [
        "DELETE",
        "PARTIAL_UPDATE",
        "UPDATE",
        "PATCH",
        "PATCH",
    ]
    dumped = to_wire(feed)
    assert dumped == example
    validator = Draft7Validator(amazon(FEED_SCHEMA))
    assert list(validator.iter_errors(dumped)) == []
    assert json.loads(feed.to_json_bytes()) == example


def test_feed_model_fields_match_schema(amazon: Loader) -> None:
    schema = amazon(FEED_SCHEMA)
    header = schema["properties"]["header"]
    assert set(fields_by_alias(ListingsFeedHeader)) == set(header["properties"])
    message = schema["properties"]["messages"]["items"]
    assert set(fields_by_alias(ListingsFeedMessage)) == set(message["properties"])
    assert {n for n, f in fields_by_alias(ListingsFeedMessage).items() if f.is_required()} == set(
        message["required"]
    )


def test_processing_report_example_parses_and_round_trips(amazon: Loader) -> None:
    example = amazon(REPORT_EXAMPLE)
    report = ProcessingReport.model_validate(example)
    assert report.header.feed_id == "1234567890"
    assert report.summary.messages_invalid == 2
    assert report.issues[2].attribute_name == "purchasable_offer.our_price"  # singular here
    assert set(report.issues_by_message_id()) == {4, 5}
    assert report.feed_level_issues == []
    assert len(report.errors) == 3
    assert report.items is not None
    assert report.items[0].issues is not None
    assert report.items[0].issues[0].attribute_names == [  # plural in the API's Issue
        "item_diameter",
        "item_dimensions",
        "item_weight",
        "theme",
    ]
    dumped = to_wire(report)
    assert dumped == example
    assert list(Draft7Validator(amazon(REPORT_SCHEMA)).iter_errors(dumped)) == []


def test_processing_report_feed_level_issue_without_message_id() -> None:
    report = ProcessingReport.model_validate(
        {
            "header": {"sellerId": "A1", "version": "2.0", "feedId": "42"},
            "issues": [{"severity": "ERROR", "message": "The feed is not valid JSON."}],
            "summary": {
                "errors": 1,
                "warnings": 0,
                "messagesProcessed": 0,
                "messagesAccepted": 0,
                "messagesInvalid": 0,
            },
        }
    )
    assert [i.message for i in report.feed_level_issues] == ["The feed is not valid JSON."]
    assert report.issues_by_message_id() == {}


def test_processing_report_requires_issues(amazon: Loader) -> None:
    example = amazon(REPORT_EXAMPLE)
    del example["issues"]
    with pytest.raises(ValidationError, match="issues"):
        ProcessingReport.model_validate(example)


# operationType -> a valid message body (besides messageId/sku/operationType).
VALID_BODIES: dict[str, dict[str, Any]] = {
    "UPDATE": {
        "productType": "LUGGAGE",
        "requirements": "LISTING",
        "attributes": {"item_name": [{"value": "x"}]},
    },
    "PARTIAL_UPDATE": {"productType": "LUGGAGE", "attributes": {"item_name": [{"value": "x"}]}},
    "PATCH": {
        "productType": "LUGGAGE",
        "patches": [{"op": "replace", "path": "/attributes/item_name", "value": [{"value": "x"}]}],
    },
    "DELETE": {},
}
EXTRA_VALUES: dict[str, Any] = {
    "productType": "LUGGAGE",
    "requirements": "LISTING",
    "attributes": {"item_name": [{"value": "x"}]},
    "patches": [{"op": "delete", "path": "/attributes/item_name"}],
}
FORBIDDEN = [
    ("UPDATE", "patches"),
    ("PARTIAL_UPDATE", "requirements"),
    ("PARTIAL_UPDATE", "patches"),
    ("PATCH", "requirements"),
    ("PATCH", "attributes"),
    ("DELETE", "productType"),
    ("DELETE", "requirements"),
    ("DELETE", "attributes"),
    ("DELETE", "patches"),
]
REQUIRED = [
    ("UPDATE", "productType"),
    ("UPDATE", "attributes"),
    ("PARTIAL_UPDATE", "productType"),
    ("PARTIAL_UPDATE", "attributes"),
    ("PATCH", "productType"),
    ("PATCH", "patches"),
]


def message(operation_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "messageId": 1,
        "sku": "SKU-1",
        "operationType": operation_type,
        **VALID_BODIES[operation_type],
        **extra,
    }


@pytest.mark.parametrize("operation_type", list(VALID_BODIES))
def test_valid_message_per_operation_type(operation_type: str) -> None:
    parsed = ListingsFeedMessage.model_validate(message(operation_type))
    assert to_wire(parsed) == message(operation_type)


@pytest.mark.parametrize(("operation_type", "field"), FORBIDDEN)
def test_message_rejects_forbidden_field(operation_type: str, field: str) -> None:
    bad = message(operation_type, **{field: EXTRA_VALUES[field]})
    with pytest.raises(ValidationError, match=f"must not carry '{field}'"):
        ListingsFeedMessage.model_validate(bad)


@pytest.mark.parametrize(("operation_type", "field"), REQUIRED)
def test_message_requires_field(operation_type: str, field: str) -> None:
    bad = message(operation_type)
    del bad[field]
    with pytest.raises(ValidationError, match=f"requires '{field}'"):
        ListingsFeedMessage.model_validate(bad)


@pytest.mark.parametrize(("operation_type", "field"), FORBIDDEN)
def test_forbidden_table_agrees_with_amazon_schema(operation_type: str, field: str, amazon: Loader) -> None:
    validator = Draft7Validator(amazon(MESSAGE_SCHEMA))
    assert validator.is_valid(message(operation_type))
    assert not validator.is_valid(message(operation_type, **{field: EXTRA_VALUES[field]}))


@pytest.mark.parametrize(("operation_type", "field"), REQUIRED)
def test_required_table_agrees_with_amazon_schema(operation_type: str, field: str, amazon: Loader) -> None:
    bad = message(operation_type)
    del bad[field]
    assert not Draft7Validator(amazon(MESSAGE_SCHEMA)).is_valid(bad)


@pytest.mark.parametrize("message_id", [1, 2_147_483_647])
def test_message_id_bounds_accepted(message_id: int) -> None:
    assert (
        ListingsFeedMessage.model_validate(message("DELETE", messageId=message_id)).message_id == message_id
    )


@pytest.mark.parametrize("message_id", [0, -1, 2_147_483_648])
def test_message_id_out_of_bounds(message_id: int) -> None:
    with pytest.raises(ValidationError, match="messageId"):
        ListingsFeedMessage.model_validate(message("DELETE", messageId=message_id))


def test_message_sku_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="sku"):
        ListingsFeedMessage.model_validate(message("DELETE", sku=""))


def test_message_rejects_unknown_operation_and_extra_fields() -> None:
    with pytest.raises(ValidationError, match="operationType"):
        ListingsFeedMessage.model_validate(message("DELETE", operationType="REMOVE"))
    with pytest.raises(ValidationError, match="marketplaceId"):
        ListingsFeedMessage.model_validate(message("DELETE", marketplaceId="ATVPDKIKX0DER"))


def test_message_patches_only_top_level_attributes() -> None:
    bad = message("PATCH")
    bad["patches"][0]["path"] = "/attributes/item_name/0/value"
    with pytest.raises(ValidationError, match="path"):
        ListingsFeedMessage.model_validate(bad)


HEADER = {"sellerId": "A1SELLER", "version": "2.0"}


def test_feed_message_ids_must_be_unique() -> None:
    messages = [message("DELETE", messageId=1, sku="A"), message("DELETE", messageId=1, sku="B")]
    with pytest.raises(ValidationError, match=r"unique.*\[1\]"):
        ListingsFeed.model_validate({"header": HEADER, "messages": messages})


def test_feed_message_count_bounds() -> None:
    with pytest.raises(ValidationError, match="messages"):
        ListingsFeed.model_validate({"header": HEADER, "messages": []})
    many = [message("DELETE", messageId=i, sku=f"S{i}") for i in range(1, 25_002)]
    with pytest.raises(ValidationError, match="25000"):
        ListingsFeed.model_validate({"header": HEADER, "messages": many})
    ListingsFeed.model_validate({"header": HEADER, "messages": many[:25_000]})


def test_feed_header_version_and_report() -> None:
    header = ListingsFeedHeader(seller_id="A1SELLER")
    assert to_wire(header) == {"sellerId": "A1SELLER", "version": "2.0"}
    with pytest.raises(ValidationError, match="version"):
        ListingsFeedHeader.model_validate({"sellerId": "A1", "version": "1.0"})
    with pytest.raises(ValidationError, match="includedData"):
        ListingsFeedHeader.model_validate(
            {"sellerId": "A1", "version": "2.0", "report": {"includedData": []}}
        )
    header = ListingsFeedHeader.model_validate(
        {"sellerId": "A1", "version": "2.0", "report": {"includedData": ["issues"]}}
    )
    assert to_wire(header)["report"] == {"includedData": ["issues"], "apiVersion": "2021-08-01"}


# --- Listings API models ----------------------------------------------------------------------------

INVALID_SUBMISSION = {
    "sku": "VALIDATION_INVALID",
    "status": "INVALID",
    "submissionId": "a1c562c2-1695-11ee-be56-0242ac120002",
    "identifiers": [],
    "issues": [
        {
            "code": "90220",
            "message": "'condition_type' is required but not supplied.",
            "severity": "ERROR",
            "attributeNames": ["condition_type"],
            "categories": ["MISSING_ATTRIBUTE"],
        },
        {"code": "1", "message": "a warning", "severity": "WARNING", "categories": []},
    ],
}


def test_invalid_submission_is_not_accepted_and_exposes_errors() -> None:
    result = ListingsItemSubmissionResponse.model_validate(INVALID_SUBMISSION)
    assert not result.accepted
    assert result.is_invalid
    assert not result.is_valid
    assert [e.code for e in result.errors] == ["90220"]
    assert result.errors[0].attribute_names == ["condition_type"]
    assert [w.code for w in result.warnings] == ["1"]


@pytest.mark.parametrize(
    ("status", "accepted", "valid", "invalid"),
    [("ACCEPTED", True, False, False), ("VALID", False, True, False), ("SOMETHING_NEW", False, False, False)],
)
def test_submission_status_flags(status: str, accepted: bool, valid: bool, invalid: bool) -> None:
    result = ListingsItemSubmissionResponse.model_validate(
        {"sku": "S", "status": status, "submissionId": "x"}
    )
    assert (result.accepted, result.is_valid, result.is_invalid) == (accepted, valid, invalid)
    assert result.errors == []


def test_issue_requires_categories_and_tolerates_new_severity() -> None:
    with pytest.raises(ValidationError, match="categories"):
        Issue.model_validate({"code": "1", "message": "m", "severity": "ERROR"})
    issue = Issue.model_validate({"code": "1", "message": "m", "severity": "CRITICAL", "categories": []})
    assert issue.severity == "CRITICAL"
    assert not issue.is_error


def test_responses_keep_unknown_fields_requests_forbid_them() -> None:
    item = Item.model_validate({"sku": "S", "brandNewField": {"a": 1}})
    assert to_wire(item) == {"sku": "S", "brandNewField": {"a": 1}}
    with pytest.raises(ValidationError, match="marketplaceIds"):
        ListingsItemPutRequest.model_validate({"productType": "X", "attributes": {}, "marketplaceIds": ["A"]})


def test_put_request_dumps_amazon_json() -> None:
    body = ListingsItemPutRequest(
        product_type="LUGGAGE",
        requirements="LISTING",
        attributes={
            "item_name": [{"value": "T", "language_tag": "en_US", "marketplace_id": "ATVPDKIKX0DER"}]
        },
    )
    assert to_wire(body) == {
        "productType": "LUGGAGE",
        "requirements": "LISTING",
        "attributes": {
            "item_name": [{"value": "T", "language_tag": "en_US", "marketplace_id": "ATVPDKIKX0DER"}]
        },
    }
    with pytest.raises(ValidationError, match="requirements"):
        ListingsItemPutRequest.model_validate({"productType": "X", "attributes": {}, "requirements": "OFFER"})
    with pytest.raises(ValidationError, match="attributes"):
        ListingsItemPutRequest.model_validate(
            {"productType": "X", "attributes": {"item_name": {"value": "x"}}}
        )


@pytest.mark.parametrize(
    "path",
    ["/attributes/item_name/0", "/item_name", "attributes/item_name", "/attributes/", "/attributes"],
)
def test_patch_path_must_be_top_level_attribute(path: str) -> None:
    with pytest.raises(ValidationError, match="path"):
        PatchOperation(op="replace", path=path, value=[{"value": 1}])


def test_patch_value_rules() -> None:
    assert to_wire(PatchOperation(op="delete", path="/attributes/item_name")) == {
        "op": "delete",
        "path": "/attributes/item_name",
    }
    for op in ("add", "replace", "merge"):
        with pytest.raises(ValidationError, match="value"):
            PatchOperation(op=op, path="/attributes/item_name")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="value"):
        PatchOperation(op="replace", path="/attributes/x", value={"value": 1})  # type: ignore[arg-type]
    assert PatchOperation(op="merge", path="/attributes/item_name", value=[{}]).attribute == "item_name"


def test_patch_request_needs_product_type_and_a_patch() -> None:
    with pytest.raises(ValidationError, match="patches"):
        ListingsItemPatchRequest(product_type="LUGGAGE", patches=[])
    with pytest.raises(ValidationError, match="productType"):
        ListingsItemPatchRequest.model_validate({"patches": [{"op": "delete", "path": "/attributes/x"}]})


# --- Feeds / definitions models -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("IN_QUEUE", False),
        ("IN_PROGRESS", False),
        ("DONE", True),
        ("CANCELLED", True),
        ("FATAL", True),
        ("NEW", False),
    ],
)
def test_feed_is_terminal(status: str, terminal: bool) -> None:
    feed = Feed.model_validate(
        {
            "feedId": "1",
            "feedType": "JSON_LISTINGS_FEED",
            "createdTime": "2024-03-11T13:16:24.630Z",
            "processingStatus": status,
        }
    )
    assert feed.is_terminal is terminal
    assert to_wire(feed)["createdTime"] == "2024-03-11T13:16:24.630Z"


def test_create_feed_specification_bounds() -> None:
    ok = CreateFeedSpecification(
        feed_type="JSON_LISTINGS_FEED", marketplace_ids=["A"], input_feed_document_id="d"
    )
    assert to_wire(ok) == {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": ["A"],
        "inputFeedDocumentId": "d",
    }
    for ids in ([], [f"M{i}" for i in range(26)]):
        with pytest.raises(ValidationError, match="marketplaceIds"):
            CreateFeedSpecification.model_validate(
                {"feedType": "X", "marketplaceIds": ids, "inputFeedDocumentId": "d"}
            )
    with pytest.raises(ValidationError, match="feedOptions"):
        CreateFeedSpecification.model_validate(
            {"feedType": "X", "marketplaceIds": ["A"], "inputFeedDocumentId": "d", "feedOptions": {"a": 1}}
        )


def test_feed_document_compression_is_optional() -> None:
    assert (
        FeedDocument.model_validate({"feedDocumentId": "d", "url": "https://x"}).compression_algorithm is None
    )
    doc = FeedDocument.model_validate(
        {"feedDocumentId": "d", "url": "https://x", "compressionAlgorithm": "GZIP"}
    )
    assert doc.compression_algorithm == "GZIP"


def test_product_type_definition_schema_alias(amazon: Loader) -> None:
    body = operations(amazon(DEFINITIONS))["getDefinitionsProductType"]["responses"]["200"][
        "x-amzn-api-sandbox"
    ]["static"][0]["response"]
    definition = ProductTypeDefinition.model_validate(body)
    assert definition.schema_.link.resource == "https://schema-url"
    assert definition.meta_schema is not None
    assert definition.product_type_version.latest is True
    dumped = to_wire(definition)
    assert "schema" in dumped
    assert "schema_" not in dumped
