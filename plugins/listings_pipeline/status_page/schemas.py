"""What the listing status page shows, as pydantic models: the contract between the queries and the page.

The same models are the page's JSON API, so a script can read exactly what an operator sees. They
hold ids, SKUs, codes, counts and Amazon's messages: never payloads (they can be large) and never
anything secret.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field, field_validator

from listings_pipeline.status_page.notifications import NotificationsSection
from listings_pipeline.status_page.scope import Scope


class _Row(BaseModel):
    # from_attributes: rows whose fields are a warehouse model's columns are read straight off it.
    model_config = ConfigDict(frozen=True, from_attributes=True)


class StatusCounts(_Row):
    """One seller and marketplace: how many listings are in each lifecycle status."""

    seller_id: str
    seller_name: str | None
    marketplace_id: str
    country_code: str | None
    counts: dict[str, int]
    """Every status of :class:`~listings_pipeline.warehouse.models.ListingStatus`, zeros included."""
    total: int
    in_sync: int
    """Listings whose wanted payload is the one Amazon accepted."""
    with_errors: int
    """Listings whose most recent batch of issues has at least one ERROR."""


class FeedProgress(_Row):
    """A feed and how far Amazon got with it."""

    feed_id: str
    seller_id: str
    marketplace_ids: list[str]
    feed_type: str
    processing_status: str
    created_at: datetime
    processing_started_at: datetime | None
    processing_ended_at: datetime | None
    messages_submitted: int | None
    """Messages in the document we sent (from the ledger); ``None`` for a feed we did not record."""
    messages_processed: int | None
    messages_accepted: int | None
    messages_invalid: int | None
    errors: int | None
    warnings: int | None
    results: dict[str, int]
    """Parsed ``message_results`` by outcome (accepted, invalid, warning, unprocessed)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def finished(self) -> bool:
        """Amazon is done with it (DONE, FATAL or CANCELLED), even where its times are not known."""
        return self.processing_status in ("DONE", "FATAL", "CANCELLED")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def progress(self) -> float | None:
        """Share of the submitted messages the report accounts for (0 to 1), when both are known."""
        if self.finished:
            return 1.0
        if not self.messages_submitted or self.messages_processed is None:
            return None
        return min(1.0, self.messages_processed / self.messages_submitted)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        """Creation to end of processing: what a seller waits for a feed."""
        if self.processing_ended_at is None:
            return None
        return (self.processing_ended_at - self.created_at).total_seconds()


class IssueSku(_Row):
    seller_id: str
    marketplace_id: str | None
    sku: str
    last_seen: datetime


class IssueGroup(_Row):
    """Issues sharing a code, severity and source, with the listings that have them."""

    code: str | None
    severity: str
    source: str
    issues: int
    listings: int
    first_seen: datetime
    last_seen: datetime
    message: str
    """The most recent message of the group (Amazon words the same code differently per attribute)."""
    skus: list[IssueSku]
    """The most recently affected listings, at most the query's ``skus_per_group``."""


class DeadLetterRow(_Row):
    id: int
    seller_id: str
    marketplace_id: str
    sku: str
    path: str
    operation: str
    code: str | None
    reason: str
    state: str
    attempts: int
    run_id: str | None
    created_at: datetime
    updated_at: datetime


class ApiHour(_Row):
    """SP-API calls in one UTC hour, all operations together (from ``v_api_call_stats``)."""

    hour: datetime
    calls: int
    throttled: int
    failed: int
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    """The worst operation's p95 in that hour: percentiles of different operations do not add up."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def success_rate(self) -> float | None:
        """Share of calls answered below HTTP 400 (throttled calls count as failures)."""
        return None if self.calls == 0 else (self.calls - self.failed) / self.calls


class FeedDay(_Row):
    """Feeds created on one UTC day, all sellers together (from ``v_feed_health``)."""

    day: date
    feeds: int
    feeds_done: int
    feeds_fatal: int
    feeds_cancelled: int
    feeds_pending: int
    messages_accepted: int
    messages_invalid: int
    avg_processing_seconds: float | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def acceptance_rate(self) -> float | None:
        settled = self.messages_accepted + self.messages_invalid
        return None if settled == 0 else self.messages_accepted / settled


# --- one SKU's history -----------------------------------------------------------------------------------


class ListingState(_Row):
    """A listing as ``v_listing_status`` shows it, so that its history and the status counts agree."""

    seller_id: str
    marketplace_id: str
    sku: str
    product_type: str | None
    status: str
    status_since: datetime | None
    asin: str | None
    in_sync: bool
    """``accepted`` or ``live`` with the payload the catalog wants (a hotfix Amazon accepted leaves
    it in sync; a rejected one, or a listing on its way, is not, whatever its hashes)."""
    with_errors: bool
    """Its current issues include an ERROR; a validation preview's never count."""
    accepted_at: datetime | None
    last_submission_id: str | None


class QuarantineEntry(_Row):
    """One catalog (or offers) row that failed a rule: where it is in the seller's file, and why."""

    id: int
    seller_id: str
    marketplace_id: str
    sku: str | None
    """``None`` when the row has no SKU (which may be why it was quarantined)."""
    product_type: str | None
    source_file: str | None
    source_line: int | None
    column_name: str | None
    value: str | None
    rule: str
    reason: str | None
    run_id: str | None
    quarantined_at: datetime
    released_at: datetime | None


JsonScalar = str | int | float | bool | None


class ValueChange(_Row):
    """One field a move changed on Amazon (a price or stock write), before and after."""

    field: str
    old: JsonScalar
    new: JsonScalar


class LifecycleEntry(_Row):
    seller_id: str
    marketplace_id: str
    from_status: str | None
    to_status: str
    cause: str
    run_id: str | None
    dag_id: str | None
    """The run's DAG; ``None`` for events written before events named it (no link to Airflow then)."""
    actor: str | None
    """Who triggered the run (the Airflow user); ``None`` for a scheduled run or when not known."""
    changes: list[ValueChange] = []
    at: datetime


class SubmissionEntry(_Row):
    """One message of a feed about this SKU, with the feed's state and the message's outcome."""

    seller_id: str
    marketplace_ids: list[str]
    feed_id: str
    message_id: int
    operation_type: str | None
    result: str
    processing_status: str
    created_at: datetime
    processing_ended_at: datetime | None


class ApiCallEntry(_Row):
    """One Listings Items API call about this SKU (the per-SKU path's submissions)."""

    seller_id: str | None
    marketplace_id: str | None
    operation: str
    method: str
    status: int | None
    throttled: bool
    error_code: str | None
    latency_ms: float
    request_id: str | None
    started_at: datetime


class IssueEntry(_Row):
    seller_id: str
    marketplace_id: str | None
    source: str
    code: str | None
    severity: str
    message: str
    attribute_names: list[str] = []
    feed_id: str | None
    submission_id: str | None
    observed_at: datetime

    @field_validator("attribute_names", mode="before")
    @classmethod
    def _none_is_empty(cls, value: list[str] | None) -> list[str]:
        return list(value or [])


class DeadLetterEventEntry(_Row):
    from_state: str | None
    to_state: str
    actor: str
    note: str | None
    at: datetime


class DeadLetterEntry(_Row):
    letter: DeadLetterRow
    events: list[DeadLetterEventEntry]


TimelineKind = Literal["validation", "lifecycle", "submission", "api_call", "issue", "preview", "dead_letter"]


class RunRef(_Row):
    """The Airflow run a line of the history came from; the page links it when the DAG is known."""

    dag_id: str | None
    run_id: str


class TimelineEntry(_Row):
    """One line of a SKU's history, whatever table it came from.

    A lifecycle line also says who triggered its run (``actor``), the run (``run``) and what it
    changed on Amazon (``changes``), as separate fields: the page links the run and lays the
    changes out, and a script reads them without parsing ``detail``.
    """

    at: datetime
    kind: TimelineKind
    seller_id: str | None
    marketplace_id: str | None
    title: str
    detail: str | None = None
    actor: str | None = None
    run: RunRef | None = None
    changes: list[ValueChange] = []


class SkuHistory(_Row):
    """Everything the warehouse knows about one SKU, section by section, newest first in each."""

    sku: str
    listings: list[ListingState]
    quarantine: list[QuarantineEntry]
    events: list[LifecycleEntry]
    submissions: list[SubmissionEntry]
    api_calls: list[ApiCallEntry]
    issues: list[IssueEntry]
    """The listing's own issues: what Amazon (or validation) found on what it holds or was sent."""
    preview_issues: list[IssueEntry]
    """A validation preview's verdicts: Amazon stored nothing, so they are not the listing's."""
    dead_letters: list[DeadLetterEntry]

    @property
    def found(self) -> bool:
        return any(
            (
                self.listings,
                self.quarantine,
                self.events,
                self.submissions,
                self.api_calls,
                self.issues,
                self.preview_issues,
                self.dead_letters,
            )
        )

    def timeline(self) -> list[TimelineEntry]:
        """All sections merged into one story, newest first: how an operator reads a SKU's history."""
        entries: list[TimelineEntry] = []
        for q in self.quarantine:
            entries.append(
                TimelineEntry(
                    at=q.quarantined_at,
                    kind="validation",
                    seller_id=q.seller_id,
                    marketplace_id=q.marketplace_id,
                    title=f"quarantined: {q.rule}" + (f" on {q.column_name}" if q.column_name else ""),
                    detail=_join(q.reason, f"value {q.value!r}" if q.value is not None else None),
                )
            )
        for e in self.events:
            entries.append(
                TimelineEntry(
                    at=e.at,
                    kind="lifecycle",
                    seller_id=e.seller_id,
                    marketplace_id=e.marketplace_id,
                    title=f"{e.from_status or '(new)'} \u2192 {e.to_status}",
                    detail=f"cause {e.cause}",
                    actor=e.actor,
                    run=RunRef(dag_id=e.dag_id, run_id=e.run_id) if e.run_id else None,
                    changes=e.changes,
                )
            )
        for s in self.submissions:
            entries.append(
                TimelineEntry(
                    at=s.created_at,
                    kind="submission",
                    seller_id=s.seller_id,
                    marketplace_id=",".join(s.marketplace_ids) or None,
                    title=f"feed {s.feed_id} message {s.message_id}: {s.result}",
                    detail=_join(s.operation_type, f"feed {s.processing_status}"),
                )
            )
        for c in self.api_calls:
            entries.append(
                TimelineEntry(
                    at=c.started_at,
                    kind="api_call",
                    seller_id=c.seller_id,
                    marketplace_id=c.marketplace_id,
                    title=f"{c.operation}: HTTP {c.status if c.status is not None else 'no answer'}",
                    detail=_join(
                        "throttled" if c.throttled else None,
                        c.error_code,
                        f"{c.latency_ms:.0f} ms",
                        f"request {c.request_id}" if c.request_id else None,
                    ),
                )
            )
        issue_kinds: tuple[tuple[TimelineKind, str, list[IssueEntry]], ...] = (
            ("issue", "", self.issues),
            ("preview", "validation preview: ", self.preview_issues),
        )
        for kind, label, issues in issue_kinds:
            for i in issues:
                entries.append(
                    TimelineEntry(
                        at=i.observed_at,
                        kind=kind,
                        seller_id=i.seller_id,
                        marketplace_id=i.marketplace_id,
                        title=f"{label}{i.severity} {i.code or '(no code)'} from {i.source}",
                        detail=i.message,
                    )
                )
        for d in self.dead_letters:
            for ev in d.events:
                # an open letter that fails again stays open: its event is a failure, not a move
                move = (
                    "failed again"
                    if ev.from_state == ev.to_state
                    else f"{ev.from_state or '(new)'} \u2192 {ev.to_state}"
                )
                entries.append(
                    TimelineEntry(
                        at=ev.at,
                        kind="dead_letter",
                        seller_id=d.letter.seller_id,
                        marketplace_id=d.letter.marketplace_id,
                        title=f"dead letter {d.letter.id}: {move}",
                        detail=_join(ev.note, f"by {ev.actor}"),
                    )
                )
        entries.sort(key=lambda entry: entry.at, reverse=True)
        return entries


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None


# --- runs ----------------------------------------------------------------------------------------------

NewKind = Literal["quarantined", "invalid", "dead_lettered"]


class RunSku(_Row):
    seller_id: str
    marketplace_id: str
    sku: str


class NewInRun(_Row):
    """Listings a run put somewhere its DAG's previous run had not (see :mod:`.runs` for each kind)."""

    kind: NewKind
    count: int
    skus: list[RunSku]
    """The first few, by SKU."""


class RunRow(_Row):
    """One DAG run: its ``run_summaries`` rows (one per seller and marketplace in scope) added up."""

    dag_id: str
    run_id: str
    started_at: datetime
    ended_at: datetime | None
    branches: int
    """Seller and marketplace pairs the figures add up."""
    extracted: int
    quarantined: int
    """Rows (a row may fail several rules, or have no SKU); ``quarantined_skus`` counts SKUs."""
    quarantined_skus: int
    planned: int
    deleted: int
    unchanged: int
    skipped: int
    submitted: int
    accepted: int
    invalid: int
    warnings: int
    dead_lettered: int
    throttled_calls: int
    new: list[NewInRun]
    """Only the kinds the run has any of."""
    airflow_state: str | None = None
    """The Airflow run's state, read from the metadata DB by the app; ``failed`` includes a run
    whose ``outcome`` task found something that needs attention (the rows' ``run_summaries.status``
    says ``needs_attention`` for the same figures). ``None``: Airflow has no such run (any more), or
    nobody asked."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()


class DagRuns(_Row):
    """A DAG's latest runs, newest first."""

    dag_id: str
    runs: list[RunRow]


# --- quarantine ------------------------------------------------------------------------------------------


class RuleCount(_Row):
    rule: str
    rows: int


class QuarantinePage(_Row):
    """One page of quarantined rows, newest first, with what it was filtered by."""

    rule: str | None
    run_id: str | None
    page: int
    """From 1."""
    page_size: int
    total: int
    """Rows matching the filter, on every page."""
    rows: list[QuarantineEntry]
    rules: list[RuleCount]
    """Every rule with rows in the seller, marketplace and run filter (not the rule filter): what
    the rule filter offers."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def first(self) -> int:
        """The 1-based position of the page's first row (0 when it has none)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last(self) -> int:
        return (self.page - 1) * self.page_size + len(self.rows)


# --- the filter's choices --------------------------------------------------------------------------------


class SellerOption(_Row):
    seller_id: str
    name: str | None


class MarketplaceOption(_Row):
    marketplace_id: str
    country_code: str | None


class FilterOptions(_Row):
    """The sellers and marketplaces the warehouse has rows for, to pick from."""

    sellers: list[SellerOption]
    marketplaces: list[MarketplaceOption]


class DriftEntry(_Row):
    """One open disagreement between Amazon's listings report and the warehouse (``listing_drift``)."""

    id: int
    seller_id: str
    marketplace_id: str
    sku: str
    kind: str
    field: str
    ours: str | None
    amazon: str | None
    state: str
    found_at: datetime
    last_seen_at: datetime


class DriftKindCount(_Row):
    kind: str
    open: int


class DriftSection(_Row):
    """The Drift section: open drift by kind, the newest rows, and when Amazon was last compared."""

    checked_at: datetime | None
    """The newest ``drift_checks`` row in the filter; ``None``: never reconciled."""
    counts: list[DriftKindCount]
    total: int
    """Open drift rows in the filter; ``rows`` holds the newest of them."""
    rows: list[DriftEntry]


class HealthMetric(_Row):
    """One account health metric on a report date (a row of ``v_account_health``)."""

    metric: str
    status: str
    rate: float | None
    """A fraction (0.04 is 4 %); ``None`` for the listing-level counts."""
    defects: int | None
    target_value: float
    target_condition: str
    meets_target: bool
    needs_attention: bool
    trend: str | None
    """``better``, ``worse`` or ``same`` against the metric's previous report; ``None`` the first time."""
    previous_rate: float | None
    previous_defects: int | None


class AccountHealthRow(_Row):
    """An account's latest account health: its key rates, and every other metric needing attention."""

    seller_id: str
    marketplace_id: str
    report_date: date
    account_status: str | None
    ahr_status: str | None
    metrics: list[HealthMetric]
    attention: int
    """Metrics needing attention on that date."""


class SalesRow(_Row):
    """An account's latest day of sales and traffic (``v_sales_traffic_daily``)."""

    seller_id: str
    marketplace_id: str
    day: date
    currency: str
    sales: Decimal
    units: int
    sessions: int
    page_views: int
    buy_box_percentage: float
    units_7d: int
    sales_7d: Decimal
    units_week_before: int | None


class HealthPoint(_Row):
    """One report date of the account health chart: the worst value in the filter of each rate, and
    the target Amazon's report gave for it (the highest, should accounts differ)."""

    report_date: date
    order_defect_rate: float | None = None
    late_shipment_rate: float | None = None
    cancellation_rate: float | None = None
    order_defect_target: float | None = None
    late_shipment_target: float | None = None
    cancellation_target: float | None = None


class SalesPoint(_Row):
    """One day of the sales chart, over the filter."""

    day: date
    units: int
    sessions: int
    buy_box_percentage: float | None
    """Of all page views that day; ``None`` without page views."""


class RefusedReport(_Row):
    """A seller performance report whose document was refused, and why."""

    seller_id: str
    marketplace_id: str
    report_type: str
    day: date
    report_id: str
    reason: str | None
    loaded_at: datetime


class PerformanceSection(_Row):
    """The Seller performance section: Amazon's view of each account in the filter."""

    accounts: list[AccountHealthRow]
    sales: list[SalesRow]
    health_days: list[HealthPoint]
    sales_days: list[SalesPoint]
    refused: list[RefusedReport]


class Overview(_Row):
    """The whole page at once, every section filtered by ``scope``."""

    generated_at: datetime
    scope: Scope
    status: list[StatusCounts]
    feeds: list[FeedProgress]
    issues: list[IssueGroup]
    issues_since: datetime
    dead_letters: list[DeadLetterRow]
    api_hours: list[ApiHour]
    feed_days: list[FeedDay]
    runs: list[DagRuns]
    quarantine: QuarantinePage
    drift: DriftSection | None = None
    performance: PerformanceSection | None = None
    notifications: NotificationsSection | None = None
