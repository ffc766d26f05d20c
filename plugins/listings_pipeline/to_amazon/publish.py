"""Submit feed documents exactly once: ``SubmitFeedOperator`` backed by the ``publish_attempts`` ledger.

docs/architecture.md, "The bulk path", step 6: the attempt is written *before* Amazon is called, keyed by seller, marketplaces and
the document's hash. A retried or resumed task finds the row and continues from its state:

* ``feed_created`` or later: the feed exists; wait for it (or read its outcome), never create another;
* ``uploaded``: the task died around createFeed. Amazon's ``Feed`` does not name its input document,
  so the feed is looked for with getFeeds: exactly one unclaimed feed of this seller, type and
  marketplaces created since the upload is adopted; none means createFeed never happened, so it is
  safe to create; more than one is ambiguous and stops with an error for a person to resolve;
* ``recorded``, ``document_created``: nothing reached Amazon's feed queue; start over;
* ``cancelled``, ``failed``, or ``done``/``fatal`` from an *earlier run*: re-armed, a new feed is created
  (the plan step only sends what still needs sending, so an identical document in a new run is a
  real retry; within one run a finished document is never sent again).

When the task's last try fails and the ledger proves no feed exists (nothing reached createFeed, or
Amazon turned createFeed away), the document's SKUs go back to ``ready`` at once (cause
``publish_attempt:<id>:submit_failed``) and the attempt becomes ``failed``: otherwise they would
wait ``feed_wait_hours`` for a feed that was never created, and a run triggered meanwhile would
send nothing. When Amazon may have created the feed, they stay ``submitted`` for the orphan lookup
and the stale-feed handling (:mod:`listings_pipeline.to_amazon.stale_feeds`) to settle. If that failed task is
cleared later, its SKUs are taken back, unless a later run has planned them since: then the older
document is not sent at all, so it cannot overwrite the newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from sqlalchemy import select

from listings_pipeline.call_log import ApiCallLog, branch_trace
from listings_pipeline.to_amazon import stale_feeds
from listings_pipeline.to_amazon.feed_outcomes import DocumentRef
from listings_pipeline.warehouse import ledger, lifecycle
from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
from listings_pipeline.warehouse.models import (
    AttemptState,
    FeedSubmission,
    Listing,
    ListingEvent,
    ListingStatus,
    PublishAttempt,
)
from spapi.client import SpApiClient, trace
from spapi.operators import FeedCreation, SubmitFeedOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.models.feeds import ProcessingTimes

# Ledger states in which createFeed has not been sent since the attempt was (re-)armed.
_BEFORE_CREATE_FEED = frozenset({AttemptState.RECORDED, AttemptState.DOCUMENT_CREATED})
_NO_FEED_YET = _BEFORE_CREATE_FEED | {AttemptState.UPLOADED}


def release_cause(attempt_id: int) -> str:
    """The listing-event cause of SKUs a failed submit handed back to the next run."""
    return f"publish_attempt:{attempt_id}:submit_failed"


class ConcurrentSubmissionError(RuntimeError):
    """Another try (a second run, or a zombie of this task) took the document to createFeed first.

    This try must not call createFeed; its retry finds the other try's feed in the ledger and waits
    for it instead.
    """


class LedgerSubmitFeedOperator(SubmitFeedOperator):
    """:class:`~spapi.operators.SubmitFeedOperator` that records every step in ``publish_attempts``.

    :param seller_id: the seller the document is for (part of the idempotency key).
    :param message_count: messages in the document, for the ledger.
    :param warehouse_conn_id: the warehouse connection (SQLite file by default).
    :param document: what the build step knew about the document (paths, seller, marketplace);
        returned with the outcome so the parse step needs nothing else. Primitives only, no secrets.
    """

    template_fields = (*SubmitFeedOperator.template_fields, "seller_id")

    def __init__(
        self,
        *,
        seller_id: str,
        message_count: int = 0,
        warehouse_conn_id: str = "warehouse_default",
        document: DocumentRef | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.document = document
        self.seller_id = seller_id
        self.message_count = message_count
        self.warehouse_conn_id = warehouse_conn_id

    @cached_property
    def engine(self) -> Engine:
        return make_engine(warehouse_url(self.warehouse_conn_id))

    @cached_property
    def call_log(self) -> ApiCallLog:
        return ApiCallLog(self.engine)

    def make_client(self) -> SpApiClient:
        return self.hook.get_client(on_call=self.call_log)

    def _trace_id(self, context: Context) -> str:
        document = self.document
        marketplace = (document.get("marketplace_id") if document else None) or ",".join(self.marketplace_ids)
        run_id = (document.get("run_id") if document else None) or _run_id(context)
        return branch_trace(run_id, self.seller_id, marketplace)

    def execute(self, context: Context) -> dict[str, Any]:
        self.call_log.run_id = _run_id(context)
        with trace(self._trace_id(context)):
            return super().execute(context)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, document_hash: str = ""
    ) -> dict[str, Any]:
        with trace(self._trace_id(context)):
            return super().execute_complete(context, event, document_hash)

    def close(self) -> None:
        """Write the calls made so far to ``api_calls``, then release the client and the engine."""
        try:
            self.call_log.flush()
        finally:
            super().close()
            self.engine.dispose()

    # ---- the ledger -----------------------------------------------------------------------------

    def _attempt(self, session: Session, document_hash: str, context: Context) -> PublishAttempt:
        return ledger.record_attempt(
            session,
            self.seller_id,
            self.marketplace_ids,
            document_hash,
            self.document_path,
            self.message_count,
            run_id=_run_id(context),
        )

    def find_submitted_feed(self, context: Context, document_hash: str) -> str | None:
        run_id = _run_id(context)
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, document_hash, context)
            state = AttemptState(attempt.state)
            finished_earlier = state in (AttemptState.DONE, AttemptState.FATAL) and attempt.run_id != run_id
            superseded = self._release_if_moved_on(session, attempt, run_id) if finished_earlier else None
        if superseded is not None:  # raised after the release committed
            raise AirflowSkipException(superseded)
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, document_hash, context)
            state = AttemptState(attempt.state)
            finished_earlier = state in (AttemptState.DONE, AttemptState.FATAL) and attempt.run_id != run_id
            if state in (AttemptState.CANCELLED, AttemptState.FAILED) or finished_earlier:
                # Amazon is done with the old feed; this run planned the same document again
                if state == AttemptState.FAILED:
                    self._take_back(session, attempt, run_id)
                ledger.advance(session, attempt, AttemptState.RECORDED.value, run_id=run_id)
                self._seen_document_id = None
                return None
            # the document id this try saw: before createFeed it must still be the ledger's (see
            # before_create_feed), or another try got there first
            self._seen_document_id = attempt.feed_document_id
            if attempt.feed_id is not None:
                return attempt.feed_id
            if state != AttemptState.UPLOADED:
                return None
            since = attempt.updated_at
            claimed = set(
                session.scalars(
                    select(FeedSubmission.feed_id).where(FeedSubmission.seller_id == self.seller_id)
                )
            )
        feed_id = self._recover_feed(since, claimed)
        if feed_id is not None:
            with session_scope(self.engine) as session:
                attempt = self._attempt(session, document_hash, context)
                ledger.advance(session, attempt, AttemptState.FEED_CREATED.value, feed_id=feed_id)
            self.log.warning(
                "adopted feed %s, created by an earlier try that died before recording it", feed_id
            )
        return feed_id

    def _recover_feed(self, since: datetime, claimed: set[str]) -> str | None:
        return stale_feeds.find_orphan_feed(
            self.hook.client, self.seller_id, self.feed_type, self.marketplace_ids, since, claimed
        )

    def before_create_feed(self, context: Context, document_hash: str, feed_document_id: str) -> None:
        """Claim the document for this try's createFeed, exclusively.

        The ledger row is locked (``SELECT ... FOR UPDATE``; SQLite writers serialise on
        ``BEGIN IMMEDIATE``) and must still hold the document id this try saw when it decided to
        create: two runs of the same DAG, or a zombie try beside its retry, would otherwise both pass
        the ledger check and both call createFeed.
        """
        seen = getattr(self, "_seen_document_id", None)
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, document_hash, context)
            locked = session.get(PublishAttempt, attempt.id, with_for_update=True, populate_existing=True)
            assert locked is not None  # _attempt just read it
            if locked.feed_document_id != seen or locked.feed_id is not None:
                # the other try may be creating the feed right now: never release its SKUs
                self._try_creation = FeedCreation.MAYBE
                raise ConcurrentSubmissionError(
                    f"document {document_hash[:12]} (publish attempt {locked.id}) was taken to createFeed by "
                    f"another try meanwhile (now {locked.state}, feed {locked.feed_id}); not creating a "
                    "second feed: the retry waits for that one"
                )
            ledger.advance(session, locked, AttemptState.UPLOADED.value, feed_document_id=feed_document_id)
        self._seen_document_id = feed_document_id

    def after_create_feed(self, context: Context, document_hash: str, feed_id: str) -> None:
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, document_hash, context)
            ledger.advance(session, attempt, AttemptState.FEED_CREATED.value, feed_id=feed_id)

    def _outcome(
        self,
        context: Context,
        feed_id: str,
        status: str,
        result_document_id: str | None,
        document_hash: str,
        times: ProcessingTimes,
    ) -> dict[str, Any]:
        outcome = super()._outcome(context, feed_id, status, result_document_id, document_hash, times)
        return {**outcome, "document": self.document} if self.document else outcome

    def submit_failed(
        self, context: Context, error: BaseException, document_hash: str | None, creation: FeedCreation
    ) -> None:
        if document_hash is None:
            self.log.warning(
                "the submit failed before its document was read; nothing was sent and nothing is released"
            )
            return
        if creation in (FeedCreation.MAYBE, FeedCreation.EXISTS):
            self.log.warning(
                "the submit of document %s failed on its last try, and Amazon %s a feed for it: its "
                "SKUs stay submitted until that feed is found and settled (the orphan lookup of a later "
                "submit, or the stale-feed handling after feed_wait_hours)",
                document_hash[:12],
                "may have created" if creation == FeedCreation.MAYBE else "has",
            )
            return
        run_id = _run_id(context)
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, document_hash, context)
            state = AttemptState(attempt.state)
            # Without this try's own evidence, only a ledger that never reached createFeed proves it.
            certain = state in (_NO_FEED_YET if creation == FeedCreation.NONE else _BEFORE_CREATE_FEED)
            if attempt.feed_id is not None or not certain:
                self.log.warning(
                    "the submit of document %s failed on its last try; publish attempt %d is %s "
                    "(feed %s), so a feed may exist: its SKUs stay submitted for the orphan lookup and "
                    "the stale-feed handling to settle",
                    document_hash[:12],
                    attempt.id,
                    state.value,
                    attempt.feed_id,
                )
                return
            attempt_id = attempt.id  # the row expires when the session commits
            released = stale_feeds.release(session, attempt, release_cause(attempt_id), run_id)
            ledger.advance(
                session,
                attempt,
                AttemptState.FAILED.value,
                error=f"no feed created; last try failed: {type(error).__name__}: {error}"[:2000],
            )
        count = sum(len(skus) for skus in released.values())
        self.log.warning(
            "the submit of document %s failed on its last try before any feed existed: publish "
            "attempt %d is failed and its %d SKUs are ready again (cause %s), so the next run sends them",
            document_hash[:12],
            attempt_id,
            count,
            release_cause(attempt_id),
        )

    def _release_if_moved_on(
        self, session: Session, attempt: PublishAttempt, run_id: str | None
    ) -> str | None:
        """A document another run already sent, planned again by this run, goes again only while
        this run's build still holds all its SKUs in flight.

        That is the case when the earlier feed left them to retry (FATAL, retryable messages) and
        this run planned them again. When two runs planned the same change at once, the other
        run's feed has settled some or all of them meanwhile, and sending this document again could
        undo a newer change: the SKUs still held go back to ``ready`` for the next plan, and this
        submit is skipped.

        :return: why the submit is skipped, or None when the document may go again.
        """
        skus = stale_feeds.document_skus(attempt.document_path)
        if skus is None:
            return None
        held = stale_feeds.held_per_marketplace(session, attempt, skus)
        if all(len(mine) == len(skus) for mine in held.values()):
            return None
        cause = f"publish_attempt:{attempt.id}:superseded"
        released = stale_feeds.release_held(session, attempt, held, cause, run_id)
        count = sum(len(v) for v in released.values())
        return (
            f"document {attempt.document_hash[:12]} was already sent by run {attempt.run_id} (feed "
            f"{attempt.feed_id}, {attempt.state}), and its SKUs have moved on since; not sending it again. "
            f"{count} SKU(s) it still held are ready for the next run (cause {cause})."
        )

    def _take_back(self, session: Session, attempt: PublishAttempt, run_id: str | None) -> None:
        """Before a failed attempt is submitted again (its task was cleared), take back the SKUs its
        failure released, or refuse when a later run has planned some of them since: this older
        document would then overwrite newer data."""
        cause = release_cause(attempt.id)
        skus = stale_feeds.document_skus(attempt.document_path)
        if skus is None:
            return
        untouched: dict[str, list[str]] = {}
        moved_on: list[str] = []
        for marketplace_id in attempt.marketplace_ids:
            latest = _latest_events(session, attempt.seller_id, marketplace_id, skus)
            for sku, event in latest.items():
                if event.cause != cause:
                    continue
                if event.status == ListingStatus.READY and event.listing_updated_at <= event.at:
                    untouched.setdefault(marketplace_id, []).append(sku)
                else:
                    moved_on.append(f"{marketplace_id}/{sku}")
        if moved_on:
            raise AirflowFailException(
                f"publish attempt {attempt.id} (document {attempt.document_hash[:12]}) failed earlier and "
                f"released its SKUs; {len(moved_on)} of them were planned again since "
                f"({', '.join(moved_on[:5])}{', ...' if len(moved_on) > 5 else ''}). Sending this older "
                "document now could overwrite newer data, so it is not sent: the later runs send them."
            )
        for marketplace_id, mine in untouched.items():
            lifecycle.transition_many(
                session,
                [
                    {"seller_id": attempt.seller_id, "marketplace_id": marketplace_id, "sku": sku}
                    for sku in mine
                ],
                cause=stale_feeds.document_cause(attempt.document_hash),
                run_id=run_id,
                to_status=ListingStatus.SUBMITTED,
            )
            self.log.info(
                "took back %d SKUs that attempt %d released when it failed, to submit it again",
                len(mine),
                attempt.id,
            )

    def after_feed_finished(self, context: Context, outcome: dict[str, Any]) -> None:
        """The attempt ends as the feed did, and the feed's row gets Amazon's processing times."""
        status = outcome["processing_status"]
        state = {"DONE": AttemptState.DONE, "FATAL": AttemptState.FATAL, "CANCELLED": AttemptState.CANCELLED}[
            status
        ]
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, outcome["document_hash"], context)
            ledger.advance(session, attempt, state.value)
            ledger.record_processing(
                session,
                outcome["feed_id"],
                status,
                started_at=_instant(outcome.get("processing_start_time")),
                ended_at=_instant(outcome.get("processing_end_time")),
            )


@dataclass(frozen=True)
class _LatestEvent:
    status: str
    listing_updated_at: datetime
    cause: str
    at: datetime


def _latest_events(
    session: Session, seller_id: str, marketplace_id: str, skus: frozenset[str]
) -> dict[str, _LatestEvent]:
    """Each listing's status and its latest lifecycle event, for the SKUs that have one."""
    latest: dict[str, _LatestEvent] = {}
    ordered = sorted(skus)
    for start in range(0, len(ordered), stale_feeds.CHUNK):
        rows = session.execute(
            select(Listing.sku, Listing.status, Listing.updated_at, ListingEvent.cause, ListingEvent.at)
            .join(ListingEvent, ListingEvent.listing_id == Listing.id)
            .where(
                Listing.seller_id == seller_id,
                Listing.marketplace_id == marketplace_id,
                Listing.sku.in_(ordered[start : start + stale_feeds.CHUNK]),
            )
            .order_by(ListingEvent.id)
        )
        for sku, status, updated_at, cause, at in rows:
            latest[sku] = _LatestEvent(status, updated_at, cause, at)
    return latest


def _instant(text: str | None) -> datetime | None:
    """An ISO 8601 time from getFeed (``Z`` or an offset; a naive one is UTC, as the warehouse reads it)."""
    return None if text is None else datetime.fromisoformat(text)


def _run_id(context: Context) -> str | None:
    run_id = context.get("run_id") if hasattr(context, "get") else None
    return str(run_id) if run_id else None
