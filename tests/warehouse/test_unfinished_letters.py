"""At most one unfinished dead letter per listing, kept by the database as well as the writer.

The writer looks the listings' unfinished letters up under a row lock, but a letter that another
transaction commits between that look-up and the INSERT was invisible to it. Here the look-up is made
to miss a letter already there, as it would in that race: the INSERT must skip it (the partial
unique index, ``ON CONFLICT DO NOTHING``) and the writer reopen it, not add a second letter or fail.
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import move_dead_letter, open_dead_letter, open_dead_letters
from listings_pipeline.warehouse.models import DeadLetter, DeadLetterEvent
from tests.warehouse.conftest import SELLER, US

BRANCH = {"seller_id": SELLER, "marketplace_id": US, "path": "feed", "operation": "JSON_LISTINGS_FEED"}


def _blind_first_look(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The writer's first look-up finds nothing (the other transaction had not committed yet); later
    ones see the database. Returns the SKUs each look-up asked for."""
    real = lifecycle._unfinished_letters
    asked: list[list[str]] = []

    def look(
        session: Session, seller_id: str, marketplace_id: str, skus: Sequence[str]
    ) -> dict[str, DeadLetter]:
        asked.append(sorted(skus))
        return {} if len(asked) == 1 else real(session, seller_id, marketplace_id, skus)

    monkeypatch.setattr(lifecycle, "_unfinished_letters", look)
    return asked


def test_a_letter_written_after_the_look_up_is_reopened_not_doubled(
    warehouse_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(warehouse_engine) as s:  # the other writer's letter, committed
        theirs = open_dead_letter(s, **BRANCH, sku="RACED", reason="their failure", run_id="run-1")
        move_dead_letter(s, theirs, "replayed", actor="operator@example.com")
        theirs_id = theirs.id
    asked = _blind_first_look(monkeypatch)

    with session_scope(warehouse_engine) as s:
        ids = open_dead_letters(
            s,
            **BRANCH,
            letters=[
                {"sku": "RACED", "reason": "our failure", "code": "8541"},
                {"sku": "NEW", "reason": "a first failure", "code": "90220"},
            ],
            run_id="run-2",
        )

    assert asked == [["NEW", "RACED"], ["RACED"]]  # looked again for the one the INSERT skipped
    with session_scope(warehouse_engine) as s:
        letters = {d.sku: d for d in s.scalars(select(DeadLetter))}
        assert sorted(letters) == ["NEW", "RACED"]
        raced = letters["RACED"]
        assert ids == [theirs_id, letters["NEW"].id]
        assert (raced.state, raced.attempts, raced.reason, raced.run_id) == (
            "open",
            2,
            "our failure",
            "run-2",
        )
        events = s.scalars(
            select(DeadLetterEvent)
            .where(DeadLetterEvent.dead_letter_id == theirs_id)
            .order_by(DeadLetterEvent.id)
        ).all()
        assert [(e.from_state, e.to_state, e.note) for e in events] == [
            (None, "open", "their failure"),
            ("open", "replayed", None),
            ("replayed", "open", "our failure"),
        ]
        new_events = s.scalar(
            select(func.count())
            .select_from(DeadLetterEvent)
            .where(DeadLetterEvent.dead_letter_id == letters["NEW"].id)
        )
        assert new_events == 1


def test_the_database_refuses_a_second_unfinished_letter(warehouse_engine: Engine) -> None:
    """The index itself, whoever writes: a plain INSERT of a second open letter fails; a finished
    letter beside an unfinished one (history) does not."""
    with session_scope(warehouse_engine) as s:
        first = open_dead_letter(s, **BRANCH, sku="ONE", reason="failure")
        move_dead_letter(s, first, "resolved", actor="run-2")
        open_dead_letter(s, **BRANCH, sku="ONE", reason="failure again")  # resolved is history
    row = {**BRANCH, "sku": "ONE", "reason": "x", "state": "replayed", "attempts": 1}
    with pytest.raises(sa.exc.IntegrityError), session_scope(warehouse_engine) as s:
        s.execute(sa.insert(DeadLetter), [row])
    with session_scope(warehouse_engine) as s:
        s.execute(sa.insert(DeadLetter), [{**row, "state": "discarded"}])
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 3
