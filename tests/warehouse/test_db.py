"""Where the warehouse is (Airflow connection, env, SQLite default), engines, sessions, UTC timestamps."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select

from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.models import Seller, UTCDateTime
from tests.warehouse.conftest import SELLER


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No warehouse connection, no URL in the environment, a private var dir."""
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
    monkeypatch.delenv(db.URL_ENV, raising=False)
    monkeypatch.setenv(db.VAR_DIR_ENV, str(tmp_path / "var"))
    return tmp_path / "var"


@pytest.mark.airflow
class TestWarehouseUrl:
    def test_postgres_connection_becomes_a_psycopg_url(
        self, no_config: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "AIRFLOW_CONN_WAREHOUSE_DEFAULT",
            "postgres://etl:p%40ss%2Fword@db.example.com:5433/warehouse?sslmode=require&cursor=dictcursor",
        )
        url = db.warehouse_url()
        assert url == "postgresql+psycopg://etl:p%40ss%2Fword@db.example.com:5433/warehouse?sslmode=require"
        parsed = sa.make_url(url)
        assert (parsed.password, parsed.query) == ("p@ss/word", {"sslmode": "require"})
        assert "p%40ss" not in db.safe_url(url) and "***" in db.safe_url(url)

    def test_postgresql_connection_as_json(self, no_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            "AIRFLOW_CONN_WH_PROD",
            json.dumps({"conn_type": "postgres", "host": "pg", "login": "u", "schema": "wh", "port": 5432}),
        )
        assert db.warehouse_url("wh_prod") == "postgresql+psycopg://u@pg:5432/wh"

    def test_sqlite_connection_as_uri(
        self, no_config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        path = tmp_path / "airflow-wh.db"
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", f"sqlite:///{path}")
        assert db.warehouse_url() == f"sqlite:///{path}"
        assert sa.make_url(db.warehouse_url()).database == str(path)

    def test_sqlite_connection_with_the_path_in_host(
        self, no_config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        path = tmp_path / "sqlitehook.db"
        monkeypatch.setenv(
            "AIRFLOW_CONN_WAREHOUSE_DEFAULT", json.dumps({"conn_type": "sqlite", "host": str(path)})
        )
        assert sa.make_url(db.warehouse_url()).database == str(path)

    def test_without_a_connection_the_environment_decides(
        self, no_config: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(db.URL_ENV, "postgresql://me@localhost/wh")
        assert db.warehouse_url() == "postgresql+psycopg://me@localhost/wh"
        monkeypatch.setenv(db.URL_ENV, "postgresql+psycopg2://me@localhost/wh")
        assert db.warehouse_url() == "postgresql+psycopg2://me@localhost/wh"  # an explicit driver stays

    def test_the_connection_wins_over_the_environment(
        self, no_config: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(db.URL_ENV, "postgresql://me@localhost/from-env")
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", "postgres://me@localhost/from-airflow")
        assert db.warehouse_url().endswith("/from-airflow")

    def test_otherwise_the_sqlite_file_under_var(self, no_config: Path) -> None:
        assert db.warehouse_url() == f"sqlite:///{no_config / 'warehouse.db'}"
        assert db.default_sqlite_path() == no_config / "warehouse.db"


def test_default_path_is_under_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(db.VAR_DIR_ENV, raising=False)
    repo = Path(__file__).resolve().parents[2]
    assert db.default_sqlite_path() == repo / "var" / "warehouse.db"
    assert db.DEFAULT_SQLITE_PATH.name == "warehouse.db"


def test_url_helpers() -> None:
    assert db.normalize_url("postgres://u:pw@h/d") == "postgresql+psycopg://u:pw@h/d"
    assert db.normalize_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert db.safe_url("postgresql+psycopg://u:pw@h/d") == "postgresql+psycopg://u:***@h/d"
    assert db.sqlite_url(":memory:") == "sqlite://"


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "wh.db"
    engine = db.make_engine(db.sqlite_url(path))
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            }
        assert pragma == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 30000}
        assert path.exists()
    finally:
        engine.dispose()


@pytest.mark.usefixtures("backend")
def test_session_scope_commits_or_rolls_back(warehouse_engine: Engine) -> None:
    with db.session_scope(warehouse_engine) as s:
        s.add(Seller(seller_id="A2COMMITTED"))
    with pytest.raises(RuntimeError), db.session_scope(warehouse_engine) as s:
        s.add(Seller(seller_id="A3ROLLEDBACK"))
        s.flush()
        raise RuntimeError("boom")
    with db.session_scope(warehouse_engine) as s:
        assert set(s.scalars(select(Seller.seller_id))) == {SELLER, "A2COMMITTED"}


@pytest.mark.usefixtures("backend")
def test_timestamps_are_utc_aware_on_both_backends(warehouse_engine: Engine) -> None:
    tokyo = timezone(timedelta(hours=9))
    with db.session_scope(warehouse_engine) as s:
        s.add(Seller(seller_id="A2TOKYO", created_at=datetime(2026, 1, 5, 19, 0, tzinfo=tokyo)))
        s.add(Seller(seller_id="A3NAIVE", created_at=datetime(2026, 1, 5, 10, 0)))
    with db.session_scope(warehouse_engine) as s:
        got = {x.seller_id: x.created_at for x in s.scalars(select(Seller))}
    assert got["A2TOKYO"] == datetime(2026, 1, 5, 10, 0, tzinfo=UTC) and got["A2TOKYO"].tzinfo is UTC
    assert got["A3NAIVE"] == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    # the server default (now) comes back aware too, and recent
    assert abs(got[SELLER] - datetime.now(UTC)) < timedelta(minutes=5)


def test_utc_datetime_type_passes_none() -> None:
    kind = UTCDateTime()
    dialect = sa.create_engine("sqlite://").dialect
    assert kind.process_bind_param(None, dialect) is None
    assert kind.process_result_value(None, dialect) is None


def _read_then_write(
    url: str,
    name: str,
    start: threading.Event | None,
    have_read: threading.Event,
    other_read: threading.Event | None,
    errors: list[BaseException],
) -> None:
    """A transaction that reads, then writes: what a parse task does to ``listings``.

    Having read, the first writer gives the second up to 0.5 s to read as well before it writes. With
    a deferred BEGIN the second reads at once and one of the two then fails; with BEGIN IMMEDIATE the
    second cannot begin, and that is the one wait the passing test spends.
    """
    engine = db.make_engine(url)
    try:
        if start is not None:
            start.wait(timeout=10)
        with db.session_scope(engine) as session:
            session.execute(select(Seller)).all()
            have_read.set()
            if other_read is not None:
                other_read.wait(timeout=0.5)
            session.add(Seller(seller_id=name, name=name, spapi_conn_id="spapi_default", region="na"))
    except Exception as err:  # collected for the assertion in the main thread
        errors.append(err)
    finally:
        engine.dispose()


def test_concurrent_read_then_write_transactions_wait_instead_of_failing(tmp_path: Path) -> None:
    """Two mapped tasks updating one SQLite warehouse at once: the second waits for the first.

    With a deferred BEGIN the second writer, having read before the first committed, gets "database
    is locked" at once (seen in the demo's parallel parse tasks). BEGIN IMMEDIATE makes it wait.
    """
    url = db.sqlite_url(tmp_path / "wh.db")
    engine = db.make_engine(url)
    Seller.metadata.create_all(engine)
    engine.dispose()
    first_read, second_read = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=_read_then_write, args=(url, "A0SELLER", None, first_read, second_read, errors)
        ),
        threading.Thread(
            target=_read_then_write, args=(url, "A1SELLER", first_read, second_read, None, errors)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    check = db.make_engine(url, read_only=True)
    try:
        with db.session_scope(check) as session:
            assert sorted(session.scalars(select(Seller.seller_id))) == ["A0SELLER", "A1SELLER"]
            with pytest.raises(sa.exc.OperationalError, match="readonly"):
                session.execute(sa.text("delete from sellers"))
    finally:
        check.dispose()
