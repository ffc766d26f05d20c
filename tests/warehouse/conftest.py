"""Warehouse fixtures: a migrated database on SQLite (a file) and on the real PostgreSQL server.

``warehouse_engine`` is parametrised over both backends. Migrating takes a while, so each backend is
migrated once per session: SQLite tests get a copy of a migrated template file, PostgreSQL tests
share one migrated schema whose data tables are truncated after each test. Tests that migrate
themselves use ``empty_engine`` (an empty SQLite file, or a fresh PostgreSQL schema).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.models import Base
from listings_pipeline.warehouse.records import ensure_seller

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

SELLER = "A1SELLER"
US = "ATVPDKIKX0DER"
DE = "A1PA6795UKMFR9"
UK = "A1F83G8C2ARO7P"

# reference data the migration seeds; everything else is emptied between tests
_SEEDED = {"marketplaces"}


def _schema_engine(postgres_url: str, schema: str) -> Engine:
    """An engine whose connections live in ``schema`` (created if missing)."""
    admin = db.make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    return db.make_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})


def _drop_schema(postgres_url: str, schema: str) -> None:
    admin = db.make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse-template") / "warehouse.db"
    engine = db.make_engine(db.sqlite_url(path))
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_warehouse(postgres_url: str) -> Iterator[Engine]:
    """The session's PostgreSQL database, migrated once, in its own schema."""
    schema = "wh_shared"
    engine = _schema_engine(postgres_url, schema)
    db.upgrade(engine)
    yield engine
    engine.dispose()
    _drop_schema(postgres_url, schema)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def warehouse_engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated warehouse with only the seeded marketplaces and one seller, ``A1SELLER``."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "warehouse.db"
        shutil.copyfile(template, path)
        engine = db.make_engine(db.sqlite_url(path))
    else:
        engine = request.getfixturevalue("postgres_warehouse")
    with db.session_scope(engine) as session:
        ensure_seller(session, SELLER, name="Test seller", region="na", spapi_conn_id="spapi_test")
    yield engine
    if backend == "sqlite":
        engine.dispose()
        return
    # DELETE, not TRUNCATE: on a few rows it is several times faster
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in _SEEDED:
                conn.execute(table.delete())


@pytest.fixture
def empty_engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (nothing migrated) on ``backend``."""
    if backend == "sqlite":
        engine = db.make_engine(db.sqlite_url(tmp_path / "empty.db"))
        yield engine
        engine.dispose()
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    schema = f"wh_{uuid.uuid4().hex[:10]}"
    engine = _schema_engine(postgres_url, schema)
    yield engine
    engine.dispose()
    _drop_schema(postgres_url, schema)
