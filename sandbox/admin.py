"""Admin endpoints under ``/_sandbox`` for tests, demos and benchmarks (no auth; local use only).

- ``GET /_sandbox/state``: sellers, listings, feeds, documents (metadata), submissions, limiter, faults
- ``GET /_sandbox/calls``: call counts per operation (total, throttled, by status) and recent calls
- ``POST /_sandbox/reset``: forget listings, feeds, documents, tokens and calls (``?all=true``: sellers too)
- ``GET|POST /_sandbox/sellers``: list, or upsert ``{"apps": [...], "sellers": [...]}``
- ``POST /_sandbox/sellers/{sellerId}/revoke``: revoke a seller's authorization (refresh token)
- ``GET|POST|DELETE /_sandbox/faults``: show, replace (``{"seed": n, "rules": [...]}``) or clear faults
- ``POST /_sandbox/tokens/expire``: expire every access token now
- ``POST /_sandbox/feeds/process``: run one feed-processor pass now
- ``GET /_sandbox/documents/{id}``: a document's content (decompressed)
- ``POST /_sandbox/listings/{sellerId}/{sku}/issues?marketplaceId=...``: attach Amazon's issues
  (``{"issues": [...]}``, Amazon's Issue shape, enforcements included) to a stored listing, as
  Amazon does after accepting it; they show in getListingsItem and decide its summary status
- ``GET|POST|DELETE /_sandbox/fba/{sellerId}/{marketplaceId}``: show, set (``{"items": [{"sellerSku",
  <quantity in Amazon's name>: units, ...}]}``, the quantities not given kept) or clear the FBA stock
  Amazon holds for a seller (served by :mod:`sandbox.fba_inventory`, which owns the routes)
- ``POST /_sandbox/reports/process``: run one report-processor pass now
- ``GET|POST|DELETE /_sandbox/seller-performance/{sellerId}/{marketplaceId}``: show, replace or clear the
  seed the seller performance reports are built from (``{"accountHealth": {...}, "salesAndTraffic":
  {...}}``; served by :mod:`sandbox.seller_performance`, which owns the routes)
- ``GET /_sandbox/notifications``, ``POST /_sandbox/notifications/process`` and
  ``POST /_sandbox/notifications/product-type-change``: destinations, subscriptions and what was
  delivered; one notifier pass now; announce new product type definitions (served by
  :mod:`sandbox.notifications`, which owns the routes)
- ``POST /_sandbox/listings/{sellerId}/{sku}/drift?marketplaceId=...``: change a listing on Amazon's
  side (``{"price", "currency", "quantity", "status": "Active" | "Inactive", "itemName",
  "productType"}``, see ``sandbox.drift``), creating it when the seller has none there: drift for a
  reconciliation to find (201 when created, 200 when changed)
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from . import drift
from .core import Sandbox, json_response
from .listings import Listings
from .sellers import apply_config

router = APIRouter(prefix="/_sandbox")


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _bad(message: str) -> Response:
    return json_response(400, {"errors": [{"code": "InvalidInput", "message": message, "details": ""}]})


@router.get("/state")
async def state(request: Request) -> Response:
    sandbox = _sandbox(request)
    store = sandbox.store
    seller = request.query_params.get("sellerId")
    where, params = ("WHERE seller_id=?", [seller]) if seller else ("", [])
    listings = store.all(f"SELECT * FROM listings {where} ORDER BY seller_id, sku, marketplace_id", params)
    for row in listings:
        row["attributes"] = json.loads(row["attributes"])
        row["issues"] = json.loads(row["issues"])
    feeds = store.all(f"SELECT * FROM feeds {where} ORDER BY seq", params)
    for row in feeds:
        row["marketplaces"] = json.loads(row["marketplaces"])
    documents = store.all(
        f"SELECT document_id, seller_id, kind, content_type, compression, created, uploaded, "
        f"length(content) AS size FROM documents {where} ORDER BY created",
        params,
    )
    reports = store.all(f"SELECT * FROM reports {where} ORDER BY seq", params)
    for row in reports:
        row["marketplaces"] = json.loads(row["marketplaces"])
    submissions = store.all(f"SELECT * FROM submissions {where} ORDER BY created", params)
    for row in submissions:
        row["marketplaces"] = json.loads(row["marketplaces"])
        row["body"] = json.loads(row["body"]) if row["body"] else None
        row["issues"] = json.loads(row["issues"])
    return json_response(
        200,
        {
            "sellers": store.sellers(),
            "listings": listings,
            "feeds": feeds,
            "reports": reports,
            "documents": documents,
            "submissions": submissions,
            "rateLimits": sandbox.limiter.snapshot(),
            "faults": sandbox.faults.snapshot(),
        },
    )


@router.get("/calls")
async def calls(request: Request) -> Response:
    store = _sandbox(request).store
    rows = store.all(
        "SELECT operation, status, throttled, fault, COUNT(*) AS n FROM calls GROUP BY operation, status, throttled, fault"
    )
    by_operation: dict[str, Any] = {}
    total = throttled = 0
    for row in rows:
        entry = by_operation.setdefault(
            row["operation"], {"total": 0, "throttled": 0, "faults": 0, "statuses": {}}
        )
        entry["total"] += row["n"]
        entry["throttled"] += row["n"] if row["throttled"] else 0
        entry["faults"] += row["n"] if row["fault"] else 0
        entry["statuses"][str(row["status"])] = entry["statuses"].get(str(row["status"]), 0) + row["n"]
        total += row["n"]
        throttled += row["n"] if row["throttled"] else 0
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        return _bad("limit must be an integer")
    recent = store.all("SELECT * FROM calls ORDER BY id DESC LIMIT ?", (limit,))
    return json_response(
        200, {"total": total, "throttled": throttled, "byOperation": by_operation, "recent": recent}
    )


@router.post("/reset")
async def reset(request: Request) -> Response:
    sandbox = _sandbox(request)
    everything = request.query_params.get("all", "false").lower() == "true"
    sandbox.store.reset(keep_sellers=not everything)
    sandbox.limiter.reset()
    sandbox.faults.clear()
    return json_response(200, {"reset": True, "sellersKept": not everything})


@router.get("/sellers")
async def list_sellers(request: Request) -> Response:
    store = _sandbox(request).store
    apps = store.all("SELECT client_id, name, scopes FROM apps ORDER BY client_id")
    for app in apps:
        app["scopes"] = json.loads(app["scopes"])
    return json_response(200, {"apps": apps, "sellers": store.sellers()})


@router.post("/sellers")
async def upsert_sellers(request: Request) -> Response:
    try:
        data = json.loads(await request.body())
        written = apply_config(_sandbox(request).store, data)
    except (ValueError, TypeError, AttributeError) as exc:
        return _bad(str(exc))
    return json_response(200, written)


@router.post("/sellers/{seller_id}/revoke")
async def revoke(request: Request, seller_id: str) -> Response:
    store = _sandbox(request).store
    cursor = store.execute("UPDATE sellers SET revoked=1 WHERE seller_id=?", (seller_id,))
    if cursor.rowcount != 1:
        return json_response(
            404, {"errors": [{"code": "NotFound", "message": f"unknown seller {seller_id}"}]}
        )
    store.execute("DELETE FROM tokens WHERE seller_id=?", (seller_id,))
    return json_response(200, {"revoked": seller_id})


@router.get("/faults")
async def get_faults(request: Request) -> Response:
    return json_response(200, _sandbox(request).faults.snapshot())


@router.post("/faults")
async def set_faults(request: Request) -> Response:
    faults = _sandbox(request).faults
    try:
        data = json.loads(await request.body())
        if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
            raise ValueError('expected {"seed": <int>, "rules": [...]}')
        seed = data.get("seed")
        faults.configure(data.get("rules", []), int(seed) if seed is not None else None)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    return json_response(200, faults.snapshot())


@router.delete("/faults")
async def clear_faults(request: Request) -> Response:
    faults = _sandbox(request).faults
    faults.clear()
    return json_response(200, faults.snapshot())


@router.post("/tokens/expire")
async def expire_tokens(request: Request) -> Response:
    cursor = _sandbox(request).store.execute(
        "UPDATE tokens SET expires_at=? WHERE expires_at>?", (time.time(), time.time())
    )
    return json_response(200, {"expired": cursor.rowcount})


@router.post("/feeds/process")
async def process_feeds(request: Request) -> Response:
    processor = request.app.state.processor
    changed = processor.run_once()
    return json_response(200, {"changed": changed})


@router.post("/reports/process")
async def process_reports(request: Request) -> Response:
    changed = request.app.state.report_processor.run_once()
    return json_response(200, {"changed": changed})


@router.get("/documents/{document_id}")
async def document(request: Request, document_id: str) -> Response:
    doc = _sandbox(request).store.one("SELECT * FROM documents WHERE document_id=?", (document_id,))
    if doc is None or doc["content"] is None:
        return json_response(
            404, {"errors": [{"code": "NotFound", "message": f"no content for {document_id}"}]}
        )
    content = bytes(doc["content"])
    if doc["compression"] == "GZIP":
        content = gzip.decompress(content)
    return Response(content, media_type=doc["content_type"])


@router.post("/listings/{seller_id}/{sku:spapi_sku}/issues")
async def attach_issues(request: Request, seller_id: str, sku: str) -> Response:
    sandbox = _sandbox(request)
    marketplace_id = request.query_params.get("marketplaceId")
    if not marketplace_id:
        return _bad("marketplaceId is required")
    try:
        body = await request.json()
    except ValueError:
        return _bad('the body must be JSON: {"issues": [...]}')
    engine = Listings(sandbox.store, sandbox.schemas, sandbox.settings.restricted_brands)
    try:
        found = engine.attach_issues(seller_id, sku, marketplace_id, (body or {}).get("issues"))
    except ValueError as err:
        return _bad(str(err))
    if not found:
        return json_response(
            404, {"errors": [{"code": "NotFound", "message": f"no listing {sku} in {marketplace_id}"}]}
        )
    return json_response(200, {"attached": len(body["issues"])})


@router.post("/listings/{seller_id}/{sku:spapi_sku}/drift")
async def seed_drift(request: Request, seller_id: str, sku: str) -> Response:
    sandbox = _sandbox(request)
    marketplace_id = request.query_params.get("marketplaceId")
    if not marketplace_id:
        return _bad("marketplaceId is required")
    if sandbox.store.seller(seller_id) is None:
        return json_response(
            404, {"errors": [{"code": "NotFound", "message": f"unknown seller {seller_id}"}]}
        )
    try:
        change = drift.Drift.parse(await request.json())
    except ValueError as err:  # a body that is not JSON is a ValueError too
        return _bad(str(err))
    created = drift.apply(sandbox.store, seller_id, sku, marketplace_id, change)
    return json_response(
        201 if created else 200, {"sku": sku, "marketplaceId": marketplace_id, "created": created}
    )
