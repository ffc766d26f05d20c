"""Warehouse rows from what ``spapi`` hands back: call records and issues of both shapes.

Each ``*_row(s)`` function returns plain dicts for a bulk ``session.execute(insert(Model), rows)``;
:func:`ensure_seller` writes the seller row that listings and the ledger refer to.

The two issue shapes meet in ``listing_issues`` here: the Listings API's
:class:`spapi.models.listings.Issue` has ``attributeNames`` (a list), ``categories`` and optional
``marketplaceIds``; the feed processing report's :class:`spapi.models.feeds.ProcessingReportIssue`
has a singular ``attributeName``, no categories, and optional ``messageId``, ``sku`` and ``code``
(feed-level issues have neither message nor SKU).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from listings_pipeline.warehouse.db import insert_ignoring_conflicts
from listings_pipeline.warehouse.models import IssueSource, Seller

if TYPE_CHECKING:
    from spapi.client import CallRecord
    from spapi.errors import ApiErrorDetail
    from spapi.models.feeds import ProcessingReportIssue
    from spapi.models.listings import Issue


def api_call_row(record: CallRecord, run_id: str | None = None) -> dict[str, Any]:
    """An ``api_calls`` row from a client's :class:`~spapi.client.CallRecord` (epoch -> UTC time)."""
    return {
        "operation": record.operation,
        "method": record.method,
        "seller_id": record.seller_id,
        "marketplace_id": record.marketplace_id,
        "sku": record.sku,
        "region": record.region,
        "status": record.status,
        "latency_ms": record.latency_ms,
        "request_id": record.request_id,
        "attempt": record.attempt,
        "throttled": record.throttled,
        "error_code": record.error_code,
        "trace_id": record.trace_id,
        "started_at": datetime.fromtimestamp(record.started_at, UTC),
        "limiter_wait_ms": record.limiter_wait_ms,
        "run_id": run_id,
    }


def listings_api_issue_rows(
    issues: Iterable[Issue],
    *,
    seller_id: str,
    marketplace_id: str,
    sku: str,
    submission_id: str | None = None,
    run_id: str | None = None,
    observed_at: datetime | None = None,
    source: str | IssueSource = IssueSource.LISTINGS_API,
    preview: bool = False,
) -> list[dict[str, Any]]:
    """``listing_issues`` rows from Listings API issues (put/patch/delete/get, or a notification).

    An issue naming several ``marketplaceIds`` becomes one row per marketplace; without them it
    belongs to ``marketplace_id``. All rows share ``observed_at`` (one batch). ``preview``: the
    issues of a validation preview, which stored nothing.
    """
    when = observed_at or datetime.now(UTC)
    rows = []
    for issue in issues:
        for market in issue.marketplace_ids or [marketplace_id]:
            rows.append(
                {
                    "source": IssueSource(source).value,
                    "seller_id": seller_id,
                    "marketplace_id": market,
                    "sku": sku,
                    "feed_id": None,
                    "message_id": None,
                    "submission_id": submission_id,
                    "code": issue.code,
                    "severity": str(issue.severity),
                    "message": issue.message,
                    "attribute_names": list(issue.attribute_names or []),
                    "categories": list(issue.categories),
                    "preview": preview,
                    "observed_at": when,
                    "run_id": run_id,
                }
            )
    return rows


def api_error_issue_rows(
    errors: Iterable[ApiErrorDetail],
    *,
    seller_id: str,
    marketplace_id: str,
    sku: str,
    run_id: str | None = None,
    observed_at: datetime | None = None,
    preview: bool = False,
) -> list[dict[str, Any]]:
    """``listing_issues`` rows from the error list of a refused Listings API call (HTTP 400 and kin).

    Amazon refuses a malformed request outright instead of answering ``INVALID`` with issues; its
    ``errors`` say why, and an operator looking for a SKU's problems should find them in the same
    table. Each becomes an ERROR of source ``listings_api`` without a submission id.
    """
    when = observed_at or datetime.now(UTC)
    return [
        {
            "source": IssueSource.LISTINGS_API.value,
            "seller_id": seller_id,
            "marketplace_id": marketplace_id,
            "sku": sku,
            "feed_id": None,
            "message_id": None,
            "submission_id": None,
            "code": error.code,
            "severity": "ERROR",
            "message": f"{error.message} ({error.details})" if error.details else error.message,
            "attribute_names": [],
            "categories": [],
            "preview": preview,
            "observed_at": when,
            "run_id": run_id,
        }
        for error in errors
    ]


def feed_issue_rows(
    issues: Iterable[ProcessingReportIssue],
    *,
    seller_id: str,
    feed_id: str,
    marketplace_id: str | None = None,
    sku_by_message: Mapping[int, str] | None = None,
    run_id: str | None = None,
    observed_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """``listing_issues`` rows from a processing report's issues.

    The SKU is the issue's own, else the one our document gave its ``messageId``
    (``sku_by_message``); feed-level issues keep ``sku`` and ``message_id`` NULL. A singular
    ``attributeName`` becomes a one-element ``attribute_names``; ``categories`` is empty.
    """
    when = observed_at or datetime.now(UTC)
    skus = sku_by_message or {}
    rows = []
    for issue in issues:
        sku = issue.sku or (skus.get(issue.message_id) if issue.message_id is not None else None)
        rows.append(
            {
                "source": IssueSource.FEED.value,
                "seller_id": seller_id,
                "marketplace_id": marketplace_id,
                "sku": sku,
                "feed_id": feed_id,
                "message_id": issue.message_id,
                "submission_id": None,
                "code": issue.code,
                "severity": str(issue.severity),
                "message": issue.message,
                "attribute_names": [issue.attribute_name] if issue.attribute_name else [],
                "categories": [],
                "observed_at": when,
                "run_id": run_id,
            }
        )
    return rows


def ensure_seller(
    session: Session,
    seller_id: str,
    *,
    name: str | None = None,
    region: str | None = None,
    spapi_conn_id: str | None = None,
) -> Seller:
    """The ``sellers`` row, inserted if missing (an existing row is left as it is).

    ``spapi_conn_id`` is the *name* of the Airflow connection; its secrets never come here.
    """
    session.execute(
        insert_ignoring_conflicts(session, Seller, ["seller_id"]).values(
            seller_id=seller_id, name=name, region=region, spapi_conn_id=spapi_conn_id
        )
    )
    seller = session.get(Seller, seller_id)
    assert seller is not None
    return seller
