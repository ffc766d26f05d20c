"""Feeds API 2021-06-30: one function per operation, each returning a :class:`Call`.

Pure: nothing here does I/O. The JSON_LISTINGS_FEED flow (docs/spapi-facts.md §6)::

    doc = client.call(feeds.create_feed_document("application/json"))              # 201
    client.call(feeds.upload_feed_document(doc.url, feed.to_json_bytes(), "application/json"))
    created = client.call(feeds.create_feed("JSON_LISTINGS_FEED", [mp], doc.feed_document_id))
    feed = client.call(feeds.get_feed(created.feed_id))          # poll until feed.is_terminal
    result = client.call(feeds.get_feed_document(feed.result_feed_document_id))
    report = feeds.parse_processing_report(client.call(feeds.download_feed_document(result)))

The upload and download go to presigned S3 URLs (``sp_api=False``: no SP-API auth header, not
rate limited) that expire after 5 minutes, so request them right before use.

Paging ``getFeeds``: call :func:`get_feeds` with filters, then ``get_feeds(next_token=...)`` with the
token *alone* until ``GetFeedsResponse.next_token`` is ``None`` (``client.paginate(get_feeds(...), next_page)`` does this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx

from . import documents
from .call import Call, QueryValue, no_content, path_part
from .documents import GZIP_MAGIC as GZIP_MAGIC
from .models.common import (
    enum_list,
    id_list,
    int_range,
    iso8601,
    json_parser,
    next_token_alone,
    require_text,
    required_ids,
    to_wire,
)
from .models.feeds import (
    PROCESSING_STATUSES,
    CreateFeedDocumentResponse,
    CreateFeedDocumentSpecification,
    CreateFeedResponse,
    CreateFeedSpecification,
    Feed,
    FeedDocument,
    GetFeedsResponse,
    ProcessingReport,
)

BASE = "/feeds/2021-06-30"
MAX_CREATE_FEED_MARKETPLACES = 25
MAX_GET_FEEDS_FILTER_ITEMS = 10
MAX_GET_FEEDS_PAGE_SIZE = 100


def create_feed_document(content_type: str = "application/json") -> Call[CreateFeedDocumentResponse]:
    """``createFeedDocument`` (201). Upload with exactly this ``content_type`` afterwards.

    Not idempotent (a repeated request creates another document) but safe to repeat: the extra
    document is an empty upload slot that nothing refers to and Amazon never acts on, so the client
    retries this call like a read (see ``spapi.client.SAFE_TO_REPEAT``), unlike createFeed.
    """
    body = CreateFeedDocumentSpecification(content_type=require_text("content_type", content_type))
    return Call(
        operation="createFeedDocument",
        method="POST",
        path=f"{BASE}/documents",
        json=to_wire(body),
        parse=json_parser(CreateFeedDocumentResponse),
        success=(201,),
        idempotent=False,
    )


def upload_feed_document(url: str, content: bytes, content_type: str) -> Call[None]:
    """``PUT`` the feed bytes to the presigned URL from :func:`create_feed_document`.

    ``content_type`` must equal the one given to ``createFeedDocument`` or S3 refuses the upload.
    The content is sent uncompressed (Feeds 2021-06-30 has no input compression).
    """
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValueError(f"content must be bytes, got {type(content).__name__}")
    if not content:
        raise ValueError("content must not be empty")
    return Call(
        operation="uploadFeedDocument",
        method="PUT",
        path=documents.presigned_url("url", url),
        content=bytes(content),
        headers={"Content-Type": require_text("content_type", content_type)},
        parse=no_content,
        sp_api=False,
    )


def create_feed(
    feed_type: str,
    marketplace_ids: Sequence[str],
    input_feed_document_id: str,
    feed_options: Mapping[str, str] | None = None,
) -> Call[CreateFeedResponse]:
    """``createFeed`` (202). Not idempotent: a blind retry would submit the feed twice.

    For ``JSON_LISTINGS_FEED`` a second throttle applies (5 feeds per 5 minutes per region); the
    Call carries ``feed_type`` so the limiter can apply it.
    """
    ids = required_ids("marketplace_ids", marketplace_ids, max_items=MAX_CREATE_FEED_MARKETPLACES)
    body = CreateFeedSpecification(
        feed_type=require_text("feed_type", feed_type),
        marketplace_ids=ids,
        input_feed_document_id=require_text("input_feed_document_id", input_feed_document_id),
        feed_options=dict(feed_options) if feed_options is not None else None,
    )
    return Call(
        operation="createFeed",
        method="POST",
        path=f"{BASE}/feeds",
        json=to_wire(body),
        parse=json_parser(CreateFeedResponse),
        success=(202,),
        idempotent=False,
        feed_type=body.feed_type,
        marketplace_id=",".join(ids),
    )


def get_feed(feed_id: str) -> Call[Feed]:
    """``getFeed``."""
    return Call(
        operation="getFeed",
        method="GET",
        path=f"{BASE}/feeds/{path_part(require_text('feed_id', feed_id))}",
        parse=json_parser(Feed),
    )


def get_feeds(
    *,
    feed_types: Sequence[str] | None = None,
    marketplace_ids: Sequence[str] | None = None,
    processing_statuses: Sequence[str] | None = None,
    created_since: datetime | str | None = None,
    created_until: datetime | str | None = None,
    page_size: int | None = None,
    next_token: str | None = None,
) -> Call[GetFeedsResponse]:
    """``getFeeds``. Either ``feed_types`` (1..10) or ``next_token`` is required, and
    ``next_token`` must be the only argument. ``page_size`` is 1..100 (Amazon's default 10);
    feeds are kept 90 days (the default ``createdSince``)."""
    params: dict[str, QueryValue]
    if next_token is not None:
        others = {
            "feed_types": feed_types,
            "marketplace_ids": marketplace_ids,
            "processing_statuses": processing_statuses,
            "created_since": created_since,
            "created_until": created_until,
            "page_size": page_size,
        }
        params = {**next_token_alone("getFeeds", next_token, others)}
    else:
        if feed_types is None:
            raise ValueError("feed_types is required unless next_token is given")
        params = {
            "feedTypes": required_ids("feed_types", feed_types, max_items=MAX_GET_FEEDS_FILTER_ITEMS),
            "marketplaceIds": id_list(
                "marketplace_ids", marketplace_ids, max_items=MAX_GET_FEEDS_FILTER_ITEMS
            ),
            "pageSize": int_range("page_size", page_size, 1, MAX_GET_FEEDS_PAGE_SIZE),
            "processingStatuses": enum_list("processing_statuses", processing_statuses, PROCESSING_STATUSES),
            "createdSince": iso8601("created_since", created_since),
            "createdUntil": iso8601("created_until", created_until),
        }
    return Call(
        operation="getFeeds",
        method="GET",
        path=f"{BASE}/feeds",
        params=params,
        parse=json_parser(GetFeedsResponse),
    )


def next_page(page: GetFeedsResponse, _call: Call[GetFeedsResponse]) -> Call[GetFeedsResponse] | None:
    """The ``getFeeds`` call for the page after ``page`` (``nextToken`` alone), or ``None``."""
    return get_feeds(next_token=page.next_token) if page.next_token else None


def cancel_feed(feed_id: str) -> Call[None]:
    """``cancelFeed``: 200 with no body. Only ``IN_QUEUE`` feeds can be cancelled."""
    return Call(
        operation="cancelFeed",
        method="DELETE",
        path=f"{BASE}/feeds/{path_part(require_text('feed_id', feed_id))}",
        parse=no_content,
    )


def get_feed_document(
    feed_document_id: str, *, enable_content_encoding_url_header: bool | None = None
) -> Call[FeedDocument]:
    """``getFeedDocument`` (1 call per 45 s). The URL it returns expires after 5 minutes.

    ``enable_content_encoding_url_header=True`` makes S3 answer with ``Content-Encoding: gzip``
    so HTTP clients decompress on the fly; :func:`download_feed_document` handles both cases.
    """
    return documents.get_document(
        "getFeedDocument",
        f"{BASE}/documents",
        "feed_document_id",
        feed_document_id,
        FeedDocument,
        enable_content_encoding_url_header,
    )


def decode_feed_document(document: FeedDocument, response: httpx.Response) -> bytes:
    """The document's plain bytes (see :func:`spapi.documents.document_bytes`)."""
    return documents.document_bytes(document.compression_algorithm, response)


def download_feed_document(document: FeedDocument) -> Call[bytes]:
    """``GET`` a feed or result document from its presigned URL, decompressed (see
    :func:`decode_feed_document`)."""
    if not isinstance(document, FeedDocument):
        raise ValueError(f"document must be a FeedDocument, got {type(document).__name__}")

    def parse(response: httpx.Response) -> bytes:
        return decode_feed_document(document, response)

    return documents.download("downloadFeedDocument", document.url, parse)


def parse_processing_report(data: bytes) -> ProcessingReport:
    """Parse a ``JSON_LISTINGS_FEED`` processing report (already decompressed).

    A ``FATAL`` feed's report may be in another format; this then raises pydantic's
    ``ValidationError`` (a ``ValueError``).
    """
    return ProcessingReport.model_validate_json(data)
