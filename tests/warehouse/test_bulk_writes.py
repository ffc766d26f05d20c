"""Bulk writes land exactly what row-by-row ORM writes land, on both backends.

On PostgreSQL ``bulk_insert`` and ``bulk_update`` go through COPY (and a temporary table), where
every value is adapted by hand instead of by the driver's INSERT path: JSON lists and objects,
NULLs, timezone-aware timestamps and conflicts are where that could differ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from listings_pipeline.warehouse.db import (
    bulk_insert,
    bulk_update,
    make_engine,
    session_scope,
    sqlite_url,
    upgrade,
)
from listings_pipeline.warehouse.lifecycle import transition_many
from listings_pipeline.warehouse.models import (
    FeedSubmission,
    Listing,
    ListingEvent,
    ListingIssue,
    MessageResult,
)
from listings_pipeline.warehouse.records import ensure_seller
from tests.warehouse.conftest import SELLER, US

AT = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))


def _event_ids(session: Session) -> dict[str, int]:
    """Each listing's one event (a seeded listing has exactly one): a JSON column to update by id."""
    return dict(
        session.execute(
            select(Listing.sku, ListingEvent.id).join(Listing, Listing.id == ListingEvent.listing_id)
        ).all()
    )


def _issue(sku: str | None, names: list[str], message: str) -> dict[str, object]:
    return {
        "source": "feed",
        "seller_id": SELLER,
        "marketplace_id": US,
        "sku": sku,
        "feed_id": "F1",
        "message_id": 1,
        "code": "90220",
        "severity": "ERROR",
        "message": message,
        "attribute_names": names,
        "categories": [],
        "observed_at": AT,
        "run_id": None,
    }


def test_bulk_insert_keeps_json_nulls_text_and_time(warehouse_engine: Engine) -> None:
    tricky = 'quote " tab \t backslash \\ newline \n and ü'
    with session_scope(warehouse_engine) as s:
        bulk_insert(
            s, ListingIssue, [_issue("A", ["brand", "item_name"], tricky), _issue(None, [], "feed level")]
        )
    with session_scope(warehouse_engine) as s:
        rows = s.scalars(select(ListingIssue).order_by(ListingIssue.id)).all()
        assert [(r.sku, r.attribute_names, r.message) for r in rows] == [
            ("A", ["brand", "item_name"], tricky),
            (None, [], "feed level"),
        ]
        assert rows[0].observed_at == AT.astimezone(UTC)


def test_bulk_insert_can_ignore_rows_already_there(warehouse_engine: Engine) -> None:
    row = {"feed_id": "F1", "message_id": 1, "sku": "A", "operation_type": "UPDATE", "status": "accepted"}
    with session_scope(warehouse_engine) as s:
        s.add(FeedSubmission(feed_id="F1", seller_id=SELLER, marketplace_ids=[US], processing_status="DONE"))
        s.flush()
        bulk_insert(s, MessageResult, [row], ignore_conflicts_on=["feed_id", "message_id"])
        bulk_insert(
            s,
            MessageResult,
            [{**row, "status": "invalid"}, {**row, "message_id": 2, "sku": "B"}],
            ignore_conflicts_on=["feed_id", "message_id"],
        )
    with session_scope(warehouse_engine) as s:
        stored = s.execute(
            select(MessageResult.message_id, MessageResult.status).order_by(MessageResult.message_id)
        )
        assert [tuple(r) for r in stored] == [(1, "accepted"), (2, "accepted")]


def test_bulk_update_sets_each_rows_own_columns(warehouse_engine: Engine) -> None:
    keys = [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in ("A", "B", "C")]
    with session_scope(warehouse_engine) as s:
        transition_many(s, keys, "seed", to_status="ready")
        ids = {sku: listing_id for sku, listing_id in s.execute(select(Listing.sku, Listing.id))}
        events = _event_ids(s)
        payload = {"sku": "A", "attributes": {"item_name": [{"value": 'Ünïcode " \\ \n'}]}}
        bulk_update(
            s,
            Listing,
            [
                {"id": ids["A"], "source_hash": "s" * 64, "payload_hash": "a" * 64, "updated_at": AT},
                {"id": ids["B"], "source_hash": None, "payload_hash": "b" * 64, "updated_at": AT},
                {"id": ids["C"], "asin": "B000TEST01"},
            ],
        )
        bulk_update(
            s,
            ListingEvent,
            [
                {"id": events["A"], "changes": payload, "cause": "a"},
                {"id": events["B"], "changes": None, "cause": "b"},
                {"id": events["C"], "run_id": "r"},
            ],
        )
    with session_scope(warehouse_engine) as s:
        got = {r.sku: r for r in s.scalars(select(Listing))}
        assert (got["A"].source_hash, got["A"].payload_hash, got["A"].updated_at) == (
            "s" * 64,
            "a" * 64,
            AT.astimezone(UTC),
        )
        assert (got["B"].source_hash, got["B"].payload_hash) == (None, "b" * 64)
        assert (got["C"].asin, got["C"].payload_hash, got["C"].status) == ("B000TEST01", None, "ready")
        changed = {r.listing.sku: r for r in s.scalars(select(ListingEvent))}
        assert [(changed[k].changes, changed[k].cause) for k in "AB"] == [(payload, "a"), (None, "b")]
        assert (changed["C"].changes, changed["C"].run_id, changed["C"].cause) == (None, "r", "seed")


def test_bulk_update_binds_a_value_every_row_shares_once_and_still_writes_it_to_each(
    warehouse_engine: Engine,
) -> None:
    """Constants are hoisted out of the per-row data (``WHERE id = ANY`` when nothing varies): a JSON
    object, a NULL and a timestamp shared by every row must land as a per-row write would land them,
    and rows not named must keep theirs."""
    keys = [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in ("A", "B", "C", "D")]
    shared = {"sku": "same", "attributes": {"item_name": [{"value": 'ü " \\'}]}}
    with session_scope(warehouse_engine) as s:
        transition_many(s, keys, "seed", to_status="ready")
        ids = {sku: listing_id for sku, listing_id in s.execute(select(Listing.sku, Listing.id))}
        bulk_update(s, Listing, [{"id": ids[k], "asin": "B0SHARED01", "updated_at": AT} for k in "AB"])
        bulk_update(
            s,
            Listing,
            [
                {"id": ids["C"], "payload_hash": "c" * 64, "submitted_hash": None},
                {"id": ids["D"], "payload_hash": "d" * 64, "submitted_hash": None},
            ],
        )
        events = _event_ids(s)
        bulk_update(s, ListingEvent, [{"id": events[k], "changes": shared, "run_id": None} for k in "CD"])
    with session_scope(warehouse_engine) as s:
        got = {r.sku: r for r in s.scalars(select(Listing))}
        changed = {r.listing.sku: r.changes for r in s.scalars(select(ListingEvent))}
        s.expunge_all()
    assert [(got[k].asin, got[k].updated_at) for k in "AB"] == [("B0SHARED01", AT.astimezone(UTC))] * 2
    assert [(got[k].asin, changed[k]) for k in "CD"] == [(None, shared)] * 2
    assert [(got[k].payload_hash, got[k].submitted_hash) for k in "CD"] == [
        ("c" * 64, None),
        ("d" * 64, None),
    ]
    assert changed["A"] is None and got["C"].updated_at != AT.astimezone(UTC)


def test_bulk_insert_processes_a_shared_value_once_yet_each_row_keeps_its_own(
    warehouse_engine: Engine,
) -> None:
    """On SQLite a value every row shares (the very same object) is converted once: a row with
    another value between rows with the shared one must still get its own."""
    later = AT + timedelta(days=1)
    at = [AT, AT, later, AT]
    with session_scope(warehouse_engine) as s:
        bulk_insert(
            s,
            ListingIssue,
            [
                {**_issue(f"S{i}", ["n"], "m"), "preview": False, "observed_at": when}
                for i, when in enumerate(at)
            ],
        )
    with session_scope(warehouse_engine) as s:
        stored = [r.observed_at for r in s.scalars(select(ListingIssue).order_by(ListingIssue.sku))]
    assert stored == [when.astimezone(UTC) for when in at]


def test_bulk_insert_writes_the_very_text_an_orm_insert_writes_on_sqlite(tmp_path: Path) -> None:
    """SQLite keeps timestamps and JSON as text: the bulk path must write the same text as an ORM
    insert, or ordering and equality in SQL would tell the rows apart."""
    engine = make_engine(sqlite_url(tmp_path / "w.db"))
    upgrade(engine)
    row = {**_issue("A", ["brand"], "ü"), "preview": False, "observed_at": AT}
    with session_scope(engine) as s:
        bulk_insert(s, ListingIssue, [row])
        s.add(ListingIssue(**{**row, "sku": "B"}))
    with engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT observed_at, attribute_names, categories, preview FROM listing_issues ORDER BY sku"
        ).all()
    engine.dispose()
    assert stored[0] == stored[1]
    assert stored[0][0] == "2026-03-01 10:30:00.000000"


def test_bulk_update_keeps_each_rows_own_json_even_when_the_values_compare_equal(
    warehouse_engine: Engine,
) -> None:
    """``{"n": 1} == {"n": 1.0}`` in Python, but they are two documents: neither may be bound for both."""
    keys = [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in ("A", "B")]
    with session_scope(warehouse_engine) as s:
        transition_many(s, keys, "seed", to_status="ready")
        events = _event_ids(s)
        bulk_update(
            s,
            ListingEvent,
            [{"id": events["A"], "changes": {"n": 1}}, {"id": events["B"], "changes": {"n": 1.5 - 0.5}}],
        )
    with session_scope(warehouse_engine) as s:
        stored = {
            sku: changes
            for sku, changes in s.execute(
                select(Listing.sku, ListingEvent.changes).join(Listing, Listing.id == ListingEvent.listing_id)
            )
        }
    assert stored == {"A": {"n": 1}, "B": {"n": 1.0}}
    assert type(stored["A"]["n"]) is int and type(stored["B"]["n"]) is float


def test_a_new_sqlite_warehouse_has_8_kib_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as raw:
        raw.execute("CREATE TABLE t (x)")
    for path, size in [(tmp_path / "new.db", 8192), (old, 4096)]:
        engine = make_engine(sqlite_url(path))
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA page_size").scalar() == size
        engine.dispose()


def test_bulk_update_writes_the_very_text_an_orm_update_writes_on_sqlite(tmp_path: Path) -> None:
    """The SQLite update goes through the DB-API with each column's own bind processing: a
    timestamp and a JSON document must land as the text an ORM update writes."""
    engine = make_engine(sqlite_url(tmp_path / "w.db"))
    upgrade(engine)
    keys = [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in ("A", "B")]
    changes = {"price": {"old": 1, "new": "ü"}}
    with session_scope(engine) as s:
        ensure_seller(s, SELLER)
        transition_many(s, keys, "seed", to_status="ready")
        events = _event_ids(s)
        bulk_update(s, ListingEvent, [{"id": events["A"], "changes": changes, "at": AT}])
        by_orm = s.get(ListingEvent, events["B"])
        assert by_orm is not None
        by_orm.changes, by_orm.at = changes, AT
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT at, changes FROM listing_events ORDER BY id").all()
    engine.dispose()
    assert stored[0] == stored[1]
    assert stored[0][0] == "2026-03-01 10:30:00.000000"


def test_one_of_finds_any_string_and_only_those(warehouse_engine: Engine) -> None:
    """``one_of`` writes PostgreSQL's array text itself: quotes, backslashes, commas, braces,
    blanks and the word NULL must come back as themselves."""
    from listings_pipeline.warehouse.db import one_of

    odd = ['a"b', "c\\d", "e,f", "{g}", " h ", "NULL", "null", "", "ü€😀", "it's", "x\ty", '\\"', '"', "\\"]
    with session_scope(warehouse_engine) as s:
        transition_many(
            s,
            [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in [*odd, "other"]],
            "test",
            to_status="draft",
        )
    with session_scope(warehouse_engine) as s:
        found = s.scalars(select(Listing.sku).where(one_of(s, Listing.sku, odd))).all()
        ids = s.scalars(select(Listing.id).where(Listing.sku.in_(["other"]))).all()
        by_id = s.scalars(select(Listing.sku).where(one_of(s, Listing.id, ids))).all()
    assert sorted(found) == sorted(odd)
    assert by_id == ["other"]


def test_string_columns_reads_what_the_orm_reads_in_batches(warehouse_engine: Engine) -> None:
    """The driver's cursor, bypassing SQLAlchemy's rows: every value (odd text, a null, a ``%``
    that psycopg's placeholders must not swallow) comes back as the ORM reads it, across batches,
    with an expanding IN and bound parameters in the statement; a column that is not text, whose
    value SQLAlchemy would convert, is refused."""
    import pyarrow as pa

    from listings_pipeline.warehouse.db import string_columns

    odd = ["a%b", "%(x)s", "?", 'q"t', "ü€😀", "", "plain", "x\ty", "100%"]
    with session_scope(warehouse_engine) as s:
        transition_many(
            s,
            [
                {
                    "seller_id": SELLER,
                    "marketplace_id": US,
                    "sku": sku,
                    "product_type": None if i == 2 else f"T{i}",
                }
                for i, sku in enumerate(odd)
            ],
            "test",
            to_status="draft",
        )
    statement = (
        select(Listing.sku, Listing.product_type)
        .where(Listing.seller_id == SELLER, Listing.status.in_(["draft", "ready"]), Listing.sku != "plain")
        .order_by(Listing.sku)
    )
    with session_scope(warehouse_engine) as s:
        expected = [tuple(row) for row in s.execute(statement).all()]
        reading = string_columns(s.connection(), statement, batch=4)
        batches = [next(reading)]
        if warehouse_engine.dialect.name == "postgresql":  # rows come from the server batch by batch
            open_cursors = "SELECT count(*) FROM pg_cursors WHERE name LIKE 'string_columns_%%'"
            assert s.connection().exec_driver_sql(open_cursors).scalar_one() == 1
        batches += list(reading)
        with pytest.raises(TypeError, match="text columns only"):
            next(string_columns(s.connection(), select(Listing.id, Listing.sku)))
    assert [len(skus) for skus, _ in batches] == [4, 4]
    assert all(skus.type == pa.string() and types.type == pa.string() for skus, types in batches)
    read = [pair for skus, types in batches for pair in zip(skus.to_pylist(), types.to_pylist(), strict=True)]
    assert read == expected
    assert len(expected) == len(odd) - 1 and (odd[2], None) in read
