"""Feeds API 2021-06-30 and the feed processor.

createFeedDocument (201) -> PUT to the presigned URL -> createFeed (202, IN_QUEUE) -> the processor
moves it IN_PROGRESS, then DONE (or FATAL / CANCELLED) after the configured latencies, applying each
JSON_LISTINGS_FEED message with the same engine as the Listings Items API and writing a processing
report (``listings-feed-processing-report-schema-v2.json``) as a GZIP result document.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from jsonschema import Draft7Validator
from starlette.responses import Response

from .core import ApiError, Call, Sandbox, json_body, run_operation, throttled
from .documents import presign
from .jobs import Periodic, advance, document_answer, list_filters, list_page, own_row, with_times
from .listings import GET_INCLUDED, Listings, iso
from .published import (
    CREATE_FEED_MARKETPLACES,
    GET_FEEDS_MAX_FEED_TYPES,
    GET_FEEDS_MAX_MARKETPLACES,
    GET_FEEDS_PAGE_SIZE,
    region_of,
)

log = logging.getLogger("sandbox.feeds")

router = APIRouter()

BASE = "/feeds/2021-06-30"
SUPPORTED_FEED_TYPES = ("JSON_LISTINGS_FEED",)
RETENTION_SECONDS = 90 * 24 * 3600
MAX_ISSUES_FOR_FATAL = 50


def feed_schema_validator(models_dir: Path) -> Draft7Validator:
    schema = json.loads((models_dir / "schemas" / "feeds" / "listings-feed-schema-v2.json").read_bytes())
    return Draft7Validator(schema)


# -- rendering ---------------------------------------------------------------------------------


def render_feed(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "feedId": row["feed_id"],
        "feedType": row["feed_type"],
        "marketplaceIds": json.loads(row["marketplaces"]),
        "createdTime": iso(row["created"]),
        "processingStatus": row["status"],
    }
    return with_times(out, row, "resultFeedDocumentId", "result_document_id")


def new_document_id(region: str) -> str:
    return f"amzn1.tortuga.4.{region}.{uuid.uuid4()}.T{uuid.uuid4().hex[:12].upper()}"


# -- routes ------------------------------------------------------------------------------------


@router.post(BASE + "/documents")
async def create_feed_document(request: Request) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        body = await json_body(request)
        content_type = body.get("contentType")
        if not isinstance(content_type, str) or not content_type.strip():
            raise ApiError.invalid(
                "Invalid request body: contentType is required.", "contentType must be a string."
            )
        document_id = new_document_id(call.region or "na")
        sandbox.store.execute(
            "INSERT INTO documents(document_id, seller_id, kind, content_type, created) VALUES (?,?,?,?,?)",
            (document_id, call.seller_id, "input", content_type, time.time()),
        )
        url = presign(sandbox, sandbox.base_url(request), "PUT", document_id)
        return call.respond(201, {"feedDocumentId": document_id, "url": url})

    return await run_operation(request, "createFeedDocument", handle)


@router.get(BASE + "/documents/{feedDocumentId}")
async def get_feed_document(request: Request, feedDocumentId: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        # any of the seller's documents, its input documents too
        answer = document_answer(
            sandbox, request, call, feedDocumentId, key="feedDocumentId", kind=None, label="Feed document"
        )
        return call.respond(200, answer)

    return await run_operation(request, "getFeedDocument", handle)


@router.post(BASE + "/feeds")
async def create_feed(request: Request) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        body = await json_body(request)
        feed_type = body.get("feedType")
        ids = body.get("marketplaceIds")
        doc_id = body.get("inputFeedDocumentId")
        options = body.get("feedOptions")
        if not isinstance(feed_type, str) or not feed_type:
            raise ApiError.invalid("Invalid request body: feedType is required.")
        fewest, most = CREATE_FEED_MARKETPLACES
        if (
            not isinstance(ids, list)
            or not fewest <= len(ids) <= most
            or not all(isinstance(i, str) for i in ids)
        ):
            raise ApiError.invalid(
                f"Invalid request body: marketplaceIds must hold {fewest} to {most} marketplace ids."
            )
        if not isinstance(doc_id, str) or not doc_id:
            raise ApiError.invalid("Invalid request body: inputFeedDocumentId is required.")
        if options is not None and (
            not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values())
        ):
            raise ApiError.invalid("Invalid request body: feedOptions must map strings to strings.")
        if feed_type not in SUPPORTED_FEED_TYPES:
            raise ApiError.invalid(
                f"Invalid feedType {feed_type!r}.", "The sandbox supports JSON_LISTINGS_FEED only."
            )
        bad = [m for m in ids if region_of(m) != call.region]
        if bad:
            raise ApiError.invalid(
                f"Invalid marketplaceIds: {', '.join(bad)}",
                f"Marketplaces must belong to the seller's region {call.region}.",
            )
        doc = sandbox.store.one(
            "SELECT document_id FROM documents WHERE document_id=? AND seller_id=? AND kind='input'",
            (doc_id, call.seller_id),
        )
        if doc is None:
            raise ApiError.invalid(
                f"Invalid inputFeedDocumentId {doc_id!r}.", "No such feed document for this seller."
            )
        if not sandbox.limiter.acquire_feed_type(feed_type, call.seller_id or "", call.region or "na"):
            return throttled(call)
        fault = None
        for kind in ("feed_fatal", "feed_cancelled", "feed_stuck", "report_unknown_message_ids"):
            if sandbox.faults.draw(kind, "createFeed") is not None:
                fault = kind
                break
        seq = sandbox.store.next_seq("feed")
        feed_id = str(50_000_000_000 + seq)
        sandbox.store.execute(
            "INSERT INTO feeds(feed_id, seller_id, region, feed_type, marketplaces, input_document_id, options, status, "
            "created, fault, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                feed_id,
                call.seller_id,
                call.region,
                feed_type,
                json.dumps(ids),
                doc_id,
                json.dumps(options) if options else None,
                "IN_QUEUE",
                time.time(),
                fault,
                seq,
            ),
        )
        return call.respond(202, {"feedId": feed_id})

    return await run_operation(request, "createFeed", handle)


@router.get(BASE + "/feeds/{feedId}")
async def get_feed(request: Request, feedId: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        return call.respond(200, render_feed(own_row(sandbox, call, "feeds", "feed_id", feedId, "Feed")))

    return await run_operation(request, "getFeed", handle)


@router.delete(BASE + "/feeds/{feedId}")
async def cancel_feed(request: Request, feedId: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        own_row(sandbox, call, "feeds", "feed_id", feedId, "Feed")
        cursor = sandbox.store.execute(
            "UPDATE feeds SET status='CANCELLED', ended=? WHERE feed_id=? AND status='IN_QUEUE'",
            (time.time(), feedId),
        )
        if cursor.rowcount != 1:
            current = sandbox.store.one("SELECT status FROM feeds WHERE feed_id=?", (feedId,))
            status = current["status"] if current else "unknown"
            raise ApiError.invalid(
                f"Feed {feedId} cannot be cancelled.",
                f"Only IN_QUEUE feeds can be cancelled; this one is {status}.",
            )
        return call.respond(200, None)

    return await run_operation(request, "cancelFeed", handle)


def _parse_time(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError.invalid(f"Invalid {name}: {value!r} is not an ISO 8601 date-time.") from None


def _feed_filters(request: Request, now: float) -> dict[str, Any]:
    """getFeeds' filters, refused with 400 where the model's parameter definitions refuse them."""
    return list_filters(
        request,
        now,
        types="feedTypes",
        most=(GET_FEEDS_MAX_FEED_TYPES, GET_FEEDS_MAX_MARKETPLACES),
        page_size=GET_FEEDS_PAGE_SIZE,
        retention=RETENTION_SECONDS,
        parse_time=_parse_time,
    )


@router.get(BASE + "/feeds")
async def get_feeds(request: Request) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        params = request.query_params
        token = params.get("nextToken")
        if token is not None:
            if len(params) > 1:
                raise ApiError.invalid("nextToken must be the only parameter when it is given.")
            try:
                filters = json.loads(base64.urlsafe_b64decode(token.encode()))
                assert isinstance(filters, dict)
            except Exception:
                raise ApiError.invalid("Invalid nextToken.") from None
        else:
            filters = _feed_filters(request, time.time())
        page = list_page(
            sandbox,
            call,
            filters,
            table="feeds",
            types="feedTypes",
            type_column="feed_type",
            key="feeds",
            render=render_feed,
        )
        return call.respond(200, page)

    return await run_operation(request, "getFeeds", handle)


# -- processor ---------------------------------------------------------------------------------


class FeedProcessor(Periodic):
    """Moves feeds through their states; ``run_once`` is one pass (tests call it directly)."""

    task_name = "sandbox-feed-processor"
    failure = "feed processor pass failed"
    log = log

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.listings = Listings(sandbox.store, sandbox.schemas, sandbox.settings.restricted_brands)
        self.feed_schema = feed_schema_validator(Path(sandbox.settings.models_dir))

    def run_once(self, now: float | None = None) -> int:
        """Advance every due feed; returns how many feeds changed state."""
        now = time.time() if now is None else now
        settings = self.sandbox.settings
        store = self.sandbox.store

        def start(row: dict[str, Any]) -> int:
            if row["fault"] == "feed_cancelled":
                cursor = store.execute(
                    "UPDATE feeds SET status='CANCELLED', ended=? WHERE feed_id=? AND status='IN_QUEUE'",
                    (now, row["feed_id"]),
                )
            else:
                cursor = store.execute(
                    "UPDATE feeds SET status='IN_PROGRESS', started=? WHERE feed_id=? AND status='IN_QUEUE'",
                    (now, row["feed_id"]),
                )
            return cursor.rowcount

        def finish(row: dict[str, Any]) -> int:
            if row["fault"] == "feed_stuck" and self.sandbox.faults.has("feed_stuck"):
                return 0
            try:
                self.finish(row)
            except Exception:  # a bug must not stop the processor; the feed ends FATAL
                log.exception("processing feed %s failed", row["feed_id"])
                self._store_result(
                    row,
                    "FATAL",
                    _report(row, [_feed_issue("Internal error while processing the feed.")], 0, 0, 0),
                )
            return 1

        latencies = (settings.feed_queue_seconds, settings.feed_processing_seconds)
        return advance(self.sandbox, "feeds", now, latencies, start, finish)

    def finish(self, row: dict[str, Any]) -> None:
        if row["fault"] == "feed_fatal":
            issue = _feed_issue(
                "The feed could not be processed because of an internal error. Resubmit the feed."
            )
            self._store_result(row, "FATAL", _report(row, [issue], 0, 0, 0))
            return
        doc = self.sandbox.store.one(
            "SELECT * FROM documents WHERE document_id=?", (row["input_document_id"],)
        )
        content = bytes(doc["content"]) if doc and doc["content"] is not None else b""
        if not content:
            issue = _feed_issue("The feed document is empty or was never uploaded.")
            self._store_result(row, "FATAL", _report(row, [issue], 0, 0, 0))
            return
        try:
            feed = json.loads(content)
        except ValueError as exc:
            issue = _feed_issue(f"The feed is not valid JSON: {exc}.")
            self._store_result(row, "FATAL", _report(row, [issue], 0, 0, 0))
            return
        errors = sorted(self.feed_schema.iter_errors(feed), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            issues = [
                _feed_issue(
                    f"The feed does not conform to the JSON_LISTINGS_FEED schema at "
                    f"'/{'/'.join(map(str, e.absolute_path))}': {e.message[:300]}"
                )
                for e in errors[:MAX_ISSUES_FOR_FATAL]
            ]
            self._store_result(row, "FATAL", _report(row, issues, 0, 0, 0))
            return
        ids = [m["messageId"] for m in feed["messages"]]
        duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
        if duplicates:
            issue = _feed_issue(f"messageId values must be unique in a feed; repeated: {duplicates[:20]}.")
            self._store_result(row, "FATAL", _report(row, [issue], 0, 0, 0))
            return
        if feed["header"]["sellerId"] != row["seller_id"]:
            issue = _feed_issue(
                "The sellerId in the feed header does not match the seller that submitted the feed."
            )
            self._store_result(row, "FATAL", _report(row, [issue], 0, 0, 0))
            return
        report = self.process_messages(row, feed)
        self._store_result(row, "DONE", report)

    def process_messages(self, row: dict[str, Any], feed: dict[str, Any]) -> dict[str, Any]:
        seller_id = row["seller_id"]
        marketplaces = json.loads(row["marketplaces"])
        issues: list[dict[str, Any]] = []
        accepted = invalid = 0
        accepted_skus: list[str] = []
        for message in feed["messages"]:
            sku, op, mid = message["sku"], message["operationType"], message["messageId"]
            if op == "UPDATE":
                status, found, _ = self.listings.put(
                    seller_id,
                    sku,
                    marketplaces,
                    message["productType"],
                    message["attributes"],
                    message.get("requirements", "LISTING"),
                    operation="feed:UPDATE",
                )
            elif op == "PARTIAL_UPDATE":
                patches = [
                    {"op": "replace", "path": f"/attributes/{k}", "value": v}
                    for k, v in message["attributes"].items()
                ]
                status, found, _ = self.listings.patch(
                    seller_id,
                    sku,
                    marketplaces,
                    message["productType"],
                    patches,
                    operation="feed:PARTIAL_UPDATE",
                )
            elif op == "PATCH":
                status, found, _ = self.listings.patch(
                    seller_id,
                    sku,
                    marketplaces,
                    message["productType"],
                    message["patches"],
                    operation="feed:PATCH",
                )
            else:
                status, found, _ = self.listings.delete(seller_id, sku, marketplaces, operation="feed:DELETE")
            for issue in found:
                entry: dict[str, Any] = {
                    "messageId": mid,
                    "sku": sku,
                    "code": issue.code,
                    "severity": issue.severity,
                    "message": issue.message,
                }
                if issue.attribute_names:
                    entry["attributeName"] = issue.attribute_names[0]
                issues.append(entry)
            if status == "ACCEPTED":
                accepted += 1
                if op != "DELETE":
                    accepted_skus.append(sku)
            else:
                invalid += 1
        if row["fault"] == "report_unknown_message_ids":
            ghost = max(m["messageId"] for m in feed["messages"]) + 1000
            issues.append(
                {
                    "messageId": ghost,
                    "sku": f"UNKNOWN-{ghost}",
                    "code": "4000001",
                    "severity": "ERROR",
                    "message": "An issue for a message that was not in the feed (injected fault).",
                }
            )
        report = _report(row, issues, len(feed["messages"]), accepted, invalid)
        included = (feed["header"].get("report") or {}).get("includedData")
        if included:
            report["header"]["report"] = feed["header"]["report"]
            items = []
            for sku in dict.fromkeys(accepted_skus):
                item = self.listings.item(
                    seller_id, sku, marketplaces, [i for i in included if i in GET_INCLUDED]
                )
                if item is not None:
                    items.append(item)
            report["items"] = items
            item_issues = [i for item in items for i in item.get("issues", [])]
            report["summary"]["itemSummary"] = {
                "items": len(items),
                "errors": sum(1 for i in item_issues if i.get("severity") == "ERROR"),
                "warnings": sum(1 for i in item_issues if i.get("severity") == "WARNING"),
            }
        return report

    def _store_result(self, row: dict[str, Any], status: str, report: dict[str, Any]) -> None:
        store = self.sandbox.store
        document_id = new_document_id(row["region"])
        content = gzip.compress(json.dumps(report).encode(), mtime=0)
        now = time.time()
        with store.transaction() as db:
            db.execute(
                "INSERT INTO documents(document_id, seller_id, kind, content_type, content, compression, created, uploaded) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (document_id, row["seller_id"], "result", "application/json", content, "GZIP", now, now),
            )
            db.execute(
                "UPDATE feeds SET status=?, ended=?, result_document_id=?, started=COALESCE(started, ?) "
                "WHERE feed_id=? AND status='IN_PROGRESS'",
                (status, now, document_id, now, row["feed_id"]),
            )


def _feed_issue(message: str) -> dict[str, Any]:
    return {"code": "4000000", "severity": "ERROR", "message": message}


def _report(
    row: dict[str, Any], issues: list[dict[str, Any]], processed: int, accepted: int, invalid: int
) -> dict[str, Any]:
    return {
        "header": {"sellerId": row["seller_id"], "version": "2.0", "feedId": row["feed_id"]},
        "issues": issues,
        "summary": {
            "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
            "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
            "messagesProcessed": processed,
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        },
    }
