"""Feeds API 2021-06-30 models and the ``JSON_LISTINGS_FEED`` document formats.

Sources of truth:

* ``models/feeds-api-model/feeds_2021-06-30.json`` for the API shapes;
* ``schemas/feeds/listings-feed-schema-v2.json`` for the feed we upload (:class:`ListingsFeed`);
* ``schemas/feeds/listings-feed-processing-report-schema-v2.json`` for the result document
  (:class:`ProcessingReport`).

Lenient response enums: ``Feed.processing_status``, ``FeedDocument.compression_algorithm``,
``ProcessingReportIssue.severity`` accept unknown strings. The feed document we build is strict.
"""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import Field, model_validator

from .common import PROCESSING_STATUSES as PROCESSING_STATUSES
from .common import TERMINAL_STATUSES as TERMINAL_STATUSES
from .common import DateTime, ProcessingState, ProcessingStatus, RequestModel, ResponseModel, to_wire
from .common import ProcessingTimes as ProcessingTimes
from .listings import Attributes, IssueSeverity, Item, ItemIncludedData, PatchOperation, Requirements

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
FEED_VERSION: Literal["2.0"] = "2.0"
LISTINGS_API_VERSION: Literal["2021-08-01"] = "2021-08-01"
MAX_FEED_MESSAGES = 25_000
MAX_MESSAGE_ID = 2_147_483_647

OperationType = Literal["UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"]


# --- Feeds API --------------------------------------------------------------------------------------


class CreateFeedDocumentSpecification(RequestModel):
    """Body of ``createFeedDocument``. The upload's ``Content-Type`` must equal ``contentType``."""

    content_type: str = Field(min_length=1)


class CreateFeedDocumentResponse(ResponseModel):
    """``url`` is a presigned S3 URL for the upload; it expires after 5 minutes."""

    feed_document_id: str
    url: str


class CreateFeedSpecification(RequestModel):
    """Body of ``createFeed``."""

    feed_type: str = Field(min_length=1)
    marketplace_ids: list[str] = Field(min_length=1, max_length=25)
    input_feed_document_id: str = Field(min_length=1)
    feed_options: dict[str, str] | None = None


class CreateFeedResponse(ResponseModel):
    feed_id: str


class Feed(ResponseModel, ProcessingState):
    """``getFeed`` response. ``processing_status`` is lenient; see :attr:`is_terminal` (DONE,
    CANCELLED or FATAL: polling can stop; FATAL may still have a result document) and
    :meth:`processing_times`.

    The field is ``resultFeedDocumentId`` (the operation's description says ``resultDocumentId``).
    """

    feed_id: str
    feed_type: str
    created_time: DateTime
    processing_status: ProcessingStatus | str
    marketplace_ids: list[str] | None = None
    processing_start_time: DateTime | None = None
    processing_end_time: DateTime | None = None
    result_feed_document_id: str | None = None


class GetFeedsResponse(ResponseModel):
    """``getFeeds`` response. Pass ``next_token`` back as the *only* parameter for the next page."""

    feeds: list[Feed]
    next_token: str | None = None


class FeedDocument(ResponseModel):
    """``getFeedDocument`` response. ``compression_algorithm`` is ``"GZIP"`` or absent (lenient)."""

    feed_document_id: str
    url: str
    compression_algorithm: Literal["GZIP"] | str | None = None


# --- JSON_LISTINGS_FEED document (what we upload) -------------------------------------------------


class ListingsFeedReport(RequestModel):
    """Ask for ``items[]`` (Listings Items API ``Item`` shape) in the processing report."""

    included_data: list[ItemIncludedData] = Field(min_length=1)
    api_version: Literal["2021-08-01"] = LISTINGS_API_VERSION


class ListingsFeedHeader(RequestModel):
    """Feed header. There is no marketplace here: it comes from ``createFeed.marketplaceIds``."""

    seller_id: str = Field(min_length=1)
    version: Literal["2.0"] = FEED_VERSION
    issue_locale: str | None = None
    report: ListingsFeedReport | None = None


# operationType -> (required, forbidden), in Amazon's wire names (listings-feed-schema-v2 oneOf).
_OPERATION_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "UPDATE": (("productType", "attributes"), ("patches",)),
    "PARTIAL_UPDATE": (("productType", "attributes"), ("requirements", "patches")),
    "PATCH": (("productType", "patches"), ("requirements", "attributes")),
    "DELETE": ((), ("productType", "requirements", "attributes", "patches")),
}
_WIRE_TO_FIELD = {
    "productType": "product_type",
    "requirements": "requirements",
    "attributes": "attributes",
    "patches": "patches",
}


class ListingsFeedMessage(RequestModel):
    """One feed message. Which fields it may carry depends on ``operationType``:

    ==============  ==========================  ========================================
    operationType   requires                    forbids
    ==============  ==========================  ========================================
    UPDATE          productType, attributes     patches
    PARTIAL_UPDATE  productType, attributes     requirements, patches
    PATCH           productType, patches        requirements, attributes
    DELETE          --                          productType, requirements, attributes, patches
    ==============  ==========================  ========================================

    ``requirements`` has no default here (Amazon's default is LISTING) because a default would be
    emitted and break PARTIAL_UPDATE/PATCH/DELETE messages.
    """

    message_id: int = Field(ge=1, le=MAX_MESSAGE_ID)
    sku: str = Field(min_length=1)
    operation_type: OperationType
    product_type: str | None = Field(default=None, min_length=1)
    requirements: Requirements | None = None
    attributes: Attributes | None = Field(default=None, min_length=1)
    patches: list[PatchOperation] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _operation_rules(self) -> ListingsFeedMessage:
        required, forbidden = _OPERATION_RULES[self.operation_type]
        op = self.operation_type
        bad = [w for w in forbidden if getattr(self, _WIRE_TO_FIELD[w]) is not None]
        if bad:
            raise ValueError(
                f"messageId {self.message_id}: {op} message must not carry {', '.join(map(repr, bad))}"
            )
        missing = [w for w in required if getattr(self, _WIRE_TO_FIELD[w]) is None]
        if missing:
            raise ValueError(
                f"messageId {self.message_id}: {op} message requires {', '.join(map(repr, missing))}"
            )
        return self


class ListingsFeed(RequestModel):
    """A whole ``JSON_LISTINGS_FEED`` document: 1..25,000 messages with unique ``messageId``.

    Chunk by bytes as well (Amazon's guidance: keep a feed file below 10 MiB); see
    :meth:`to_json_bytes`.
    """

    header: ListingsFeedHeader
    messages: list[ListingsFeedMessage] = Field(min_length=1, max_length=MAX_FEED_MESSAGES)

    @model_validator(mode="after")
    def _unique_message_ids(self) -> ListingsFeed:
        seen: set[int] = set()
        dupes: list[int] = []
        for message in self.messages:
            if message.message_id in seen:
                dupes.append(message.message_id)
            seen.add(message.message_id)
        if dupes:
            raise ValueError(
                f"messageId values must be unique in a feed; duplicated: {sorted(set(dupes))[:20]}"
            )
        return self

    def to_json_bytes(self) -> bytes:
        """The document to upload (UTF-8 JSON, Amazon's field names, no nulls)."""
        return orjson.dumps(to_wire(self))


# --- processing report (what Amazon gives back) --------------------------------------------------


class ProcessingReportIncludedData(ResponseModel):
    included_data: list[str]
    api_version: str


class ProcessingReportHeader(ResponseModel):
    seller_id: str
    version: str
    feed_id: str
    report: ProcessingReportIncludedData | None = None


class ProcessingReportIssue(ResponseModel):
    """An issue in the processing report.

    Differs from the API's :class:`~spapi.models.listings.Issue`: ``attributeName`` is a single
    string, there are no ``categories``, and ``code``, ``messageId`` and ``sku`` are optional
    (``messageId`` is absent for feed-level errors, e.g. a malformed document). ``severity`` is
    lenient.
    """

    severity: IssueSeverity | str
    message: str
    message_id: int | None = None
    sku: str | None = None
    code: str | None = None
    attribute_name: str | None = None


class ProcessingReportItemSummary(ResponseModel):
    items: int
    errors: int
    warnings: int


class ProcessingReportSummary(ResponseModel):
    """``errors`` counts issues, not messages (Amazon's example: 3 errors for 2 invalid messages)."""

    errors: int
    warnings: int
    messages_processed: int
    messages_accepted: int
    messages_invalid: int
    item_summary: ProcessingReportItemSummary | None = None


class ProcessingReport(ResponseModel):
    """The ``JSON_LISTINGS_FEED`` processing report (result feed document)."""

    header: ProcessingReportHeader
    issues: list[ProcessingReportIssue]
    summary: ProcessingReportSummary
    items: list[Item] | None = None

    def issues_by_message_id(self) -> dict[int, list[ProcessingReportIssue]]:
        out: dict[int, list[ProcessingReportIssue]] = {}
        for issue in self.issues:
            if issue.message_id is not None:
                out.setdefault(issue.message_id, []).append(issue)
        return out

    @property
    def feed_level_issues(self) -> list[ProcessingReportIssue]:
        """Issues not tied to a message (no ``messageId``): they concern the whole document."""
        return [i for i in self.issues if i.message_id is None]

    @property
    def errors(self) -> list[ProcessingReportIssue]:
        return [i for i in self.issues if i.severity == "ERROR"]
