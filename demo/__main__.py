"""``python -m demo run|stop``: the one-command demo on the embedded defaults (``make demo``).

``run`` starts the local SP-API sandbox and ``airflow standalone`` (SQLite metadata, SQLite
warehouse, LocalExecutor with modest parallelism), registers the sandbox sellers' connections,
triggers ``catalog_feed_sync`` on the sample catalog and shows the run's progress, then runs the DAGs
that read from Amazon once each, side by side (``fba_inventory_sync``, ``listings_reconcile``,
``seller_performance``), prints what they did and where to look, and then keeps everything up until
Ctrl-C (``--headless`` stops right after the summary and exits non-zero when a run failed anywhere
but at its ``outcome`` task). ``stop`` (``make stop``) ends every process a demo started, from any
terminal; a ``demo run`` stopped that way says "stopped by make stop" and exits 0, since it did what
it was asked, while Ctrl-C or a TERM from elsewhere ends it with 128 + the signal.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import httpx

from demo import local_sqs, processes
from demo.airflow_api import AirflowApi, AirflowNotReady, RunProgress
from demo.environment import (
    CELERY_WORKERS,
    DEMO_DAG,
    NOTIFICATIONS_SETUP_DAG,
    REPO_ROOT,
    SANDBOX_FEED_POLL_SECONDS,
    SANDBOX_REPORT_PROCESSING_SECONDS,
    DemoLayout,
    ServicesConfig,
    airflow_env,
    celery_worker_env,
    connections,
    prepare,
)
from demo.processes import PidFile, Service, StopRequest

STARTUP_SECONDS = 300.0
# The services of docker-compose.yaml, as processes (services mode): name -> `airflow` arguments. The
# compose file's airflow-worker runs twice, as it scales: each worker a Celery node of its own name.
COMPONENTS = (
    ("api-server", ["api-server"]),
    ("scheduler", ["scheduler"]),
    ("dag-processor", ["dag-processor"]),
    ("triggerer", ["triggerer"]),
    *((name, ["celery", "worker", "--celery-hostname", f"{name}@%h"]) for name in CELERY_WORKERS),
)
POLL_SECONDS = 1.0  # how often the run's progress is read (two cheap API calls)
QUIET_SECONDS = 30.0  # print the progress at least this often, even when nothing changed
# Run once each after the catalog, side by side: the DAGs that read from Amazon (MANUAL_DAGS in the demo).
AMAZON_READ_DAGS = ("fba_inventory_sync", "listings_reconcile", "seller_performance")


class Stopped(BaseException):
    """SIGTERM or SIGINT arrived: unwind and stop everything.

    A ``BaseException``, as ``KeyboardInterrupt`` is: it can arrive in the middle of any library
    call, and no ``except Exception`` on the way up may take it for that call's own failure.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Once: a second signal (Ctrl-C pressed again, the sweep of `make stop`) must not interrupt the
    # stop that the first one started; whatever outlasts it is killed in the end anyway.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Stopped(signum)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_sandbox(layout: DemoLayout, service: Service, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not service.alive():
            raise AirflowNotReady(f"the sandbox exited at start; see {service.log}")
        try:
            if httpx.get(f"{layout.sandbox_url}/_sandbox/state", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AirflowNotReady(f"the sandbox did not answer on {layout.sandbox_url}; see {service.log}")


def tail(path: str | Path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def create_warehouse(layout: DemoLayout) -> None:
    from listings_pipeline.warehouse.db import upgrade

    say(f"creating the warehouse {_warehouse_name(layout)}")
    upgrade(layout.warehouse_url)


def start_services(layout: DemoLayout, pids: PidFile) -> list[Service]:
    """The sandbox, and either ``airflow standalone`` or (services mode) one process per component.

    Nothing here waits for what it can overlap: the warehouse is created while Airflow starts (or, in
    services mode, while Airflow's metadata database migrates), and the sandbox is waited for last.
    """
    env = airflow_env(layout)
    airflow_cli = str(Path(sys.executable).parent / "airflow")
    started: list[Service] = []
    port = layout.sqs_url.rsplit(":", 1)[1]
    say(f"starting the local SQS (moto) on {layout.sqs_url}")
    sqs = processes.start(
        "sqs", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
        env, layout.logs / "sqs.log", REPO_ROOT,
    )  # fmt: skip
    pids.add(sqs)
    started.append(sqs)
    local_sqs.create_queues(layout.sqs_url, time.monotonic() + 30)
    say(f"starting the SP-API sandbox on {layout.sandbox_url}")
    sandbox = processes.start(
        "sandbox",
        [
            sys.executable, "-m", "sandbox",
            "--host", "127.0.0.1", "--port", str(layout.sandbox_port),
            "--data-dir", str(layout.sandbox_dir),
        ],
        {
            **env,
            "SPAPI_SANDBOX_SQS_ENDPOINT_URL": layout.sqs_url,
            "SPAPI_SANDBOX_REPORT_PROCESSING_SECONDS": str(SANDBOX_REPORT_PROCESSING_SECONDS),
        },
        layout.logs / "sandbox.log",
        REPO_ROOT,
    )  # fmt: skip
    pids.add(sandbox)
    started.append(sandbox)
    sandbox_deadline = time.monotonic() + 60

    if layout.services is None:
        say(f"starting airflow standalone on {layout.airflow_url} (logs in {layout.logs / 'airflow.log'})")
        # Ctrl-C (SIGINT) is how standalone stops: it TERMs each component and waits for them. On TERM
        # it dies at once, leaving them all running.
        airflow = processes.start(
            "airflow", [airflow_cli, "standalone"], env,
            layout.logs / "airflow.log", REPO_ROOT, stop_signal=signal.SIGINT,
        )  # fmt: skip
        pids.add(airflow)
        started.append(airflow)
        create_warehouse(layout)
        wait_for_sandbox(layout, sandbox, sandbox_deadline)
        return started

    say("migrating Airflow's metadata database (PostgreSQL)")
    with (layout.logs / "airflow-db-migrate.log").open("wb") as log:
        migrate = subprocess.Popen(
            [airflow_cli, "db", "migrate"], env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        create_warehouse(layout)
        migrated = migrate.wait()
    except BaseException:
        migrate.kill()
        migrate.wait()
        raise
    if migrated != 0:
        raise AirflowNotReady(f"airflow db migrate failed; see {layout.logs / 'airflow-db-migrate.log'}")
    for name, argv in COMPONENTS:
        say(f"starting {name} (log {layout.logs / (name + '.log')})")
        own_env = celery_worker_env(env, name) if name in CELERY_WORKERS else env
        service = processes.start(name, [airflow_cli, *argv], own_env, layout.logs / f"{name}.log", REPO_ROOT)
        pids.add(service)
        started.append(service)
    wait_for_sandbox(layout, sandbox, sandbox_deadline)
    return started


def all_alive(services: Sequence[Service]) -> None:
    """Fail fast, naming the log to read, when a service has exited."""
    for service in services:
        if not service.alive():
            raise AirflowNotReady(f"{service.name} exited; see {service.log}")


def watch(api: AirflowApi, run_id: str, services: Sequence[Service], timeout: float) -> RunProgress:
    """Print the run's progress until it finishes; fail fast if a service died under it."""
    deadline = time.monotonic() + timeout
    last_line, last_print = "", 0.0
    while True:
        progress = api.progress(DEMO_DAG, run_id)
        line = progress.line()
        if line != last_line or time.monotonic() - last_print > QUIET_SECONDS:
            say(line)
            last_line, last_print = line, time.monotonic()
        if progress.finished:
            return progress
        all_alive(services)
        if time.monotonic() > deadline:
            raise AirflowNotReady(f"the run did not finish within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def watch_all(
    api: AirflowApi, runs: dict[str, str], services: Sequence[Service], timeout: float
) -> dict[str, RunProgress]:
    """:func:`watch` for several runs side by side (DAG id -> run id): one line per run that moved."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    ended: dict[str, RunProgress] = {}
    while True:
        for dag_id, run_id in runs.items():
            if dag_id in ended:
                continue
            progress = api.progress(dag_id, run_id)
            line = progress.line()
            if line != last.get(dag_id):
                say(f"{dag_id} {line}")
                last[dag_id] = line
            if progress.finished:
                ended[dag_id] = progress
        if len(ended) == len(runs):
            return {dag_id: ended[dag_id] for dag_id in runs}
        all_alive(services)
        if time.monotonic() > deadline:
            raise AirflowNotReady(f"{sorted(set(runs) - set(ended))} did not finish within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def run_amazon_reads(api: AirflowApi, services: Sequence[Service], timeout: float) -> dict[str, RunProgress]:
    """Trigger each DAG that reads from Amazon once, side by side, and wait for them."""
    runs = {}
    for dag_id in AMAZON_READ_DAGS:
        api.wait_for_dag(dag_id, time.monotonic() + STARTUP_SECONDS)
        api.unpause(dag_id)
        runs[dag_id] = api.trigger(dag_id, note="make demo: after the sample catalog")
    say("triggered " + ", ".join(f"{d} run {r}" for d, r in runs.items()))
    return watch_all(api, runs, services, timeout)


def run(args: argparse.Namespace) -> int:
    servers = ServicesConfig(args.postgres_url, args.redis_url, args.db_prefix) if args.services else None
    layout = DemoLayout(
        Path(args.state_dir).resolve(), args.port, args.sandbox_port, servers, args.feed_poll_seconds
    )
    pids = PidFile(layout.pid_file)
    running = [s for s in pids.read() if s.alive()]
    if running:
        say(f"a demo is already running from {layout.state_dir} (PIDs {[s.pid for s in running]}): make stop")
        return 2
    sqs_port = int(layout.sqs_url.rsplit(":", 1)[1])
    busy = [p for p in (layout.airflow_port, layout.sandbox_port, sqs_port) if not port_free(p)]
    if busy:
        say(f"port(s) {busy} are in use: stop what holds them, or pick others with --port/--sandbox-port")
        return 2

    prepare(layout, fresh=not args.keep)
    pids = PidFile(layout.pid_file)
    return supervise(layout, pids, lambda: demo(layout, pids, args))


def supervise(layout: DemoLayout, pids: PidFile, body: Callable[[], int]) -> int:
    """Run ``body`` (the demo) as this state directory's ``demo`` process, and stop everything it
    started when it returns, fails or is told to stop, whichever comes first.

    Told to stop by ``make stop`` (its :class:`~demo.processes.StopRequest` is there), the demo has
    done what it was asked: it says so and exits 0, so that the terminal running ``make demo`` does
    not end in a make error. Any other SIGTERM or SIGINT (Ctrl-C) exits 128 + the signal's number,
    as a shell reports a process ended by it.
    """
    request = StopRequest(layout.stop_request)
    request.clear()  # one left by a `make stop` that died before it could clear it
    pids.add(processes.own_service("demo"))
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        return body()
    except Stopped as why:
        if request.made():
            say("stopped by make stop: stopping everything the demo started")
            return 0
        say(f"{why}: stopping")
        return 128 + why.signum
    except AirflowNotReady as err:
        say(f"failed: {err}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_services(pids, exclude=os.getpid())


def demo(layout: DemoLayout, pids: PidFile, args: argparse.Namespace) -> int:
    """Start everything, run the sample catalog, print the summary, then keep serving (or, headless,
    return): the demo's exit status."""
    services = start_services(layout, pids)
    api = AirflowApi(layout.airflow_url, "admin", layout.admin_password())
    try:
        try:
            api.wait_until_up(time.monotonic() + STARTUP_SECONDS, check=lambda: all_alive(services))
        except AirflowNotReady:
            front = next(s for s in services if s.name in ("airflow", "api-server"))
            say(f"Airflow did not start; the end of {front.log}:\n" + tail(front.log))
            raise
        say("Airflow is up; registering the sandbox sellers' connections")
        for conn_id, fields in connections(layout).items():
            api.put_connection(conn_id, fields)
        api.wait_for_dag(DEMO_DAG, time.monotonic() + STARTUP_SECONDS)
        # Amazon's notifications to the local SQS: the sellers subscribe while the catalog runs
        api.wait_for_dag(NOTIFICATIONS_SETUP_DAG, time.monotonic() + STARTUP_SECONDS)
        api.unpause(NOTIFICATIONS_SETUP_DAG)
        api.trigger(NOTIFICATIONS_SETUP_DAG, note="make demo: subscribe the sandbox sellers")
        api.unpause(DEMO_DAG)
        run_id = api.trigger(DEMO_DAG, note="make demo: the sample catalog")
        say(f"triggered {DEMO_DAG} run {run_id}; follow it at {layout.airflow_url}/dags/{DEMO_DAG}")
        progress = watch(api, run_id, services, args.timeout)
        started = time.monotonic()
        reads = run_amazon_reads(api, services, args.timeout)
        say(f"the runs that read from Amazon took {time.monotonic() - started:.0f} s")
        # a run that needs attention did what the demo shows: it found Amazon's rejection (or drift,
        # or a metric past its target) and said so
        ok = all(p.state == "success" or p.needs_attention for p in (progress, *reads.values()))
        print_summary(layout, run_id, progress, reads)
    finally:
        api.close()
    if args.headless:
        return 0 if ok else 1
    say("everything keeps running: press Ctrl-C here, or run `make stop`, to end it")
    while all(s.alive() for s in services):
        time.sleep(1)
    say("a service exited on its own; stopping the rest")
    return 1


def _warehouse_name(layout: DemoLayout) -> str:
    if layout.services is None:
        return str(layout.warehouse)
    return f"PostgreSQL database {layout.services.warehouse_db}"


def print_summary(
    layout: DemoLayout, run_id: str, progress: RunProgress, reads: dict[str, RunProgress]
) -> None:
    from demo.report import (
        amazon_block,
        chunk_workers,
        figures_table,
        headline,
        read_amazon_figures,
        read_figures,
        where_to_look,
    )

    print()
    say(f"{DEMO_DAG} run {run_id} finished: {progress.state}")
    if progress.failed_tasks:
        say("failed tasks: " + ", ".join(progress.failed_tasks))
        say(f"task logs: {layout.airflow_home / 'logs'}")
    if progress.needs_attention:
        say(
            "the run is red on purpose: everything was recorded, and its last task, outcome, says that "
            "Amazon rejected a change (the sample catalog holds a gated brand)"
        )
    if progress.note:
        say("the run's note:\n" + progress.note)
    figures = read_figures(layout, DEMO_DAG, run_id)
    if figures.branches:
        print(figures_table(figures))
        say(headline(figures))
    else:
        say("no run_summaries rows for this run: the run stopped before its summarise step")
    if layout.services is not None:
        say(chunk_workers(progress))
    say("the runs that read from Amazon, and what they left in the warehouse:")
    print(amazon_block(reads, read_amazon_figures(layout)), flush=True)
    print("\nWhere to look:\n" + where_to_look(layout, run_id, figures) + "\n", flush=True)


def stop_services(pids: PidFile, exclude: int | None = None) -> None:
    services = [s for s in pids.read() if s.pid != exclude]
    if services:
        killed = processes.stop(services)
        if killed:
            say(f"killed what did not stop in time: PIDs {killed}")
    left = processes.processes_of(services)
    if left:
        say(f"still running, despite KILL: PIDs {[p.pid for p in left]}")
    else:
        say("every process the demo started has stopped")
        pids.clear()


# How long `stop` lets a running `demo run` stop its services itself: their grace, the sweep, the KILL.
RUNNER_GRACE_SECONDS = processes.GRACE_SECONDS + processes.SWEEP_SECONDS + 10


def stop(args: argparse.Namespace) -> int:
    layout = DemoLayout(Path(args.state_dir).resolve())
    pids = PidFile(layout.pid_file)
    services = pids.read()
    if not any(s.alive() for s in services):
        say(f"no demo is running from {layout.state_dir}")
        pids.clear()
        return 0
    runner = next((s for s in services if s.name == "demo" and s.alive()), None)
    if runner is not None:
        # On TERM the `demo run` process stops what it started, each service its own way; signalling
        # those services from here as well would only race it.
        say(f"stopping the demo run (PID {runner.pid}); it stops what it started")
        request = StopRequest(layout.stop_request)
        request.make()
        try:
            processes.stop([runner], grace=RUNNER_GRACE_SECONDS)
        finally:
            request.clear()
    stop_services(pids)
    return 0


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=str(REPO_ROOT / "var" / "demo"), help="default var/demo")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser(
        "run", parents=[common], help="start everything and run catalog_feed_sync on the sample catalog"
    )
    run_p.add_argument("--port", type=int, default=8080, help="Airflow UI/API port (default 8080)")
    run_p.add_argument("--sandbox-port", type=int, default=8900, help="SP-API sandbox port (default 8900)")
    run_p.add_argument(
        "--keep", action="store_true", help="keep the previous demo's state instead of starting over"
    )
    run_p.add_argument("--headless", action="store_true", help="stop everything after the summary")
    run_p.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for the run (default 1800)"
    )
    run_p.add_argument(
        "--feed-poll-seconds",
        type=_positive_seconds,
        default=SANDBOX_FEED_POLL_SECONDS,
        help="first interval between two getFeed calls of a feed wait, growing by the trigger's backoff "
        f"(default {SANDBOX_FEED_POLL_SECONDS:g}: the local sandbox ends a feed in about 3 s); written to "
        "the demo's pipeline config as feed_poll_seconds",
    )
    run_p.add_argument(
        "--services",
        action="store_true",
        help="run docker-compose.yaml's services as processes instead of airflow standalone: PostgreSQL "
        "metadata and warehouse, Redis, api-server, scheduler, dag-processor, triggerer, two Celery workers",
    )
    run_p.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "SPAPI_DEMO_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="--services: a PostgreSQL server URL with a database to connect to (default: local, trust auth)",
    )
    run_p.add_argument(
        "--redis-url",
        default=os.environ.get("SPAPI_DEMO_REDIS_URL", "redis://127.0.0.1:6379/2"),
        help="--services: Redis for Celery and the shared SP-API limiter (default redis://127.0.0.1:6379/2)",
    )
    run_p.add_argument(
        "--db-prefix",
        default="spapi_demo",
        help="--services: databases <prefix>_airflow and <prefix>_warehouse",
    )
    run_p.set_defaults(func=run)
    stop_p = sub.add_parser("stop", parents=[common], help="stop every process a running demo started")
    stop_p.set_defaults(func=stop)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
