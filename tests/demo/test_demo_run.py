"""The one-command demo, headless: real sandbox, real ``airflow standalone``, the sample catalog.

What a new user sees: the run finishes with the catalog's deliberate problems accounted for (12 rows
quarantined by the validation gate, 1 rejected by Amazon and dead-lettered, the other 509 listings
published); since Amazon rejected a change, the run ends failed at its last task (``outcome``) with a
note that says so; then the DAGs that read from Amazon run once each (red, if at all, only at their
``outcome``) and the summary gives their outcome and figures; it says where to look, and Ctrl-C
leaves no process behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from demo.__main__ import AMAZON_READ_DAGS

REPO_ROOT = Path(__file__).resolve().parents[2]
READY = "everything keeps running"
SECRETS = ("Atzr|sandbox-na-0001", "Atzr|sandbox-eu-0003", "sandbox-demo-secret")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _processes_using(state_dir: Path) -> list[psutil.Process]:
    """Every process started for this demo, found independently of the demo's own PID file.

    A process belongs to the demo when its environment or command line names the state dir, or when
    it shares a session with one that does (the API server renames itself with setproctitle, which
    overwrites its environment block).
    """
    found: dict[int, psutil.Process] = {}
    everything = list(psutil.process_iter())
    for proc in everything:
        try:
            env = proc.environ()
            cmd = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if env.get("SPAPI_VAR_DIR") == str(state_dir) or str(state_dir) in cmd:
            found[proc.pid] = proc
    sessions = {_sid(p.pid) for p in found.values()} - {os.getsid(0), None}
    for proc in everything:
        if _sid(proc.pid) in sessions:
            found[proc.pid] = proc
    return list(found.values())


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _listening(procs: list[psutil.Process], port: int) -> bool:
    for proc in procs:
        try:
            if any(c.laddr and c.laddr.port == port and c.status == "LISTEN" for c in proc.net_connections()):
                return True
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return False


def _alive(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {_cmdline(proc)[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[str], Path, Path, int]]:
    state = tmp_path_factory.mktemp("demo") / "state"
    output = state.parent / "demo.out"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SPAPI_"))}
    with output.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "demo", "run", "--state-dir", str(state), "--port", str(port),
             "--sandbox-port", str(_free_port()), "--timeout", "900"],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    deadline = time.monotonic() + 1000
    while READY not in output.read_text() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.25)
    try:
        yield proc, state, output, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)


def test_demo_runs_the_sample_catalog_and_prints_where_to_look(
    demo: tuple[subprocess.Popen[str], Path, Path, int],
) -> None:
    proc, state, output, port = demo
    text = output.read_text()
    assert READY in text, f"the demo did not get to its summary (exit {proc.poll()}):\n{text[-4000:]}"
    # everything recorded, then the run ends red at its last task: Amazon rejected the gated row
    assert "finished: failed" in text and "failed tasks: outcome\n" in text, text[-3000:]
    assert "published 509, invalid 1, quarantined 12, dead-lettered 1" in text, text[-3000:]
    password = re.search(r"login admin / (\S+)\)", text)
    assert password, text[-2000:]
    assert f"http://127.0.0.1:{port}/listing-status/" in text
    docs = re.findall(r"Data Docs\s+(\S+)", text)
    assert len(docs) == 3 and all(Path(d).is_file() for d in docs), docs

    with sqlite3.connect(state / "warehouse.db") as db:
        statuses = dict(
            db.execute("select status, count(*) from v_listing_status group by status").fetchall()
        )
        letters = db.execute("select sku, code from dead_letters where state = 'open'").fetchall()
    # accepted, and live where parse read it back from Amazon (listing_reads_per_branch a branch)
    assert statuses.get("accepted", 0) + statuses.get("live", 0) == 509 and statuses.get("live"), statuses
    assert len(letters) == 1, letters

    # The UI answers with the printed login, and the DAG run is visible through the API.
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password.group(1)}).json()
    runs = httpx.get(
        f"{base}/api/v2/dags/catalog_feed_sync/dagRuns",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    assert [r["state"] for r in runs["dag_runs"]] == ["failed"]
    # the scheduler's listener put the outcome below the note the demo triggered the run with
    note = runs["dag_runs"][0]["note"] or ""
    assert note.startswith("make demo: the sample catalog\n\nRun outcome: needs attention."), note
    assert "accepted 509 · invalid 1 · dead-lettered 1" in note and "5665" in note, note

    # The listing status page is served by the demo's API server, behind the same login.
    page = f"{base}/listing-status/"
    assert httpx.get(f"{base}/listing-status/api/overview").status_code == 401
    anonymous = httpx.get(page, follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307) and "/auth/login" in anonymous.headers["location"]
    html = httpx.get(page, cookies={"_token": token["access_token"]})
    assert html.status_code == 200
    for expected in ("A1SANDBOXNA0001", "A3SANDBOXEU0003", "5665", letters[0][0]):
        assert expected in html.text, expected

    # No credential of the sandbox sellers in any log the run wrote.
    for path in [*state.joinpath("logs").rglob("*.log"), *state.joinpath("airflow", "logs").rglob("*.log")]:
        content = path.read_text(errors="replace")
        leaked = [s for s in SECRETS if s in content]
        assert not leaked, f"{path} contains {leaked}"


def test_the_runs_that_read_from_amazon_ran_once_each_and_are_summarised(
    demo: tuple[subprocess.Popen[str], Path, Path, int],
) -> None:
    """After the catalog: fba_inventory_sync, listings_reconcile and seller_performance, each run
    once, terminal, red (if at all) only at ``outcome``, and the summary's block agrees with the
    warehouse."""
    _, state, output, port = demo
    text = output.read_text()
    assert READY in text, text[-4000:]
    block = text.split("the runs that read from Amazon, and what they left in the warehouse:\n", 1)[-1]
    lines = dict(
        re.findall(r"^  (fba_inventory_sync|listings_reconcile|seller_performance)\s+(.*)$", block, re.M)
    )
    assert set(lines) == set(AMAZON_READ_DAGS), block[:2000]
    for dag_id, line in lines.items():
        assert re.match(r"(success|failed at outcome): ", line), (dag_id, line)
    assert lines["fba_inventory_sync"] == "success: no outcome note", lines
    assert lines["listings_reconcile"].split(": ", 1)[1].startswith("Run outcome: "), lines
    # the sandbox's US account misses the late shipment target
    assert lines["seller_performance"].startswith("failed at outcome: Run outcome: needs attention."), lines
    took = re.search(r"the runs that read from Amazon took (\d+) s", text)
    assert took, text[-3000:]
    print(f"the runs that read from Amazon took {took.group(1)} s")

    with sqlite3.connect(state / "warehouse.db") as db:
        branches = set(
            db.execute(
                "select distinct seller_id, marketplace_id from run_summaries where dag_id = 'catalog_feed_sync'"
            ).fetchall()
        )
        fba = dict(
            db.execute(
                "select fulfillment_channel_code, count(*) from inventory"
                " where fulfillment_channel_code like 'AMAZON%' and read_at is not null"
                " group by fulfillment_channel_code"
            ).fetchall()
        )
        checks = db.execute("select seller_id, marketplace_id, run_id from drift_checks").fetchall()
        drift = dict(
            db.execute(
                "select kind, count(*) from listing_drift where state = 'open' group by kind"
            ).fetchall()
        )
        health_runs = db.execute("select seller_id, marketplace_id, run_id from account_health").fetchall()
        health = db.execute(
            "select seller_id, marketplace_id, account_status from account_health order by report_date"
        ).fetchall()
    assert fba.get("AMAZON_NA") and fba.get("AMAZON_EU"), fba
    assert len(branches) >= 2 and {(s, m) for s, m, _ in checks} == branches, (checks, branches)
    assert {(s, m) for s, m, _ in health} == branches, health
    figures = re.search(
        r"^  FBA SKUs read into inventory: (.*); open drift: (.*); account health: (.*)$", block, re.M
    )
    assert figures, block[:2000]
    assert figures.group(1) == ", ".join(f"{c} {n}" for c, n in sorted(fba.items())), figures.group(0)
    assert figures.group(2) == (", ".join(f"{k} {n}" for k, n in sorted(drift.items())) or "none"), (
        figures.group(0)
    )
    latest = {(s, m): status for s, m, status in health}
    assert figures.group(3) == ", ".join(f"{s}/{m} {st or '?'}" for (s, m), st in sorted(latest.items())), (
        figures.group(0)
    )

    # Through the API: one run each, terminal, and failed (if at all) only at its outcome task.
    base = f"http://127.0.0.1:{port}"
    password = re.search(r"login admin / (\S+)\)", text)
    assert password, text[-2000:]
    token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password.group(1)}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    run_ids: dict[str, str] = {}
    for dag_id in AMAZON_READ_DAGS:
        runs = httpx.get(f"{base}/api/v2/dags/{dag_id}/dagRuns", headers=headers).json()["dag_runs"]
        assert [r["state"] for r in runs] in (["success"], ["failed"]), (dag_id, runs)
        run_ids[dag_id] = runs[0]["dag_run_id"]
        tis = httpx.get(
            f"{base}/api/v2/dags/{dag_id}/dagRuns/{runs[0]['dag_run_id']}/taskInstances", headers=headers
        ).json()["task_instances"]
        failed = sorted({ti["task_id"] for ti in tis if ti["state"] in ("failed", "upstream_failed")})
        assert failed == ([] if runs[0]["state"] == "success" else ["outcome"]), (dag_id, failed)
    # the warehouse's rows are this run's (reconcile), and every account was read by it
    assert {r for _, _, r in checks} == {run_ids["listings_reconcile"]}, checks
    assert {r for _, _, r in health_runs} == {run_ids["seller_performance"]}, health_runs


def test_ctrl_c_stops_every_process_the_demo_started(
    demo: tuple[subprocess.Popen[str], Path, Path, int],
) -> None:
    proc, state, output, port = demo
    assert proc.poll() is None, output.read_text()[-3000:]
    started = _processes_using(state)
    names = " ".join(_cmdline(p) for p in started)
    for component in ("sandbox", "standalone", "scheduler", "triggerer", "dag-processor"):
        assert component in names, f"{component} not running: {names[:2000]}"
    assert _listening(started, port), "no started process serves the Airflow UI/API port"

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130

    assert "every process the demo started has stopped" in output.read_text()
    assert _alive(started) == []
    assert _alive(_processes_using(state)) == []
    assert not (state / "pids.json").exists()
