"""Everything the demo writes before it starts a process: directories, config, logins, connections.

All of it lives in one state directory (``var/demo`` by default), so a demo never touches another
checkout's files and a fresh start (the default) deletes that one directory. By default Airflow,
the sandbox, the warehouse and the run artifacts use the embedded defaults: SQLite files and
``airflow standalone``, nothing to install beyond the virtualenv. With :class:`ServicesConfig` the
same demo runs the services of ``docker-compose.yaml`` as plain processes instead: PostgreSQL for
Airflow's metadata and for the warehouse, Redis as Celery's broker and the shared SP-API limiter and
token cache, and one process per Airflow component with two Celery workers (:data:`CELERY_WORKERS`)
that share the mapped tasks: the sample catalog is cut into chunks of :data:`SERVICES_CHUNK_ROWS` rows,
so each branch's ``check_chunk`` tasks run on both.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, make_url, text

from demo import local_sqs
from demo.hostname import HOSTNAME_ENV, worker_hostname
from listings_pipeline.schedules import RETRY_DELAY_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
INCLUDE = REPO_ROOT / "include"
SANDBOX_SELLERS = REPO_ROOT / "sandbox" / "sellers.example.yaml"

ADMIN_USER = "admin"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
DEMO_DAG = "catalog_feed_sync"
NOTIFICATIONS_SETUP_DAG = "amazon_notifications_setup"
# Scheduled DAGs run only when triggered in the demo, so the demo's run is the only one.
MANUAL_DAGS = (
    "catalog_feed_sync",
    "offers_inventory_sync",
    "fba_inventory_sync",
    "listings_reconcile",
    "seller_performance",
    "amazon_notifications_setup",
)

# The delay before a task's first retry in the demo (listings_pipeline.schedules.retry_delay), instead
# of the DAGs' 30 s to 1 minute (doubling, with Airflow's jitter up to twice that). The retry the demo
# meets is Airflow 3.3.2's, not Amazon's: when a deferred task's trigger fires within seconds, as
# against the sandbox, the scheduler can read the executor's "success" for the worker's exit on
# defer() after it has queued the task to resume, take it for a task killed externally and mark it
# up_for_retry (apache/airflow#67287: 3.3.2's fix covers a task back in `scheduled`, not one already
# `queued` or `running`, apache/airflow#72716). No setting avoids it; a retry a few seconds later
# usually gets through, and the sandbox's report time below makes the race rare.
RETRY_DELAY_SECONDS = 3
# The same race is why the demo's sandbox takes 7 s over a report (1 s IN_QUEUE, then 6 s IN_PROGRESS,
# not its default 2 s): the worker's exit on defer() reaches the scheduler some 5-6 s after it on a
# busy 2-core machine, and a report wait that ends sooner than that is often failed and retried (with
# the default 2 s, 4 of one run's 9 report waits, and 3 of their 5 retries: one task failed for good).
SANDBOX_REPORT_PROCESSING_SECONDS = 6.0

# The local sandbox ends a feed about 3 s after createFeed (1 s IN_QUEUE, then 2 s IN_PROGRESS), so
# the demo's feed waits poll it from 1 s on (growing by the trigger's backoff), not at the interval of
# include/pipeline.yaml (5 s: a sandbox at its default timings, or a slower one). Against Amazon, which
# takes minutes, feed_poll_seconds stays 30 or more.
SANDBOX_FEED_POLL_SECONDS = 1.0

# Services mode: two Celery workers side by side, each with the host name it records on the task
# instances it runs (demo.hostname), two names of this machine, so that the API server still reaches
# a worker's log server under either. Two task slots each: four in all, the demo's [core] parallelism,
# which a machine of two cores can take.
CELERY_WORKERS = {"celery-worker-1": "localhost", "celery-worker-2": "127.0.0.1"}
CELERY_WORKER_CONCURRENCY = 2
# Services mode: the sample catalog's 147 to 213 rows per marketplace in chunks of 40, so that every
# branch has several check_chunk tasks for the two workers to share. The embedded demo keeps the default
# (one chunk per branch), which is faster on one machine.
SERVICES_CHUNK_ROWS = 40

# The sandbox's demo app and sellers (sandbox/sellers.example.yaml): not secrets, they open nothing
# but the local sandbox.
SANDBOX_APP_ID = "amzn1.application-oa2-client.sandbox-demo"
SANDBOX_APP_SECRET = "sandbox-demo-secret"
SANDBOX_SELLERS_CONNS = {
    "spapi_sandbox_na": {
        "seller_id": "A1SANDBOXNA0001",
        "refresh_token": "Atzr|sandbox-na-0001",
        "region": "na",
    },
    "spapi_sandbox_eu": {
        "seller_id": "A3SANDBOXEU0003",
        "refresh_token": "Atzr|sandbox-eu-0003",
        "region": "eu",
    },
}


@dataclass(frozen=True)
class ServicesConfig:
    """Where the PostgreSQL and Redis servers of the services mode are.

    :param postgres_url: a SQLAlchemy URL of the server, with a database we may connect to in order to
        create the demo's two databases, ``<prefix>_airflow`` and ``<prefix>_warehouse``.
    :param redis_url: the Redis database for Celery's broker and the SP-API limiter and token cache.
    """

    postgres_url: str
    redis_url: str
    prefix: str = "spapi_demo"

    @property
    def metadata_db(self) -> str:
        return f"{self.prefix}_airflow"

    @property
    def warehouse_db(self) -> str:
        return f"{self.prefix}_warehouse"

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return (
            make_url(self.postgres_url)
            .set(drivername=driver, database=database)
            .render_as_string(hide_password=False)
        )

    def create_databases(self, fresh: bool) -> None:
        admin = create_engine(self.postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in (self.metadata_db, self.warehouse_db):
                    if fresh:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                    if exists.scalar() is None:
                        conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()

    def drop_databases(self) -> None:
        admin = create_engine(self.postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in (self.metadata_db, self.warehouse_db):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()


@dataclass(frozen=True)
class DemoLayout:
    """Where the demo's state lives, on which ports it serves, and how often it polls a feed."""

    state_dir: Path
    airflow_port: int = 8080
    sandbox_port: int = 8900
    services: ServicesConfig | None = None
    feed_poll_seconds: float = SANDBOX_FEED_POLL_SECONDS
    # the local SQS (moto's server) Amazon's notifications go to; default: the sandbox's port + 1
    sqs_port: int | None = None

    @property
    def sqs_url(self) -> str:
        return f"http://127.0.0.1:{self.sqs_port or self.sandbox_port + 1}"

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def sandbox_dir(self) -> Path:
        return self.state_dir / "sandbox"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "pids.json"

    @property
    def stop_request(self) -> Path:
        """Left by ``make stop`` while it stops a running demo (``processes.StopRequest``)."""
        return self.state_dir / "stop-requested"

    @property
    def warehouse(self) -> Path:
        return self.state_dir / "warehouse.db"

    @property
    def warehouse_url(self) -> str:
        if self.services is not None:
            return self.services.url(self.services.warehouse_db)
        return f"sqlite:///{self.warehouse}"

    @property
    def pipeline_config(self) -> Path:
        return self.state_dir / "pipeline.yaml"

    @property
    def catalog(self) -> Path:
        return self.state_dir / "catalog" / "catalog.csv"

    @property
    def passwords_file(self) -> Path:
        return self.state_dir / "passwords.json"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "airflow-secrets.json"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def admin_password(self) -> str:
        return str(json.loads(self.passwords_file.read_text())[ADMIN_USER])


def prepare(layout: DemoLayout, fresh: bool) -> None:
    """Create the state directory (and, in services mode, the databases) with config, catalog and logins."""
    if fresh and layout.state_dir.exists():
        shutil.rmtree(layout.state_dir)
    for folder in (layout.state_dir, layout.airflow_home, layout.sandbox_dir, layout.logs):
        folder.mkdir(parents=True, exist_ok=True)
    if layout.services is not None:
        layout.services.create_databases(fresh)
    layout.catalog.parent.mkdir(parents=True, exist_ok=True)
    if not layout.catalog.exists():
        shutil.copyfile(INCLUDE / "sample_catalog" / "catalog.csv", layout.catalog)
    _write_private(layout.passwords_file, {ADMIN_USER: _kept(layout.passwords_file, ADMIN_USER)})
    _write_private(
        layout.secrets_file,
        {
            "jwt_secret": _kept(layout.secrets_file, "jwt_secret"),
            "secret_key": _kept(layout.secrets_file, "secret_key"),
        },
    )
    layout.pipeline_config.write_text(yaml.safe_dump(pipeline_config(layout), sort_keys=False))


def _kept(path: Path, key: str) -> str:
    """A secret generated once per state directory, so a restarted demo keeps its logins."""
    if path.exists():
        value = json.loads(path.read_text()).get(key)
        if value:
            return str(value)
    return secrets.token_urlsafe(18)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(data, indent=2))


def pipeline_config(layout: DemoLayout) -> dict[str, Any]:
    """``include/pipeline.yaml`` with absolute paths, the demo's catalog and run artifacts in the state,
    the feed poll interval for the local sandbox and, in services mode, chunks small enough for the
    sample catalog's branches to spread over both workers."""
    config: dict[str, Any] = yaml.safe_load((INCLUDE / "pipeline.yaml").read_text())
    for key in ("mappings_dir", "product_types_dir", "content_policy"):
        config[key] = str((INCLUDE / config[key]).resolve())
    config["var_dir"] = str(layout.state_dir)
    config["feed_poll_seconds"] = layout.feed_poll_seconds
    if layout.services is not None:
        config["chunk_rows"] = SERVICES_CHUNK_ROWS
    for seller in config["sellers"]:
        seller["catalog"] = str(layout.catalog)
    config["notifications"] = local_sqs.notifications_config(layout.sqs_url)
    return config


def connections(layout: DemoLayout) -> dict[str, Any]:
    """The Airflow connections, as the REST API takes them: one per sandbox seller."""
    conns: dict[str, Any] = {}
    if layout.services is not None:
        # Many processes on (potentially) many machines: limits and tokens are shared through Redis.
        sharing = {"rate_limit_url": layout.services.redis_url, "token_cache_url": layout.services.redis_url}
    else:
        # One machine, several task processes: the file backend shares the limits.
        sharing = {"rate_limit_url": f"file://{layout.state_dir / 'ratelimit'}"}
    for conn_id, seller in SANDBOX_SELLERS_CONNS.items():
        conns[conn_id] = {
            "conn_type": "spapi",
            "description": f"Sandbox seller {seller['seller_id']} (make demo)",
            "login": SANDBOX_APP_ID,
            "password": SANDBOX_APP_SECRET,
            "extra": json.dumps(
                {
                    **seller,
                    "environment": "sandbox",
                    "endpoint_url": layout.sandbox_url,
                    "token_url": f"{layout.sandbox_url}/auth/o2/token",
                    **sharing,
                }
            ),
        }
    conns[local_sqs.notifications_config(layout.sqs_url)["aws_conn_id"]] = local_sqs.aws_connection(
        layout.sqs_url
    )
    return conns


def airflow_env(layout: DemoLayout) -> dict[str, str]:
    """The environment of every Airflow process the demo starts (and of its CLI calls)."""
    secrets_ = json.loads(layout.secrets_file.read_text())
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update(
        {
            "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
            "AIRFLOW_HOME": str(layout.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{layout.airflow_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(layout.passwords_file),
            "AIRFLOW__API__PORT": str(layout.airflow_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": layout.airflow_url,
            "AIRFLOW__API__SECRET_KEY": secrets_["secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets_["jwt_secret"],
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "SPAPI_PIPELINE_CONFIG": str(layout.pipeline_config),
            "SPAPI_VAR_DIR": str(layout.state_dir),
            "SPAPI_WAREHOUSE_URL": layout.warehouse_url,
            # GX's progress bars would flood the task logs.
            "GX_ANALYTICS_ENABLED": "False",
            "TQDM_DISABLE": "1",
            "NO_COLOR": "1",
        }
    )
    for dag_id in MANUAL_DAGS:
        env[f"SPAPI_SCHEDULE_{dag_id.upper()}"] = "manual"
    env[RETRY_DELAY_ENV] = str(RETRY_DELAY_SECONDS)
    if layout.services is not None:
        services = layout.services
        metadata = services.url(services.metadata_db)
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
                # psycopg 3 is async too; Airflow's default async driver would be asyncpg.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": services.url(
                    services.metadata_db, driver="postgresql+psycopg_async"
                ),
                "AIRFLOW__CELERY__BROKER_URL": services.redis_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CELERY_WORKER_CONCURRENCY),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(_free_port()),
                # The API server reads a running task's log from <its hostname>:<this port> (besides
                # the file in the log folder every worker here shares): celery-worker-1's log server.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            }
        )
    return env


def celery_worker_env(env: dict[str, str], name: str) -> dict[str, str]:
    """The environment of the services mode's Celery worker ``name`` (a key of :data:`CELERY_WORKERS`).

    Its own host name on the task instances it runs (``[core] hostname_callable``, :mod:`demo.hostname`,
    importable through ``PYTHONPATH``), and, for all but the first, a log server port of its own: each
    worker's log server listens on every interface, so a second one on the same port could not bind.
    The API server has one ``worker_log_server_port`` for every host name, the first worker's; as the
    log folder is shared here, that log server serves the second worker's running tasks as well (and
    finished tasks' logs are read from the folder itself). On separate machines every worker keeps the
    same port.
    """
    worker = dict(env)
    worker.update(
        {
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{worker_hostname.__module__}.{worker_hostname.__name__}",
            HOSTNAME_ENV: CELERY_WORKERS[name],
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
        }
    )
    if name != next(iter(CELERY_WORKERS)):
        worker["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(_free_port())
    return worker


def _free_port() -> int:
    """A port nothing listens on now: several demos (and CI) can run side by side."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
