"""Product Type Definitions API 2020-09-01: search and get, with schema and meta-schema links.

The links point at documents the sandbox serves itself (``/_schemas/...``, presigned-style, valid
7 days like Amazon's); ``checksum`` is the Base64 MD5 of exactly the bytes served.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from .core import ApiError, Call, Sandbox, run_operation
from .documents import _check, _signature
from .listings import csv_param
from .published import (
    DEFINITION_LOCALES,
    DEFINITION_PARENTAGE_LEVELS,
    DEFINITION_REQUIREMENTS,
    DEFINITION_REQUIREMENTS_ENFORCED,
)

router = APIRouter()

BASE = "/definitions/2020-09-01/productTypes"
SCHEMAS = "/_schemas"
META_NAME = "meta-schema-v1"
LOCALES_DEFAULT = "DEFAULT"


def checksum(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _link(sandbox: Sandbox, request: Request, name: str) -> str:
    date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    expires = str(int(sandbox.settings.schema_link_ttl))
    signature = _signature(sandbox.settings.signing_key, "GET", f"schema:{name}", date, expires, "")
    query = urlencode({"X-Amz-Date": date, "X-Amz-Expires": expires, "X-Amz-Signature": signature})
    return f"{sandbox.base_url(request)}{SCHEMAS}/{name}.json?{query}"


def _bytes(sandbox: Sandbox, name: str) -> bytes | None:
    if name == META_NAME:
        return sandbox.settings.meta_schema_path.read_bytes()
    if name in sandbox.schemas:
        return sandbox.schemas.raw(name)
    return None


def _version(sandbox: Sandbox) -> str:
    digest = hashlib.sha256()
    for name in sandbox.schemas.names():
        digest.update(sandbox.schemas.raw(name))
    return "USANDBOX_" + digest.hexdigest()[:12].upper()


def _display_name(schema: dict[str, Any], name: str) -> str:
    title = schema.get("title")
    return title if isinstance(title, str) and title else name.replace("_", " ").title()


def _property_groups(schema: dict[str, Any]) -> dict[str, Any]:
    groups = schema.get("x-property-groups")
    if isinstance(groups, dict) and groups:
        return {
            key: {
                "title": g.get("title", key),
                "description": g.get("description", g.get("title", key)),
                "propertyNames": list(g.get("propertyNames", [])),
            }
            for key, g in groups.items()
        }
    return {
        "all": {
            "title": "All attributes",
            "description": "Every attribute of the product type",
            "propertyNames": sorted(schema.get("properties", {})),
        }
    }


@router.get(BASE)
async def search_definitions_product_types(request: Request) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        ids = csv_param(request, "marketplaceIds")
        if not ids:
            raise ApiError.invalid("Missing required parameter: marketplaceIds")
        keywords = [k.lower() for k in csv_param(request, "keywords")]
        item_name = request.query_params.get("itemName")
        if keywords and item_name:
            raise ApiError.invalid("keywords and itemName cannot be used together.")
        words = keywords or ([w.lower() for w in item_name.split()] if item_name else [])
        found = []
        for name in sandbox.schemas.names():
            schema = sandbox.schemas.schema(name)
            display = _display_name(schema, name)
            haystack = " ".join([name, display, *schema.get("properties", {})]).lower().replace("_", " ")
            if not words or any(w in haystack or w in name.lower() for w in words):
                found.append({"name": name, "displayName": display, "marketplaceIds": ids})
        return call.respond(200, {"productTypes": found, "productTypeVersion": _version(sandbox)})

    return await run_operation(request, "searchDefinitionsProductTypes", handle)


@router.get(BASE + "/{productType}")
async def get_definitions_product_type(request: Request, productType: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        q = request.query_params
        ids = csv_param(request, "marketplaceIds")
        if not ids:
            raise ApiError.invalid("Missing required parameter: marketplaceIds")
        if len(ids) > 1:
            raise ApiError.invalid("marketplaceIds is limited to one value.", f"{len(ids)} were given.")
        requirements = q.get("requirements", "LISTING")
        enforced = q.get("requirementsEnforced", "ENFORCED")
        locale = q.get("locale", LOCALES_DEFAULT)
        version = q.get("productTypeVersion", "LATEST")
        for name, value, allowed in (
            ("requirements", requirements, DEFINITION_REQUIREMENTS),
            ("requirementsEnforced", enforced, DEFINITION_REQUIREMENTS_ENFORCED),
            ("locale", locale, DEFINITION_LOCALES),
            ("parentageLevel", q.get("parentageLevel", "NONE"), DEFINITION_PARENTAGE_LEVELS),
        ):
            if value not in allowed:
                raise ApiError.invalid(
                    f"Invalid input: {name} {value!r} is not one of the allowed values.",
                    f"{name} must be one of {', '.join(allowed)}.",
                )
        if productType not in sandbox.schemas:
            raise ApiError.not_found(f"Product type {productType!r} not found.")
        current = _version(sandbox)
        if version not in ("LATEST", "RELEASE_CANDIDATE", current):
            raise ApiError.not_found(f"Product type version {version!r} not found.")
        name = productType.upper()
        schema = sandbox.schemas.schema(name)
        body = {
            "metaSchema": {
                "link": {"resource": _link(sandbox, request, META_NAME), "verb": "GET"},
                "checksum": checksum(sandbox.settings.meta_schema_path.read_bytes()),
            },
            "schema": {
                "link": {"resource": _link(sandbox, request, name), "verb": "GET"},
                "checksum": checksum(sandbox.schemas.raw(name)),
            },
            "requirements": requirements,
            "requirementsEnforced": enforced,
            "propertyGroups": _property_groups(schema),
            "locale": locale,
            "marketplaceIds": ids,
            "productType": name,
            "displayName": _display_name(schema, name),
            "productTypeVersion": {"version": current, "latest": True, "releaseCandidate": False},
        }
        return call.respond(200, body)

    return await run_operation(request, "getDefinitionsProductType", handle)


@router.get(SCHEMAS + "/{name}.json")
async def schema_document(request: Request, name: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    refused = _check(sandbox, request, "GET", f"schema:{name}")
    if refused is not None:
        return refused
    data = _bytes(sandbox, name)
    if data is None:
        return Response(json.dumps({"message": "not found"}), status_code=404, media_type="application/json")
    return Response(data, media_type="application/json")
