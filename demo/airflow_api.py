"""What the demo asks of Airflow, through its public REST API, as an operator in the UI would.

Going through the API server, not the metadata database, proves the deployment works the way its
users meet it: login with the auth manager, the DAG parsed and visible, a run triggered and watched.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

FINISHED = frozenset({"success", "failed"})
POLL_SECONDS = 0.5  # between two looks at a server or DAG that is not there yet


class AirflowNotReady(RuntimeError):
    """The API server, or the DAG, did not come up in time."""


@dataclass
class RunProgress:
    """One look at a DAG run: its state, how many task instances are in each state, and where they ran.

    ``ran_on`` holds each task instance that has a host: its task id, its rendered map index (for
    ``check_chunk``, ``SELLER/MARKETPLACE 2/5``) and the host name its worker recorded.
    """

    state: str
    tasks: Counter[str] = field(default_factory=Counter)
    failed_tasks: list[str] = field(default_factory=list)
    active_tasks: list[str] = field(default_factory=list)
    ran_on: list[tuple[str, str, str]] = field(default_factory=list)
    note: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def needs_attention(self) -> bool:
        """Everything ran and was recorded, and the last task, ``outcome``, ended the run red on
        purpose: Amazon rejected a change (the sample catalog holds one that it does)."""
        return self.state == "failed" and self.failed_tasks == ["outcome"]

    def line(self) -> str:
        done = sum(
            n for s, n in self.tasks.items() if s in {"success", "skipped", "failed", "upstream_failed"}
        )
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.tasks.items()))
        line = f"run {self.state}: {done}/{sum(self.tasks.values())} tasks done ({states or 'none yet'})"
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
        tis = self._request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
        )
        tis.raise_for_status()
        progress = RunProgress(state=str(run.json()["state"]), note=run.json().get("note"))
        for ti in tis.json()["task_instances"]:
            state = ti.get("state") or "none"
            progress.tasks[state] += 1
            index = ti.get("map_index", -1)
            name = ti["task_id"] + (f"[{index}]" if index >= 0 else "")
            if ti.get("hostname"):
                progress.ran_on.append((ti["task_id"], ti.get("rendered_map_index") or "", ti["hostname"]))
            if state in {"failed", "upstream_failed"}:
                progress.failed_tasks.append(name)
            elif state in {"running", "deferred", "up_for_retry"}:
                progress.active_tasks.append(name if state == "running" else f"{name} ({state})")
        return progress

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
