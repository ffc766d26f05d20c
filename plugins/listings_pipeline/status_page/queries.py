"""The status page's reads: one function per section, each a few SQLAlchemy 2 statements.

No Airflow here: these run against any migrated warehouse (SQLite or PostgreSQL), so they are tested
on their own, and a script can call them as the page does. Every function takes a ``Session`` and
returns :mod:`~listings_pipeline.status_page.schemas` models; none writes. Every section takes the
page-wide :class:`~listings_pipeline.status_page.scope.Scope` (a seller, a marketplace) and applies
it the same way; the runs and the quarantine have modules of their own (:mod:`.runs`,
:mod:`.quarantine`).

Sizes are bounded (``limit`` arguments) because the page is read by people: the newest feeds, the
open dead letters, the issue groups with the most recently affected SKUs. Time windows take an
explicit ``now`` so that tests (and the page) decide what "recent" means.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    case,
    column,
    distinct,
    func,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from listings_pipeline.status_page import drift, notifications, quarantine, runs, seller_performance
from listings_pipeline.status_page.schemas import (
    ApiCallEntry,
    ApiHour,
    DeadLetterEntry,
    DeadLetterEventEntry,
    DeadLetterRow,
    FeedDay,
    FeedProgress,
    FilterOptions,
    IssueEntry,
    IssueGroup,
    IssueSku,
    LifecycleEntry,
    ListingState,
    MarketplaceOption,
    Overview,
    QuarantineEntry,
    SellerOption,
    SkuHistory,
    StatusCounts,
    SubmissionEntry,
    ValueChange,
)
from listings_pipeline.status_page.scope import EVERYWHERE, Scope
from listings_pipeline.warehouse.models import (
    ApiCall,
    DeadLetter,
    DeadLetterEvent,
    DeadLetterState,
    FeedSubmission,
    Listing,
    ListingEvent,
    ListingIssue,
    ListingStatus,
    Marketplace,
    MessageResult,
    MessageStatus,
    PublishAttempt,
    Quarantine,
    RunSummary,
    Seller,
    UTCDateTime,
)

FEED_LIMIT = 25
DEAD_LETTER_LIMIT = 200
ISSUE_GROUP_LIMIT = 25
SKUS_PER_GROUP = 20
ISSUE_WINDOW = timedelta(days=30)
CHART_HOURS = 48
CHART_DAYS = 14
HISTORY_LIMIT = 200
SEVERITY_ORDER = ("ERROR", "WARNING", "INFO")

# The analyst view (created by the migrations, not the ORM), with the columns read here: the state
# model's one definition of in sync and of current errors (previews left out), which the status
# counts and a SKU's history both read.
V_LISTING_STATUS = table(
    "v_listing_status",
    column("seller_id", String),
    column("marketplace_id", String),
    column("sku", String),
    column("product_type", String),
    column("status", String),
    column("status_since", UTCDateTime()),
    column("asin", String),
    column("last_submission_id", String),
    column("accepted_at", UTCDateTime()),
    column("in_sync", Integer),
    column("error_count", Integer),
)
HOUR_FORMAT = "%Y-%m-%d %H:00"


def _int(value: Any) -> int:
    """PostgreSQL's SUM of a COUNT is NUMERIC (a Decimal); the page wants plain numbers."""
    return int(value or 0)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- listings by status ----------------------------------------------------------------------------------


def status_counts(session: Session, scope: Scope = EVERYWHERE) -> list[StatusCounts]:
    """Per seller and marketplace: listings in each status, how many are in sync, how many have errors."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in ListingStatus})
    for seller_id, marketplace_id, status, n in session.execute(
        select(Listing.seller_id, Listing.marketplace_id, Listing.status, func.count())
        .where(*scope.on(Listing.seller_id, Listing.marketplace_id))
        .group_by(Listing.seller_id, Listing.marketplace_id, Listing.status)
    ):
        counts[(seller_id, marketplace_id)][status] = int(n)

    v = V_LISTING_STATUS.c
    health = {
        (seller_id, marketplace_id): (_int(in_sync), _int(with_errors))
        for seller_id, marketplace_id, in_sync, with_errors in session.execute(
            select(
                v.seller_id,
                v.marketplace_id,
                func.sum(v.in_sync),
                func.sum(case((v.error_count > 0, 1), else_=0)),
            )
            .where(*scope.on(v.seller_id, v.marketplace_id))
            .group_by(v.seller_id, v.marketplace_id)
        )
    }
    names = dict(session.execute(select(Seller.seller_id, Seller.name)).all())
    countries = dict(session.execute(select(Marketplace.marketplace_id, Marketplace.country_code)).all())
    rows = [
        StatusCounts(
            seller_id=seller_id,
            seller_name=names.get(seller_id),
            marketplace_id=marketplace_id,
            country_code=countries.get(marketplace_id),
            counts=by_status,
            total=sum(by_status.values()),
            in_sync=health.get((seller_id, marketplace_id), (0, 0))[0],
            with_errors=health.get((seller_id, marketplace_id), (0, 0))[1],
        )
        for (seller_id, marketplace_id), by_status in counts.items()
    ]
    return sorted(rows, key=lambda r: (r.seller_id, r.country_code or "", r.marketplace_id))


# --- feeds -----------------------------------------------------------------------------------------------


def recent_feeds(
    session: Session, scope: Scope = EVERYWHERE, *, limit: int = FEED_LIMIT
) -> list[FeedProgress]:
    """The newest feeds with Amazon's counts, our message count, and the parsed outcomes per message."""
    feeds = session.execute(
        select(FeedSubmission, PublishAttempt.message_count)
        .outerjoin(PublishAttempt, PublishAttempt.id == FeedSubmission.attempt_id)
        .where(*scope.on_listed(FeedSubmission.seller_id, FeedSubmission.marketplace_ids))
        .order_by(FeedSubmission.created_at.desc(), FeedSubmission.feed_id.desc())
        .limit(limit)
    ).all()
    results: dict[str, dict[str, int]] = defaultdict(dict)
    ids = [feed.feed_id for feed, _ in feeds]
    if ids:
        for feed_id, status, n in session.execute(
            select(MessageResult.feed_id, MessageResult.status, func.count())
            .where(MessageResult.feed_id.in_(ids))
            .group_by(MessageResult.feed_id, MessageResult.status)
        ):
            results[feed_id][status] = int(n)
    return [
        FeedProgress(
            feed_id=feed.feed_id,
            seller_id=feed.seller_id,
            marketplace_ids=list(feed.marketplace_ids or []),
            feed_type=feed.feed_type,
            processing_status=feed.processing_status,
            created_at=feed.created_at,
            processing_started_at=feed.processing_started_at,
            processing_ended_at=feed.processing_ended_at,
            messages_submitted=message_count,
            messages_processed=feed.messages_processed,
            messages_accepted=feed.messages_accepted,
            messages_invalid=feed.messages_invalid,
            errors=feed.errors,
            warnings=feed.warnings,
            results={s.value: results[feed.feed_id].get(s.value, 0) for s in MessageStatus},
        )
        for feed, message_count in feeds
    ]


# --- issues ----------------------------------------------------------------------------------------------


def issue_groups(
    session: Session,
    scope: Scope = EVERYWHERE,
    *,
    since: datetime | None = None,
    limit: int = ISSUE_GROUP_LIMIT,
    skus_per_group: int = SKUS_PER_GROUP,
) -> list[IssueGroup]:
    """Issues observed since ``since``, grouped by code, severity and source, worst first.

    Worst: errors before warnings, then the groups touching the most listings. Each group carries its
    latest message and its most recently affected listings. A validation preview's issues are left
    out, as ``v_issues_by_code`` leaves them out: Amazon stored nothing, so they are no listing's
    (the view has no marketplace to filter on, hence the table).
    """
    i = ListingIssue
    window = [
        i.preview.is_(False),  # a preview's verdicts describe a change never made
        *scope.on(i.seller_id, i.marketplace_id),
        *([i.observed_at >= since] if since is not None else []),
    ]
    listing_key = case(
        (i.sku.is_not(None), i.seller_id + "|" + func.coalesce(i.marketplace_id, "") + "|" + i.sku)
    )
    severity_rank = case(
        *((i.severity == name, rank) for rank, name in enumerate(SEVERITY_ORDER)),
        else_=len(SEVERITY_ORDER),
    )
    listings = func.count(distinct(listing_key))
    groups = session.execute(
        select(
            i.code,
            i.severity,
            i.source,
            func.count().label("issues"),
            listings.label("listings"),
            func.min(i.observed_at),
            func.max(i.observed_at),
        )
        .where(*window)
        .group_by(i.code, i.severity, i.source)
        .order_by(severity_rank, listings.desc(), func.count().desc(), i.code)
        .limit(limit)
    ).all()

    out = []
    for code, severity, source, issues, n_listings, first_seen, last_seen in groups:
        same = [
            *window,
            i.severity == severity,
            i.source == source,
            i.code.is_(None) if code is None else i.code == code,
        ]
        message = session.scalar(
            select(i.message).where(*same).order_by(i.observed_at.desc(), i.id.desc()).limit(1)
        )
        latest = func.max(i.observed_at)
        skus = [
            IssueSku(seller_id=s, marketplace_id=m, sku=sku or "", last_seen=seen)
            for s, m, sku, seen in session.execute(
                select(i.seller_id, i.marketplace_id, i.sku, latest)
                .where(*same, i.sku.is_not(None))
                .group_by(i.seller_id, i.marketplace_id, i.sku)
                .order_by(latest.desc(), i.sku)
                .limit(skus_per_group)
            )
        ]
        out.append(
            IssueGroup(
                code=code,
                severity=severity,
                source=source,
                issues=int(issues),
                listings=int(n_listings),
                first_seen=first_seen,
                last_seen=last_seen,
                message=message or "",
                skus=skus,
            )
        )
    return out


# --- dead letters ----------------------------------------------------------------------------------------


def _letter(letter: DeadLetter) -> DeadLetterRow:
    return DeadLetterRow(
        id=letter.id,
        seller_id=letter.seller_id,
        marketplace_id=letter.marketplace_id,
        sku=letter.sku,
        path=letter.path,
        operation=letter.operation,
        code=letter.code,
        reason=letter.reason,
        state=letter.state,
        attempts=letter.attempts,
        run_id=letter.run_id,
        created_at=letter.created_at,
        updated_at=letter.updated_at,
    )


def open_dead_letters(
    session: Session, scope: Scope = EVERYWHERE, *, limit: int = DEAD_LETTER_LIMIT
) -> list[DeadLetterRow]:
    """Open dead letters (waiting for a person or a replay), newest first."""
    return [
        _letter(letter)
        for letter in session.scalars(
            select(DeadLetter)
            .where(
                DeadLetter.state == DeadLetterState.OPEN.value,
                *scope.on(DeadLetter.seller_id, DeadLetter.marketplace_id),
            )
            .order_by(DeadLetter.created_at.desc(), DeadLetter.id.desc())
            .limit(limit)
        )
    ]


def dead_letters(session: Session, ids: Iterable[int]) -> list[DeadLetterRow]:
    """The letters with these ids, in any state (the caller decides what it may act on), by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return [
        _letter(letter)
        for letter in session.scalars(
            select(DeadLetter).where(DeadLetter.id.in_(wanted)).order_by(DeadLetter.id)
        )
    ]


# --- chart series ----------------------------------------------------------------------------------------


class UtcHour(FunctionElement[str]):
    """A timestamp's UTC hour as text, ``'YYYY-MM-DD HH:00'``: the bucket of ``v_api_call_stats``,
    spelt per database as the migration spells it (there is no portable way)."""

    type = String()
    inherit_cache = True
    name = "utc_hour"


@compiles(UtcHour, "sqlite")
def _utc_hour_sqlite(element: UtcHour, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite timestamps are UTC text ('YYYY-MM-DD HH:MM:SS[.ffffff]', models.UTCDateTime)
    return f"strftime('%Y-%m-%d %H:00', {compiler.process(element.clauses, **kw)})"


@compiles(UtcHour, "postgresql")
def _utc_hour_postgresql(element: UtcHour, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00')"


def _hour(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def api_call_series(
    session: Session, scope: Scope = EVERYWHERE, *, hours: int = CHART_HOURS, now: datetime | None = None
) -> list[ApiHour]:
    """One point per UTC hour for the last ``hours`` hours up to ``now``, empty hours included.

    Read from ``api_calls``, not ``v_api_call_stats``: the view has no seller or marketplace to
    filter on (and ranks every call ever made to find one window's percentiles). Calls, throttles
    and failures add up over operations; the mean latency is of all calls; the p95 is the worst
    operation's, nearest-rank as in the view (percentiles of different operations do not add up).
    With a marketplace filter, a call that names no marketplace (``getFeed``, a document download)
    is left out.
    """
    end = _hour(now or datetime.now(UTC))
    start = end - timedelta(hours=hours - 1)
    a = ApiCall
    hour = UtcHour(a.started_at)
    per_operation = (a.operation, hour)
    ranked = (
        select(
            hour.label("hour"),
            a.latency_ms,
            a.throttled,
            a.status,
            func.row_number().over(partition_by=per_operation, order_by=a.latency_ms).label("rn"),
            func.count().over(partition_by=per_operation).label("n"),
        )
        .where(
            a.started_at >= start,
            a.started_at < end + timedelta(hours=1),
            *scope.on(a.seller_id, a.marketplace_id),
        )
        .subquery()
    )
    r = ranked.c
    found = {
        label: (calls, throttled, failed, latency_sum, p95)
        for label, calls, throttled, failed, latency_sum, p95 in session.execute(
            select(
                r.hour,
                func.count(),
                func.sum(case((r.throttled, 1), else_=0)),
                func.sum(case((or_(r.status.is_(None), r.status >= 400), 1), else_=0)),
                func.sum(r.latency_ms),
                func.max(case((r.rn == (95 * r.n + 99) // 100, r.latency_ms))),
            ).group_by(r.hour)
        )
    }
    points = []
    for n in range(hours):
        at = start + timedelta(hours=n)
        calls, throttled, failed, latency_sum, p95 = found.get(
            at.strftime(HOUR_FORMAT), (0, 0, 0, None, None)
        )
        points.append(
            ApiHour(
                hour=at,
                calls=_int(calls),
                throttled=_int(throttled),
                failed=_int(failed),
                avg_latency_ms=float(latency_sum) / _int(calls)
                if latency_sum is not None and calls
                else None,
                p95_latency_ms=_float(p95),
            )
        )
    return points


@dataclass
class _FeedTally:
    feeds: int = 0
    done: int = 0
    fatal: int = 0
    cancelled: int = 0
    pending: int = 0
    accepted: int = 0
    invalid: int = 0
    seconds: list[float] = field(default_factory=list)


def feed_series(
    session: Session, scope: Scope = EVERYWHERE, *, days: int = CHART_DAYS, now: datetime | None = None
) -> list[FeedDay]:
    """One point per UTC day for the last ``days`` days up to ``now``: the feeds created that day.

    Read from ``feed_submissions``, not ``v_feed_health``: the view has no marketplace to filter
    on. A fortnight holds a few feeds per seller and marketplace a day, so they are added up here.
    The processing time is the mean over the feeds whose start and end Amazon reported.
    """
    end: date = (now or datetime.now(UTC)).astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    f = FeedSubmission
    tallies: dict[date, _FeedTally] = defaultdict(_FeedTally)
    for created_at, status, accepted, invalid, began, ended in session.execute(
        select(
            f.created_at,
            f.processing_status,
            f.messages_accepted,
            f.messages_invalid,
            f.processing_started_at,
            f.processing_ended_at,
        ).where(
            f.created_at >= datetime.combine(start, time(), UTC),
            f.created_at < datetime.combine(end + timedelta(days=1), time(), UTC),
            *scope.on_listed(f.seller_id, f.marketplace_ids),
        )
    ):
        tally = tallies[created_at.astimezone(UTC).date()]
        tally.feeds += 1
        tally.done += status == "DONE"
        tally.fatal += status == "FATAL"
        tally.cancelled += status == "CANCELLED"
        tally.pending += status in ("IN_QUEUE", "IN_PROGRESS")
        tally.accepted += accepted or 0
        tally.invalid += invalid or 0
        if began is not None and ended is not None:
            tally.seconds.append((ended - began).total_seconds())
    points = []
    for n in range(days):
        day = start + timedelta(days=n)
        tally = tallies.get(day, _FeedTally())
        points.append(
            FeedDay(
                day=day,
                feeds=tally.feeds,
                feeds_done=tally.done,
                feeds_fatal=tally.fatal,
                feeds_cancelled=tally.cancelled,
                feeds_pending=tally.pending,
                messages_accepted=tally.accepted,
                messages_invalid=tally.invalid,
                avg_processing_seconds=sum(tally.seconds) / len(tally.seconds) if tally.seconds else None,
            )
        )
    return points


# --- one SKU ---------------------------------------------------------------------------------------------


def find_skus(session: Session, fragment: str, *, limit: int = 20) -> list[str]:
    """SKUs containing ``fragment`` (any case), for a search that matched nothing exactly."""
    fragment = fragment.strip()
    if not fragment:
        return []
    return list(
        session.scalars(
            select(Listing.sku)
            .where(Listing.sku.icontains(fragment, autoescape=True))
            .group_by(Listing.sku)
            .order_by(Listing.sku)
            .limit(limit)
        )
    )


def sku_history(
    session: Session, sku: str, scope: Scope = EVERYWHERE, *, limit: int = HISTORY_LIMIT
) -> SkuHistory:
    """Everything about ``sku`` in ``scope`` (every seller and marketplace unless it says one).

    Validation (``quarantine``), lifecycle (``listing_events``, with who triggered each move's run
    and what it changed), feed messages and their outcomes, Listings Items API calls, issues (the
    listing's own apart from a validation preview's) and dead letters with their events; newest
    first, at most ``limit`` rows per section.
    """
    ask = _SkuQuery(sku.strip(), scope, limit)
    return SkuHistory(
        sku=ask.sku,
        listings=_listing_states(session, ask),
        quarantine=[
            QuarantineEntry.model_validate(q)
            for q in _newest(session, ask, Quarantine, Quarantine.quarantined_at)
        ],
        events=_lifecycle(session, ask),
        submissions=_submissions(session, ask),
        api_calls=[
            ApiCallEntry.model_validate(c) for c in _newest(session, ask, ApiCall, ApiCall.started_at)
        ],
        issues=_issues(session, ask, preview=False),
        preview_issues=_issues(session, ask, preview=True),
        dead_letters=_with_events(session, _newest(session, ask, DeadLetter, DeadLetter.created_at)),
    )


@dataclass(frozen=True)
class _SkuQuery:
    """What every section of a SKU's history is filtered by, so that no section shows another
    seller's (or marketplace's) rows or more than the page can hold."""

    sku: str
    scope: Scope
    limit: int


_Logged = TypeVar("_Logged", Quarantine, ApiCall, ListingIssue, DeadLetter)


def _newest(
    session: Session, ask: _SkuQuery, model: type[_Logged], at: Any, *where: ColumnElement[bool]
) -> list[_Logged]:
    """The newest ``ask.limit`` rows of a table that records the SKU and seller on each row (and
    match ``where``); ties in time go to the later row, so the order is the same on every reload."""
    return list(
        session.scalars(
            select(model)
            .where(model.sku == ask.sku, *ask.scope.on(model.seller_id, model.marketplace_id), *where)
            .order_by(at.desc(), model.id.desc())
            .limit(ask.limit)
        )
    )


def _issues(session: Session, ask: _SkuQuery, *, preview: bool) -> list[IssueEntry]:
    """The listing's own issues, or a validation preview's: two sections, so that a preview's
    verdict is never read as something the listing has."""
    return [
        IssueEntry.model_validate(i)
        for i in _newest(
            session, ask, ListingIssue, ListingIssue.observed_at, ListingIssue.preview.is_(preview)
        )
    ]


def _listing_states(session: Session, ask: _SkuQuery) -> list[ListingState]:
    """The SKU's listing in each marketplace as ``v_listing_status`` has it: its status and since
    when, whether it is in sync and has errors now, by the state model's one definition (which the
    status counts read too), not a second one written here."""
    v = V_LISTING_STATUS.c
    return [
        ListingState(
            seller_id=row.seller_id,
            marketplace_id=row.marketplace_id,
            sku=row.sku,
            product_type=row.product_type,
            status=row.status,
            status_since=row.status_since,
            asin=row.asin,
            in_sync=bool(row.in_sync),
            with_errors=_int(row.error_count) > 0,
            accepted_at=row.accepted_at,
            last_submission_id=row.last_submission_id,
        )
        for row in session.execute(
            select(V_LISTING_STATUS)
            .where(v.sku == ask.sku, *ask.scope.on(v.seller_id, v.marketplace_id))
            .order_by(v.seller_id, v.marketplace_id)
        )
    ]


def _value_changes(stored: dict[str, Any] | None) -> list[ValueChange]:
    """``listing_events.changes`` (``{field: {"old": .., "new": ..}}``) as a list, by field name: a
    JSON object's key order is not kept on PostgreSQL (JSONB), so it is made the same on both."""
    return [
        ValueChange(field=name, old=values.get("old"), new=values.get("new"))
        for name, values in sorted((stored or {}).items())
    ]


def _lifecycle(session: Session, ask: _SkuQuery) -> list[LifecycleEntry]:
    """Events name the listing, not the SKU, so they are joined to it for the SKU and marketplace."""
    return [
        LifecycleEntry(
            seller_id=s,
            marketplace_id=m,
            from_status=e.from_status,
            to_status=e.to_status,
            cause=e.cause,
            run_id=e.run_id,
            dag_id=e.dag_id,
            actor=e.actor,
            changes=_value_changes(e.changes),
            at=e.at,
        )
        for e, s, m in session.execute(
            select(ListingEvent, Listing.seller_id, Listing.marketplace_id)
            .join(Listing, Listing.id == ListingEvent.listing_id)
            .where(Listing.sku == ask.sku, *ask.scope.on(Listing.seller_id, Listing.marketplace_id))
            .order_by(ListingEvent.at.desc(), ListingEvent.id.desc())
            .limit(ask.limit)
        )
    ]


def _submissions(session: Session, ask: _SkuQuery) -> list[SubmissionEntry]:
    """Each feed message of the SKU with its outcome; the feed it went in says the seller, the
    marketplaces and how far Amazon got."""
    return [
        SubmissionEntry(
            seller_id=feed.seller_id,
            marketplace_ids=list(feed.marketplace_ids or []),
            feed_id=feed.feed_id,
            message_id=result.message_id,
            operation_type=result.operation_type,
            result=result.status,
            processing_status=feed.processing_status,
            created_at=feed.created_at,
            processing_ended_at=feed.processing_ended_at,
        )
        for result, feed in session.execute(
            select(MessageResult, FeedSubmission)
            .join(FeedSubmission, FeedSubmission.feed_id == MessageResult.feed_id)
            .where(
                MessageResult.sku == ask.sku,
                *ask.scope.on_listed(FeedSubmission.seller_id, FeedSubmission.marketplace_ids),
            )
            .order_by(FeedSubmission.created_at.desc(), MessageResult.id.desc())
            .limit(ask.limit)
        )
    ]


def _with_events(session: Session, letters: list[DeadLetter]) -> list[DeadLetterEntry]:
    """Each dead letter with its own history, newest first, read in one query for all of them."""
    letter_events: dict[int, list[DeadLetterEventEntry]] = defaultdict(list)
    if letters:
        for ev in session.scalars(
            select(DeadLetterEvent)
            .where(DeadLetterEvent.dead_letter_id.in_([letter.id for letter in letters]))
            .order_by(DeadLetterEvent.at.desc(), DeadLetterEvent.id.desc())
        ):
            letter_events[ev.dead_letter_id].append(DeadLetterEventEntry.model_validate(ev))
    return [DeadLetterEntry(letter=_letter(d), events=letter_events[d.id]) for d in letters]


# --- the whole page --------------------------------------------------------------------------------------


def filter_options(session: Session) -> FilterOptions:
    """Every seller, and every marketplace some seller has listings or runs in: the filter's choices."""
    used = union(
        select(Listing.marketplace_id).distinct(), select(RunSummary.marketplace_id).distinct()
    ).subquery()
    return FilterOptions(
        sellers=[
            SellerOption(seller_id=seller_id, name=name)
            for seller_id, name in session.execute(
                select(Seller.seller_id, Seller.name).order_by(Seller.seller_id)
            )
        ],
        marketplaces=[
            MarketplaceOption(marketplace_id=marketplace_id, country_code=country)
            for marketplace_id, country in session.execute(
                select(used.c.marketplace_id, Marketplace.country_code)
                .outerjoin(Marketplace, Marketplace.marketplace_id == used.c.marketplace_id)
                .order_by(Marketplace.country_code, used.c.marketplace_id)
            )
        ],
    )


def overview(
    session: Session,
    scope: Scope = EVERYWHERE,
    *,
    now: datetime | None = None,
    quarantine_filter: quarantine.QuarantineFilter | None = None,
) -> Overview:
    """Every section of the page, in ``scope``, read in one session."""
    now = now or datetime.now(UTC)
    since = now - ISSUE_WINDOW
    return Overview(
        generated_at=now,
        scope=scope,
        status=status_counts(session, scope),
        feeds=recent_feeds(session, scope),
        issues=issue_groups(session, scope, since=since),
        issues_since=since,
        dead_letters=open_dead_letters(session, scope),
        api_hours=api_call_series(session, scope, now=now),
        feed_days=feed_series(session, scope, now=now),
        runs=runs.recent_runs(session, scope),
        quarantine=quarantine.quarantine_page(
            session, scope, quarantine_filter or quarantine.QuarantineFilter()
        ),
        drift=drift.drift_section(session, scope),
        performance=seller_performance.performance_section(session, scope, now=now),
        notifications=notifications.notifications_section(session, scope, now=now),
    )
