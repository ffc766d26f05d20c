"""What one seller x marketplace branch of a run carries from task to task (through XCom).

Each step adds what it learned and hands the branch on; the typed keys let mypy catch a step that
reads a key no earlier step writes. Only small things travel here (counts, ids, paths): rows,
messages and documents stay in the branch's run files (``run_files.BranchPaths``).
"""

from __future__ import annotations

from typing import Literal, NotRequired, Required, TypedDict

from typing_extensions import ReadOnly

from listings_pipeline.changes import ChangeBatch
from listings_pipeline.json_types import JsonObject
from listings_pipeline.routing import Route

PlanKind = Literal["new", "changed", "retry", "unchanged", "skipped", "deleted"]


class PlanCounts(TypedDict):
    """What plan did with each message (``skipped``: with a reason) and how many DELETEs it added."""

    new: int
    changed: int
    retry: int
    unchanged: int
    skipped: int
    deleted: int


class Target(TypedDict):
    """One seller and marketplace of the pipeline config, with the connection that reaches it."""

    seller_id: str
    marketplace_id: str
    spapi_conn_id: str
    region: str


class Branch(Target, total=False):
    """One seller and marketplace of one run; the keys each step adds are grouped by step."""

    # targets
    config_path: Required[str | None]
    claims_defects: bool  # this branch quarantines its catalog's rows that belong to no branch
    confirm_deletes: bool  # an operator confirmed deletions above the guard (manual runs only)
    only_skus: list[str]  # a manual run narrowed to these SKUs: nothing else is sent or deleted
    # extract
    run_id: str
    snapshot: JsonObject  # extract.Snapshot as JSON (the catalog package's own record)
    extracted: int  # rows of this branch, readable or not
    quarantined: int  # rows quarantined so far, by every step
    extract_rules: dict[str, int]  # the extract's quarantined rows by rule
    # validate
    catalog_rows: int
    unchanged_rows: int  # not validated or mapped again: unchanged since Amazon accepted them
    data_docs: str | None
    rule_counts: dict[str, int]
    # map_messages
    messages: int
    # settle
    reconciled_feeds: list[str]
    held: int
    # plan
    planned: int
    plan_counts: PlanCounts
    skipped_reasons: dict[str, int]
    deletes_withheld: dict[str, int]
    route: Route
    # the offers sync's plan
    skipped: int
    unchanged: int
    changed: int
    fba_left_to_amazon: int  # catalog rows whose stock is FBA: Amazon's, not sent nor recorded
    batches: list[ChangeBatch]


class Chunk(TypedDict):
    """Rows ``first_row`` .. ``first_row + rows`` of a branch's snapshot: what one task validates and
    maps (``catalog.chunks``), on whichever worker takes it. ``branch`` carries what ``split`` learned."""

    branch: Branch
    index: int
    of: int
    first_row: int
    rows: int


class ChunkDone(TypedDict):
    """What one chunk's task did: its rows, those checked (not unchanged), those failing a rule,
    the messages it wrote and the rows the schema check rejected."""

    index: int
    rows: int
    checked: int
    failing: int
    messages: int
    rejected: int


class SentCounts(TypedDict):
    """What ``summaries.tally`` reads from a branch's results: a feed's parse, a per-SKU batch, a
    small change set. Read-only, so each result type may carry more, fix ``seller_id`` to a ``str``,
    or leave out a count it never has (tally reads a missing one as 0)."""

    seller_id: ReadOnly[str | None]
    marketplace_id: ReadOnly[str | None]
    messages: ReadOnly[int]
    accepted: ReadOnly[NotRequired[int]]
    invalid: ReadOnly[NotRequired[int]]
    warnings: ReadOnly[NotRequired[int]]
    dead_lettered: ReadOnly[NotRequired[int]]
    retry: ReadOnly[NotRequired[int]]
