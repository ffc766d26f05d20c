"""The Drift section's reads: open drift between Amazon's listings report and the warehouse.

What a person has to decide on: open ``listing_drift`` rows, counted by kind, the newest first
(bounded: the CSV has them all), and when Amazon was last compared in the filter, so an empty
section can be told apart from a marketplace never reconciled. Closed drift (resubmitted, accepted,
gone) is for analysts (``v_drift``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from listings_pipeline.from_amazon.drift import DRIFT_KINDS
from listings_pipeline.status_page.schemas import DriftEntry, DriftKindCount, DriftSection
from listings_pipeline.status_page.scope import Scope
from listings_pipeline.warehouse.models import DriftCheck, DriftState, ListingDrift

SHOWN = 200
EXPORT_BATCH = 1000


def _open(scope: Scope) -> list[ColumnElement[bool]]:
    return [
        ListingDrift.state == DriftState.OPEN,
        *scope.on(ListingDrift.seller_id, ListingDrift.marketplace_id),
    ]


def drift_section(session: Session, scope: Scope, *, limit: int = SHOWN) -> DriftSection:
    """Open drift in ``scope``: counts by kind (in the order the comparison names them), the newest
    ``limit`` rows, and the latest check."""
    counted = dict(
        session.execute(
            select(ListingDrift.kind, func.count()).where(*_open(scope)).group_by(ListingDrift.kind)
        ).all()
    )
    counts = [DriftKindCount(kind=k, open=int(counted[k])) for k in DRIFT_KINDS if k in counted]
    checked_at = session.scalar(
        select(func.max(DriftCheck.checked_at)).where(
            *scope.on(DriftCheck.seller_id, DriftCheck.marketplace_id)
        )
    )
    if isinstance(checked_at, str):  # func.max bypasses the column's type on SQLite
        checked_at = datetime.fromisoformat(checked_at).replace(tzinfo=UTC)
    return DriftSection(
        checked_at=checked_at,
        counts=counts,
        total=sum(c.open for c in counts),
        rows=[DriftEntry.model_validate(r) for r in session.scalars(_newest(scope).limit(limit))],
    )


def _newest(scope: Scope) -> Select[ListingDrift]:
    return (
        select(ListingDrift)
        .where(*_open(scope))
        .order_by(ListingDrift.last_seen_at.desc(), ListingDrift.sku, ListingDrift.kind, ListingDrift.id)
    )


def drift_rows(session: Session, scope: Scope) -> Iterator[DriftEntry]:
    """Every open drift row in ``scope``, in the section's order, read in batches for the CSV."""
    for row in session.scalars(_newest(scope).execution_options(yield_per=EXPORT_BATCH)):
        yield DriftEntry.model_validate(row)
