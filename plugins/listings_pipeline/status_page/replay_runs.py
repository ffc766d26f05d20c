"""From dead letters picked on the page to ``dead_letter_replay`` run configurations (no Airflow here).

The page never re-drives a letter itself: it asks ``dags/dead_letter_replay.py`` to, with the DAG's own
form fields, so the replay follows the one code path that records every state change with its actor
(:mod:`listings_pipeline.to_amazon.replay`). The DAG takes one seller per run and selects letters by seller, SKU
and code, not by id; so the selection becomes one run per seller, and before anything is triggered the
same selection is run against the warehouse (:func:`listings_pipeline.to_amazon.replay.select_letters`) to tell
the operator how many open letters each run will pick up (a SKU's letters in other marketplaces
included).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from listings_pipeline.status_page import queries
from listings_pipeline.status_page.schemas import DeadLetterRow
from listings_pipeline.to_amazon import replay
from listings_pipeline.to_amazon.letters import ReplayForm
from listings_pipeline.warehouse.models import DeadLetterState

REPLAY_DAG_ID = "dead_letter_replay"
MAX_SELECTION = 500
NOTE_PREFIX = "replayed from the listing status page"


class ReplaySelection(BaseModel):
    """What the page's replay button sends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dead_letter_ids: list[int] = Field(min_length=1, max_length=MAX_SELECTION)
    note: str | None = Field(default=None, max_length=1000)


class PlannedRun(BaseModel):
    """One ``dead_letter_replay`` run to trigger: its conf, and what it will pick up today."""

    model_config = ConfigDict(frozen=True)

    seller_id: str
    conf: ReplayForm
    selected_ids: list[int]
    matching_ids: list[int]
    """Open letters the conf selects right now: the selected ones, plus any other open letter of
    the same SKUs (and codes) for this seller."""


class ReplayPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    runs: list[PlannedRun]
    skipped: dict[int, str]
    """Selected ids that will not be replayed, and why (unknown, or no longer open)."""


def _lines(values: Iterable[str]) -> str:
    return "\n".join(sorted(set(values)))


def run_conf(seller_id: str, skus: Iterable[str], codes: Iterable[str | None], note: str) -> ReplayForm:
    """The DAG's form, filled in: replay the open letters of these SKUs, for real (not a dry run).

    ``codes`` narrows the run to the selected letters' codes, unless one of them has no code (a
    code filter would then leave it out). SKUs and codes are newline-separated text, as the DAG's
    multiline fields take them.
    """
    code_list = list(codes)
    return {
        "seller_id": seller_id,
        "skus": _lines(skus),
        "codes": None if not code_list or None in code_list else _lines(c for c in code_list if c),
        "states": [DeadLetterState.OPEN.value],
        "action": "replay",
        "dry_run": False,
        "note": note,
        "limit": replay.MAX_LIMIT,
    }


def plan(session: Session, selection: ReplaySelection, *, user_name: str) -> ReplayPlan:
    """The runs that replay the selected letters (one per seller), checked against the warehouse."""
    found = {letter.id: letter for letter in queries.dead_letters(session, selection.dead_letter_ids)}
    skipped: dict[int, str] = {}
    by_seller: dict[str, list[DeadLetterRow]] = defaultdict(list)
    for letter_id in dict.fromkeys(selection.dead_letter_ids):
        letter = found.get(letter_id)
        if letter is None:
            skipped[letter_id] = "no such dead letter"
        elif letter.state != DeadLetterState.OPEN.value:
            skipped[letter_id] = f"is {letter.state}, not open"
        else:
            by_seller[letter.seller_id].append(letter)

    note = f"{NOTE_PREFIX} by {user_name}" + (f": {selection.note}" if selection.note else "")
    runs = []
    for seller_id, letters in sorted(by_seller.items()):
        conf = run_conf(seller_id, (x.sku for x in letters), (x.code for x in letters), note)
        request = replay.parse_request(conf)
        matching = [letter.id for letter in replay.select_letters(session, request)]
        runs.append(
            PlannedRun(
                seller_id=seller_id,
                conf=conf,
                selected_ids=[x.id for x in letters],
                matching_ids=matching,
            )
        )
    return ReplayPlan(runs=runs, skipped=skipped)


FINISHED_STATES = frozenset({"success", "failed"})


class ReplayRunStatus(BaseModel):
    """A triggered replay run as the page follows it: Airflow's state, and its letters' states now
    (what the run made of them, once it has finished)."""

    model_config = ConfigDict(frozen=True)

    dag_id: str
    run_id: str
    state: str
    finished: bool
    letters: list[DeadLetterRow]


def run_status(session: Session, run_id: str, state: str, letter_ids: Iterable[int]) -> ReplayRunStatus:
    return ReplayRunStatus(
        dag_id=REPLAY_DAG_ID,
        run_id=run_id,
        state=state,
        finished=state in FINISHED_STATES,
        letters=queries.dead_letters(session, letter_ids),
    )
