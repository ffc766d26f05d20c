"""A run's outcome where an operator looks first: the colour of the run and its DagRun note.

In Airflow 3.3 a task cannot write its run's note: the Task SDK has no metadata DB access, and the
execution API only reads ``dag_run.note`` (and sets one when *triggering* another run). So it takes
two steps, one on each side:

1. the DAG's last task, ``outcome``, calls :func:`conclude`: it pushes the note as the XCom
   ``run_note``, then fails without retries (``AirflowFailException``, whose text is the note)
   when the run needs attention. Everything was recorded by ``summarise`` before;
2. the scheduler, which holds the metadata DB session, tells listeners when a run ends, either way:
   :class:`RunNoteListener` (registered by :class:`RunNotesPlugin`, an ``airflow.plugins`` entry
   point) copies that XCom into the DagRun note in the scheduler's own transaction, below any note
   already there, whichever task pushed it.

A run whose form is wrong never reaches ``outcome``: its first task calls :func:`refuse`, which
leaves the form's problems as the note the same way and fails. A run that failed otherwise before
``outcome`` has no such XCom and keeps its note as is.

Every Airflow process loads plugins, so this module imports only Airflow's plugin and listener
names at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from listings_pipeline.outcome import SHOWN, RunOutcome, Tally, merged_note, needs_attention, outcome

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

    from listings_pipeline.forms.problems import FormError

log = logging.getLogger(__name__)

#: The XCom the ``outcome`` task leaves for the listener.
NOTE_KEY = "run_note"

T = TypeVar("T")


class PushesXCom(Protocol):
    """The running task instance, as far as :func:`conclude` needs it."""

    run_id: str

    def xcom_push(self, key: str, value: Any) -> None: ...


def conclude(ti: PushesXCom, tally: Tally, config_path: str | None) -> RunOutcome:
    """The ``outcome`` task: leave the note for the run, and fail the task when the run needs
    attention (no retry: a retry would find the same rejections). The rejections' words are read
    from the warehouse only then."""
    rejections = []
    if needs_attention(tally):
        from listings_pipeline.rejections import first_rejections

        rejections = first_rejections(config_path, ti.run_id, SHOWN + 1)
    result = outcome(tally, rejections)
    ti.xcom_push(NOTE_KEY, result["note"])
    if result["needs_attention"]:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(result["note"])
    log.info("%s", result["note"])
    return result


def refuse(ti: PushesXCom, error: FormError) -> NoReturn:
    """A form's first task that found problems: they become the run's note (``outcome`` will not
    run) and the task's failure message, without retries (the same form fails the same way)."""
    from airflow.sdk.exceptions import AirflowFailException

    ti.xcom_push(NOTE_KEY, error.note())
    # from None: called while handling ``error``, whose own traceback would print the list twice
    raise AirflowFailException(str(error)) from None


def refusing(ti: PushesXCom, step: Callable[[], T]) -> T:
    """A form's first task: ``step()``, where a :class:`FormError` refuses the run (:func:`refuse`:
    every problem at once, in the note and the failure message) and an ``SpApiConnectionError``
    fails the task without retries (a retry would meet the same connection)."""
    from airflow.sdk.exceptions import AirflowFailException

    from listings_pipeline.connections import SpApiConnectionError
    from listings_pipeline.forms.problems import FormError

    try:
        return step()
    except FormError as err:
        refuse(ti, err)
    except SpApiConnectionError as err:
        raise AirflowFailException(str(err)) from None


def write_note(dag_run: DagRun) -> None:
    """Put the run's ``run_note`` XCom, if any, into its DagRun note: in the session that loaded the
    run (the scheduler's transaction, which holds the run's row), else in one of its own (``dag.test()``
    hands listeners a run no session holds)."""
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is not None:
        _write_note(session, dag_run)
        return
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as own:
        attached = own.get(DagRun, dag_run.id)
        if attached is not None:
            _write_note(own, attached)


def _write_note(session: Session, dag_run: DagRun) -> None:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    row = session.scalars(
        select(XComModel)
        .where(XComModel.dag_run_id == dag_run.id, XComModel.key == NOTE_KEY)
        .order_by(XComModel.timestamp.desc())
        .limit(1)
    ).first()
    text = XComModel.deserialize_value(row) if row is not None else None
    if isinstance(text, str) and text:
        dag_run.note = merged_note(dag_run.note, text)


class RunNoteListener:
    """Airflow calls these when a run ends (the scheduler, or the API server when someone sets the
    state by hand); Airflow logs a listener's error and goes on, and so does this one."""

    @hookimpl
    def on_dag_run_success(self, dag_run: DagRun, msg: str) -> None:
        self._note(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: DagRun, msg: str) -> None:
        self._note(dag_run)

    @staticmethod
    def _note(dag_run: DagRun) -> None:
        try:
            write_note(dag_run)
        except Exception:  # a note is not worth a scheduler loop
            log.exception("could not write the outcome note of %s", dag_run.run_id)


class RunNotesPlugin(AirflowPlugin):
    """Registers :class:`RunNoteListener` in every Airflow process (only the run-level hooks do anything)."""

    name = "run_notes"
    listeners = [RunNoteListener()]
