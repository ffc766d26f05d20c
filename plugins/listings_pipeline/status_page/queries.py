"""The status page's reads: one function per section, each a few SQLAlchemy 2 statements.

No Airflow here: these run against any migrated warehouse (SQLite or PostgreSQL), so they are tested
on their own, and a script can call them as the page does. Every function takes a ``Session`` and
returns :mod:`~listings_pipeline.status_page.schemas` models; none writes.

Sizes are bounded (``limit`` arguments) because the page is read by people: the newest feeds, the
open dead letters, the issue groups with the most recently affected SKUs. Time windows take an
explicit ``now`` so that tests (and the page) decide what "recent" means.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Float, Integer, String, case, column, distinct, func, select, table
from sqlalchemy.orm import Session

from listings_pipeline.status_page.schemas import (
    ApiCallEntry,
    ApiHour,
    DeadLetterEntry,
    DeadLetterEventEntry,
    DeadLetterRow,
    FeedDay,
    FeedProgress,
    IssueEntry,
    IssueGroup,
    IssueSku,
    LifecycleEntry,
    ListingState,
    Overview,
    QuarantineEntry,
    SkuHistory,
    StatusCounts,
    SubmissionEntry,
)
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
    Seller,
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

# The analyst views (created by the migrations, not the ORM), with the columns read here. Their time
# buckets are UTC text on both databases: 'YYYY-MM-DD HH:00' and 'YYYY-MM-DD'.
V_LISTING_STATUS = table(
    "v_listing_status",
    column("seller_id", String),
    column("marketplace_id", String),
    column("in_sync", Integer),
    column("error_count", Integer),
)
V_API_CALL_STATS = table(
    "v_api_call_stats",
    column("hour", String),
    column("calls", Integer),
    column("throttled_calls", Integer),
    column("failed_calls", Integer),
    column("avg_latency_ms", Float),
    column("p95_latency_ms", Float),
)
V_FEED_HEALTH = table(
    "v_feed_health",
    column("day", String),
    column("feeds", Integer),
    column("feeds_done", Integer),
    column("feeds_fatal", Integer),
    column("feeds_cancelled", Integer),
    column("feeds_pending", Integer),
    column("messages_accepted", Integer),
    column("messages_invalid", Integer),
    column("avg_processing_seconds", Float),
)
HOUR_FORMAT = "%Y-%m-%d %H:00"
DAY_FORMAT = "%Y-%m-%d"


def _int(value: Any) -> int:
    """PostgreSQL's SUM of a COUNT is NUMERIC (a Decimal); the page wants plain numbers."""
    return int(value or 0)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- listings by status ----------------------------------------------------------------------------------


def status_counts(session: Session) -> list[StatusCounts]:
    """Per seller and marketplace: listings in each status, how many are in sync, how many have errors."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in ListingStatus})
    for seller_id, marketplace_id, status, n in session.execute(
        select(Listing.seller_id, Listing.marketplace_id, Listing.status, func.count()).group_by(
            Listing.seller_id, Listing.marketplace_id, Listing.status
        )
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
            ).group_by(v.seller_id, v.marketplace_id)
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
    session: Session, *, limit: int = FEED_LIMIT, seller_id: str | None = None
) -> list[FeedProgress]:
    """The newest feeds with Amazon's counts, our message count, and the parsed outcomes per message."""
    query = (
        select(FeedSubmission, PublishAttempt.message_count)
        .outerjoin(PublishAttempt, PublishAttempt.id == FeedSubmission.attempt_id)
        .order_by(FeedSubmission.created_at.desc(), FeedSubmission.feed_id.desc())
        .limit(limit)
    )
    if seller_id is not None:
        query = query.where(FeedSubmission.seller_id == seller_id)
    feeds = session.execute(query).all()
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
    *,
    since: datetime | None = None,
    limit: int = ISSUE_GROUP_LIMIT,
    skus_per_group: int = SKUS_PER_GROUP,
) -> list[IssueGroup]:
    """Issues observed since ``since``, grouped by code, severity and source, worst first.

    Worst: errors before warnings, then the groups touching the most listings. Each group carries its
    latest message and its most recently affected listings.
    """
    i = ListingIssue
    window = [i.observed_at >= since] if since is not None else []
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
    session: Session, *, limit: int = DEAD_LETTER_LIMIT, seller_id: str | None = None
) -> list[DeadLetterRow]:
    """Open dead letters (waiting for a person or a replay), newest first."""
    query = (
        select(DeadLetter)
        .where(DeadLetter.state == DeadLetterState.OPEN.value)
        .order_by(DeadLetter.created_at.desc(), DeadLetter.id.desc())
        .limit(limit)
    )
    if seller_id is not None:
        query = query.where(DeadLetter.seller_id == seller_id)
    return [_letter(letter) for letter in session.scalars(query)]


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


def _hour(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def api_call_series(
    session: Session, *, hours: int = CHART_HOURS, now: datetime | None = None
) -> list[ApiHour]:
    """One point per UTC hour for the last ``hours`` hours up to ``now``, empty hours included.

    Calls, throttles and failures add up over operations; the mean latency is weighted by calls; the
    p95 is the worst operation's.
    """
    end = _hour(now or datetime.now(UTC))
    start = end - timedelta(hours=hours - 1)
    v = V_API_CALL_STATS.c
    found = {
        label: (calls, throttled, failed, latency_sum, p95)
        for label, calls, throttled, failed, latency_sum, p95 in session.execute(
            select(
                v.hour,
                func.sum(v.calls),
                func.sum(v.throttled_calls),
                func.sum(v.failed_calls),
                func.sum(v.avg_latency_ms * v.calls),
                func.max(v.p95_latency_ms),
            )
            .where(v.hour >= start.strftime(HOUR_FORMAT), v.hour <= end.strftime(HOUR_FORMAT))
            .group_by(v.hour)
        )
    }
    points = []
    for n in range(hours):
        hour = start + timedelta(hours=n)
        calls, throttled, failed, latency_sum, p95 = found.get(
            hour.strftime(HOUR_FORMAT), (0, 0, 0, None, None)
        )
        points.append(
            ApiHour(
                hour=hour,
                calls=_int(calls),
                throttled=_int(throttled),
                failed=_int(failed),
                avg_latency_ms=(float(latency_sum) / _int(calls))
                if latency_sum is not None and calls
                else None,
                p95_latency_ms=_float(p95),
            )
        )
    return points


def feed_series(session: Session, *, days: int = CHART_DAYS, now: datetime | None = None) -> list[FeedDay]:
    """One point per UTC day for the last ``days`` days up to ``now``, all sellers together."""
    end: date = (now or datetime.now(UTC)).astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    v = V_FEED_HEALTH.c
    weighted = func.sum(case((v.avg_processing_seconds.is_not(None), v.avg_processing_seconds * v.feeds)))
    timed_feeds = func.sum(case((v.avg_processing_seconds.is_not(None), v.feeds)))
    found = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                v.day,
                func.sum(v.feeds),
                func.sum(v.feeds_done),
                func.sum(v.feeds_fatal),
                func.sum(v.feeds_cancelled),
                func.sum(v.feeds_pending),
                func.sum(v.messages_accepted),
                func.sum(v.messages_invalid),
                weighted,
                timed_feeds,
            )
            .where(v.day >= start.strftime(DAY_FORMAT), v.day <= end.strftime(DAY_FORMAT))
            .group_by(v.day)
        )
    }
    points = []
    for n in range(days):
        day = start + timedelta(days=n)
        values = found.get(day.strftime(DAY_FORMAT))
        feeds, done, fatal, cancelled, pending, accepted, invalid, seconds, timed = values or (None,) * 9
        points.append(
            FeedDay(
                day=day,
                feeds=_int(feeds),
                feeds_done=_int(done),
                feeds_fatal=_int(fatal),
                feeds_cancelled=_int(cancelled),
                feeds_pending=_int(pending),
                messages_accepted=_int(accepted),
                messages_invalid=_int(invalid),
                avg_processing_seconds=float(seconds) / float(timed)
                if seconds is not None and timed
                else None,
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
    session: Session, sku: str, *, seller_id: str | None = None, limit: int = HISTORY_LIMIT
) -> SkuHistory:
    """Everything about ``sku`` (in every marketplace, of ``seller_id`` or of every seller).

    Validation (``quarantine``), lifecycle (``listing_events``), feed messages and their outcomes,
    Listings Items API calls, issues and dead letters with their events; newest first, at most
    ``limit`` rows per section.
    """
    ask = _SkuQuery(sku.strip(), seller_id, limit)
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
        issues=[
            IssueEntry.model_validate(i)
            for i in _newest(session, ask, ListingIssue, ListingIssue.observed_at)
        ],
        dead_letters=_with_events(session, _newest(session, ask, DeadLetter, DeadLetter.created_at)),
    )


@dataclass(frozen=True)
class _SkuQuery:
    """What every section of a SKU's history is filtered by, so that no section shows another
    seller's rows or more than the page can hold."""

    sku: str
    seller_id: str | None
    limit: int

    def of_seller(self, col: Any) -> list[Any]:
        return [col == self.seller_id] if self.seller_id is not None else []


_Logged = TypeVar("_Logged", Quarantine, ApiCall, ListingIssue, DeadLetter)


def _newest(session: Session, ask: _SkuQuery, model: type[_Logged], at: Any) -> list[_Logged]:
    """The newest ``ask.limit`` rows of a table that records the SKU and seller on each row; ties in
    time go to the later row, so the order is the same on every reload."""
    return list(
        session.scalars(
            select(model)
            .where(model.sku == ask.sku, *ask.of_seller(model.seller_id))
            .order_by(at.desc(), model.id.desc())
            .limit(ask.limit)
        )
    )


def _listing_states(session: Session, ask: _SkuQuery) -> list[ListingState]:
    """The SKU's listing in each marketplace, with when it got its status (its latest event) and
    whether Amazon holds what was last built (``in_sync``)."""
    status_since = (
        select(func.max(ListingEvent.at)).where(ListingEvent.listing_id == Listing.id).scalar_subquery()
    )
    return [
        ListingState(
            seller_id=listing.seller_id,
            marketplace_id=listing.marketplace_id,
            sku=listing.sku,
            product_type=listing.product_type,
            status=listing.status,
            status_since=since,
            asin=listing.asin,
            in_sync=listing.payload_hash is not None and listing.payload_hash == listing.accepted_hash,
            accepted_at=listing.accepted_at,
            last_submission_id=listing.last_submission_id,
        )
        for listing, since in session.execute(
            select(Listing, status_since)
            .where(Listing.sku == ask.sku, *ask.of_seller(Listing.seller_id))
            .order_by(Listing.seller_id, Listing.marketplace_id)
        )
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
            at=e.at,
        )
        for e, s, m in session.execute(
            select(ListingEvent, Listing.seller_id, Listing.marketplace_id)
            .join(Listing, Listing.id == ListingEvent.listing_id)
            .where(Listing.sku == ask.sku, *ask.of_seller(Listing.seller_id))
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
            .where(MessageResult.sku == ask.sku, *ask.of_seller(FeedSubmission.seller_id))
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


def overview(session: Session, *, now: datetime | None = None) -> Overview:
    """Every section of the page, read in one session."""
    now = now or datetime.now(UTC)
    since = now - ISSUE_WINDOW
    return Overview(
        generated_at=now,
        status=status_counts(session),
        feeds=recent_feeds(session),
        issues=issue_groups(session, since=since),
        issues_since=since,
        dead_letters=open_dead_letters(session),
        api_hours=api_call_series(session, now=now),
        feed_days=feed_series(session, now=now),
    )
