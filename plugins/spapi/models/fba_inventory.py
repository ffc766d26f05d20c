"""FBA Inventory API v1 models (``getInventorySummaries``).

Source of truth: ``models/fba-inventory-api-model/fbaInventory.json`` (definitions of the same
names). Amazon marks almost nothing required there, so every figure is optional: a summary read
without ``details=true`` has no :class:`InventoryDetails`, and a breakdown Amazon leaves out is
``None``, not 0 (the pipeline decides what a missing figure means). ``ResearchingQuantityEntry.name``
is lenient like every response enum here.
"""

from __future__ import annotations

from typing import Literal

from .common import DateTime, ResponseModel

GranularityType = Literal["Marketplace"]
ResearchingTerm = Literal[
    "researchingQuantityInShortTerm",
    "researchingQuantityInMidTerm",
    "researchingQuantityInLongTerm",
]


class Granularity(ResponseModel):
    """The aggregation level; with ``Marketplace`` the id is the marketplace id."""

    granularity_type: GranularityType | str | None = None
    granularity_id: str | None = None


class ReservedQuantity(ResponseModel):
    """Units being picked, packed and shipped, moved between fulfillment centers, or sidelined."""

    total_reserved_quantity: int | None = None
    pending_customer_order_quantity: int | None = None
    pending_transshipment_quantity: int | None = None
    fc_processing_quantity: int | None = None


class ResearchingQuantityEntry(ResponseModel):
    name: ResearchingTerm | str
    quantity: int


class ResearchingQuantity(ResponseModel):
    """Misplaced or warehouse-damaged units Amazon is still confirming."""

    total_researching_quantity: int | None = None
    researching_quantity_breakdown: list[ResearchingQuantityEntry] | None = None


class UnfulfillableQuantity(ResponseModel):
    """Units in unsellable condition, by disposition."""

    total_unfulfillable_quantity: int | None = None
    customer_damaged_quantity: int | None = None
    warehouse_damaged_quantity: int | None = None
    distributor_damaged_quantity: int | None = None
    carrier_damaged_quantity: int | None = None
    defective_quantity: int | None = None
    expired_quantity: int | None = None


class InventoryDetails(ResponseModel):
    """Present only when the request asked for ``details=true``."""

    fulfillable_quantity: int | None = None
    inbound_working_quantity: int | None = None
    inbound_shipped_quantity: int | None = None
    inbound_receiving_quantity: int | None = None
    reserved_quantity: ReservedQuantity | None = None
    researching_quantity: ResearchingQuantity | None = None
    unfulfillable_quantity: UnfulfillableQuantity | None = None

    @property
    def inbound_quantity(self) -> int | None:
        """Working, shipped and receiving together (what is on its way), ``None`` if Amazon gave none."""
        parts = (
            self.inbound_working_quantity,
            self.inbound_shipped_quantity,
            self.inbound_receiving_quantity,
        )
        known = [p for p in parts if p is not None]
        return sum(known) if known else None


class InventorySummary(ResponseModel):
    """One SKU's stock in Amazon's fulfillment network."""

    asin: str | None = None
    fn_sku: str | None = None
    seller_sku: str | None = None
    condition: str | None = None
    inventory_details: InventoryDetails | None = None
    last_updated_time: DateTime | None = None
    product_name: str | None = None
    total_quantity: int | None = None
    stores: list[str] | None = None


class GetInventorySummariesResult(ResponseModel):
    granularity: Granularity
    inventory_summaries: list[InventorySummary]


class Pagination(ResponseModel):
    next_token: str | None = None


class FbaInventoryError(ResponseModel):
    """The model's ``Error``: only ``code`` is required (unlike the Listings and Feeds APIs')."""

    code: str
    message: str | None = None
    details: str | None = None


class GetInventorySummariesResponse(ResponseModel):
    """``getInventorySummaries``. Amazon wraps the result in ``payload`` (a v0-style envelope)."""

    payload: GetInventorySummariesResult | None = None
    pagination: Pagination | None = None
    errors: list[FbaInventoryError] | None = None

    @property
    def summaries(self) -> list[InventorySummary]:
        return self.payload.inventory_summaries if self.payload is not None else []

    @property
    def next_token(self) -> str | None:
        return self.pagination.next_token if self.pagination is not None else None
