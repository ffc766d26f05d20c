"""docker-compose.yaml's services without Docker (``make services``), against the real PostgreSQL and Redis.

The same run as the embedded demo, but the way the compose deployment runs it: Airflow's metadata in
PostgreSQL, one process per component with a Celery worker, Redis as Celery's broker and as the
SP-API limiter and token cache every process shares, and the warehouse in a second PostgreSQL
database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from demo.environment import ServicesConfig
from tests.demo.test_demo_run import REPO_ROOT, SECRETS, _alive, _free_port, _processes_using

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(1200)]


def test_the_compose_services_run_the_sample_catalog_without_docker(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    state = tmp_path / "state"
    servers = ServicesConfig(postgres_url, redis_url, prefix=f"spapi_svc_{uuid.uuid4().hex[:8]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SPAPI_"))}
    shared = redis.Redis.from_url(redis_url)
    for stale in [
        *shared.scan_iter(match="spapi:rl:A1SANDBOXNA0001:*"),
        *shared.scan_iter(match="spapi:lwa:*"),
    ]:
        shared.delete(stale)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "demo", "run", "--services", "--headless", "--state-dir", str(state),
             "--port", str(_free_port()), "--sandbox-port", str(_free_port()), "--timeout", "900",
             "--postgres-url", postgres_url, "--redis-url", redis_url, "--db-prefix", servers.prefix],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1100, check=False,
        )  # fmt: skip
        out = done.stdout + done.stderr
        assert done.returncode == 0, out[-5000:]
        for component in ("api-server", "scheduler", "dag-processor", "triggerer", "celery-worker"):
            assert f"starting {component}" in out
        assert "published 509, invalid 1, quarantined 11, dead-lettered 1" in out, out[-3000:]

        # The run is in PostgreSQL, and it ran on the Celery executor.
        metadata = sa.create_engine(servers.url(servers.metadata_db))
        with metadata.connect() as conn:
            runs = conn.execute(sa.text("select state from dag_run where dag_id = 'catalog_feed_sync'")).all()
            tasks = conn.execute(
                sa.text("select count(*) from task_instance where state = 'success'")
            ).scalar()
        metadata.dispose()
        assert [r[0] for r in runs] == ["success"]
        worker_log = (state / "logs" / "celery-worker.log").read_text()
        assert tasks and worker_log.count("Executing workload in Celery") >= tasks
        warehouse = sa.create_engine(servers.url(servers.warehouse_db))
        with warehouse.connect() as conn:
            accepted = conn.execute(
                sa.text("select count(*) from v_listing_status where status = 'accepted'")
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
        assert _alive(_processes_using(state)) == []
    finally:
        servers.drop_databases()
