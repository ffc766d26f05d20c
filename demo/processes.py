"""Start the demo's services and stop every process they spawned, leaving none behind.

``airflow standalone`` does not take its children down on SIGTERM: the scheduler and a task worker
survive it. So each service starts in a session of its own (``setsid``), its PID and start time go
to a PID file, and stopping walks every process of that session and every descendant: TERM, a grace
period, then KILL for what remains. The start time guards against a stale PID file naming a PID that
the system has since given to an unrelated process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

GRACE_SECONDS = 15.0

# The Popen objects of services this process started, so that stopping them also reaps them (and
# Python does not warn about a Popen collected while its process runs).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Service:
    """One started service: the leader of its own session."""

    name: str
    pid: int
    create_time: float
    log: str

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


def own_service(name: str) -> Service:
    """This process, as a service: so that ``stop`` from another terminal ends the demo too."""
    return Service(name=name, pid=os.getpid(), create_time=psutil.Process().create_time(), log="")


def start(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path) -> Service:
    """Start ``argv`` in a new session with its output in ``log``."""
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
    return Service(name=name, pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(), log=str(log))


def processes_of(services: Iterable[Service]) -> list[psutil.Process]:
    """Every live process of the services' sessions, plus their descendants (wherever they went)."""
    leaders: list[psutil.Process] = []
    for service in services:
        if service.alive():
            leaders.append(psutil.Process(service.pid))
    sessions = {s.pid for s in services}
    found: dict[int, psutil.Process] = {}
    for leader in leaders:
        found[leader.pid] = leader
        try:
            for child in leader.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    own = os.getpid()
    for proc in psutil.process_iter():
        try:
            if proc.pid != own and os.getsid(proc.pid) in sessions:
                found[proc.pid] = proc
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return list(found.values())


def stop(services: Sequence[Service], grace: float = GRACE_SECONDS) -> list[int]:
    """TERM every process of ``services``, wait up to ``grace`` seconds, then KILL the rest.

    :return: the PIDs that had to be killed.
    """
    procs = processes_of(services)
    for proc in procs:
        _signal(proc, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(procs, timeout=grace)
    # Processes started after the first sweep (a worker forking as it was told to stop) count too.
    stragglers = {p.pid: p for p in alive}
    stragglers.update({p.pid: p for p in processes_of(services)})
    for proc in stragglers.values():
        _signal(proc, signal.SIGKILL)
    psutil.wait_procs(list(stragglers.values()), timeout=5)
    for service in services:
        popen = _STARTED.pop(service.pid, None)
        if popen is not None:
            popen.wait(timeout=5)
    return sorted(stragglers)


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
        proc.send_signal(sig)
