"""Listings Items API 2021-08-01: the engine (shared with the feed processor) and the routes.

One stored row per (seller, SKU, marketplace). ``putListingsItem`` replaces the row of its single
marketplace; ``patchListingsItem`` applies Amazon's JSON Patch ops (add, replace, merge, delete on
``/attributes/<name>``, values always arrays) to each given marketplace. Bodies are validated
against the product type's schema; answers are HTTP 200 with ``status`` ACCEPTED / INVALID (and
VALID under ``mode=VALIDATION_PREVIEW``, which stores nothing).

``getListingsItem``'s summary ``status`` says what shoppers see: BUYABLE with an offer and stock,
DISCOVERABLE otherwise, unless an issue Amazon attached to the stored listing after accepting it
(``/_sandbox/listings/.../issues``) carries an enforcement that is not exempted: LISTING_SUPPRESSED
and CATALOG_ITEM_REMOVED take the buyability away, SEARCH_SUPPRESSED the visibility (the
enforcement actions as Amazon's model describes them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from .core import ApiError, Call, Sandbox, run_operation
from .product_types import BAD_PATCH, NO_SUCH_LISTING, UNKNOWN_PRODUCT_TYPE, Issue, ProductTypes
from .store import Store


class _SkuConvertor(Convertor[str]):
    """A SKU path segment as Amazon routes it: any characters, slashes and line breaks included.

    Starlette's ``path`` convertor is ``.*``, which stops at a line break: a SKU holding one was
    answered 404 by the router instead of Amazon's 400 from the Listings API.
    """

    regex = "[\\s\\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("spapi_sku", _SkuConvertor())

router = APIRouter()

BASE = "/listings/2021-08-01/items"
REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
PATCH_OPS = ("add", "replace", "merge", "delete")
GET_INCLUDED = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
)
SUBMIT_INCLUDED = ("identifiers", "issues")
_PATCH_PATH = re.compile(r"^/attributes/([A-Za-z0-9_]+)$")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def asin_for(seller_id: str, sku: str) -> str:
    digest = hashlib.sha256(f"{seller_id}\0{sku}".encode()).digest()
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "B0" + "".join(alphabet[b % 36] for b in digest[:8])


# -- engine -----------------------------------------------------------------------------------


class Listings:
    """Validation and state changes; used by the API routes and the feed processor."""

    def __init__(self, store: Store, schemas: ProductTypes, restricted_brands: Sequence[str] = ()) -> None:
        self.store = store
        self.schemas = schemas
        self.restricted_brands = {b.casefold() for b in restricted_brands}

    def _gating(self, attributes: Mapping[str, Any]) -> list[Issue]:
        """Brand gating: Amazon asks for approval before a seller may list some brands."""
        issues = []
        for entry in attributes.get("brand") or []:
            brand = entry.get("value") if isinstance(entry, Mapping) else None
            if isinstance(brand, str) and brand.casefold() in self.restricted_brands:
                issue = Issue(
                    "5665",
                    f"You need approval to list the brand '{brand}' in this category.",
                    "ERROR",
                    ("brand",),
                    ("QUALIFICATION_REQUIRED",),
                )
                issues.append(issue)
        return issues

    def row(self, seller_id: str, sku: str, marketplace_id: str) -> dict[str, Any] | None:
        row = self.store.one(
            "SELECT * FROM listings WHERE seller_id=? AND sku=? AND marketplace_id=?",
            (seller_id, sku, marketplace_id),
        )
        if row:
            row["attributes"] = json.loads(row["attributes"])
            row["issues"] = json.loads(row["issues"])
        return row

    def rows(self, seller_id: str, sku: str, marketplace_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [r for m in marketplace_ids if (r := self.row(seller_id, sku, m)) is not None]

    def _save(
        self,
        seller_id: str,
        sku: str,
        marketplace_id: str,
        product_type: str,
        requirements: str,
        attributes: Mapping[str, Any],
    ) -> None:
        now = time.time()
        self.store.execute(
            "INSERT INTO listings(seller_id, sku, marketplace_id, product_type, requirements, attributes, issues, asin, "
            "created, updated) VALUES (?,?,?,?,?,?,'[]',?,?,?) ON CONFLICT(seller_id, sku, marketplace_id) DO UPDATE SET "
            "product_type=excluded.product_type, requirements=excluded.requirements, attributes=excluded.attributes, "
            "issues='[]', updated=excluded.updated",
            (
                seller_id,
                sku,
                marketplace_id,
                product_type,
                requirements,
                json.dumps(attributes),
                asin_for(seller_id, sku),
                now,
                now,
            ),
        )

    def _record(
        self,
        seller_id: str,
        sku: str,
        operation: str,
        marketplaces: Sequence[str],
        status: str,
        body: Any,
        issues: list[Issue],
    ) -> str:
        submission_id = uuid.uuid4().hex
        self.store.execute(
            "INSERT INTO submissions(submission_id, seller_id, sku, operation, marketplaces, status, body, issues, created) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (
                submission_id,
                seller_id,
                sku,
                operation,
                json.dumps(list(marketplaces)),
                status,
                json.dumps(body),
                json.dumps([i.to_api() for i in issues]),
                time.time(),
            ),
        )
        return submission_id

    @staticmethod
    def _verdict(issues: list[Issue], preview: bool) -> str:
        if any(i.severity == "ERROR" for i in issues):
            return "INVALID"
        return "VALID" if preview else "ACCEPTED"

    def put(
        self,
        seller_id: str,
        sku: str,
        marketplace_ids: Sequence[str],
        product_type: str,
        attributes: Mapping[str, Any],
        requirements: str = "LISTING",
        *,
        preview: bool = False,
        operation: str = "putListingsItem",
    ) -> tuple[str, list[Issue], str]:
        issues = self.schemas.validate(
            product_type, attributes, enforce_required=requirements != "LISTING_OFFER_ONLY"
        )
        issues.extend(self._gating(attributes))
        status = self._verdict(issues, preview)
        if status == "ACCEPTED":
            for marketplace_id in marketplace_ids:
                self._save(seller_id, sku, marketplace_id, product_type.upper(), requirements, attributes)
        body = {"productType": product_type, "requirements": requirements, "attributes": attributes}
        return status, issues, self._record(seller_id, sku, operation, marketplace_ids, status, body, issues)

    def patch(
        self,
        seller_id: str,
        sku: str,
        marketplace_ids: Sequence[str],
        product_type: str,
        patches: Sequence[Mapping[str, Any]],
        *,
        preview: bool = False,
        operation: str = "patchListingsItem",
    ) -> tuple[str, list[Issue], str]:
        issues: list[Issue] = []
        results: list[tuple[str, dict[str, Any], str]] = []
        if product_type not in self.schemas:
            issues.append(
                Issue.of(UNKNOWN_PRODUCT_TYPE, f"The product type '{product_type}' is not supported.")
            )
        else:
            schema = self.schemas.schema(product_type)
            for marketplace_id in marketplace_ids:
                row = self.row(seller_id, sku, marketplace_id)
                if row is None:
                    issues.append(
                        Issue.of(
                            NO_SUCH_LISTING,
                            f"The listing for SKU '{sku}' does not exist in marketplace {marketplace_id}.",
                        )
                    )
                    continue
                attributes, patch_issues = apply_patches(schema, row["attributes"], patches)
                issues.extend(patch_issues)
                if not patch_issues:
                    enforce = row["requirements"] != "LISTING_OFFER_ONLY"
                    issues.extend(self.schemas.validate(product_type, attributes, enforce_required=enforce))
                    issues.extend(self._gating(attributes))
                results.append((marketplace_id, attributes, row["requirements"]))
        issues = _dedupe(issues)
        status = self._verdict(issues, preview)
        if status == "ACCEPTED":
            for marketplace_id, attributes, requirements in results:
                self._save(seller_id, sku, marketplace_id, product_type.upper(), requirements, attributes)
        body = {"productType": product_type, "patches": list(patches)}
        return status, issues, self._record(seller_id, sku, operation, marketplace_ids, status, body, issues)

    def delete(
        self,
        seller_id: str,
        sku: str,
        marketplace_ids: Sequence[str],
        *,
        operation: str = "deleteListingsItem",
    ) -> tuple[str, list[Issue], str]:
        for marketplace_id in marketplace_ids:
            self.store.execute(
                "DELETE FROM listings WHERE seller_id=? AND sku=? AND marketplace_id=?",
                (seller_id, sku, marketplace_id),
            )
        return "ACCEPTED", [], self._record(seller_id, sku, operation, marketplace_ids, "ACCEPTED", None, [])

    def attach_issues(
        self, seller_id: str, sku: str, marketplace_id: str, issues: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Amazon's issues on a stored listing, as Amazon attaches them after accepting it (a
        suppression, a missing image); the next put or patch clears them. False: no such listing."""
        cursor = self.store.execute(
            "UPDATE listings SET issues=?, updated=? WHERE seller_id=? AND sku=? AND marketplace_id=?",
            (json.dumps(check_issues(issues)), time.time(), seller_id, sku, marketplace_id),
        )
        return cursor.rowcount > 0

    def item(
        self, seller_id: str, sku: str, marketplace_ids: Sequence[str], included: Iterable[str]
    ) -> dict[str, Any] | None:
        rows = self.rows(seller_id, sku, marketplace_ids)
        if not rows:
            return None
        return render_item(sku, rows, set(included))


SEVERITIES = ("ERROR", "WARNING", "INFO")
EXEMPTIONS = ("EXEMPT", "EXEMPT_UNTIL_EXPIRY_DATE", "NOT_EXEMPT")


def check_issues(issues: Any) -> list[dict[str, Any]]:
    """Issues in the shape of Amazon's ``Issue`` (code, message, severity, categories; optional
    attributeNames and enforcements); raises ValueError naming the first thing wrong."""
    if not isinstance(issues, list):
        raise ValueError("issues must be a list of Amazon's Issue objects")
    for n, issue in enumerate(issues):
        where = f"issues[{n}]"
        if not isinstance(issue, dict):
            raise ValueError(f"{where} is not an object")
        for key in ("code", "message"):
            if not isinstance(issue.get(key), str) or not issue[key]:
                raise ValueError(f"{where}.{key} is required (a string)")
        if issue.get("severity") not in SEVERITIES:
            raise ValueError(f"{where}.severity must be one of {', '.join(SEVERITIES)}")
        categories = issue.get("categories")
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ValueError(f"{where}.categories is required (a list of strings)")
        enforcements = issue.get("enforcements")
        if enforcements is None:
            continue
        actions = enforcements.get("actions") if isinstance(enforcements, dict) else None
        exemption = enforcements.get("exemption") if isinstance(enforcements, dict) else None
        if not isinstance(actions, list) or not all(
            isinstance(a, dict) and isinstance(a.get("action"), str) for a in actions
        ):
            raise ValueError(f"{where}.enforcements.actions is required (a list of {{action}})")
        if not isinstance(exemption, dict) or exemption.get("status") not in EXEMPTIONS:
            raise ValueError(f"{where}.enforcements.exemption.status must be one of {', '.join(EXEMPTIONS)}")
    return list(issues)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[tuple[str, str]] = set()
    out = []
    for issue in issues:
        if (issue.code, issue.message) not in seen:
            seen.add((issue.code, issue.message))
            out.append(issue)
    return out


def _selector_key(selectors: Sequence[str] | None, item: Any) -> str:
    if selectors and isinstance(item, dict):
        return json.dumps([item.get(s) for s in selectors], sort_keys=True)
    return json.dumps(item, sort_keys=True)


def apply_patches(
    schema: Mapping[str, Any], attributes: Mapping[str, Any], patches: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[Issue]]:
    """Amazon's JSON Patch on top-level attributes; returns the new attributes and any issues."""
    result = json.loads(json.dumps(dict(attributes)))
    issues: list[Issue] = []
    properties = schema.get("properties", {})
    for index, patch in enumerate(patches):
        op, path, value = patch.get("op"), patch.get("path", ""), patch.get("value")
        match = _PATCH_PATH.match(path if isinstance(path, str) else "")
        if not match:
            issues.append(
                Issue.of(
                    BAD_PATCH,
                    f"Patch {index}: path {path!r} is not allowed; only '/attributes/<name>' can be patched.",
                )
            )
            continue
        name = match.group(1)
        if op in ("add", "replace", "merge") and value is None:
            issues.append(Issue.of(BAD_PATCH, f"Patch {index}: '{op}' needs a value (an array).", name))
            continue
        selectors = properties.get(name, {}).get("selectors")
        if op in ("add", "replace"):
            result[name] = value
        elif op == "merge":
            current = {_selector_key(selectors, item): item for item in result.get(name, [])}
            for item in value or []:
                key = _selector_key(selectors, item)
                if key in current and isinstance(current[key], dict) and isinstance(item, dict):
                    current[key] = {**current[key], **item}
                else:
                    current[key] = item
            result[name] = list(current.values())
        elif op == "delete":
            if not value:
                result.pop(name, None)
            else:
                doomed = {_selector_key(selectors, item) for item in value}
                kept = [item for item in result.get(name, []) if _selector_key(selectors, item) not in doomed]
                if kept:
                    result[name] = kept
                else:
                    result.pop(name, None)
    return result, issues


def _first(values: Any, key: str = "value") -> Any:
    if isinstance(values, list) and values and isinstance(values[0], dict):
        return values[0].get(key)
    return None


def _for_marketplace(values: Any, marketplace_id: str) -> list[Any]:
    if not isinstance(values, list):
        return []
    return [
        v
        for v in values
        if not isinstance(v, dict) or v.get("marketplace_id", marketplace_id) == marketplace_id
    ]


def render_item(sku: str, rows: list[dict[str, Any]], included: set[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"sku": sku}
    if "summaries" in included:
        summaries = []
        for row in rows:
            attrs = row["attributes"]
            mp = row["marketplace_id"]
            summary: dict[str, Any] = {
                "marketplaceId": mp,
                "asin": row["asin"],
                "productType": row["product_type"],
                "status": _status(attrs, mp, row["issues"]),
                "createdDate": iso(row["created"]),
                "lastUpdatedDate": iso(row["updated"]),
            }
            condition = _first(_for_marketplace(attrs.get("condition_type"), mp))
            if condition:
                summary["conditionType"] = condition
            name = _first(_for_marketplace(attrs.get("item_name"), mp))
            if name:
                summary["itemName"] = name
            summaries.append(summary)
        item["summaries"] = summaries
    if "attributes" in included:
        merged: dict[str, list[Any]] = {}
        for row in rows:
            for name, values in row["attributes"].items():
                bucket = merged.setdefault(name, [])
                for value in values if isinstance(values, list) else [values]:
                    if value not in bucket:
                        bucket.append(value)
        item["attributes"] = merged
    if "issues" in included:
        item["issues"] = [issue for row in rows for issue in row["issues"]]
    if "offers" in included:
        offers = []
        for row in rows:
            mp = row["marketplace_id"]
            for offer in _for_marketplace(row["attributes"].get("purchasable_offer"), mp):
                price = _offer_price(offer)
                if price is not None:
                    offers.append(
                        {
                            "marketplaceId": mp,
                            "offerType": "B2C",
                            "price": {"currencyCode": offer.get("currency", "USD"), "amount": price},
                        }
                    )
        item["offers"] = offers
    if "fulfillmentAvailability" in included:
        availability = []
        for row in rows:
            for entry in row["attributes"].get("fulfillment_availability", []) or []:
                if isinstance(entry, dict) and entry.get("fulfillment_channel_code"):
                    out = {"fulfillmentChannelCode": entry["fulfillment_channel_code"]}
                    if isinstance(entry.get("quantity"), int):
                        out["quantity"] = entry["quantity"]
                    if out not in availability:
                        availability.append(out)
        item["fulfillmentAvailability"] = availability
    if "procurement" in included:
        item["procurement"] = []
    if "relationships" in included:
        rels = []
        for row in rows:
            mp = row["marketplace_id"]
            relationships = []
            parent = _first(
                _for_marketplace(row["attributes"].get("child_parent_sku_relationship"), mp), "parent_sku"
            )
            if parent:
                relationships.append({"type": "VARIATION", "parentSkus": [parent]})
            rels.append({"marketplaceId": mp, "relationships": relationships})
        item["relationships"] = rels
    if "productTypes" in included:
        item["productTypes"] = [
            {"marketplaceId": r["marketplace_id"], "productType": r["product_type"]} for r in rows
        ]
    return item


def _offer_price(offer: Any) -> str | None:
    try:
        value = offer["our_price"][0]["schedule"][0]["value_with_tax"]
    except (KeyError, IndexError, TypeError):
        return None
    return f"{float(value):.2f}"


# Enforcement actions (Amazon's IssueEnforcementAction) and the summary status each takes away.
NOT_BUYABLE = frozenset({"LISTING_SUPPRESSED", "CATALOG_ITEM_REMOVED"})
NOT_DISCOVERABLE = frozenset({"SEARCH_SUPPRESSED"})


def _enforced(issues: Sequence[Mapping[str, Any]], now: float | None = None) -> set[str]:
    """The enforcement actions in force: not exempted, or exempted until a date that has passed."""
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    actions: set[str] = set()
    for issue in issues:
        enforcements = issue.get("enforcements") or {}
        exemption = enforcements.get("exemption") or {}
        status = exemption.get("status")
        if status == "EXEMPT":
            continue
        if status == "EXEMPT_UNTIL_EXPIRY_DATE":
            expiry = exemption.get("expiryDate")
            if expiry and datetime.fromisoformat(str(expiry).replace("Z", "+00:00")) > moment:
                continue
        actions.update(str(a.get("action")) for a in enforcements.get("actions") or [])
    return actions


def _status(
    attributes: Mapping[str, Any], marketplace_id: str, issues: Sequence[Mapping[str, Any]] = ()
) -> list[str]:
    enforced = _enforced(issues)
    buyable = (
        bool(_for_marketplace(attributes.get("purchasable_offer"), marketplace_id))
        and any(
            isinstance(e, dict) and (e.get("quantity") or 0) > 0
            for e in attributes.get("fulfillment_availability", []) or []
        )
        and not enforced & NOT_BUYABLE
    )
    discoverable = not enforced & NOT_DISCOVERABLE
    return [name for name, holds in (("BUYABLE", buyable), ("DISCOVERABLE", discoverable)) if holds]


# -- request parsing ---------------------------------------------------------------------------


def csv_param(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(v for v in raw.split(",") if v)
    return values


def marketplace_ids(request: Request, *, max_items: int | None = None) -> list[str]:
    ids = csv_param(request, "marketplaceIds")
    if not ids:
        raise ApiError.invalid("Missing required parameter: marketplaceIds", "marketplaceIds is required.")
    if max_items is not None and len(ids) > max_items:
        raise ApiError.invalid(
            f"Invalid input: marketplaceIds accepts at most {max_items} value(s).",
            f"{len(ids)} marketplaceIds were given.",
        )
    return ids


def check_sku(sku: str) -> None:
    """Amazon answers 400 InvalidInput for a SKU with control characters, on every operation."""
    found = sorted({f"U+{ord(c):04X}" for c in sku if unicodedata.category(c) == "Cc"})
    if found:
        raise ApiError.invalid(
            "Invalid input: the SKU contains control characters.", f"sku contains {', '.join(found)}."
        )


def included_data(request: Request, allowed: Sequence[str], default: Sequence[str]) -> list[str]:
    values = csv_param(request, "includedData")
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ApiError.invalid(
            f"Invalid includedData value(s): {', '.join(bad)}", f"Allowed: {', '.join(allowed)}"
        )
    return values or list(default)


def check_mode(request: Request) -> bool:
    mode = request.query_params.get("mode")
    if mode not in (None, "VALIDATION_PREVIEW"):
        raise ApiError.invalid(f"Invalid mode {mode!r}", "The only supported mode is VALIDATION_PREVIEW.")
    return mode == "VALIDATION_PREVIEW"


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError.invalid("Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError.invalid("Request body must be a JSON object.")
    return body


def check_put_body(body: Mapping[str, Any]) -> None:
    if not isinstance(body.get("productType"), str) or not body["productType"]:
        raise ApiError.invalid(
            "Invalid request body: productType is required.", "productType must be a string."
        )
    if not isinstance(body.get("attributes"), dict):
        raise ApiError.invalid(
            "Invalid request body: attributes is required.", "attributes must be an object."
        )
    if "requirements" in body and body["requirements"] not in REQUIREMENTS:
        raise ApiError.invalid(
            "Invalid request body: requirements.", f"requirements must be one of {', '.join(REQUIREMENTS)}."
        )


def check_patch_body(body: Mapping[str, Any]) -> None:
    if not isinstance(body.get("productType"), str) or not body["productType"]:
        raise ApiError.invalid(
            "Invalid request body: productType is required.", "productType must be a string."
        )
    patches = body.get("patches")
    if not isinstance(patches, list) or not patches:
        raise ApiError.invalid(
            "Invalid request body: patches is required.", "patches must be a non-empty array."
        )
    for i, patch in enumerate(patches):
        if not isinstance(patch, dict) or "op" not in patch or "path" not in patch:
            raise ApiError.invalid("Invalid request body: a patch needs op and path.", f"patches[{i}]")
        if patch["op"] not in PATCH_OPS:
            raise ApiError.invalid(
                f"Invalid request body: unsupported patch op {patch['op']!r}.",
                f"op must be one of {', '.join(PATCH_OPS)}.",
            )
        if not isinstance(patch["path"], str):
            raise ApiError.invalid("Invalid request body: path must be a string.", f"patches[{i}].path")
        value = patch.get("value")
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            raise ApiError.invalid(
                "Invalid request body: value must be an array of objects.", f"patches[{i}].value"
            )


def submission(
    sku: str,
    status: str,
    submission_id: str,
    issues: list[Issue],
    included: list[str],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    out: dict[str, Any] = {"sku": sku, "status": status, "submissionId": submission_id}
    if "issues" in included:
        out["issues"] = [i.to_api() for i in issues]
    if "identifiers" in included:
        out["identifiers"] = [{"marketplaceId": r["marketplace_id"], "asin": r["asin"]} for r in rows]
    return out


# -- routes ------------------------------------------------------------------------------------


def _engine(sandbox: Sandbox) -> Listings:
    return Listings(sandbox.store, sandbox.schemas, sandbox.settings.restricted_brands)


@router.get(BASE + "/{sellerId}/{sku:spapi_sku}")
async def get_listings_item(request: Request, sellerId: str, sku: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        check_sku(sku)
        ids = marketplace_ids(request)
        included = included_data(request, GET_INCLUDED, ("summaries",))
        item = _engine(sandbox).item(sellerId, sku, ids, included)
        if item is None:
            raise ApiError.not_found(f"SKU '{sku}' not found in marketplace(s) {', '.join(ids)}.")
        return call.respond(200, item)

    return await run_operation(request, "getListingsItem", handle, sellerId)


@router.put(BASE + "/{sellerId}/{sku:spapi_sku}")
async def put_listings_item(request: Request, sellerId: str, sku: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        check_sku(sku)
        ids = marketplace_ids(request, max_items=1)
        included = included_data(request, SUBMIT_INCLUDED, ("issues",))
        preview = check_mode(request)
        body = await json_body(request)
        check_put_body(body)
        engine = _engine(sandbox)
        status, issues, sid = engine.put(
            sellerId,
            sku,
            ids,
            body["productType"],
            body["attributes"],
            body.get("requirements", "LISTING"),
            preview=preview,
        )
        return call.respond(
            200, submission(sku, status, sid, issues, included, engine.rows(sellerId, sku, ids))
        )

    return await run_operation(request, "putListingsItem", handle, sellerId)


@router.patch(BASE + "/{sellerId}/{sku:spapi_sku}")
async def patch_listings_item(request: Request, sellerId: str, sku: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        check_sku(sku)
        ids = marketplace_ids(request)
        included = included_data(request, SUBMIT_INCLUDED, ("issues",))
        preview = check_mode(request)
        body = await json_body(request)
        check_patch_body(body)
        engine = _engine(sandbox)
        status, issues, sid = engine.patch(
            sellerId, sku, ids, body["productType"], body["patches"], preview=preview
        )
        return call.respond(
            200, submission(sku, status, sid, issues, included, engine.rows(sellerId, sku, ids))
        )

    return await run_operation(request, "patchListingsItem", handle, sellerId)


@router.delete(BASE + "/{sellerId}/{sku:spapi_sku}")
async def delete_listings_item(request: Request, sellerId: str, sku: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        check_sku(sku)
        ids = marketplace_ids(request, max_items=1)
        status, issues, sid = _engine(sandbox).delete(sellerId, sku, ids)
        return call.respond(200, submission(sku, status, sid, issues, ["issues"], []))

    return await run_operation(request, "deleteListingsItem", handle, sellerId)


@router.get(BASE + "/{sellerId}")
async def search_listings_items(request: Request, sellerId: str) -> Response:
    async def handle(sandbox: Sandbox, call: Call) -> Response:
        ids = marketplace_ids(request)
        included = included_data(request, GET_INCLUDED, ("summaries",))
        params = request.query_params
        try:
            page_size = int(params.get("pageSize", "10"))
        except ValueError:
            raise ApiError.invalid("pageSize must be an integer.") from None
        if not 1 <= page_size <= 20:
            raise ApiError.invalid("pageSize must be between 1 and 20.")
        identifiers = csv_param(request, "identifiers")
        id_type = params.get("identifiersType")
        if identifiers and id_type not in ("SKU", "ASIN"):
            raise ApiError.invalid(
                "identifiersType must be SKU or ASIN in the sandbox when identifiers are given."
            )
        if len(identifiers) > 20:
            raise ApiError.invalid("identifiers accepts at most 20 values.")
        sort_by = params.get("sortBy", "lastUpdatedDate")
        order = params.get("sortOrder", "DESC")
        column = {"sku": "sku", "createdDate": "MIN(created)", "lastUpdatedDate": "MAX(updated)"}.get(sort_by)
        if column is None or order not in ("ASC", "DESC"):
            raise ApiError.invalid("Invalid sortBy or sortOrder.")
        placeholders = ",".join("?" * len(ids))
        rows = sandbox.store.all(
            f"SELECT sku, asin FROM listings WHERE seller_id=? AND marketplace_id IN ({placeholders}) "
            f"GROUP BY sku ORDER BY {column} {order}, sku",
            [sellerId, *ids],
        )
        if identifiers:
            key = "sku" if id_type == "SKU" else "asin"
            rows = [r for r in rows if r[key] in identifiers]
        rows = rows[:1000]
        offset = _decode_page(params.get("pageToken"))
        engine = _engine(sandbox)
        page = rows[offset : offset + page_size]
        items = [engine.item(sellerId, r["sku"], ids, included) for r in page]
        body: dict[str, Any] = {"numberOfResults": len(rows), "items": [i for i in items if i]}
        pagination = {}
        if offset + page_size < len(rows):
            pagination["nextToken"] = _encode_page(offset + page_size)
        if offset > 0:
            pagination["previousToken"] = _encode_page(max(0, offset - page_size))
        if pagination:
            body["pagination"] = pagination
        return call.respond(200, body)

    return await run_operation(request, "searchListingsItems", handle, sellerId)


def _encode_page(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_page(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith("offset:"):
            raise ValueError(text)
        return max(0, int(text.split(":", 1)[1]))
    except (ValueError, UnicodeDecodeError):
        raise ApiError.invalid("Invalid pageToken.") from None
