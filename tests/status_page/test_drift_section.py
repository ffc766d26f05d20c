"""The Drift section: open drift by kind, the newest rows, the latest check, the page's filter and the
CSV, on SQLite and PostgreSQL (the reads), and through Airflow's api-server (the page and the export).
The drift is :mod:`tests.warehouse.drift_data`'s, whose answers are worked out there."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from listings_pipeline.status_page import csv_export
from listings_pipeline.status_page.drift import drift_rows, drift_section
from listings_pipeline.status_page.scope import EVERYWHERE, Scope
from listings_pipeline.warehouse import db
from tests.status_page.conftest import token_for
from tests.warehouse import drift_data
from tests.warehouse.conftest import BACKENDS, _drop_schema, _schema_engine
from tests.warehouse.drift_data import DE, OTHER, SELLER, UK, US

if TYPE_CHECKING:
    from fastapi import FastAPI

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module", params=BACKENDS)
def drifted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A warehouse holding drift_data's drift, on each backend (read-only for its tests)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("drift") / "warehouse.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        engine = db.make_engine(db.sqlite_url(path))
        drift_data.fill(engine, NOW)
        yield engine
        engine.dispose()
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    schema = "status_drift"
    _drop_schema(postgres_url, schema)
    engine = _schema_engine(postgres_url, schema)
    db.upgrade(engine)
    drift_data.fill(engine, NOW)
    yield engine
    engine.dispose()
    _drop_schema(postgres_url, schema)


def test_open_drift_by_kind_newest_first_with_the_latest_check(drifted: Engine) -> None:
    with Session(drifted) as s:
        everywhere = drift_section(s, EVERYWHERE)
        us = drift_section(s, Scope(seller_id=SELLER, marketplace_id=US))
        uk = drift_section(s, Scope(marketplace_id=UK))
        de_only_one = drift_section(s, Scope(seller_id=SELLER), limit=1)
    # open: Q1 quantity, U1, P2 (US), Q9 (DE), U9 (UK); P1 was accepted, Q1 inactive and M1 are gone
    assert [(c.kind, c.open) for c in everywhere.counts] == [
        ("unknown_to_catalog", 2),
        ("price", 1),
        ("quantity", 2),
    ]
    assert everywhere.total == 5 and everywhere.checked_at == NOW - timedelta(days=1)
    # seen last yesterday (rc2) all of them; ties by SKU, then kind
    assert [r.sku for r in everywhere.rows] == ["DRIFT-P2", "DRIFT-Q1", "DRIFT-Q9", "DRIFT-U1", "DRIFT-U9"]
    assert [(r.sku, r.kind, r.ours, r.amazon) for r in us.rows] == [
        ("DRIFT-P2", "price", "20.00", "18.00"),
        ("DRIFT-Q1", "quantity", "5", "2"),
        ("DRIFT-U1", "unknown_to_catalog", None, "Active"),
    ]
    assert [(r.seller_id, r.sku) for r in uk.rows] == [(OTHER, "DRIFT-U9")]
    assert (de_only_one.total, len(de_only_one.rows)) == (4, 1)  # the seller's 4, the newest shown
    with Session(drifted) as s:
        never = drift_section(s, Scope(marketplace_id="A21TJRUUN4KGV"))  # India: never reconciled
    assert (never.checked_at, never.total, never.rows) == (None, 0, [])


def test_the_csv_holds_every_open_row_of_the_filter(drifted: Engine) -> None:
    with Session(drifted) as s:
        text = "".join(csv_export.drift_csv(drift_rows(s, Scope(seller_id=SELLER))))
    assert text.startswith(csv_export.BOM)
    header, *rows = list(csv.reader(io.StringIO(text[1:])))
    assert tuple(header) == csv_export.DRIFT_COLUMNS
    got = [dict(zip(header, r, strict=True)) for r in rows]
    assert [(r["marketplace_id"], r["sku"], r["kind"], r["ours"], r["amazon"], r["state"]) for r in got] == [
        (US, "DRIFT-P2", "price", "20.00", "18.00", "open"),
        (US, "DRIFT-Q1", "quantity", "5", "2", "open"),
        (DE, "DRIFT-Q9", "quantity", "3", "0", "open"),
        (US, "DRIFT-U1", "unknown_to_catalog", "", "Active", "open"),
    ]
    assert got[0]["found_at"] == (NOW - timedelta(days=1)).isoformat()


@pytest.mark.airflow
def test_the_page_shows_the_section_and_exports_it(
    api_server_app: FastAPI, sqlite_template: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from listings_pipeline.status_page.app import app

    path = tmp_path / "warehouse.db"
    shutil.copyfile(sqlite_template, path)
    engine = db.make_engine(db.sqlite_url(path))
    drift_data.fill(engine, NOW)
    app.state.engine = engine
    try:
        with TestClient(api_server_app, base_url="http://localhost:8080") as client:
            client.cookies.set("_token", token_for("viewer"))
            html = client.get("/listing-status/", params={"seller_id": SELLER, "marketplace_id": US}).text
            export = client.get("/listing-status/api/drift.csv", params={"marketplace_id": UK})
    finally:
        del app.state.engine
        engine.dispose()
    assert 'id="drift-table"' in html and 'href="#drift"' in html
    assert 'data-kind="price"' in html and "DRIFT-P2" in html and "DRIFT-Q9" not in html  # Germany: filtered
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert 'filename="drift-A1F83G8C2ARO7P.csv"' in export.headers["content-disposition"]
    assert [line.split(",")[4] for line in export.text.splitlines()[1:]] == ["DRIFT-U9"]
