"""Product-type schemas fetched through the Product Type Definitions API and cached by checksum.

Why: messages are checked against the product type's schema *before* anything is sent, and
Amazon's schema links expire after 7 days while the schemas themselves change rarely. So each
schema is downloaded once per checksum (Base64 MD5 of the document, which Amazon gives next to the
link), verified, and kept on disk::

    <cache_dir>/<marketplace_id>/<PRODUCT_TYPE>.json               the latest, for validators
    <cache_dir>/<marketplace_id>/by-checksum/<PRODUCT_TYPE>-<md5>.json   every version seen
    <cache_dir>/meta-schema.json                                   Amazon's meta-schema

When the API cannot be reached, the latest cached copy is used and the caller is told so.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from spapi import definitions
from spapi.call import Call
from spapi.errors import SpApiError

if TYPE_CHECKING:
    from spapi.client import SpApiClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedSchema:
    product_type: str
    marketplace_id: str
    path: Path
    checksum: str
    version: str | None
    fresh: bool  # False when the API could not be reached and an older copy is used


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _raw_download(url: str, operation: str) -> Call[bytes]:
    return Call(operation=operation, method="GET", path=url, parse=lambda r: r.content, sp_api=False)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download_verified(client: SpApiClient, url: str, checksum: str, what: str) -> bytes:
    data = client.call(_raw_download(url, "downloadProductTypeSchema"))
    actual = md5_b64(data)
    if actual != checksum:
        raise SpApiError(
            f"{what}: downloaded document has checksum {actual}, Amazon announced {checksum}",
            operation="downloadProductTypeSchema",
        )
    return data


def fetch_schema(
    client: SpApiClient,
    product_type: str,
    marketplace_id: str,
    cache_dir: Path,
    *,
    seller_id: str | None = None,
    requirements: str = "LISTING",
) -> CachedSchema:
    """Make sure the current schema of ``product_type`` in ``marketplace_id`` is cached; return it."""
    product_type = product_type.upper()
    folder = cache_dir / marketplace_id
    latest = folder / f"{product_type}.json"
    try:
        definition = client.call(
            definitions.get_definitions_product_type(
                product_type, marketplace_id, seller_id=seller_id, requirements=requirements
            )
        )
    except (SpApiError, httpx.HTTPError) as err:
        if latest.exists():
            log.warning("using cached %s schema for %s: %s", product_type, marketplace_id, err)
            data = latest.read_bytes()
            return CachedSchema(product_type, marketplace_id, latest, md5_b64(data), None, fresh=False)
        raise
    checksum = definition.schema_.checksum
    versioned = (
        folder / "by-checksum" / f"{product_type}-{hashlib.sha1(checksum.encode()).hexdigest()[:16]}.json"
    )
    if versioned.exists() and md5_b64(versioned.read_bytes()) == checksum:
        data = versioned.read_bytes()
    else:
        data = _download_verified(
            client, definition.schema_.link.resource, checksum, f"{product_type} schema"
        )
        _write_atomic(versioned, data)
    if not latest.exists() or latest.read_bytes() != data:
        _write_atomic(latest, data)
    meta = definition.meta_schema
    meta_path = cache_dir / "meta-schema.json"
    if meta is not None and (not meta_path.exists() or md5_b64(meta_path.read_bytes()) != meta.checksum):
        _write_atomic(meta_path, _download_verified(client, meta.link.resource, meta.checksum, "meta-schema"))
    version = definition.product_type_version.version
    return CachedSchema(product_type, marketplace_id, latest, checksum, version, fresh=True)
