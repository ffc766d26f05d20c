"""Airflow for DAG tests: a metadata DB in the session's own AIRFLOW_HOME (set in tests/conftest.py).

``dag.test()`` needs an initialised metadata DB; ``initdb()`` runs once per session (about 5 s).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from tests.fixtures.sandbox import APP_ID, APP_SECRET, Sandbox


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[None]:
    from airflow.utils import db

    db.initdb()
    yield


REPO = Path(__file__).resolve().parents[2]


@dataclass
class Warehouse:
    url: str
    engine: Engine

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def assert_rows_add_up(self, run_id: str) -> None:
        """Every branch of a run accounts for each row it extracted: quarantined, sent (planned minus
        deletions, which are not catalog rows), unchanged, or skipped with a counted reason."""
        summaries = self.rows("select * from run_summaries where run_id = :run", run=run_id)
        assert summaries, f"run {run_id} wrote no run_summaries"
        for s in summaries:
            branch = f"{s.seller_id}/{s.marketplace_id}"
            sent = s.planned - s.deleted
            assert s.extracted == s.quarantined + sent + s.unchanged + s.skipped, (branch, s)
            skipped, withheld = (
                json.loads(v) if isinstance(v, str) else (v or {})  # SQLite returns JSON as text
                for v in (s.skipped_reasons, s.withheld_reasons)
            )
            assert sum(skipped.values()) == s.skipped, (branch, skipped)
            assert sum(withheld.values()) == s.deletes_withheld, (branch, withheld)
            assert s.quarantined_skus <= s.quarantined, branch
            stored = self.scalar(
                "select count(distinct sku) from quarantine where run_id = :run and seller_id = :s"
                " and marketplace_id = :m",
                run=run_id,
                s=s.seller_id,
                m=s.marketplace_id,
            )
            assert s.quarantined_skus == stored, branch


@pytest.fixture
def pg_warehouse(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """A migrated warehouse in a fresh PostgreSQL schema; the DAGs find it through SPAPI_WAREHOUSE_URL."""
    from listings_pipeline.warehouse import db

    schema = f"dag_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    warehouse_url = url.render_as_string(hide_password=False)
    db.upgrade(warehouse_url)
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", warehouse_url)
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
    engine = db.make_engine(warehouse_url)
    yield Warehouse(warehouse_url, engine)
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sandbox_connections(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The spapi connections include/pipeline.yaml names, pointed at the test's sandbox."""
    for conn_id, token, seller, region in (
        ("SPAPI_SANDBOX_NA", "Atzr|sandbox-na-0001", "A1SANDBOXNA0001", "na"),
        ("SPAPI_SANDBOX_EU", "Atzr|sandbox-eu-0003", "A3SANDBOXEU0003", "eu"),
    ):
        extra = {
            "environment": "sandbox",
            "refresh_token": token,
            "seller_id": seller,
            "region": region,
            "endpoint_url": sandbox.url,
            "token_url": f"{sandbox.url}/auth/o2/token",
            "rate_scale": 50,
        }
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id}",
            json.dumps({"conn_type": "spapi", "login": APP_ID, "password": APP_SECRET, "extra": extra}),
        )
    return sandbox


def write_pipeline_config(tmp_path: Path, catalog: Path, **overrides: str) -> Path:
    """include/pipeline.yaml with absolute paths, this test's var dir and catalog, and ``overrides``
    (``{"feed_poll_seconds: 5": "feed_poll_seconds: 0.5"}``-style line replacements)."""
    text = (REPO / "include" / "pipeline.yaml").read_text()
    replacements = {
        "var_dir: ../var": f"var_dir: {tmp_path / 'var'}",
        "mappings_dir: catalog_mappings": f"mappings_dir: {REPO / 'include' / 'catalog_mappings'}",
        "product_types_dir: product_types": f"product_types_dir: {REPO / 'include' / 'product_types'}",
        "content_policy: content_policy.yaml": f"content_policy: {REPO / 'include' / 'content_policy.yaml'}",
        "catalog: sample_catalog/catalog.csv": f"catalog: {catalog}",
        **overrides,
    }
    for key, value in replacements.items():
        assert key in text, f"include/pipeline.yaml no longer has {key!r}"
        text = text.replace(key, value)
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def run_note(run: Any) -> str | None:
    """The run's DagRun note as the metadata DB holds it: ``run_notes``' listener writes it as the
    run ends, after ``dag.test()`` has loaded the run it returns."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        stored = session.scalar(
            sa.select(DagRun).where(DagRun.dag_id == run.dag_id, DagRun.run_id == run.run_id)
        )
        return None if stored is None else stored.note


def task_states(run: Any) -> dict[str, set[str]]:
    """Each task's states in the run (a mapped task has one per map index)."""
    states: dict[str, set[str]] = {}
    for ti in run.get_task_instances():
        states.setdefault(ti.task_id, set()).add(str(ti.state))
    return states
