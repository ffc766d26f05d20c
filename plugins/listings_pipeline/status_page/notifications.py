"""The Notifications section's reads: what Amazon pushed lately, and the poison messages.

A person needs two things here: that notifications arrive at all (how many in the last day, by
outcome, and when the last came), and which queue messages could not be read, since each will end
in the SQS dead-letter queue after ``maxReceiveCount`` receives and is then nobody's to see
unless this page shows it. A poison message names no seller (it could not be read), so the page's
filter does not narrow that list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from listings_pipeline.status_page.scope import Scope
from listings_pipeline.warehouse.models import AmazonNotification, NotificationReject

WINDOW = timedelta(hours=24)
SHOWN = 20


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class OutcomeCount(_Row):
    notification_type: str
    outcome: str
    count: int


class PoisonMessage(_Row):
    message_id: str
    reason: str
    receives: int
    first_seen_at: datetime
    last_seen_at: datetime


class NotificationsSection(_Row):
    """Notifications taken in over :data:`WINDOW` in the filter, and every poison message seen."""

    since: datetime
    last_received_at: datetime | None
    counts: list[OutcomeCount]
    received: int
    poison_total: int
    poison: list[PoisonMessage]


def _utc(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):  # func.max bypasses the column's type on SQLite
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


def notifications_section(
    session: Session, scope: Scope, *, now: datetime | None = None
) -> NotificationsSection:
    since = (now or datetime.now(UTC)) - WINDOW
    where = [
        AmazonNotification.received_at >= since,
        *scope.on(AmazonNotification.seller_id, AmazonNotification.marketplace_id),
    ]
    counts = [
        OutcomeCount(notification_type=kind, outcome=outcome, count=int(n))
        for kind, outcome, n in session.execute(
            select(AmazonNotification.notification_type, AmazonNotification.outcome, func.count())
            .where(*where)
            .group_by(AmazonNotification.notification_type, AmazonNotification.outcome)
            .order_by(AmazonNotification.notification_type, AmazonNotification.outcome)
        )
    ]
    last = session.scalar(
        select(func.max(AmazonNotification.received_at)).where(
            *scope.on(AmazonNotification.seller_id, AmazonNotification.marketplace_id)
        )
    )
    poison = session.scalars(
        select(NotificationReject).order_by(NotificationReject.last_seen_at.desc()).limit(SHOWN)
    )
    return NotificationsSection(
        since=since,
        last_received_at=_utc(last),
        counts=counts,
        received=sum(c.count for c in counts),
        poison_total=int(session.scalar(select(func.count()).select_from(NotificationReject)) or 0),
        poison=[PoisonMessage.model_validate(p) for p in poison],
    )
