"""What a ``drift_resolve`` run hands from task to task: the typed result of :mod:`drift_actions`.

Apart from the actions themselves so that the DAG file can name these types at import time (a
TaskFlow task's return type is read when the DAG is parsed) without loading SQLAlchemy and the
warehouse's lifecycle, which the actions need and the parser does not.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from listings_pipeline.forms.drift import DriftAction
from listings_pipeline.to_amazon.resubmit import FeedSyncConf

SkuOutcome = Literal["resubmitted", "accepted", "skipped"]


class SkuResult(TypedDict):
    """What became of one SKU's open drift (its kinds), with the reason when skipped."""

    sku: str
    kinds: list[str]
    outcome: SkuOutcome
    detail: str | None


class DriftResolution(TypedDict):
    """The run's result: the XCom of ``resolve`` and what ``outcome`` judges."""

    seller_id: str
    marketplace_id: str
    action: DriftAction
    results: list[SkuResult]
    resubmitted: int
    accepted: int
    skipped: int
    feed_syncs: list[FeedSyncConf]
