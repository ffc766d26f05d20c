"""What a finished run hands its ``outcome`` task: the totals of ``run_summaries`` and the offers
sync's summary.

Why a module of their own: ``outcome`` reads these types, and ``summaries`` and ``offers`` use
``outcome``'s rule to record whether a branch needs attention; with the types where they are
produced, each would import the other.
"""

from __future__ import annotations

from typing import NotRequired, TypeAlias, TypedDict

from listings_pipeline.routing import Route

#: The run's totals per ``run_summaries`` column, its ``run_id`` and its ``branches``: the Asset
#: event's ``extra``, whose count columns are whatever the rows carried.
RunTotals: TypeAlias = dict[str, int | str]


class OffersSummary(TypedDict):
    """The offers sync's totals for its log and XCom, with ``run_summaries``' totals once written."""

    branches: int
    changed: int
    fba_left_to_amazon: int
    skipped: int
    routes: dict[str, Route]
    api_accepted: int
    api_dead_lettered: int
    feed_accepted: int
    feed_invalid: int
    recorded: int
    run_summaries: NotRequired[RunTotals]
