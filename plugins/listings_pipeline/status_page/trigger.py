"""Creating ``dead_letter_replay`` runs from inside the api-server, the way Airflow's REST API does.

Airflow's ``POST /api/v2/dags/{dag_id}/dagRuns`` checks that the DAG is known, not stale and free of
import errors, then creates a queued manual run (``dag.create_dagrun``, which validates the conf
against the DAG's params). :func:`airflow.api.common.trigger_dag.trigger_dag` does the same from the
serialized DAG, so the page calls it in-process: no HTTP round trip to itself, no token to forward.
Who may do it is checked by the caller (``requires_access_dag`` in :mod:`.app`).

A paused DAG still gets its run (queued, as the REST API does); the caller tells the operator that it
waits until someone unpauses the DAG. The page also reads runs here: the one a replay started, and
the states of the runs its Runs section lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow.api.common.trigger_dag import trigger_dag
from airflow.exceptions import DagNotFound, DagRunAlreadyExists
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from airflow.utils.types import DagRunTriggeredByType
from sqlalchemy import select


class TriggerRefused(Exception):
    """Airflow would not create the run; ``status_code`` is the HTTP answer the page gives."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


@dataclass(frozen=True)
class DagState:
    """What an operator needs to know before triggering: is the DAG there, and will it run?"""

    dag_id: str
    known: bool
    is_paused: bool
    has_import_errors: bool
    is_stale: bool

    @property
    def problem(self) -> str | None:
        """Why a trigger would be refused, or ``None``."""
        if not self.known:
            return f"{self.dag_id} is not in Airflow's metadata database yet: has the dag-processor parsed dags/?"
        if self.is_stale:
            return f"{self.dag_id} is stale: its file is no longer found by the dag-processor"
        if self.has_import_errors:
            return f"{self.dag_id} has import errors; fix them before replaying"
        return None


@dataclass(frozen=True)
class TriggeredRun:
    dag_id: str
    run_id: str
    state: str
    is_paused: bool


def dag_state(dag_id: str) -> DagState:
    with create_session() as session:
        dag = DagModel.get_current(dag_id, session=session)
        if dag is None:
            return DagState(dag_id, known=False, is_paused=False, has_import_errors=False, is_stale=False)
        return DagState(
            dag_id,
            known=True,
            is_paused=bool(dag.is_paused),
            has_import_errors=bool(dag.has_import_errors),
            is_stale=bool(dag.is_stale),
        )


def trigger(dag_id: str, conf: Mapping[str, Any], *, user_name: str, note: str | None = None) -> TriggeredRun:
    """Create a queued manual run of ``dag_id`` with ``conf``, triggered by ``user_name`` from the UI.

    :raises TriggerRefused: the DAG is unknown, stale or broken (409 / 404), or the conf does not fit
        its params (400).
    """
    state = dag_state(dag_id)
    if state.problem is not None:
        raise TriggerRefused(404 if not state.known else 409, state.problem)
    try:
        with create_session() as session:
            run = trigger_dag(
                dag_id,
                triggered_by=DagRunTriggeredByType.UI,
                triggering_user_name=user_name,
                conf=dict(conf),
                note=note,
                session=session,
            )
            if run is None:  # pragma: no cover - trigger_dag returns a run or raises
                raise TriggerRefused(500, f"Airflow created no run of {dag_id}")
            return TriggeredRun(dag_id, run.run_id, str(run.state), state.is_paused)
    except DagNotFound as err:
        raise TriggerRefused(404, str(err)) from err
    except DagRunAlreadyExists as err:
        raise TriggerRefused(409, f"a run with this id already exists: {err}") from err
    except ValueError as err:  # ParamValidationError is a ValueError: the conf does not fit the form
        raise TriggerRefused(400, f"{dag_id} refused the run: {err}") from err


def find_run(dag_id: str, run_id: str) -> TriggeredRun | None:
    """The run as Airflow's metadata DB has it now (the page follows the runs it triggered)."""
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None:
            return None
        dag = DagModel.get_current(dag_id, session=session)
        return TriggeredRun(dag_id, run.run_id, str(run.state), bool(dag and dag.is_paused))


def run_states(runs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(dag id, run id) -> the run's state now, for those of ``runs`` the metadata DB still has."""
    wanted = set(runs)
    if not wanted:
        return {}
    with create_session() as session:
        found = session.scalars(
            select(DagRun).where(
                DagRun.dag_id.in_({dag_id for dag_id, _ in wanted}),
                DagRun.run_id.in_({run_id for _, run_id in wanted}),
            )
        )
        return {
            (run.dag_id, run.run_id): str(run.state) for run in found if (run.dag_id, run.run_id) in wanted
        }
