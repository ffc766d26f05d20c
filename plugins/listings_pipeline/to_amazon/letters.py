"""What a dead-letter replay hands from task to task: the letters picked, the batches of their ids,
and what came of each letter.

They travel as XCom, so they are TypedDicts (plain dicts, JSON as they are); mypy still checks every
key a step reads. Ids, SKUs, codes and outcomes only: never a letter's payload, never a secret. This
module imports nothing heavy: the DAG file and the status page name these types.
"""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict  # pydantic (the status page's PlannedRun) needs this one on 3.11

LetterOutcome = Literal[
    "resolved", "failed_again", "pending", "requeued", "discarded", "skipped", "would_replay"
]


class ReplayForm(TypedDict):
    """The ``dead_letter_replay`` form as the status page fills it in (SKUs and codes as the
    multiline text the form's fields take)."""

    seller_id: str
    skus: str
    codes: str | None
    states: list[str]
    action: str
    dry_run: bool
    note: str
    limit: int


class ReplayRequestJson(TypedDict):
    """``replay.ReplayRequest.model_dump(mode="json")``: each batch carries it, and the replay step
    reads it back through that model."""

    seller_id: str | None
    codes: list[str]
    skus: list[str]
    created_after: str | None
    created_before: str | None
    states: list[str]
    action: str
    note: str | None
    limit: int


class LetterView(TypedDict):
    """A dead letter for XCom and logs (no payload: it can be large)."""

    id: int
    seller_id: str
    marketplace_id: str
    sku: str
    path: str
    operation: str
    code: str | None
    state: str
    attempts: int
    created_at: str | None


class ReplayBatch(TypedDict):
    """One mapped replay task: which letters, and what to do with them."""

    request: ReplayRequestJson
    config_path: str | None
    dry_run: bool
    letter_ids: list[int]


class Selection(TypedDict):
    """The select step: the request checked, the letters it picks, and their batches."""

    request: ReplayRequestJson
    config_path: str | None
    dry_run: bool
    selected: int
    letters: list[LetterView]
    batches: list[ReplayBatch]


class LetterResult(TypedDict):
    """What one letter became, with why when it is not the plain outcome."""

    id: int
    seller_id: str
    marketplace_id: str
    sku: str
    path: str
    code: str | None
    outcome: LetterOutcome
    detail: str | None
    attempts: int


class OutcomeCounts(TypedDict):
    letters: int
    resolved: int
    failed_again: int
    pending: int
    requeued: int
    discarded: int
    skipped: int
    would_replay: int


class ReplayResult(OutcomeCounts):
    """One batch's counts per outcome, and each letter's result."""

    results: list[LetterResult]


class ReplaySummary(ReplayResult):
    """The run's counts per outcome, a sentence for the operator, and every letter's result."""

    message: str
