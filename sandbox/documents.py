"""Presigned-style document URLs the sandbox serves itself, in place of S3.

``/_documents/<id>?X-Amz-Date=...&X-Amz-Expires=300&X-Amz-Signature=...`` (an HMAC over method,
id, date, expiry and the optional ``response-content-encoding``). Like S3: an expired or tampered
URL, the wrong method, or a ``Content-Type`` other than the one given to ``createFeedDocument``
answers 403 with an XML ``<Error>``; result documents are served as stored (GZIP bytes) without
``Content-Encoding`` unless the URL was made with ``enableContentEncodingUrlHeader=true``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from .core import Sandbox

router = APIRouter()

PATH = "/_documents"


def _signature(key: str, method: str, document_id: str, date: str, expires: str, encoding: str) -> str:
    message = "\n".join((method, document_id, date, expires, encoding)).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def presign(sandbox: Sandbox, base_url: str, method: str, document_id: str, *, encoding: str = "") -> str:
    date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    expires = str(int(sandbox.settings.presign_ttl))
    params = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": date, "X-Amz-Expires": expires}
    if encoding:
        params["response-content-encoding"] = encoding
    params["X-Amz-Signature"] = _signature(
        sandbox.settings.signing_key, method, document_id, date, expires, encoding
    )
    return f"{base_url}{PATH}/{document_id}?{urlencode(params)}"


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def _check(sandbox: Sandbox, request: Request, method: str, document_id: str) -> Response | None:
    q = request.query_params
    date, expires, signature = (
        q.get("X-Amz-Date", ""),
        q.get("X-Amz-Expires", ""),
        q.get("X-Amz-Signature", ""),
    )
    encoding = q.get("response-content-encoding", "")
    if not (date and expires and signature):
        return _s3_error(
            403,
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and Date parameters",
        )
    expected = _signature(sandbox.settings.signing_key, method, document_id, date, expires, encoding)
    if not hmac.compare_digest(expected, signature):
        return _s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    try:
        issued = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        ttl = float(expires)
    except ValueError:
        return _s3_error(400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
    if time.time() > issued + ttl:
        return _s3_error(403, "AccessDenied", "Request has expired")
    return None


@router.put(PATH + "/{document_id}")
async def upload(request: Request, document_id: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    refused = _check(sandbox, request, "PUT", document_id)
    if refused is not None:
        return refused
    doc = sandbox.store.one("SELECT * FROM documents WHERE document_id=?", (document_id,))
    if doc is None or doc["kind"] != "input":
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    content_type = request.headers.get("content-type", "")
    if content_type != doc["content_type"]:
        # the Content-Type is part of what the URL signs, as with S3
        return _s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided "
            f"(Content-Type must be {doc['content_type']!r}).",
        )
    body = await request.body()
    sandbox.store.execute(
        "UPDATE documents SET content=?, uploaded=? WHERE document_id=?", (body, time.time(), document_id)
    )
    etag = hashlib.md5(body).hexdigest()
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


@router.get(PATH + "/{document_id}")
async def download(request: Request, document_id: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    refused = _check(sandbox, request, "GET", document_id)
    if refused is not None:
        return refused
    doc = sandbox.store.one("SELECT * FROM documents WHERE document_id=?", (document_id,))
    if doc is None or doc["content"] is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    headers = {}
    if request.query_params.get("response-content-encoding"):
        headers["Content-Encoding"] = request.query_params["response-content-encoding"]
    return Response(bytes(doc["content"]), status_code=200, media_type=doc["content_type"], headers=headers)
