"""Migration 0006 on data written before it: run outcomes set from the rows' own figures, older
duplicate unfinished letters discarded (the newest kept, with an event saying why), and from then on
the database itself refuses a second unfinished letter for a listing. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.warehouse import db
from tests.warehouse.conftest import SELLER, US

LETTER = (
    "INSERT INTO dead_letters (seller_id, marketplace_id, sku, path, operation, reason, state, attempts) "
    "VALUES (:seller, :marketplace, :sku, 'feed', 'UPDATE', 'rejected', :state, 1)"
)
SUMMARY = (
    "INSERT INTO run_summaries (run_id, dag_id, seller_id, marketplace_id, started_at, invalid, "
    "dead_lettered, status) VALUES (:run, 'catalog_feed_sync', :seller, :marketplace, "
    "CURRENT_TIMESTAMP, :invalid, :dead, 'success')"
)


def _letter(conn: sa.Connection, sku: str, state: str = "open") -> None:
    conn.execute(sa.text(LETTER), {"seller": SELLER, "marketplace": US, "sku": sku, "state": state})


def test_upgrade_keeps_the_newest_unfinished_letter_and_sets_run_outcomes(empty_engine: Engine) -> None:
    db.upgrade(empty_engine, "0005")
    with empty_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sellers (seller_id) VALUES (:s)"), {"s": SELLER})
        _letter(conn, "TWICE")  # a race of two writers left two open letters
        _letter(conn, "TWICE", "replayed")
        _letter(conn, "TWICE", "resolved")  # finished letters may be many
        _letter(conn, "ONCE")
        for run, invalid, dead in (("clean", 0, 0), ("rejected", 2, 0), ("dead", 0, 1)):
            conn.execute(
                sa.text(SUMMARY),
                {"run": run, "seller": SELLER, "marketplace": US, "invalid": invalid, "dead": dead},
            )

    db.upgrade(empty_engine)

    with empty_engine.connect() as conn:
        letters = conn.execute(sa.text("SELECT id, sku, state FROM dead_letters ORDER BY id")).all()
        assert [(sku, state) for _, sku, state in letters] == [
            ("TWICE", "discarded"), ("TWICE", "replayed"), ("TWICE", "resolved"), ("ONCE", "open"),
        ]  # fmt: skip
        events = conn.execute(
            sa.text("SELECT dead_letter_id, from_state, to_state, actor, note FROM dead_letter_events")
        ).all()
        assert [tuple(e) for e in events] == [
            (letters[0].id, "open", "discarded", "migration 0006",
             f"superseded by the newer unfinished letter {letters[1].id}"),
        ]  # fmt: skip
        statuses = dict(conn.execute(sa.text("SELECT run_id, status FROM run_summaries")).all())
        assert statuses == {"clean": "success", "rejected": "needs_attention", "dead": "needs_attention"}

    with pytest.raises(sa.exc.IntegrityError), empty_engine.begin() as conn:
        _letter(conn, "ONCE", "replayed")
    with empty_engine.begin() as conn:  # a finished letter beside an unfinished one is fine
        _letter(conn, "ONCE", "discarded")
    with pytest.raises(sa.exc.IntegrityError), empty_engine.begin() as conn:
        conn.execute(sa.text("UPDATE run_summaries SET status = 'failed' WHERE run_id = 'clean'"))

    db.downgrade(empty_engine, "0005")
    with empty_engine.begin() as conn:
        _letter(conn, "ONCE")  # no index: the writer alone kept them apart before
        conn.execute(sa.text("UPDATE run_summaries SET status = 'failed' WHERE run_id = 'clean'"))
        assert "dag_id" not in {c["name"] for c in sa.inspect(conn).get_columns("quarantine")}
