"""Documents behind presigned URLs, as the Feeds and Reports APIs (2021-06-30) both serve them.

``getFeedDocument`` and ``getReportDocument`` answer with a URL that expires after 5 minutes and,
for a compressed document, ``compressionAlgorithm: GZIP``. The bytes at that URL are fetched (and
feed documents uploaded) without SP-API auth and outside the rate limiter (``sp_api=False``).
``feeds`` and ``reports`` build their document operations from these helpers, so the URL check and
the decompression rule are written once.

Pure: nothing here does I/O.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from .call import Call, path_part
from .models.common import json_parser, require_text

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

GZIP_MAGIC = b"\x1f\x8b"


def presigned_url(name: str, url: str) -> str:
    """``url`` if it is an absolute http(s) URL (a presigned document URL); else ``ValueError``."""
    url = require_text(name, url)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{name} must be an absolute http(s) URL (a presigned document URL)")
    return url


def get_document(
    operation: str,
    documents_path: str,
    id_name: str,
    document_id: str,
    model: type[M],
    enable_content_encoding_url_header: bool | None,
) -> Call[M]:
    """``GET <documents_path>/<document_id>``: the document's presigned URL and compression.

    ``enable_content_encoding_url_header=True`` makes the download answer with
    ``Content-Encoding: gzip`` so HTTP clients decompress on the fly; :func:`document_bytes`
    handles both cases.
    """
    if enable_content_encoding_url_header is not None and not isinstance(
        enable_content_encoding_url_header, bool
    ):
        raise ValueError("enable_content_encoding_url_header must be a bool")
    return Call(
        operation=operation,
        method="GET",
        path=f"{documents_path}/{path_part(require_text(id_name, document_id))}",
        params={"enableContentEncodingUrlHeader": enable_content_encoding_url_header},
        parse=json_parser(model),
    )


def document_bytes(compression_algorithm: str | None, response: httpx.Response) -> bytes:
    """The downloaded document's plain bytes.

    Gunzip only when Amazon said ``compressionAlgorithm: GZIP``, the response did *not* carry
    ``Content-Encoding: gzip`` (then httpx has already decompressed it), and the bytes really
    start with the gzip magic ``1f 8b``; otherwise return the bytes unchanged.
    """
    data = response.content
    algorithm = (compression_algorithm or "").upper()
    encodings = {e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")}
    if algorithm == "GZIP" and "gzip" not in encodings and data[:2] == GZIP_MAGIC:
        return gzip.decompress(data)
    return data


def download(operation: str, url: str, parse: Callable[[httpx.Response], T]) -> Call[T]:
    """``GET`` a document from its presigned URL (no SP-API auth, not rate limited)."""
    return Call(
        operation=operation,
        method="GET",
        path=presigned_url("document.url", url),
        parse=parse,
        sp_api=False,
    )
