"""Start the demo's services and stop every process they spawned, leaving none behind.

Each service starts in a session of its own (``setsid``), its PID, start time and stop signal go to a
PID file, and stopping goes in two steps. First every service's leader gets the signal it stops on
and a grace period to take its children down in its own order: ``airflow standalone`` stops on
SIGINT (its Ctrl-C: it TERMs each component and waits for them), everything else on TERM. Then
whatever still runs in those sessions or below those leaders (an orphan, a child its parent did not
stop, a leader that ignored its signal) gets TERM, a short grace, then KILL.

No process of the demo ignores TERM, but TERMing every process at once, as this once did, made
``standalone`` die at once (TERM is not how it stops) and orphaned its components, whose exits then
waited for init to reap them, and it kept signalling processes in the middle of their parents'
shutdown. What still takes long is Airflow's own: each component spends 1 to 3 s collecting
garbage at interpreter exit, and the triggerer, when its trigger runner closes its sockets before it
has exited, sleeps out the rest of its 10 s kill escalation (``TriggerRunnerSupervisor.kill`` then
selects on no sockets at all), so a stop takes 3 to 13 s. A zombie counts as stopped: it has exited
and only waits for its parent (or init) to reap it. The start time guards against a stale PID file
naming a PID that the system has since given to an unrelated process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

GRACE_SECONDS = 15.0  # for a leader to stop its service (the triggerer alone can take 13 s under load)
SWEEP_SECONDS = 3.0  # for what is still running after the leaders to stop on TERM, before KILL
_POLL_SECONDS = 0.05

# The Popen objects of services this process started, so that stopping them also reaps them (and
# Python does not warn about a Popen collected while its process runs).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Service:
    """One started service: the leader of its own session, and the signal it stops on."""

    name: str
    pid: int
    create_time: float
    log: str
    stop_signal: str = "SIGTERM"

    def alive(self) -> bool:
        """Running: the same process (PID and start time), and not a zombie waiting to be reaped."""
        try:
            proc = psutil.Process(self.pid)
            return bool(proc.create_time() == self.create_time and proc.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False


class PidFile:
    """The services of one demo state directory, so that ``stop`` works from another terminal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[Service]:
        if not self.path.exists():
            return []
        return [Service(**item) for item in json.loads(self.path.read_text())]

    def add(self, service: Service) -> None:
        services = [s for s in self.read() if s.name != service.name]
        self._write([*services, service])

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self, services: Iterable[Service]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(s) for s in services], indent=2))
        tmp.replace(self.path)


class StopRequest:
    """What ``make stop`` leaves in the state directory before it signals a running ``demo run``, and
    clears once that has ended: a signal does not say who sent it, and the run exits 0 only when
    this is how it was asked to stop (a TERM from anywhere else is an interruption)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def make(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{os.getpid()}\n")

    def made(self) -> bool:
        return self.path.exists()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def own_service(name: str) -> Service:
    """This process, as a service: so that ``stop`` from another terminal ends the demo too."""
    return Service(name=name, pid=os.getpid(), create_time=psutil.Process().create_time(), log="")


def start(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    cwd: Path,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Service:
    """Start ``argv`` in a new session with its output in ``log``; ``stop_signal`` is what stops it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _STARTED[proc.pid] = proc
    return Service(
        name=name,
        pid=proc.pid,
        create_time=psutil.Process(proc.pid).create_time(),
        log=str(log),
        stop_signal=stop_signal.name,
    )


def _running(proc: psutil.Process) -> bool:
    """Not exited: a zombie has, and only waits for its parent (or init) to reap it."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_of(services: Iterable[Service]) -> list[psutil.Process]:
    """Every running process of the services' sessions, plus their descendants (wherever they went)."""
    services = list(services)
    found: dict[int, psutil.Process] = {}
    for service in services:
        if not service.alive():
            continue
        try:
            leader = psutil.Process(service.pid)
            found[leader.pid] = leader
            for child in leader.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    sessions = {s.pid for s in services}
    own = os.getpid()
    for proc in psutil.process_iter():
        try:
            if proc.pid != own and os.getsid(proc.pid) in sessions:
                found[proc.pid] = proc
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return [p for p in found.values() if _running(p)]


def stop(services: Sequence[Service], grace: float | None = None) -> list[int]:
    """Stop every process of ``services`` (see the module's docstring): ``grace`` seconds (default
    :data:`GRACE_SECONDS`) at most for the leaders, :data:`SWEEP_SECONDS` (at most ``grace``) for
    what is left after them.

    :return: the PIDs that had to be killed.
    """
    grace = GRACE_SECONDS if grace is None else grace
    leaders = [s for s in services if s.alive()]
    for service in leaders:
        with contextlib.suppress(psutil.NoSuchProcess):
            _signal(psutil.Process(service.pid), signal.Signals[service.stop_signal])
    _wait(lambda: not any(s.alive() for s in leaders), grace)

    rest = processes_of(services)
    for proc in rest:
        _signal(proc, signal.SIGTERM)
    _wait(lambda: not any(_running(p) for p in rest), min(grace, SWEEP_SECONDS))
    # Processes started after the sweep's first look (a worker forking as it was told to stop) count too.
    stragglers = {p.pid: p for p in rest if _running(p)}
    stragglers.update({p.pid: p for p in processes_of(services)})
    for proc in stragglers.values():
        _signal(proc, signal.SIGKILL)
    _wait(lambda: not any(_running(p) for p in stragglers.values()), 5)
    for service in services:
        popen = _STARTED.pop(service.pid, None)
        if popen is not None:
            popen.wait(timeout=5)
    return sorted(stragglers)


def _wait(done: Callable[[], bool], timeout: float) -> None:
    """Until ``done()`` or ``timeout`` seconds, reaping the services this process started as they exit."""
    deadline = time.monotonic() + timeout
    while True:
        for popen in _STARTED.values():
            popen.poll()
        if done() or time.monotonic() >= deadline:
            return
        time.sleep(_POLL_SECONDS)


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
        proc.send_signal(sig)
