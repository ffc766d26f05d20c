"""What the per-SKU path hands from task to task: changes, their batches, and what came of them.

They travel as XCom and are stored as a dead letter's ``payload``, so they are TypedDicts (plain
dicts at run time, JSON as they are) rather than classes that would need a serialiser; mypy still
checks every key a step reads. The offers sync's price and stock ride on the same change, so their
shapes live here too. This module imports nothing heavy: the DAG files name these types at parse time.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from typing_extensions import ReadOnly

from listings_pipeline.json_types import JsonObject

#: What an operator (or a sync) asked for; ``offer`` is the offers sync's price and stock patch.
ChangeAction = Literal["price", "quantity", "patch", "delete", "put_from_catalog", "offer"]
Operation = Literal["patchListingsItem", "putListingsItem", "deleteListingsItem"]


class ListingKey(TypedDict):
    """Which listing: the key of ``listings`` and of a dead letter."""

    seller_id: str
    marketplace_id: str
    sku: str


class OfferState(TypedDict):
    """A catalog row's offer: money as text (exact, JSON-able), days as ``YYYY-MM-DD``."""

    currency: str
    our_price: str
    sale_price: str | None
    sale_start_at: str | None
    sale_end_at: str | None
    min_price: str | None
    max_price: str | None


class StockState(TypedDict):
    """A catalog row's stock in one fulfillment channel (``DEFAULT`` is the merchant's own)."""

    fulfillment_channel_code: str
    quantity: int
    handling_time: int | None


class SkuState(TypedDict):
    """One SKU's offer and stock; ``None`` for a part the catalog does not give (or, in a change, a
    part that did not change)."""

    sku: str
    product_type: str | None
    offer: OfferState | None
    inventory: StockState | None


class Recordable(TypedDict):
    """What ``offers.record`` writes to ``offers`` / ``inventory``: a change Amazon accepted.
    Read-only, so a change that always carries both parts fits as well as one that may not."""

    sku: ReadOnly[str]
    offer: ReadOnly[NotRequired[OfferState | None]]
    inventory: ReadOnly[NotRequired[StockState | None]]


class Change(ListingKey):
    """One SKU x marketplace to send through the Listings Items API.

    ``body`` is the request body on the wire (``None`` for a delete). ``payload`` is set only by
    ``put_from_catalog`` (and the catalog sync's small change sets): the catalog's feed-shaped
    message, whose hash is the one the bulk path compares, so the next sync sees the listing as
    unchanged. ``offer`` / ``inventory`` (the offers sync only) are what ``offers.record`` writes
    once Amazon accepts the patch.
    """

    action: ChangeAction
    operation: Operation
    product_type: str | None
    preview: bool
    body: JsonObject | None
    payload: JsonObject | None
    offer: NotRequired[OfferState | None]
    inventory: NotRequired[StockState | None]


class ChangeBatch(TypedDict):
    """One mapped task's changes, and where they go."""

    spapi_conn_id: str
    config_path: str | None
    changes: list[Change]


class ChangeOutcome(TypedDict):
    """What became of one change: Amazon's codes and ids only, never the body."""

    sku: str
    marketplace_id: str
    operation: Operation
    preview: bool
    submission_id: str | None
    issue_codes: list[str]
    # accepted; valid (a preview Amazon found nothing wrong with); invalid; failed (the call itself,
    # after its retries); or another status of Amazon's, in lower case: hence not a Literal
    status: str
    error_code: NotRequired[str | None]
    dead_lettered: NotRequired[bool]


class BatchCounts(TypedDict):
    """A batch's changes by outcome (and every hotfix's totals, which add them up)."""

    changes: int
    accepted: int
    valid: int
    invalid: int
    failed: int
    dead_lettered: int
    issues: int


class BatchResult(BatchCounts):
    outcomes: list[ChangeOutcome]


class HotfixSummary(BatchCounts):
    """The hotfix run's totals, and every change that did not get through."""

    problems: list[ChangeOutcome]


class BranchSent(TypedDict):
    """A catalog branch's small change set after the Listings Items API, summed into
    ``run_summaries`` like a feed's result (``branch.SentCounts``); ``feed_id`` is always ``None``."""

    seller_id: str
    marketplace_id: str
    feed_id: None
    messages: int
    accepted: NotRequired[int]
    invalid: NotRequired[int]
    dead_lettered: NotRequired[int]
    failed: NotRequired[int]
    issues: NotRequired[int]
    warnings: NotRequired[int]  # a feed's count only; declared so the result reads as SentCounts
    retry: NotRequired[int]  # likewise


class OfferBatchResult(BatchResult):
    """An offers batch: the per-SKU counts, how many accepted changes reached ``offers`` /
    ``inventory``, and its branch (``None`` for an empty batch), so ``run_summaries`` adds it up."""

    recorded: int
    seller_id: str | None
    marketplace_id: str | None
    messages: int
    warnings: NotRequired[int]  # a feed's count only; declared so the result reads as SentCounts
    retry: NotRequired[int]  # likewise


class HotfixForm(TypedDict):
    """The hotfix form once checked: ``HotfixRequest.model_dump(mode="json")`` and the config path.

    Its keys mirror ``forms.hotfix.HotfixRequest`` (money as text, days as ``YYYY-MM-DD``); ``plan``
    reads it back through that model, so the two cannot drift apart unnoticed. ``product_types``
    is each SKU's product type: the warehouse's when it knows the SKU, else the form's.
    """

    seller_id: str
    marketplace_ids: list[str]
    skus: list[str]
    action: ChangeAction
    product_type: str | None
    product_types: dict[str, str]
    preview: bool
    price: str | None
    currency: str | None
    sale_price: str | None
    sale_start: str | None
    sale_end: str | None
    minimum_price: str | None
    maximum_price: str | None
    quantity: int | None
    handling_time: int | None
    attribute_patch: list[JsonObject] | None
    config_path: str | None
