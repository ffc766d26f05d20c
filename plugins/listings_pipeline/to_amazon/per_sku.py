"""Small change sets through the Listings Items API (docs/architecture.md, "The per-SKU path").

Used by the ``listings_hotfix`` DAG (an operator's form), and meant for the router and the
dead-letter replay later. The steps, one function per DAG task:

1. ``forms.hotfix.validate_form`` checks the form (against itself, the pipeline config, the
   warehouse and the seller's connection) into a :class:`~listings_pipeline.forms.hotfix.HotfixRequest`;
   a bad form fails there with every problem at once, each naming its field.
2. :func:`plan` builds one change per SKU x marketplace (:func:`build_changes`) and cuts them into
   batches.
3. :func:`apply_batch` sends each change (``patchListingsItem``, ``putListingsItem`` or
   ``deleteListingsItem``) through the shared limiter, and records the outcome: ``listing_issues``
   rows (source ``listings_api``), a lifecycle transition, and a ``dead_letters`` row for an INVALID
   answer or a call that failed after its retries. Nothing is dropped.
4. :func:`summarise` adds the batches up.

A change is a :class:`~listings_pipeline.changes.Change`, a TypedDict: it travels as
XCom and is kept as a dead letter's payload, so it stays a plain dict, and holds no secret. Its
``body`` is the request body on the wire (``None`` for delete); ``payload``, for put_from_catalog
only, is the catalog's feed-shaped message (its hash is the one the bulk path compares, so the next
sync sees the listing as unchanged).

Lifecycle: before the call a listing moves to ``submitted`` (through ``ready`` when it must); after
it, to ``accepted`` (``deleted`` for a delete), or ``invalid`` then ``dead_lettered``, or straight
to ``dead_lettered`` when the call failed. Patches and deletes set only ``submitted_hash`` (the hash
of the change), never the catalog ``payload``, and an accepted patch leaves ``accepted_hash`` as it
was (``lifecycle``'s ``patch``): the bulk path then holds the listing until the catalog row itself
changes, so the next scheduled sync does not undo a hotfix, and the listing stays in sync. With
``preview`` (``mode=VALIDATION_PREVIEW``) nothing moves and nothing is dead-lettered: only the
issues Amazon reports are recorded, marked ``preview`` (they are not the listing's), and the
verdict is returned.

Every move names who triggered the run and its DAG (:mod:`listings_pipeline.triggered_by`). An
accepted patch that sets a price or stock is recorded in ``offers`` / ``inventory``
(:mod:`~listings_pipeline.to_amazon.offer_state`) in the transaction of its move, whose event keeps
each changed field's old and new value. Then Amazon's own view of the accepted listings is read
(:mod:`~listings_pipeline.to_amazon.amazon_view`: ``live``, and Amazon's issues now).

``put_from_catalog`` reads the seller's catalog with :func:`listings_pipeline.catalog.extract.extract_snapshot`
(any source the bulk path supports: file, S3, SQL) into a run-scoped snapshot, reads the SKUs' rows
from it with pyarrow, and maps them with :func:`listings_pipeline.catalog.transform.row_to_message`. The
Great Expectations gate of the bulk path is not run here: Amazon's own validation answers inline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from listings_pipeline.branch import Branch
from listings_pipeline.call_log import ApiCallLog, branch_trace
from listings_pipeline.changes import (
    BatchResult,
    BranchSent,
    Change,
    ChangeBatch,
    ChangeOutcome,
    HotfixForm,
    HotfixSummary,
    ListingKey,
    Operation,
)
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.forms.hotfix import HotfixRequest, config_problems, request_of
from listings_pipeline.forms.problems import FormError, FormProblem, problem
from listings_pipeline.json_types import JsonObject
from listings_pipeline.run_files import BranchPaths, payload_hash, read_jsonl
from listings_pipeline.to_amazon import amazon_view, offer_state
from listings_pipeline.to_amazon.offer_patches import PatchOp, offer_patch, stock_patch, written
from listings_pipeline.triggered_by import TriggeredBy, current
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
from listings_pipeline.warehouse.models import Listing, ListingStatus, PublishPath

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.call import Call
    from spapi.models.listings import ListingsItemSubmissionResponse

log = logging.getLogger(__name__)

L = ListingStatus

DEFAULT_BATCH_SIZE = 20


# --- changes ------------------------------------------------------------------------------------------


def price_patch(request: HotfixRequest, marketplace_id: str) -> PatchOp:
    """The offer for this marketplace and currency, merged (see :mod:`offer_patches`): a sale or a
    minimum or maximum price set earlier and not given in the form stays."""
    assert request.price is not None and request.currency is not None
    sale = None
    if request.sale_price is not None and request.sale_start and request.sale_end:
        sale = (request.sale_price, request.sale_start, request.sale_end)
    return offer_patch(
        marketplace_id,
        request.currency,
        request.price,
        sale=sale,
        minimum=request.minimum_price,
        maximum=request.maximum_price,
    )


def quantity_patch(request: HotfixRequest) -> PatchOp:
    """The merchant channel's quantity (and handling time, if given), merged: an FBA entry beside it
    and a handling time set earlier stay."""
    assert request.quantity is not None
    return stock_patch(request.quantity, request.handling_time)


def _change(
    request: HotfixRequest,
    sku: str,
    marketplace_id: str,
    operation: Operation,
    *,
    body: JsonObject | None = None,
    payload: JsonObject | None = None,
    product_type: str | None = None,
) -> Change:
    return {
        "seller_id": request.seller_id,
        "marketplace_id": marketplace_id,
        "sku": sku,
        "action": request.action,
        "preview": request.preview,
        "product_type": product_type or request.product_types.get(sku),
        "operation": operation,
        "body": body,
        "payload": payload,
    }


def build_changes(request: HotfixRequest, config: PipelineConfig, *, run_id: str = "manual") -> list[Change]:
    """One change per SKU x marketplace (see :class:`~listings_pipeline.changes.Change`).

    :param run_id: names the catalog snapshot folder of ``put_from_catalog``.
    :raises FormError: the seller or marketplaces are not in ``config``; or, for
        ``put_from_catalog``, a SKU has no catalog row or its row cannot be mapped (nothing is sent).
    """
    wrong = config_problems(request.seller_id, request.marketplace_ids, config)
    if wrong:
        raise FormError("hotfix", wrong)
    if request.action == "put_from_catalog":
        return _catalog_changes(request, config, run_id)
    changes = []
    for sku in request.skus:
        for marketplace_id in request.marketplace_ids:
            if request.action == "delete":
                changes.append(_change(request, sku, marketplace_id, "deleteListingsItem"))
                continue
            patches: list[PatchOp | JsonObject]
            if request.action == "price":
                patches = [price_patch(request, marketplace_id)]
            elif request.action == "quantity":
                patches = [quantity_patch(request)]
            else:
                patches = [op.model_dump(exclude_none=True) for op in request.attribute_patch or ()]
            body: JsonObject = {"productType": request.product_types[sku], "patches": patches}
            changes.append(_change(request, sku, marketplace_id, "patchListingsItem", body=body))
    return changes


def _catalog_rows(
    config: PipelineConfig, seller_id: str, marketplace_id: str, run_id: str
) -> list[JsonObject]:
    """The seller's catalog rows (its own columns, so free-form here) for one marketplace."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from listings_pipeline.catalog.extract import CatalogScope, extract_snapshot

    seller = config.seller(seller_id)
    snapshot = extract_snapshot(
        seller.catalog,
        BranchPaths.of(config, run_id, seller_id, marketplace_id).snapshots,
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        run_id=run_id,
        # the catalog sync quarantines the catalog's bad rows; a hotfix only looks up its own SKUs
        scope=CatalogScope(
            seller_id=seller_id,
            marketplace_id=marketplace_id,
            served=config.catalog_sharers(seller_id),
            claims_defects=False,
            all_marketplaces=seller.catalog_all_marketplaces,
        ),
    )
    rows: list[JsonObject] = pq.read_table(snapshot.path).to_pylist()
    return rows


def _catalog_changes(request: HotfixRequest, config: PipelineConfig, run_id: str) -> list[Change]:
    from listings_pipeline.catalog.mapping import load_mappings
    from listings_pipeline.catalog.transform import TransformError, row_to_message

    mappings = load_mappings(config.mappings_dir)
    wanted = set(request.skus)
    problems: list[FormProblem] = []
    changes = []
    for marketplace_id in request.marketplace_ids:
        rows = {
            str(r["sku"]).strip(): r
            for r in _catalog_rows(config, request.seller_id, marketplace_id, run_id)
            if r.get("sku") is not None and str(r["sku"]).strip() in wanted
        }
        for sku in request.skus:
            row = rows.get(sku)
            if row is None:
                problems.append(
                    problem("skus", f"SKU {sku} has no catalog row for marketplace {marketplace_id}")
                )
                continue
            product_type = str(row.get("product_type") or "").strip().upper()
            mapping = mappings.get(product_type)
            if mapping is None:
                problems.append(
                    problem(
                        "skus", f"SKU {sku}: no catalog mapping for product type {product_type or '(empty)'}"
                    )
                )
                continue
            try:
                message = row_to_message(row, mapping, marketplace_id)
            except TransformError as err:
                problems.append(problem("skus", f"SKU {sku} in {marketplace_id}: {err}"))
                continue
            body: JsonObject = {
                "productType": message["productType"],
                "requirements": message["requirements"],
                "attributes": message["attributes"],
            }
            changes.append(
                _change(
                    request,
                    sku,
                    marketplace_id,
                    "putListingsItem",
                    product_type=message["productType"],
                    body=body,
                    payload=message,
                )
            )
    if problems:
        raise FormError("hotfix", problems)
    return changes


def batches(changes: Sequence[Change], size: int = DEFAULT_BATCH_SIZE) -> list[list[Change]]:
    """``changes`` in lists of at most ``size``, in order (one mapped task each)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    return [list(changes[start : start + size]) for start in range(0, len(changes), size)]


# --- apply ----------------------------------------------------------------------------------------------


def _call_for(change: Change, issue_locale: str | None) -> Call[ListingsItemSubmissionResponse]:
    from spapi import listings

    mode: Literal["VALIDATION_PREVIEW"] | None = "VALIDATION_PREVIEW" if change["preview"] else None
    seller_id, sku, marketplace_id = change["seller_id"], change["sku"], change["marketplace_id"]
    operation, body = change["operation"], change["body"]
    if operation == "deleteListingsItem":
        return listings.delete_listings_item(seller_id, sku, marketplace_id, issue_locale=issue_locale)
    if body is None:
        raise ValueError(f"{operation} of {marketplace_id}/{sku} has no body to send")
    if operation == "patchListingsItem":
        return listings.patch_listings_item(
            seller_id, sku, [marketplace_id], body, mode=mode, issue_locale=issue_locale
        )
    if operation == "putListingsItem":
        return listings.put_listings_item(
            seller_id, sku, marketplace_id, body, mode=mode, issue_locale=issue_locale
        )
    raise ValueError(f"unknown operation {operation!r}")


def _key(change: ListingKey) -> ListingKey:
    return {
        "seller_id": change["seller_id"],
        "marketplace_id": change["marketplace_id"],
        "sku": change["sku"],
    }


class _CatalogSubmitted(ListingKey):
    """A catalog put sets the listing's payload: its hash becomes the one the bulk path compares."""

    payload: JsonObject
    payload_hash: str


class _HotfixSubmitted(ListingKey):
    """A hotfix sets only the hash of what was sent, so the catalog's payload stays."""

    submitted_hash: str


def _mark_submitted(engine: Engine, changes: Sequence[Change], run_id: str, who: TriggeredBy) -> None:
    """Move each listing to ``submitted`` (through ``ready`` where the lifecycle needs it)."""
    from sqlalchemy import select

    from listings_pipeline.warehouse.records import ensure_seller

    with session_scope(engine) as session:
        for seller_id in sorted({c["seller_id"] for c in changes}):
            ensure_seller(session, seller_id)
        current: dict[tuple[str, str], str | None] = {}
        for change in changes:
            status = session.scalar(
                select(Listing.status).where(
                    Listing.seller_id == change["seller_id"],
                    Listing.marketplace_id == change["marketplace_id"],
                    Listing.sku == change["sku"],
                )
            )
            current[(change["marketplace_id"], change["sku"])] = status
        to_ready = [
            {**_key(c), "product_type": c.get("product_type")}
            for c in changes
            if current[(c["marketplace_id"], c["sku"])] not in (L.READY, L.SUBMITTED)
        ]
        if to_ready:
            lifecycle.transition_many(
                session,
                to_ready,
                cause="listings_api:plan",
                run_id=run_id,
                to_status=L.READY,
                actor=who.user,
                dag_id=who.dag_id,
            )
        submitted: list[_CatalogSubmitted | _HotfixSubmitted] = []
        for change in changes:
            key = _key(change)
            payload = change.get("payload")
            if payload is not None:  # put_from_catalog: the catalog's own message
                row: _CatalogSubmitted | _HotfixSubmitted = {
                    **key,
                    "payload": payload,
                    "payload_hash": payload_hash(payload),
                }
            else:  # a hotfix: the catalog payload stays; the change's hash is what was sent
                hashed = payload_hash({"operation": change["operation"], "body": change.get("body")})
                row = {**key, "submitted_hash": hashed}
            submitted.append(row)
        lifecycle.transition_many(
            session,
            submitted,
            cause="listings_api:submit",
            run_id=run_id,
            to_status=L.SUBMITTED,
            actor=who.user,
            dag_id=who.dag_id,
        )


def _reason(response: ListingsItemSubmissionResponse) -> tuple[str, str | None]:
    errors = response.errors
    if not errors:
        return f"{response.status} without an error issue", None
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first.code}: {first.message}{more}", first.code


# Amazon refused the request itself: the error list describes the listing (see _refused).
REFUSED_STATUSES = frozenset({400, 404})


@dataclass(frozen=True)
class _Verdict:
    """What one answer (or failed call) means for its listing, before anything is written.

    ``to_status`` is ``None`` when the listing does not move (a preview, a valid preview);
    ``letter`` is the dead letter's (reason, code) when the change failed for good.
    """

    outcome: ChangeOutcome
    to_status: str | None
    letter: tuple[str, str | None] | None


def _verdict(
    change: Change, response: ListingsItemSubmissionResponse | None, error: Exception | None
) -> _Verdict:
    """Amazon's answer (or the call's failure) as the change's outcome and the listing's next status."""
    preview = bool(change["preview"])
    outcome: ChangeOutcome = {
        "sku": change["sku"],
        "marketplace_id": change["marketplace_id"],
        "operation": change["operation"],
        "preview": preview,
        "submission_id": response.submission_id if response else None,
        "issue_codes": [i.code for i in (response.issues or ())] if response else [],
        "status": "",
    }
    if response is None:
        code = getattr(error, "code", None) or (
            str(getattr(error, "status", "")) if getattr(error, "status", None) else type(error).__name__
        )
        outcome["status"] = "failed"
        outcome["error_code"] = code
        return _Verdict(
            outcome, None if preview else L.DEAD_LETTERED, (f"call failed after retries: {error}", code)
        )
    if response.accepted:
        outcome["status"] = "accepted"
        return _Verdict(
            outcome, L.DELETED if change["operation"] == "deleteListingsItem" else L.ACCEPTED, None
        )
    if response.is_valid:
        outcome["status"] = "valid"
        return _Verdict(outcome, None, None)
    outcome["status"] = "invalid" if response.is_invalid else str(response.status).lower()
    letter = _reason(response)
    outcome["error_code"] = letter[1]
    return _Verdict(outcome, None if preview else L.INVALID, letter)


def _refused(error: Exception | None) -> Sequence[Any]:
    """Amazon's errors when it refused the request itself (malformed, or no such listing): they are
    about this listing, so they go to listing_issues too. Throttles and 5xx say nothing about it."""
    return getattr(error, "errors", ()) if getattr(error, "status", None) in REFUSED_STATUSES else ()


def _write_issues(
    session: Session,
    change: Change,
    run_id: str,
    response: ListingsItemSubmissionResponse | None,
    refused: Sequence[Any],
) -> None:
    from sqlalchemy import insert

    from listings_pipeline.warehouse.models import ListingIssue
    from listings_pipeline.warehouse.records import api_error_issue_rows, listings_api_issue_rows

    key = _key(change)
    preview = bool(change["preview"])  # Amazon stored nothing: not the listing's issues
    if refused:
        session.execute(
            insert(ListingIssue), api_error_issue_rows(refused, **key, run_id=run_id, preview=preview)
        )
    if response is not None and response.issues:
        session.execute(
            insert(ListingIssue),
            listings_api_issue_rows(
                response.issues, **key, submission_id=response.submission_id, run_id=run_id, preview=preview
            ),
        )


def _record_offer(session: Session, change: Change) -> offer_state.Changes:
    """An accepted patch's price and stock, in ``offers`` / ``inventory``; the fields it changed.
    The offers sync's change carries the catalog's state it came from, an operator's does not."""
    body = change.get("body") or {}
    if change["operation"] != "patchListingsItem" or not body.get("patches"):
        return {}
    wrote = written(body["patches"], change["marketplace_id"])
    if wrote["offer"] is None and wrote["stock"] is None:
        return {}
    return offer_state.write(
        session,
        change["seller_id"],
        change["marketplace_id"],
        change["sku"],
        wrote,
        catalog_offer=change.get("offer"),
        catalog_stock=change.get("inventory"),
    )


def _move_listing(
    session: Session,
    change: Change,
    run_id: str,
    response: ListingsItemSubmissionResponse | None,
    verdict: _Verdict,
    who: TriggeredBy,
) -> bool:
    """Move the listing to its verdict's status, and dead-letter the change when it failed for good
    (through ``invalid`` when Amazon judged it); returns whether a letter was opened. An accepted
    price or stock patch is recorded first, and its event says what it changed."""
    cause = f"listings_api:{response.submission_id}" if response else f"listings_api:{change['operation']}"
    extra: dict[str, Any] = {"last_submission_id": response.submission_id} if response else {}
    assert verdict.to_status is not None
    changed = _record_offer(session, change) if verdict.to_status == L.ACCEPTED else {}
    lifecycle.transition(
        session,
        change["seller_id"],
        change["marketplace_id"],
        change["sku"],
        verdict.to_status,
        cause,
        run_id,
        patch=change["operation"] == "patchListingsItem",
        actor=who.user,
        dag_id=who.dag_id,
        changes=dict(changed) or None,
        **extra,
    )
    if verdict.letter is None:
        return False
    reason, code = verdict.letter
    lifecycle.open_dead_letter(
        session,
        **_key(change),
        path=PublishPath.LISTINGS_API,
        operation=change["operation"],
        reason=reason[:2000],
        payload=JsonObject(change),  # the letter keeps the whole change, to send it again
        code=code,
        run_id=run_id,
    )
    if verdict.to_status != L.DEAD_LETTERED:
        lifecycle.transition_many(
            session,
            [_key(change)],
            cause=cause,
            run_id=run_id,
            to_status=L.DEAD_LETTERED,
            actor=who.user,
            dag_id=who.dag_id,
        )
    return True


def _record(
    engine: Engine,
    change: Change,
    run_id: str,
    response: ListingsItemSubmissionResponse | None,
    error: Exception | None,
    who: TriggeredBy,
) -> ChangeOutcome:
    """Write one change's outcome; return it for the task's result (no secrets: Amazon's codes only)."""
    verdict = _verdict(change, response, error)
    outcome = verdict.outcome
    refused = _refused(error)
    if refused:
        outcome["issue_codes"] = [e.code for e in refused]
    with session_scope(engine) as session:
        _write_issues(session, change, run_id, response, refused)
        if change["preview"]:
            return outcome
        if _move_listing(session, change, run_id, response, verdict, who):
            outcome["dead_lettered"] = True
    return outcome


def apply_batch(
    batch: Sequence[Change],
    *,
    spapi_conn_id: str,
    run_id: str,
    config_path: str | None = None,
    who: TriggeredBy | None = None,
) -> BatchResult:
    """Send one batch of changes through the Listings Items API and record every outcome.

    Calls go through the client's shared limiter and retries; each is recorded in ``api_calls``
    under the branch's trace id. An INVALID answer and a call that still fails after its retries
    are both dead-lettered (``path="listings_api"``), never dropped. With ``preview`` only issues
    are recorded. Then the listings Amazon accepted are read back (``live``).

    :param who: who triggered the run, for the listings' history; by default the running Airflow
        task's (nobody outside a task).

    :return: counts (``accepted``, ``valid``, ``invalid``, ``failed``, ``dead_lettered``, ``issues``)
        and ``outcomes``: per SKU x marketplace its status, submission id and issue codes.
    """
    from spapi.client import trace
    from spapi.errors import SpApiError
    from spapi.hooks import SpApiHook

    config = load_config(config_path)
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    calls = ApiCallLog(engine, run_id)
    outcomes: list[ChangeOutcome] = []
    who = who or current()
    try:
        live = [c for c in batch if not c["preview"]]
        if live:
            _mark_submitted(engine, live, run_id, who)
        with SpApiHook(spapi_conn_id).get_client(on_call=calls) as client:
            for change in batch:
                response: ListingsItemSubmissionResponse | None = None
                error: Exception | None = None
                with trace(branch_trace(run_id, change["seller_id"], change["marketplace_id"])):
                    try:
                        response = client.call(_call_for(change, config.issue_locale))
                    except SpApiError as err:
                        log.warning(
                            "%s %s/%s failed: %s",
                            change["operation"],
                            change["marketplace_id"],
                            change["sku"],
                            err,
                        )
                        error = err
                outcomes.append(_record(engine, change, run_id, response, error, who))
            # what Amazon shows now of the listings it accepted: live, and its issues
            shown = [
                _key(change)
                for change, outcome in zip(batch, outcomes, strict=True)
                if outcome["status"] == "accepted" and change["operation"] != "deleteListingsItem"
            ]
            amazon_view.observe(client, engine, shown, run_id=run_id, issue_locale=config.issue_locale)
    finally:
        calls.flush()
        engine.dispose()

    def count(status: str) -> int:
        return sum(1 for o in outcomes if o["status"] == status)

    return {
        "changes": len(batch),
        "accepted": count("accepted"),
        "valid": count("valid"),
        "invalid": count("invalid"),
        "failed": count("failed"),
        "dead_lettered": sum(1 for o in outcomes if o.get("dead_lettered")),
        "issues": sum(len(o["issue_codes"]) for o in outcomes),
        "outcomes": outcomes,
    }


# --- DAG steps --------------------------------------------------------------------------------------------


def plan(request: HotfixForm, run_id: str, batch_size: int = DEFAULT_BATCH_SIZE) -> list[ChangeBatch]:
    """Step 2: the changes, in batches, each with what :func:`apply_batch` needs (one mapped task each)."""
    config_path = request.get("config_path")
    config = load_config(config_path)
    parsed = request_of(request)
    seller = config.seller(parsed.seller_id)
    changes = build_changes(parsed, config, run_id=run_id)
    return [
        {"spapi_conn_id": seller.spapi_conn_id, "config_path": config_path, "changes": batch}
        for batch in batches(changes, batch_size)
    ]


def apply(batch: ChangeBatch, run_id: str) -> BatchResult:
    """Step 3: :func:`apply_batch` for one planned batch."""
    return apply_batch(
        batch["changes"],
        spapi_conn_id=batch["spapi_conn_id"],
        run_id=run_id,
        config_path=batch.get("config_path"),
    )


_COUNTS: tuple[
    Literal["changes", "accepted", "valid", "invalid", "failed", "dead_lettered", "issues"], ...
] = (
    "changes",
    "accepted",
    "valid",
    "invalid",
    "failed",
    "dead_lettered",
    "issues",
)


def summarise(results: Iterable[BatchResult]) -> HotfixSummary:
    """Step 4: totals over the batches, and every SKU that did not get through."""
    totals: HotfixSummary = {
        "changes": 0,
        "accepted": 0,
        "valid": 0,
        "invalid": 0,
        "failed": 0,
        "dead_lettered": 0,
        "issues": 0,
        "problems": [],
    }
    problems = totals["problems"]
    for result in results:
        for name in _COUNTS:
            totals[name] += int(result.get(name, 0))
        problems.extend(o for o in result.get("outcomes", ()) if o["status"] not in ("accepted", "valid"))
    for outcome in problems:
        log.warning(
            "%s %s/%s: %s %s",
            outcome["operation"],
            outcome["marketplace_id"],
            outcome["sku"],
            outcome["status"],
            outcome.get("error_code") or "",
        )
    return totals


# --- a catalog branch's small change set ----------------------------------------------------------------------------------


def _branch_change(seller_id: str, marketplace_id: str, message: JsonObject) -> Change:
    """A planned feed message as the Listings Items API call that does the same."""
    change: Change = {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "sku": message["sku"],
        "preview": False,
        "product_type": message.get("productType"),
        "action": "delete",
        "operation": "deleteListingsItem",
        "body": None,
        "payload": None,
    }
    if message["operationType"] != "DELETE":
        body: JsonObject = {
            k: message[k] for k in ("productType", "requirements", "attributes") if k in message
        }
        change["action"] = "put_from_catalog"
        change["operation"] = "putListingsItem"
        change["body"] = body
        change["payload"] = message
    return change


def _resolve_requeued(
    config: PipelineConfig, seller_id: str, marketplace_id: str, outcomes: Sequence[ChangeOutcome]
) -> None:
    """The catalog's small change set is the sync a requeued feed letter waits for, as a feed is."""
    accepted = {
        o["sku"]: f"listings_api:{o['submission_id'] or o['operation']}"
        for o in outcomes
        if o["status"] == "accepted"
    }
    if not accepted:
        return
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            lifecycle.resolve_requeued_letters(
                session, seller_id=seller_id, marketplace_id=marketplace_id, accepted=accepted
            )
    finally:
        engine.dispose()


def apply_branch(branch: Branch) -> BranchSent:
    """Step 6-8 for a small change set: each planned message through the Listings Items API.

    UPDATE messages become ``putListingsItem`` calls carrying the planned message as their payload
    (so its hash becomes the accepted one, exactly as a feed would make it), DELETE messages
    ``deleteListingsItem``. Results, issues and dead letters land in the same tables as a feed's,
    and a feed letter a replay requeued is resolved when Amazon accepts its listing here, as a
    feed's report would resolve it.
    """

    seller_id, marketplace_id, run_id = branch["seller_id"], branch["marketplace_id"], branch["run_id"]
    if branch.get("route") != "listings_api":
        return {"seller_id": seller_id, "marketplace_id": marketplace_id, "feed_id": None, "messages": 0}
    config = load_config(branch.get("config_path"))
    paths = BranchPaths.of(config, run_id, seller_id, marketplace_id)
    changes = [_branch_change(seller_id, marketplace_id, message) for message in read_jsonl(paths.planned)]
    result: BranchSent = {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "feed_id": None,
        "messages": len(changes),
    }
    for batch in batches(changes):
        counts = apply_batch(
            batch, spapi_conn_id=branch["spapi_conn_id"], run_id=run_id, config_path=branch.get("config_path")
        )
        _resolve_requeued(config, seller_id, marketplace_id, counts["outcomes"])
        result["accepted"] = result.get("accepted", 0) + counts["accepted"]
        result["invalid"] = result.get("invalid", 0) + counts["invalid"]
        result["dead_lettered"] = result.get("dead_lettered", 0) + counts["dead_lettered"]
        result["failed"] = result.get("failed", 0) + counts["failed"]
        result["issues"] = result.get("issues", 0) + counts["issues"]
    return result
