"""Fixtures shared by every test layer.

Real services: tests that need Redis (or, later, PostgreSQL) use them for real. Where a service is
missing on a developer's machine those tests skip with the reason; under CI (``CI=true``) a missing
service fails the run instead, so a green CI always means the tests ran.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.sqs"]


def _remove_home(home: Path, owner_pid: int) -> None:
    """Every session makes a new home (metadata DB, logs, airflow.cfg): without this each run would
    leave one more in the temp directory. A forked child that exits through atexit must not take its
    parent's home with it, hence the owner's pid. Only that path is removed, never whatever
    ``AIRFLOW_HOME`` names by now."""
    if os.getpid() == owner_pid:
        shutil.rmtree(home, ignore_errors=True)


# Airflow reads these at import: give the test session its own home so nothing touches ~/airflow,
# and no example DAGs. Set before any test module imports Airflow. A home the user set is theirs and
# stays. The one made here goes at exit (atexit rather than a session hook, so that a script that
# imports this module outside pytest does not leave one behind either). Each pytest-xdist worker
# inherits the environment of the process that started it, home included, and two processes
# creating one metadata database collide: so a home made here records whose it is (_HOME_OF: the
# xdist worker, "" outside xdist), and a worker given another's makes its own. A process a test
# starts (a spawned pool, a subprocess) has its parent's worker id and keeps its parent's home.
_HOME_OF = "SPAPI_TESTS_AIRFLOW_HOME_OF"
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
SESSION_AIRFLOW_HOME: Path | None = None
if "AIRFLOW_HOME" not in os.environ or os.environ.get(_HOME_OF, _WORKER) != _WORKER:
    SESSION_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="spapi-airflow-home-"))
    os.environ["AIRFLOW_HOME"] = str(SESSION_AIRFLOW_HOME)
    os.environ[_HOME_OF] = _WORKER
    atexit.register(_remove_home, SESSION_AIRFLOW_HOME, os.getpid())
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(reason: str) -> None:
    """Skip locally, fail under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Amazon's models and schemas, vendored in include/spapi-models (SPAPI_MODELS_DIR overrides)."""
    path = Path(os.environ.get("SPAPI_MODELS_DIR", REPO / "include" / "spapi-models"))
    if not (path / "rate-limits.yml").exists():
        service_missing(f"Amazon's SP-API models not found at {path}: set SPAPI_MODELS_DIR")
    return path


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis (REDIS_URL, default db 15 of the local server)."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(
            f"Redis not reachable at {url} ({type(exc).__name__}): start redis-server or set REDIS_URL"
        )
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to the test; its keys are deleted afterwards."""
    import redis

    prefix = f"spapi-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway database on the real PostgreSQL server, dropped at the end of the session.

    ``POSTGRES_URL`` points at a server and a database we may connect to in order to create others
    (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``, trust auth).
    """
    import sqlalchemy as sa

    admin_url = sa.make_url(
        os.environ.get("POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"spapi_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        service_missing(
            f"PostgreSQL not reachable at {admin_url.render_as_string(hide_password=True)} "
            f"({type(exc.orig).__name__}): start it or set POSTGRES_URL"
        )
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
