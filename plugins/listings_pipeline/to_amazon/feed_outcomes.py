"""What the bulk path hands from task to task: each document's submit arguments and descriptor, the
feed's outcome, and what applying its processing report did.

They travel as XCom (and the applied outcome is a JSON column of ``feed_submissions``), so they are
TypedDicts: plain dicts at run time, checked key by key by mypy. This module imports nothing heavy:
the DAG files name these types at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NotRequired, TypedDict


class DocumentRef(TypedDict):
    """What the build step knew about a document, carried through the submit operator to the parse
    step so that it needs nothing else. Paths and ids only, no secrets."""

    seller_id: str
    marketplace_id: str
    spapi_conn_id: str
    config_path: str | None
    run_id: str
    document_path: str
    document_hash: str
    index_path: str
    message_count: NotRequired[int]  # a reconciled feed's document comes from the ledger, without it


class SubmitKwargs(TypedDict):
    """One document's keyword arguments for ``LedgerSubmitFeedOperator`` (``expand_kwargs``)."""

    document_path: str
    marketplace_ids: list[str]
    spapi_conn_id: str
    seller_id: str
    message_count: int
    poll_interval: float
    wait_timeout: timedelta
    document: DocumentRef
    # the wait's shortcut when notifications are configured (from_amazon.processing_signals)
    wake_check: NotRequired[str | None]


class FeedOutcome(TypedDict):
    """How a feed ended, as the submit operator returns it (or reconcile rebuilds it from the ledger)."""

    feed_id: str
    processing_status: str  # DONE, FATAL or CANCELLED
    result_document_id: str | None  # None: ask getFeed (a reconciled feed)
    document_hash: str
    document: DocumentRef
    # Amazon's processing times (ISO 8601), already on the feed's row; a reconciled feed has none here
    processing_start_time: NotRequired[str | None]
    processing_end_time: NotRequired[str | None]


class AppliedOutcome(TypedDict):
    """What applying a feed's outcome did, kept in ``feed_submissions.applied_outcome`` so that a
    second parse of the same feed returns it instead of applying it twice. A FATAL or CANCELLED
    feed has no report, hence no issues, warnings or mismatches."""

    accepted: int
    invalid: int
    retry: int
    dead_lettered: int
    issues: NotRequired[int]
    warnings: NotRequired[int]
    mismatches: NotRequired[int]


class FeedResult(AppliedOutcome):
    """The parse step's result for one feed; ``summaries.tally`` adds it into ``run_summaries``."""

    seller_id: str
    marketplace_id: str
    feed_id: str
    processing_status: str
    messages: int


class OffersFeedResult(FeedResult):
    """The offers sync's parse result: with the config path its ``record_feed`` step reads."""

    config_path: str | None


class FeedRecorded(OffersFeedResult):
    """The offers sync after a feed: how many accepted changes reached ``offers`` / ``inventory``."""

    recorded: int
