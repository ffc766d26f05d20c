"""``transition_many`` checks every row of a batch, even though it checks a shape of row once.

The field names are checked once per distinct set of keys and statuses are looked up by value;
a row of another shape, or a status given as a member, a value or nonsense, must still be judged
on its own.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import LifecycleError, transition_many
from listings_pipeline.warehouse.models import Listing, ListingEvent, ListingStatus
from tests.warehouse.conftest import SELLER, US


def _row(sku: str, **extra: object) -> dict[str, object]:
    return {"seller_id": SELLER, "marketplace_id": US, "sku": sku, **extra}


def _written(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as s:
        return len(s.scalars(select(Listing.id)).all()), len(s.scalars(select(ListingEvent.id)).all())


def test_a_later_row_of_another_shape_with_an_unknown_field_refuses_the_batch(
    warehouse_engine: Engine,
) -> None:
    rows = [_row(f"S{i}", product_type="LUGGAGE") for i in range(3)]
    rows.append(_row("S3", product_type="LUGGAGE", colour="red"))
    with (
        session_scope(warehouse_engine) as s,
        pytest.raises(TypeError, match=r"unexpected listing fields \['colour'\]"),
    ):
        transition_many(s, rows, "validation", to_status="draft")
    assert _written(warehouse_engine) == (0, 0)


def test_a_later_row_with_an_unknown_status_refuses_the_batch(warehouse_engine: Engine) -> None:
    rows = [_row("S0"), _row("S1", to_status="published")]
    with (
        session_scope(warehouse_engine) as s,
        pytest.raises(LifecycleError, match="unknown listing status 'published'"),
    ):
        transition_many(s, rows, "validation", to_status="draft")
    with (
        session_scope(warehouse_engine) as s,
        pytest.raises(LifecycleError, match="unknown listing status 7"),
    ):
        transition_many(s, [_row("S0", to_status=7)], "validation")
    assert _written(warehouse_engine) == (0, 0)


def test_statuses_as_members_or_values_write_the_plain_value(warehouse_engine: Engine) -> None:
    rows = [_row("S0", to_status=ListingStatus.DRAFT), _row("S1", to_status="quarantined"), _row("S2")]
    with session_scope(warehouse_engine) as s:
        summary = transition_many(s, rows, "validation", to_status=ListingStatus.READY)
    assert summary.created == 3
    with session_scope(warehouse_engine) as s:
        statuses = {sku: status for sku, status in s.execute(select(Listing.sku, Listing.status))}
        events = s.execute(
            select(ListingEvent.from_status, ListingEvent.to_status).order_by(ListingEvent.id)
        ).all()
    assert statuses == {"S0": "draft", "S1": "quarantined", "S2": "ready"}
    assert all(type(v) is str for v in statuses.values())
    assert [tuple(e) for e in events] == [(None, "draft"), (None, "quarantined"), (None, "ready")]
