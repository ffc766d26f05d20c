"""The demo's process handling: everything it started stops, even what ignores TERM or escapes its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from demo import processes
from demo.__main__ import main
from demo.processes import PidFile, Service
from tests.conftest import REPO
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


# A leader that stops its child in its own order, as ``airflow standalone`` does on Ctrl-C: on SIGINT
# it tells the child (SIGUSR1), waits for it and exits. The child ignores TERM, so a stop that TERMed
# every process at once instead of leaving the child to its leader would have to kill it.
ORDERLY = r"""
import signal, subprocess, sys, time
child_code = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGUSR1, lambda *_: sys.exit(0)); print(1, flush=True); time.sleep(600)"
)
child = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE)
child.stdout.readline()
def stop(*_):
    child.send_signal(signal.SIGUSR1)
    child.wait()
    print("stopped in order", flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, stop)
print("ready", flush=True)
time.sleep(600)
"""


def test_each_leader_stops_on_its_own_signal_and_takes_its_children_down(tmp_path: Path) -> None:
    log = tmp_path / "orderly.log"
    service = processes.start(
        "orderly", [sys.executable, "-c", ORDERLY], dict(os.environ), log, tmp_path, stop_signal=signal.SIGINT
    )
    wait_until(lambda: "ready" in log.read_text(), timeout=30, what=f"the leader and its child ({log})")
    PidFile(tmp_path / "pids.json").add(service)
    (read,) = PidFile(tmp_path / "pids.json").read()  # the stop signal travels with the PID
    assert read.stop_signal == "SIGINT"
    members = processes.processes_of([read])
    assert len(members) == 2

    assert processes.stop([read], grace=30.0) == []  # nothing had to be killed

    assert "stopped in order" in log.read_text()
    assert not [p for p in members if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_stale_pid_file_never_touches_an_unrelated_process(tmp_path: Path) -> None:
    me = psutil.Process()
    stale = Service("old", pid=me.pid, create_time=me.create_time() - 100, log="")
    assert not stale.alive()
    assert processes.processes_of([stale]) == []


def test_stop_command_ends_a_running_demo_from_another_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make stop``: the PID file of a state directory is enough to end everything it lists."""
    monkeypatch.setattr(processes, "GRACE_SECONDS", 1.0)  # everything in the tree ignores TERM
    service = _start_tree(tmp_path)
    PidFile(tmp_path / "pids.json").add(service)
    members = processes.processes_of([service])

    assert main(["stop", "--state-dir", str(tmp_path)]) == 0

    assert "every process the demo started has stopped" in capsys.readouterr().out
    assert not [p for p in members if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not (tmp_path / "pids.json").exists()
    assert main(["stop", "--state-dir", str(tmp_path)]) == 0
    assert "no demo is running" in capsys.readouterr().out


def test_stop_command_lets_a_running_demo_stop_what_it_started_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make stop`` while ``demo run`` is up: the run gets TERM and stops its services itself; what it
    left (here: everything, as this stand-in only exits) is stopped after it."""
    runner_log, sleeper_log = tmp_path / "runner.log", tmp_path / "sleeper.log"
    runner_code = "import time; print('ready', flush=True); time.sleep(600)"
    runner = processes.start(
        "demo", [sys.executable, "-c", runner_code], dict(os.environ), runner_log, tmp_path
    )
    sleeper = processes.start(
        "sandbox", [sys.executable, "-c", runner_code], dict(os.environ), sleeper_log, tmp_path
    )
    for log in (runner_log, sleeper_log):
        wait_until(lambda log=log: "ready" in log.read_text(), timeout=30, what=f"{log} to say ready")
    pids = PidFile(tmp_path / "pids.json")
    pids.add(runner)
    pids.add(sleeper)

    assert main(["stop", "--state-dir", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    assert f"stopping the demo run (PID {runner.pid})" in out
    assert "every process the demo started has stopped" in out
    assert not runner.alive() and not sleeper.alive()
    assert not pids.path.exists()


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


# A stand-in for `demo run`: the demo's own supervision (signals, exit status, stopping what it
# started) around a body that starts one service and then serves until it is stopped.
SUPERVISED = r"""
import os, sys, time
from pathlib import Path
from demo import processes
from demo.__main__ import supervise
from demo.environment import DemoLayout
from demo.processes import PidFile

layout = DemoLayout(Path(sys.argv[1]))
pids = PidFile(layout.pid_file)

def body():
    sleeper = processes.start(
        "sandbox", [sys.executable, "-c", "import time; time.sleep(600)"], dict(os.environ),
        layout.logs / "sandbox.log", layout.state_dir,
    )
    pids.add(sleeper)
    print("ready", flush=True)
    time.sleep(600)
    return 1

sys.exit(supervise(layout, pids, body))
"""


def _supervised_demo(state: Path) -> tuple[subprocess.Popen[str], Path]:
    out = state.parent / "demo.out"
    with out.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SUPERVISED, str(state)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    wait_until(lambda: "ready" in out.read_text() or proc.poll() is not None, timeout=60, what="ready")
    assert proc.poll() is None, out.read_text()
    return proc, out


def test_make_stop_ends_a_running_demo_with_exit_0_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The terminal of `make demo` ends without a make error or a traceback when `make stop` ends it."""
    state = tmp_path / "state"
    proc, out = _supervised_demo(state)
    services = PidFile(state / "pids.json").read()
    assert [s.name for s in services] == ["demo", "sandbox"]

    assert main(["stop", "--state-dir", str(state)]) == 0

    assert proc.wait(timeout=60) == 0
    text = out.read_text()
    assert "stopped by make stop" in text and "every process the demo started has stopped" in text
    assert "Traceback" not in text, text
    assert not any(s.alive() for s in services)
    assert not (state / "stop-requested").exists() and not (state / "pids.json").exists()
    assert f"stopping the demo run (PID {proc.pid})" in capsys.readouterr().out


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_from_elsewhere_still_ends_the_demo_as_interrupted(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """Only `make stop` makes a stop a success: a TERM from anywhere else, or Ctrl-C, is 128 + signal."""
    state = tmp_path / "state"
    proc, out = _supervised_demo(state)
    services = PidFile(state / "pids.json").read()

    proc.send_signal(sig)

    assert proc.wait(timeout=60) == code
    text = out.read_text()
    assert f"{sig.name}: stopping" in text and "stopped by make stop" not in text
    assert "Traceback" not in text, text
    assert not any(s.alive() for s in services)
