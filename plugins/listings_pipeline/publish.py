"""Submit feed documents exactly once: ``SubmitFeedOperator`` backed by the ``publish_attempts`` ledger.

DESIGN.md step 6: the attempt is written *before* Amazon is called, keyed by seller, marketplaces and
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
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from listings_pipeline.call_log import ApiCallLog, branch_trace
from listings_pipeline.warehouse import ledger
from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
from listings_pipeline.warehouse.models import AttemptState, FeedSubmission, PublishAttempt
from spapi import feeds
from spapi.client import SpApiClient, trace
from spapi.errors import SpApiError
from spapi.operators import SubmitFeedOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from sqlalchemy.engine import Engine


class AmbiguousSubmissionError(SpApiError):
    """More than one feed could be the one a crashed task created; a person must decide."""


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
        document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.document = dict(document or {})
        self.seller_id = seller_id
        self.message_count = message_count
        self.warehouse_conn_id = warehouse_conn_id

    @cached_property
    def engine(self) -> Engine:
        return make_engine(warehouse_url(self.warehouse_conn_id))

    @cached_property
    def call_log(self) -> ApiCallLog:
        return ApiCallLog(self.engine)

    def _client(self) -> SpApiClient:
        return self.hook.get_client(on_call=self.call_log)

    def _trace_id(self, context: Context) -> str:
        marketplace = self.document.get("marketplace_id") or ",".join(self.marketplace_ids)
        return branch_trace(self.document.get("run_id") or _run_id(context), self.seller_id, marketplace)

    def execute(self, context: Context) -> dict[str, Any]:
        self.call_log.run_id = _run_id(context)
        if "client" not in self.hook.__dict__:
            self.hook.__dict__["client"] = self._client()
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

    def _attempt(self, session: Any, document_hash: str, context: Context) -> PublishAttempt:
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
            if state in (AttemptState.CANCELLED, AttemptState.FAILED) or finished_earlier:
                # Amazon is done with the old feed; this run planned the same document again
                ledger.advance(session, attempt, AttemptState.RECORDED.value, run_id=run_id)
                return None
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

    def _recover_feed(self, since: Any, claimed: set[str]) -> str | None:
        client = self.hook.client
        first = feeds.get_feeds(
            feed_types=[self.feed_type],
            marketplace_ids=self.marketplace_ids,
            created_since=since - timedelta(minutes=1),
            page_size=100,
        )
        candidates = [
            feed.feed_id
            for page in client.paginate(first, feeds.next_page)
            for feed in page.feeds
            if feed.feed_id not in claimed
            and sorted(feed.marketplace_ids or []) == sorted(self.marketplace_ids)
        ]
        if len(candidates) > 1:
            raise AmbiguousSubmissionError(
                f"seller {self.seller_id}: an earlier try died around createFeed and {len(candidates)} "
                f"unclaimed feeds match ({', '.join(candidates)}); record the right one in publish_attempts "
                "or mark the attempt failed to resubmit",
                operation="getFeeds",
                seller_id=self.seller_id,
            )
        return candidates[0] if candidates else None

    def before_create_feed(self, context: Context, document_hash: str, feed_document_id: str) -> None:
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, document_hash, context)
            ledger.advance(session, attempt, AttemptState.UPLOADED.value, feed_document_id=feed_document_id)

    def after_create_feed(self, context: Context, document_hash: str, feed_id: str) -> None:
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, document_hash, context)
            ledger.advance(session, attempt, AttemptState.FEED_CREATED.value, feed_id=feed_id)

    def _outcome(
        self, context: Context, feed_id: str, status: str, result_document_id: str | None, document_hash: str
    ) -> dict[str, Any]:
        outcome = super()._outcome(context, feed_id, status, result_document_id, document_hash)
        return {**outcome, "document": self.document} if self.document else outcome

    def after_feed_finished(self, context: Context, outcome: dict[str, Any]) -> None:
        state = {"DONE": AttemptState.DONE, "FATAL": AttemptState.FATAL, "CANCELLED": AttemptState.CANCELLED}[
            outcome["processing_status"]
        ]
        with session_scope(self.engine) as session:
            attempt = self._attempt(session, outcome["document_hash"], context)
            ledger.advance(session, attempt, state.value)


def _run_id(context: Context) -> str | None:
    run_id = context.get("run_id") if hasattr(context, "get") else None
    return str(run_id) if run_id else None
