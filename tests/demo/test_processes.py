"""The demo's process handling: everything it started stops, even what ignores TERM or escapes its parent."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from demo import processes
from demo.__main__ import main
from demo.processes import PidFile, Service
from tests.fixtures.waiting import wait_until

# A leader that ignores TERM and starts two children: one that also ignores TERM, and one that
# double-forks so that init adopts it (it stays in the leader's session: that is how it is found).
# "ready" comes only once the tree is as described: the stubborn child has said it ignores TERM (a
# TERM that came before would end it, and the test would pass on a kill that never happened) and the
# fork between leader and orphan has been reaped, so the orphan has been adopted.
TREE = r"""
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(600)"
child = subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE)
child.stdout.readline()
middle = os.fork()
if middle == 0:
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
os.waitpid(middle, 0)
print("ready", flush=True)
time.sleep(600)
"""


def _start_tree(tmp_path: Path) -> Service:
    log = tmp_path / "tree.log"
    service = processes.start("tree", [sys.executable, "-c", TREE], dict(os.environ), log, tmp_path)
    wait_until(lambda: "ready" in log.read_text(), timeout=30, what=f"the process tree to start ({log})")
    return service


def test_stop_kills_the_whole_session_including_orphans_and_term_ignorers(tmp_path: Path) -> None:
    service = _start_tree(tmp_path)
    found = processes.processes_of([service])
    assert len(found) >= 3, [p.cmdline() for p in found]  # leader, stubborn child, orphan (fork parent exits)
    assert any(p.ppid() == 1 or p.ppid() != service.pid for p in found if p.pid != service.pid)

    killed = processes.stop([service], grace=1.0)

    assert set(killed) >= {p.pid for p in found}  # all of them ignored TERM, so all were killed
    assert not [p for p in found if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert processes.processes_of([service]) == []


def test_a_stale_pid_file_never_touches_an_unrelated_process(tmp_path: Path) -> None:
    me = psutil.Process()
    stale = Service("old", pid=me.pid, create_time=me.create_time() - 100, log="")
    assert not stale.alive()
    assert processes.processes_of([stale]) == []


def test_stop_command_ends_a_running_demo_from_another_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make stop``: the PID file of a state directory is enough to end everything it lists."""
    service = _start_tree(tmp_path)
    PidFile(tmp_path / "pids.json").add(service)
    members = processes.processes_of([service])

    assert main(["stop", "--state-dir", str(tmp_path)]) == 0

    assert "every process the demo started has stopped" in capsys.readouterr().out
    assert not [p for p in members if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not (tmp_path / "pids.json").exists()
    assert main(["stop", "--state-dir", str(tmp_path)]) == 0
    assert "no demo is running" in capsys.readouterr().out


def test_a_service_that_exited_is_reported_with_its_log(tmp_path: Path) -> None:
    """A component that dies (even as a not yet reaped zombie) stops the wait, naming its log."""
    from demo.__main__ import all_alive
    from demo.airflow_api import AirflowNotReady

    log = tmp_path / "scheduler.log"
    crashed = processes.start(
        "scheduler", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), log, tmp_path
    )
    deadline = time.monotonic() + 30
    while crashed.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert psutil.Process(crashed.pid).status() == psutil.STATUS_ZOMBIE  # not reaped: still "exists"
    with pytest.raises(AirflowNotReady, match=f"scheduler exited; see {log}"):
        all_alive([crashed])
    processes.stop([crashed], grace=1.0)
