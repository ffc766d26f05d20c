"""The Quarantine section's reads: quarantined rows, newest first, filtered and a page at a time.

Every row is shown, not only each SKU's latest: the section answers "what did the runs set aside,
and why", and a run's rows are one filter away (``run_id``; the Runs section links to it). The same
filter gives the page, the rule choices and the CSV export, so a download holds what the page shows
on all its pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from listings_pipeline.status_page.schemas import QuarantineEntry, QuarantinePage, RuleCount
from listings_pipeline.status_page.scope import Scope
from listings_pipeline.warehouse.models import Quarantine

PAGE_SIZE = 50
EXPORT_BATCH = 1000


class QuarantineFilter(BaseModel):
    """What the section is narrowed to, beyond the page's seller and marketplace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: Annotated[str | None, Field(max_length=255)] = None
    run_id: Annotated[str | None, Field(max_length=250)] = None
    page: Annotated[int, Field(ge=1)] = 1
    page_size: Annotated[int, Field(ge=1, le=500)] = PAGE_SIZE


def _matching(scope: Scope, wanted: QuarantineFilter, *, with_rule: bool = True) -> list[ColumnElement[bool]]:
    q = Quarantine
    conditions = scope.on(q.seller_id, q.marketplace_id)
    if wanted.run_id is not None:
        conditions.append(q.run_id == wanted.run_id)
    if with_rule and wanted.rule is not None:
        conditions.append(q.rule == wanted.rule)
    return conditions


def _newest_first() -> tuple[Any, ...]:
    # ties in time go to the later row, so a page holds the same rows on every reload
    return (Quarantine.quarantined_at.desc(), Quarantine.id.desc())


def quarantine_page(session: Session, scope: Scope, wanted: QuarantineFilter) -> QuarantinePage:
    """One page of the rows matching ``scope`` and ``wanted``, the total, and the rule choices."""
    conditions = _matching(scope, wanted)
    total = session.scalar(select(func.count()).select_from(Quarantine).where(*conditions)) or 0
    rows = session.scalars(
        select(Quarantine)
        .where(*conditions)
        .order_by(*_newest_first())
        .offset((wanted.page - 1) * wanted.page_size)
        .limit(wanted.page_size)
    )
    rules = session.execute(
        select(Quarantine.rule, func.count())
        .where(*_matching(scope, wanted, with_rule=False))
        .group_by(Quarantine.rule)
        .order_by(func.count().desc(), Quarantine.rule)
    )
    return QuarantinePage(
        rule=wanted.rule,
        run_id=wanted.run_id,
        page=wanted.page,
        page_size=wanted.page_size,
        total=int(total),
        rows=[QuarantineEntry.model_validate(row) for row in rows],
        rules=[RuleCount(rule=rule, rows=int(n)) for rule, n in rules],
    )


def quarantine_rows(session: Session, scope: Scope, wanted: QuarantineFilter) -> Iterator[QuarantineEntry]:
    """Every row matching ``scope`` and ``wanted`` (all pages), newest first, read in batches so that
    an export of many rows does not hold them all at once."""
    result = session.scalars(
        select(Quarantine)
        .where(*_matching(scope, wanted))
        .order_by(*_newest_first())
        .execution_options(yield_per=EXPORT_BATCH)
    )
    for row in result:
        yield QuarantineEntry.model_validate(row)
