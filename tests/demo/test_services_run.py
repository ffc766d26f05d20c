"""docker-compose.yaml's services without Docker (``make services``), against the real PostgreSQL and Redis.

The same run as the embedded demo, but the way the compose deployment runs it: Airflow's metadata in
PostgreSQL, one process per component with two Celery workers, Redis as Celery's broker and as the
SP-API limiter and token cache every process shares, and the warehouse in a second PostgreSQL
database. The sample catalog is cut into chunks of 40 rows there, and each branch's chunks are shared
by both workers, each recording a host name of its own on the task instances it ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import redis
import sqlalchemy as sa

from demo.environment import CELERY_WORKERS, ServicesConfig
from tests.conftest import service_missing
from tests.demo.test_demo_run import REPO_ROOT, SECRETS, _alive, _free_port, _processes_using

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(1200)]

# The demo's processes write Celery's queues and the limiter's and token cache's keys under fixed names
# (spapi:rl:..., spapi:lwa:...), with no per-run prefix. So the run gets a Redis database to itself,
# on REDIS_URL's server: neither the other tests' (15 by default) nor the demo's own (2).
SERVICES_REDIS_DB = 14
# CLAIM stays while the database holds what this test wrote, so that an interrupted run's leftovers are
# told apart from somebody else's keys; LEASE (expiring after the test's own timeout) says a run is
# using it right now, so that two sessions on one server never flush each other's run.
CLAIM, LEASE = "spapi-test:services-run:claim", "spapi-test:services-run:lease"
LEASE_SECONDS = 1300


def with_database(url: str, db: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
    if parts.scheme == "unix":  # the path is the socket; the database goes in the query
        return f"unix://{parts.netloc}{parts.path}?{urlencode([*query, ('db', str(db))])}"
    return urlunsplit(parts._replace(path=f"/{db}", query=urlencode(query)))


@pytest.fixture
def services_redis_url(redis_url: str) -> Iterator[str]:
    """A Redis database only this run writes to: empty (or this test's leftovers) before, flushed after."""
    url = with_database(redis_url, SERVICES_REDIS_DB)
    own = redis.Redis.from_url(url)
    lease = uuid.uuid4().hex
    refusal = ""
    with own.pipeline() as pipe:
        pipe.watch(LEASE)
        if pipe.exists(LEASE):
            refusal = "a run of this test is using it (or was interrupted less than 22 minutes ago)"
        elif pipe.dbsize() and not pipe.exists(CLAIM):
            refusal = f"it holds {pipe.dbsize()} keys this test did not write"
        else:
            pipe.multi()
            pipe.flushdb()
            pipe.set(CLAIM, "1")
            pipe.set(LEASE, lease, ex=LEASE_SECONDS)
            try:
                pipe.execute()
            except redis.WatchError:
                refusal = "another run of this test took it just now"
    if refusal:
        own.close()
        service_missing(f"Redis database {SERVICES_REDIS_DB} on REDIS_URL's server: {refusal}")
    try:
        yield url
    finally:
        if own.get(LEASE) == lease.encode():
            own.flushdb()
        own.close()


def test_the_compose_services_run_the_sample_catalog_without_docker(
    tmp_path: Path, postgres_url: str, services_redis_url: str
) -> None:
    state = tmp_path / "state"
    servers = ServicesConfig(postgres_url, services_redis_url, prefix=f"spapi_svc_{uuid.uuid4().hex[:8]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SPAPI_"))}
    shared = redis.Redis.from_url(services_redis_url)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "demo", "run", "--services", "--headless", "--state-dir", str(state),
             "--port", str(_free_port()), "--sandbox-port", str(_free_port()), "--timeout", "900",
             "--postgres-url", postgres_url, "--redis-url", services_redis_url, "--db-prefix", servers.prefix],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1100, check=False,
        )  # fmt: skip
        out = done.stdout + done.stderr
        assert done.returncode == 0, out[-5000:]
        for component in ("api-server", "scheduler", "dag-processor", "triggerer", *CELERY_WORKERS):
            assert f"starting {component} " in out
        assert "published 509, invalid 1, quarantined 12, dead-lettered 1" in out, out[-3000:]

        # The run is in PostgreSQL, and it ran on the Celery executor.
        metadata = sa.create_engine(servers.url(servers.metadata_db))
        with metadata.connect() as conn:
            runs = conn.execute(sa.text("select state from dag_run where dag_id = 'catalog_feed_sync'")).all()
            failed = list(
                conn.execute(
                    sa.text(
                        "select task_id from task_instance where state in ('failed', 'upstream_failed')"
                        " and dag_id = 'catalog_feed_sync'"
                    )
                ).scalars()
            )
            tasks = conn.execute(
                sa.text(
                    "select count(*) from task_instance where state = 'success' and dag_id = 'catalog_feed_sync'"
                )
            ).scalar()
            # Amazon's notifications (the sandbox delivers to the local SQS): the triggerer's watcher
            # started amazon_notifications runs while the catalog ran
            notification_runs = (
                conn.execute(sa.text("select state from dag_run where dag_id = 'amazon_notifications'"))
                .scalars()
                .all()
            )
            chunks = conn.execute(
                sa.text(
                    "select id, rendered_map_index, hostname from task_instance "
                    "where task_id = 'check_chunk' and state = 'success'"
                )
            ).all()
            hostnames = conn.execute(
                sa.text("select distinct hostname from task_instance where hostname <> ''")
            )
            ran_on = set(hostnames.scalars())
        metadata.dispose()
        # red at its last task only, on purpose: Amazon rejected the gated row (see the demo test)
        assert [r[0] for r in runs] == ["failed"]
        assert failed == ["outcome"]
        assert "success" in notification_runs and "failed" not in notification_runs, notification_runs
        worker_logs = {name: (state / "logs" / f"{name}.log").read_text() for name in CELERY_WORKERS}
        executed = sum(log.count("Executing workload in Celery") for log in worker_logs.values())
        assert tasks and executed >= tasks

        # Each branch was cut into several chunks (of 40 rows: 213, 162 and 147 rows make 6, 5 and 4),
        # and the two workers shared them: each task instance names its worker by the host name that
        # worker records, and that worker's log, not the other's, shows it took the task instance.
        workers = {hostname: name for name, hostname in CELERY_WORKERS.items()}
        branches: dict[str, set[str]] = {}
        per_branch: Counter[str] = Counter()
        for ti_id, map_index, hostname in chunks:
            assert hostname in workers, (map_index, hostname)
            took = [name for name, log in worker_logs.items() if str(ti_id) in log]
            assert took == [workers[hostname]], (map_index, hostname, took)
            branch = map_index.rsplit(" ", 1)[0]  # "SELLER/MARKETPLACE 2/5"
            branches.setdefault(branch, set()).add(hostname)
            per_branch[branch] += 1
        assert sorted(per_branch.values()) == [4, 5, 6], per_branch
        assert {hostname for _, _, hostname in chunks} == set(workers), chunks
        assert ran_on == set(workers), ran_on  # and so did every other task
        assert any(len(hosts) == 2 for hosts in branches.values()), branches
        assert f"check_chunk: {len(chunks)} chunks on 2 worker(s)" in out
        warehouse = sa.create_engine(servers.url(servers.warehouse_db))
        with warehouse.connect() as conn:
            accepted = conn.execute(
                sa.text("select count(*) from v_listing_status where status in ('accepted', 'live')")
            )
            assert accepted.scalar() == 509
        warehouse.dispose()

        # Every process shared one limiter and one token per seller through Redis.
        keys = {k.decode() for k in shared.scan_iter(match="spapi:*")}
        assert any(k.startswith("spapi:rl:A1SANDBOXNA0001:na:") for k in keys), sorted(keys)[:20]
        assert any(k.startswith("spapi:lwa:") for k in keys), sorted(keys)[:20]

        # No credential and no access token (the sandbox issues "Atza|...") in any file the scheduler,
        # the Celery worker, the triggerer or the other components wrote, per-task logs included.
        task_logs = [p for p in state.rglob("*") if p.is_file() and "dag_id=catalog_feed_sync" in str(p)]
        assert len(task_logs) >= tasks, f"{len(task_logs)} task log files for {tasks} task instances"
        for path in [p for p in state.rglob("*") if p.is_file() and (p.suffix == ".log" or p in task_logs)]:
            content = path.read_text(errors="replace")
            leaked = [s for s in (*SECRETS, "Atza|") if s in content]
            assert not leaked, f"{path} contains {leaked}"
        assert "every process the demo started has stopped" in out
        for name, log in worker_logs.items():  # both workers came up as Celery nodes and stopped on TERM
            assert f"{name}@" in log and "Warm shutdown" in log, name
        assert _alive(_processes_using(state)) == []
    finally:
        shared.close()
        servers.drop_databases()
