"""Writes run behind the caller on both backends: in order, in the caller's transaction, and a
failed write fails the caller's block (and so rolls the transaction back)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from listings_pipeline.warehouse.db import make_engine, session_scope, upgrade
from listings_pipeline.warehouse.lifecycle import IllegalTransitionError, transition_many
from listings_pipeline.warehouse.models import Listing, ListingEvent
from listings_pipeline.warehouse.records import ensure_seller
from listings_pipeline.warehouse.write_behind import WriteBehind
from tests.warehouse.conftest import SELLER, US


def _rows(skus: range, status: str) -> list[dict[str, object]]:
    return [
        {"seller_id": SELLER, "marketplace_id": US, "sku": f"SKU-{n:03d}", "to_status": status} for n in skus
    ]


def test_writes_land_in_order_in_the_callers_transaction(warehouse_engine: Engine) -> None:
    threads: list[str] = []

    def move(session: Session, rows: list[dict[str, object]]) -> None:
        threads.append(threading.current_thread().name)
        transition_many(session, rows, cause="plan", run_id="r1")

    with session_scope(warehouse_engine) as session, WriteBehind(session) as writes:
        writes.submit(move, session, _rows(range(3), "ready"))
        writes.submit(move, session, _rows(range(3, 6), "ready"))
        # the second batch moves listings the first created: it runs after it
        writes.submit(move, session, _rows(range(6), "submitted"))
    assert all(name.startswith("write-behind") for name in threads)
    with session_scope(warehouse_engine) as session:
        ids = session.scalars(select(Listing.id).order_by(Listing.sku)).all()
        assert ids == sorted(ids)  # created in the order given
        assert session.scalar(select(func.count()).select_from(ListingEvent)) == 12
        assert set(session.scalars(select(Listing.status))) == {"submitted"}


def test_a_failed_write_fails_the_block_and_nothing_is_written(warehouse_engine: Engine) -> None:
    with (
        pytest.raises(IllegalTransitionError),
        session_scope(warehouse_engine) as session,
        WriteBehind(session) as writes,
    ):
        writes.submit(transition_many, session, _rows(range(3), "ready"), cause="plan")
        # new listings cannot start as accepted
        writes.submit(transition_many, session, _rows(range(3, 6), "accepted"), cause="plan")
    with session_scope(warehouse_engine) as session:
        assert session.scalar(select(func.count()).select_from(Listing)) == 0


def test_the_caller_failing_waits_for_the_write_in_flight(warehouse_engine: Engine) -> None:
    started = threading.Event()

    def slow(session: Session) -> None:
        started.set()
        transition_many(session, _rows(range(3), "ready"), cause="plan")

    with (
        pytest.raises(RuntimeError, match="caller"),
        session_scope(warehouse_engine) as session,
        WriteBehind(session) as writes,
    ):
        writes.submit(slow, session)
        started.wait(5)
        raise RuntimeError("the caller failed")
    with session_scope(warehouse_engine) as session:
        assert session.scalar(select(func.count()).select_from(Listing)) == 0


def test_an_in_memory_database_is_written_in_the_callers_thread() -> None:
    engine = make_engine("sqlite://")
    upgrade(engine)
    threads: list[str] = []
    with session_scope(engine) as session:
        ensure_seller(session, SELLER, region="na", spapi_conn_id="spapi_test")
        with WriteBehind(session) as writes:
            writes.submit(lambda: threads.append(threading.current_thread().name))
            writes.submit(transition_many, session, _rows(range(2), "ready"), cause="plan")
    assert threads == [threading.current_thread().name]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Listing)) == 2
    engine.dispose()
