"""Fixtures for the status page: a filled warehouse on SQLite and PostgreSQL, and Airflow's api-server.

The warehouse is migrated once per backend and session (as in ``tests/warehouse``) and filled with
:mod:`tests.status_page.warehouse_data` once per test module; the query tests only read it.

The Airflow side uses the session's own ``AIRFLOW_HOME`` (``tests/conftest.py``): a metadata DB made by
``initdb``, the SimpleAuthManager with two users (``operator``, role *op*, and ``viewer``) whose
passwords are in a file we write, and ``dead_letter_replay`` and ``catalog_feed_sync`` (whose runs
send a replayed feed letter) parsed into the DB the way the dag-processor would, with the two
``catalog_feed_sync`` runs the warehouse has figures of (:data:`CATALOG_RUN_STATES`).
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine

from listings_pipeline.warehouse import db
from tests.conftest import REPO
from tests.status_page.warehouse_data import Facts, fill

# sqlite_template: the warehouse suite's migrated SQLite file, migrated once per session for both suites
from tests.warehouse.conftest import BACKENDS, _drop_schema, _schema_engine, sqlite_template  # noqa: F401

if TYPE_CHECKING:
    from fastapi import FastAPI

USERS = {"operator": ("op", "operator-password"), "viewer": ("viewer", "viewer-password")}
REPLAY_DAG = "dead_letter_replay"
FEED_SYNC_DAG = "catalog_feed_sync"
#: The Airflow runs of the warehouse's ``catalog_feed_sync`` summaries, and how they ended (the
#: latest needed attention). The ``offers_inventory_sync`` runs are not in Airflow.
CATALOG_RUN_STATES = {"scheduled__0": "success", "scheduled__1": "failed"}


# --- the warehouse ---------------------------------------------------------------------------------------


def _filled(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Facts]]:
    now = datetime.now(UTC)
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("status-filled") / "warehouse.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        engine = db.make_engine(db.sqlite_url(path))
        yield engine, fill(engine, now)
        engine.dispose()
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    schema = f"status_{request.module.__name__.rsplit('.', 1)[-1][:30]}"
    _drop_schema(postgres_url, schema)
    engine = _schema_engine(postgres_url, schema)
    db.upgrade(engine)
    yield engine, fill(engine, now)
    engine.dispose()
    _drop_schema(postgres_url, schema)


@pytest.fixture(scope="module", params=BACKENDS)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Facts]]:
    """A warehouse with a few days of pipeline work in it, on each backend (read-only for its tests)."""
    yield from _filled(request.param, request, tmp_path_factory)


@pytest.fixture(scope="module")
def sqlite_filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Facts]]:
    """The same warehouse on SQLite only: for the tests about Airflow, not about the queries."""
    yield from _filled("sqlite", request, tmp_path_factory)


@pytest.fixture
def engine(filled: tuple[Engine, Facts]) -> Engine:
    return filled[0]


@pytest.fixture
def facts(filled: tuple[Engine, Facts]) -> Facts:
    return filled[1]


# --- Airflow ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, str]]]:
    """SimpleAuthManager users and their passwords, configured before the auth manager starts."""
    passwords = tmp_path_factory.mktemp("auth") / "passwords.json"
    passwords.write_text(json.dumps({name: password for name, (_, password) in USERS.items()}))
    mp = pytest.MonkeyPatch()
    mp.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    mp.setenv(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        ",".join(f"{name}:{role}" for name, (role, _) in USERS.items()),
    )
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    # a generated secret is 22 bytes, and PyJWT warns (an error here) about HMAC keys under 64
    mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_urlsafe(64))
    yield USERS
    mp.undo()


@pytest.fixture(scope="session")
def airflow_metadata(airflow_users: Any) -> None:
    """Airflow's metadata DB, with ``dead_letter_replay`` and ``catalog_feed_sync`` parsed into it
    (paused, as new DAGs are)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils import db as airflow_db

    airflow_db.initdb()
    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    for dag_id in (REPLAY_DAG, FEED_SYNC_DAG):
        bag = BundleDagBag(
            dag_folder=str(REPO / "dags" / f"{dag_id}.py"), bundle_path=bundle.path, bundle_name=bundle.name
        )
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, bundle.name, bundle.version)
    _add_runs(FEED_SYNC_DAG, CATALOG_RUN_STATES)


def _add_runs(dag_id: str, states: dict[str, str]) -> None:
    """Runs of ``dag_id`` with these ids, in these states (as the scheduler would have left them)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    for n, (run_id, state) in enumerate(states.items()):
        with create_session() as session:
            trigger_dag(
                dag_id,
                triggered_by=DagRunTriggeredByType.TEST,
                run_type=DagRunType.SCHEDULED,  # their ids say so, and only scheduled runs may have them
                run_id=run_id,
                logical_date=datetime(2026, 1, 1 + n, tzinfo=UTC),
                session=session,
            )
        set_run_state(run_id, state)


@pytest.fixture(scope="session")
def api_server_app(airflow_metadata: None) -> FastAPI:
    """Airflow's real api-server app (core API, auth manager, UI and plugins), as ``airflow api-server`` builds it."""
    from airflow.api_fastapi.app import create_app

    return create_app(apps="core")


@pytest.fixture
def status_app(api_server_app: FastAPI, sqlite_filled: tuple[Engine, Facts]) -> Iterator[FastAPI]:
    """The plugin's app (as mounted in ``api_server_app``), reading the filled SQLite warehouse."""
    from listings_pipeline.status_page.app import app

    app.state.engine = sqlite_filled[0]
    yield app
    del app.state.engine


def token_for(user: str) -> str:
    """A JWT for ``user``, issued by Airflow's configured auth manager (what ``/auth/token`` returns)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    role, _ = USERS[user]
    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=user, role=role))


def set_replay_paused(paused: bool, dag_id: str = REPLAY_DAG) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = DagModel.get_current(dag_id, session=session)
        assert dag is not None
        dag.is_paused = paused


def set_run_state(run_id: str, state: str) -> None:
    """What the scheduler and the run's tasks would do to a triggered run (no scheduler runs here)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagRun).where(DagRun.run_id == run_id).values(state=state))
