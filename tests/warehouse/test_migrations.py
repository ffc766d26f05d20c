"""Migrations: they build exactly the ORM's schema plus the views, on SQLite and PostgreSQL, and undo it."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.__main__ import main
from listings_pipeline.warehouse.models import VIEW_NAMES, Base
from tests.conftest import REPO

ORM_TABLES = set(Base.metadata.tables)
SECRET_LIKE = re.compile(r"token|secret|passw|credential|api_?key|private_?key|access_?key", re.IGNORECASE)


def _diffs(engine: Engine, metadata: sa.MetaData = Base.metadata) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_upgrade_builds_the_orm_schema_and_the_views(empty_engine: Engine) -> None:
    assert db.current_revision(empty_engine) is None
    db.upgrade(empty_engine)

    inspector = sa.inspect(empty_engine)
    assert set(inspector.get_table_names()) == ORM_TABLES | {"alembic_version"}
    assert set(inspector.get_view_names()) == set(VIEW_NAMES)
    assert _diffs(empty_engine) == []
    assert db.current_revision(empty_engine) == db.head_revision() == "0013"
    with empty_engine.connect() as conn:
        for view in VIEW_NAMES:
            assert conn.execute(sa.text(f"SELECT * FROM {view}")).all() == []
        us = conn.execute(
            sa.text(
                "SELECT country_code, region, default_currency FROM marketplaces WHERE marketplace_id = :m"
            ),
            {"m": "ATVPDKIKX0DER"},
        ).one()
        assert tuple(us) == ("US", "na", "USD")
        assert conn.scalar(sa.text("SELECT COUNT(*) FROM marketplaces")) == 23


def test_compare_metadata_sees_a_model_the_migrations_lack(empty_engine: Engine) -> None:
    """The schema test above can fail: a column added to the models and not migrated is a diff."""
    db.upgrade(empty_engine)
    drifted = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["listings"].append_column(sa.Column("brand_new", sa.String(10)))
    diffs = _diffs(empty_engine, drifted)
    assert [(d[0], d[3].name) for d in diffs if isinstance(d, tuple)] == [("add_column", "brand_new")]


def test_downgrade_to_base_drops_everything_and_upgrade_rebuilds(empty_engine: Engine) -> None:
    db.upgrade(empty_engine)
    db.downgrade(empty_engine, "base")
    inspector = sa.inspect(empty_engine)
    assert set(inspector.get_table_names()) == {"alembic_version"}
    assert inspector.get_view_names() == []
    assert db.current_revision(empty_engine) is None

    db.upgrade(empty_engine)
    assert _diffs(empty_engine) == []
    assert set(sa.inspect(empty_engine).get_view_names()) == set(VIEW_NAMES)


def test_a_failed_migration_leaves_nothing_behind(empty_engine: Engine) -> None:
    """The migration runs in one transaction on both backends (SQLite included, see make_engine)."""
    with empty_engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE v_backlog (x INTEGER)"))  # the last view will collide
        conn.commit()
    with pytest.raises(sa.exc.DatabaseError):
        db.upgrade(empty_engine)
    assert set(sa.inspect(empty_engine).get_table_names()) == {"v_backlog"}


def test_no_column_or_view_can_hold_a_secret(warehouse_engine: Engine) -> None:
    inspector = sa.inspect(warehouse_engine)
    names = [
        f"{relation}.{column['name']}"
        for relation in [*inspector.get_table_names(), *inspector.get_view_names()]
        for column in inspector.get_columns(relation)
    ]
    assert len(names) > 150
    assert [n for n in names if SECRET_LIKE.search(n)] == []
    orm_names = [f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns]
    assert [n for n in orm_names if SECRET_LIKE.search(n)] == []


def test_offline_sql_for_postgresql_has_tables_and_views() -> None:
    buffer = io.StringIO()
    config = Config(output_buffer=buffer)
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("sqlalchemy.url", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    command.upgrade(config, "head", sql=True)
    sql = buffer.getvalue()
    assert sql.count("CREATE TABLE") == len(ORM_TABLES) + 1  # + alembic_version
    assert all(f"CREATE VIEW {view} AS" in sql for view in VIEW_NAMES)
    assert "HH24:00" in sql and "JSONB" in sql and "TIMESTAMP WITH TIME ZONE" in sql


def test_cli_upgrade_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = db.sqlite_url(tmp_path / "cli.db")
    assert main(["upgrade", "--url", url]) == 0
    assert "at 0013 (newest: 0013)" in capsys.readouterr().out
    assert main(["downgrade", "--url", url, "--revision", "base"]) == 0
    assert "at base" in capsys.readouterr().out
    assert main(["current", "--url", url]) == 0
    assert "at base (newest: 0013)" in capsys.readouterr().out


def test_python_dash_m_and_the_alembic_command(tmp_path: Path) -> None:
    """The entry points outside Python: ``python -m listings_pipeline.warehouse`` and ``alembic -c``."""
    url = db.sqlite_url(tmp_path / "cmd.db")
    done = subprocess.run(
        [sys.executable, "-m", "listings_pipeline.warehouse", "upgrade", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "at 0013" in done.stdout

    ini = REPO / "plugins/listings_pipeline/warehouse/alembic.ini"
    down = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), "-x", f"url={url}", "downgrade", "base"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert down.returncode == 0, down.stderr
    assert "Running downgrade 0001 -> " in down.stderr
    assert db.current_revision(url) is None


def test_0012_moves_payloads_beside_their_listings_and_back(empty_engine: Engine) -> None:
    """No payload is lost either way, and a listing without one gets no row."""
    db.upgrade(empty_engine, "0011")
    with empty_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sellers (seller_id, name) VALUES ('S1', 'one')"))
        for sku, payload in [("A", '{"sku": "A", "n": 1}'), ("B", None)]:
            conn.execute(
                sa.text(
                    "INSERT INTO listings (seller_id, marketplace_id, sku, status, payload, created_at, updated_at)"
                    " VALUES ('S1', 'ATVPDKIKX0DER', :sku, 'ready', :payload, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"sku": sku, "payload": payload},
            )
    db.upgrade(empty_engine, "0012")
    with empty_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT l.sku, p.payload FROM listings AS l"
                " LEFT JOIN listing_payloads AS p ON p.listing_id = l.id ORDER BY l.sku"
            )
        ).all()
    moved = [(sku, orjson.loads(p) if isinstance(p, str) else p) for sku, p in rows]
    assert moved == [("A", {"sku": "A", "n": 1}), ("B", None)]
    assert "payload" not in {c["name"] for c in sa.inspect(empty_engine).get_columns("listings")}

    db.downgrade(empty_engine, "0011")
    with empty_engine.connect() as conn:
        back = conn.execute(sa.text("SELECT sku, payload FROM listings ORDER BY sku")).all()
    assert [(sku, orjson.loads(p) if isinstance(p, str) else p) for sku, p in back] == moved


def test_0013_indexes_only_the_listings_in_flight_and_back(empty_engine: Engine) -> None:
    """The status index becomes a partial one of the submitted listings, and the downgrade brings
    the full one back."""

    def listing_indexes() -> dict[str, list[str | None]]:
        return {i["name"]: i["column_names"] for i in sa.inspect(empty_engine).get_indexes("listings")}

    db.upgrade(empty_engine, "0012")
    assert listing_indexes()["ix_listings_status_seller_marketplace"] == [
        "status",
        "seller_id",
        "marketplace_id",
    ]
    db.upgrade(empty_engine, "0013")
    indexes = listing_indexes()
    assert "ix_listings_status_seller_marketplace" not in indexes
    assert indexes["ix_listings_submitted"] == ["seller_id", "marketplace_id"]
    with empty_engine.connect() as conn:
        if empty_engine.dialect.name == "postgresql":
            definition = conn.scalar(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_listings_submitted'")
            )
        else:
            definition = conn.scalar(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'ix_listings_submitted'")
            )
    assert "WHERE" in str(definition).upper() and "'submitted'" in str(definition)
    db.downgrade(empty_engine, "0012")
    indexes = listing_indexes()
    assert "ix_listings_submitted" not in indexes
    assert indexes["ix_listings_status_seller_marketplace"] == ["status", "seller_id", "marketplace_id"]
