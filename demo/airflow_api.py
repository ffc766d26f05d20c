"""What the demo asks of Airflow, through its public REST API, as an operator in the UI would.

Going through the API server, not the metadata database, proves the deployment works the way its
users meet it: login with the auth manager, the DAG parsed and visible, a run triggered and watched.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict

import httpx

FINISHED = frozenset({"success", "failed"})
POLL_SECONDS = 0.5  # between two looks at a server or DAG that is not there yet
PAGE = 1000  # task instances per request (the API's largest page)

# A task instance in one of these states will not run again in this try of the run.
ENDED = frozenset({"success", "skipped", "failed", "upstream_failed", "removed"})
# A task's state, from its instances': the first of these that any instance is in. While it has not
# ended, the most active instance's state says what it is doing; once it has, the worst instance's
# says how it went (Airflow's grid shows a mapped task as one cell the same way).
_WHILE_ACTIVE = ("running", "deferred", "up_for_retry", "up_for_reschedule", "queued", "scheduled")
_ONCE_ENDED = ("failed", "upstream_failed", "success", "skipped", "removed")


class AirflowNotReady(RuntimeError):
    """The API server, or the DAG, did not come up in time."""


class TaskInstanceJson(TypedDict, total=False):
    """The fields of the API's task instance that the demo reads."""

    task_id: Required[str]
    map_index: int
    state: str | None
    hostname: str | None
    rendered_map_index: str | None


@dataclass
class TaskProgress:
    """One task of the run, its mapped instances (if any) counted together: ``states`` counts the
    instances in each state. A mapped task has one placeholder instance (map index -1, no state)
    until its input is known, then one per element."""

    task_id: str
    states: Counter[str] = field(default_factory=Counter)
    mapped: bool = False

    @property
    def instances(self) -> int:
        return self.states.total()

    @property
    def ended(self) -> int:
        return sum(n for s, n in self.states.items() if s in ENDED)

    @property
    def done(self) -> bool:
        return self.instances > 0 and self.ended == self.instances

    @property
    def state(self) -> str:
        order = _ONCE_ENDED if self.done else _WHILE_ACTIVE
        return next((s for s in order if self.states[s]), "none" if not self.done else "success")


@dataclass
class RunProgress:
    """One look at a DAG run: its state, each task's progress, and where task instances ran.

    A task counts once however many instances mapping gives it, so the run's total is the DAG's
    number of tasks from the first look on: counting instances, the total grew as each mapped task
    expanded and a run seemed to fall behind as it went. A mapped task part-way through shows its
    instances as a sub-count instead (``check_chunk 3/8``), as Airflow's grid does.

    ``ran_on`` holds each task instance that has a host: its task id, its rendered map index (for
    ``check_chunk``, ``SELLER/MARKETPLACE 2/5``) and the host name its worker recorded.
    """

    state: str
    tasks: dict[str, TaskProgress] = field(default_factory=dict)
    failed_tasks: list[str] = field(default_factory=list)
    active_tasks: list[str] = field(default_factory=list)
    ran_on: list[tuple[str, str, str]] = field(default_factory=list)
    note: str | None = None

    @classmethod
    def of(
        cls, state: str, task_instances: Iterable[TaskInstanceJson], note: str | None = None
    ) -> RunProgress:
        """The run's progress from its task instances, as the REST API lists them."""
        progress = cls(state=state, note=note)
        for ti in task_instances:
            progress.add(ti)
        return progress

    def add(self, ti: TaskInstanceJson) -> None:
        task_id, state = ti["task_id"], ti.get("state") or "none"
        index = ti.get("map_index", -1)
        task = self.tasks.setdefault(task_id, TaskProgress(task_id))
        task.states[state] += 1
        task.mapped = task.mapped or index >= 0
        name = task_id + (f"[{index}]" if index >= 0 else "")
        if ti.get("hostname"):
            self.ran_on.append((task_id, ti.get("rendered_map_index") or "", str(ti["hostname"])))
        if state in {"failed", "upstream_failed"}:
            self.failed_tasks.append(name)
        elif state in {"running", "deferred", "up_for_retry"}:
            self.active_tasks.append(name if state == "running" else f"{name} ({state})")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def needs_attention(self) -> bool:
        """Everything ran and was recorded, and the last task, ``outcome``, ended the run red on
        purpose: Amazon rejected a change (the sample catalog holds one that it does)."""
        return self.state == "failed" and self.failed_tasks == ["outcome"]

    def line(self) -> str:
        """``run running: 4/14 tasks done (4 success, 1 running, 9 none); check_chunk 3/8; now: ...``"""
        tasks = list(self.tasks.values())
        done = sum(1 for t in tasks if t.done)
        states = Counter(t.state for t in tasks)
        counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        line = f"run {self.state}: {done}/{len(tasks)} tasks done ({counts or 'none yet'})"
        expanding = [t for t in tasks if t.mapped and not t.done and t.instances > 1]
        if expanding:
            line += "; " + ", ".join(f"{t.task_id} {t.ended}/{t.instances}" for t in expanding)
        if self.active_tasks:
            line += "; now: " + ", ".join(sorted(self.active_tasks)[:6])
        return line


class AirflowApi:
    """A small client of Airflow 3's REST API with a SimpleAuthManager login."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def wait_until_up(self, deadline: float, check: Callable[[], None] | None = None) -> None:
        """Wait for the API server to answer its health check and accept our login.

        :param check: called on every try; it raises to stop waiting (a component has exited).
        """
        last = "no answer"
        while time.monotonic() < deadline:
            if check is not None:
                check()
            try:
                health = self._http.get("/api/v2/monitor/health")
                if health.status_code == 200:
                    self.login()
                    return
                last = f"HTTP {health.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(POLL_SECONDS)
        raise AirflowNotReady(f"the Airflow API server at {self.base_url} did not come up ({last})")

    def login(self) -> None:
        response = self._http.post(
            "/auth/token", json={"username": self._username, "password": self._password}
        )
        response.raise_for_status()
        self._token = response.json()["access_token"]

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._token is None:
            self.login()
        headers = {"Authorization": f"Bearer {self._token}"}
        response = self._http.request(method, path, headers=headers, **kwargs)
        if response.status_code == 401:  # the token expired: log in again, once
            self.login()
            headers = {"Authorization": f"Bearer {self._token}"}
            response = self._http.request(method, path, headers=headers, **kwargs)
        return response

    def wait_for_dag(self, dag_id: str, deadline: float) -> None:
        """Wait until the DAG processor has parsed ``dag_id`` and the DAG is active."""
        last = "not parsed yet"
        while time.monotonic() < deadline:
            response = self._request("GET", f"/api/v2/dags/{dag_id}")
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
            time.sleep(POLL_SECONDS)
        errors = self._request("GET", "/api/v2/importErrors").json().get("import_errors", [])
        detail = "; ".join(f"{e.get('filename')}: {e.get('stack_trace', '')[-300:]}" for e in errors)
        raise AirflowNotReady(f"DAG {dag_id} did not appear ({last}). Import errors: {detail or 'none'}")

    def unpause(self, dag_id: str) -> None:
        response = self._request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        response.raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, note: str | None = None) -> str:
        """Trigger a run now and return its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if note:
            body["note"] = note
        response = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def progress(self, dag_id: str, run_id: str) -> RunProgress:
        run = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        run.raise_for_status()
        return RunProgress.of(
            str(run.json()["state"]), self._task_instances(dag_id, run_id), note=run.json().get("note")
        )

    def _task_instances(self, dag_id: str, run_id: str) -> list[TaskInstanceJson]:
        """Every task instance of the run, page by page (a large catalog maps to many chunks)."""
        found: list[TaskInstanceJson] = []
        while True:
            page = self._request(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": PAGE, "offset": len(found), "order_by": "id"},
            )
            page.raise_for_status()
            body = page.json()
            found += body["task_instances"]
            if not body["task_instances"] or len(found) >= int(body.get("total_entries", 0)):
                return found

    def put_connection(self, conn_id: str, fields: dict[str, Any]) -> None:
        """Create the connection, or replace its fields when it exists (a restarted demo)."""
        body = {"connection_id": conn_id, **fields}
        response = self._request("POST", "/api/v2/connections", json=body)
        if response.status_code == 409:
            response = self._request("PATCH", f"/api/v2/connections/{conn_id}", json=body)
        if response.status_code >= 400:
            # A validation error's detail echoes the input, password included: keep string details only.
            detail = _json(response).get("detail")
            reason = detail if isinstance(detail, str) else ""
            raise RuntimeError(
                f"could not register connection {conn_id}: HTTP {response.status_code} {reason}"
            )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
