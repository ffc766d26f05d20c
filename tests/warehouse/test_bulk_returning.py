"""``insert_returning`` and the COPY behind bulk writes, on both backends.

On PostgreSQL ``insert_returning`` goes through a temporary table filled by COPY and one ``INSERT ...
SELECT ... ON CONFLICT ... RETURNING``; on SQLite through an executemany with RETURNING. Both must
insert the same rows, skip the same conflicts (a partial unique index named by its predicate) and
return exactly the rows inserted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, select, text

from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.db import insert_returning, session_scope
from listings_pipeline.warehouse.models import UNFINISHED_LETTER, DeadLetter, MessageResult, UTCDateTime
from tests.warehouse.conftest import SELLER, US

AT = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))


def _letter(sku: str, state: str = "open", reason: str = "boom") -> dict[str, object]:
    return {
        "seller_id": SELLER,
        "marketplace_id": US,
        "sku": sku,
        "path": "feed",
        "operation": "JSON_LISTINGS_FEED",
        "payload": None,
        "reason": reason,
        "code": "90220",
        "state": state,
        "attempts": 1,
        "run_id": "r1",
        "created_at": AT,
        "updated_at": AT,
    }


def test_insert_returning_returns_the_rows_it_inserted_and_skips_the_conflicts(
    warehouse_engine: Engine,
) -> None:
    """A SKU with an unfinished letter conflicts on the partial index; one whose letter is resolved
    does not: the new letters are returned, the old open one is left as it was."""
    with session_scope(warehouse_engine) as s:
        s.add_all([DeadLetter(**_letter("A", reason="first")), DeadLetter(**_letter("C", state="resolved"))])
    with session_scope(warehouse_engine) as s:
        returned = insert_returning(
            s,
            DeadLetter,
            [_letter("A", reason="again"), _letter("B"), _letter("C", reason="new")],
            ["id", "sku"],
            ignore_conflicts_on=["seller_id", "marketplace_id", "sku"],
            index_where=UNFINISHED_LETTER,
        )
    assert sorted(sku for _, sku in returned) == ["B", "C"]
    with session_scope(warehouse_engine) as s:
        stored = s.execute(
            select(
                DeadLetter.id, DeadLetter.sku, DeadLetter.state, DeadLetter.reason, DeadLetter.payload
            ).order_by(DeadLetter.id)
        ).all()
        created = s.scalar(select(DeadLetter.created_at).where(DeadLetter.sku == "B"))
    assert [(sku, state, reason, payload) for _, sku, state, reason, payload in stored] == [
        ("A", "open", "first", None),
        ("C", "resolved", "boom", None),
        ("B", "open", "boom", None),
        ("C", "open", "new", None),
    ]
    new = [
        (letter_id, sku)
        for letter_id, sku, state, reason, _ in stored
        if reason != "first" and state == "open"
    ]
    assert sorted(returned) == sorted(new)
    assert created == AT.astimezone(UTC)


def test_insert_returning_of_no_rows_returns_nothing(warehouse_engine: Engine) -> None:
    with session_scope(warehouse_engine) as s:
        assert insert_returning(s, DeadLetter, [], ["id"], ignore_conflicts_on=["seller_id"]) == []


@pytest.mark.postgres
def test_copy_writes_a_single_column_and_shared_values_row_by_row(postgres_warehouse: Engine) -> None:
    """COPY of one column (an itemgetter of one key gives a value, not a tuple), and a processed
    value shared by some rows but not others."""
    probe = Table(
        "copy_probe", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime)
    )
    later = AT + timedelta(hours=1)
    try:
        with session_scope(postgres_warehouse) as s:
            probe.create(s.connection())
            db._copy_rows(s, probe, ["at"], [{"at": AT}, {"at": later}, {"at": AT}, {"at": None}])
            db._copy_rows(s, probe, ["id", "at"], [{"id": 10, "at": AT}, {"id": 11, "at": None}])
            stored = s.execute(select(probe.c.at).order_by(probe.c.id)).scalars().all()
    finally:
        with postgres_warehouse.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS copy_probe"))
    utc = AT.astimezone(UTC)
    assert stored == [utc, later.astimezone(UTC), utc, None, utc, None]


@pytest.mark.parametrize(
    "second",
    [
        {"feed_id": "F1", "message_id": 2, "sku": "B", "operation_type": "UPDATE"},
        {"feed_id": "F1", "message_id": 2, "sku": "B", "operation_type": "UPDATE", "state": "accepted"},
        {"feed_id": "F1", "message_id": 2, "sku": "B", "operation_type": "UPDATE", "status": "x", "extra": 1},
    ],
    ids=["a column fewer", "another column", "a column more"],
)
def test_bulk_writes_refuse_rows_with_other_columns(
    warehouse_engine: Engine, second: dict[str, object]
) -> None:
    first = {"feed_id": "F1", "message_id": 1, "sku": "A", "operation_type": "UPDATE", "status": "accepted"}
    with session_scope(warehouse_engine) as s, pytest.raises(ValueError, match="the same columns"):
        db.bulk_insert(s, MessageResult, [first, second])
