"""Listings Items API 2021-08-01 models.

Source of truth: ``models/listings-items-api-model/listingsItems_2021-08-01.json`` (definitions of
the same names). Response enums (``Issue.severity``, ``ListingsItemSubmissionResponse.status``,
``ItemSummaryByMarketplace.status`` ...) are lenient: the known values are listed in the type, but
an unknown string still parses. Request enums (``op``, ``requirements``) are strict.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from .common import DateTime, RequestModel, ResponseModel

IssueSeverity = Literal["ERROR", "WARNING", "INFO"]
SubmissionStatus = Literal["ACCEPTED", "INVALID", "VALID"]
Requirements = Literal["LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"]
PatchOp = Literal["add", "replace", "merge", "delete"]
ListingStatus = Literal["BUYABLE", "DISCOVERABLE"]

# ``includedData`` values: get/search (and the feed header ``report``), and put/patch.
ItemIncludedData = Literal[
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
]
SubmissionIncludedData = Literal["identifiers", "issues"]
ITEM_INCLUDED_DATA: tuple[str, ...] = get_args(ItemIncludedData)
SUBMISSION_INCLUDED_DATA: tuple[str, ...] = get_args(SubmissionIncludedData)

#: Attribute values are always an array of objects, even for a single value
#: (``[{"value": "...", "marketplace_id": "...", "language_tag": "..."}]``).
AttributeValues = list[dict[str, Any]]
Attributes = dict[str, AttributeValues]

#: Only top-level attributes can be patched.
PATCH_PATH_PATTERN = r"^/attributes/[^/]+$"


# --- issues -----------------------------------------------------------------------------------------


class IssueEnforcementAction(ResponseModel):
    """``action`` examples: LISTING_SUPPRESSED, ATTRIBUTE_SUPPRESSED, CATALOG_ITEM_REMOVED,
    SEARCH_SUPPRESSED (an open set; not an enum in the model)."""

    action: str


class IssueExemption(ResponseModel):
    """``status``: EXEMPT | EXEMPT_UNTIL_EXPIRY_DATE | NOT_EXEMPT (lenient)."""

    status: Literal["EXEMPT", "EXEMPT_UNTIL_EXPIRY_DATE", "NOT_EXEMPT"] | str
    expiry_date: DateTime | None = None


class IssueEnforcements(ResponseModel):
    actions: list[IssueEnforcementAction]
    exemption: IssueExemption


class Issue(ResponseModel):
    """An issue with a listings item (Listings Items API shape).

    Note the field is ``attributeNames`` (plural, an array) here, while the feed processing report
    uses a singular ``attributeName`` (see :class:`~spapi.models.feeds.ProcessingReportIssue`).
    ``severity`` is lenient (ERROR | WARNING | INFO or anything Amazon adds); ``categories`` is an
    open list of strings (INVALID_ATTRIBUTE, MISSING_ATTRIBUTE, INVALID_IMAGE, ...).
    """

    code: str
    message: str
    severity: IssueSeverity | str
    categories: list[str]
    attribute_names: list[str] | None = None
    enforcements: IssueEnforcements | None = None
    marketplace_ids: list[str] | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "ERROR"


# --- item -------------------------------------------------------------------------------------------


class ItemImage(ResponseModel):
    link: str
    height: int
    width: int


class ItemSummaryByMarketplace(ResponseModel):
    """``conditionType`` and ``status`` entries are lenient (Amazon enums that may grow)."""

    marketplace_id: str
    product_type: str
    status: list[ListingStatus | str]
    created_date: DateTime
    last_updated_date: DateTime
    asin: str | None = None
    condition_type: str | None = None
    fn_sku: str | None = None
    item_name: str | None = None
    main_image: ItemImage | None = None


#: Convenience alias: one entry of ``Item.summaries``.
ItemSummary = ItemSummaryByMarketplace


class Money(ResponseModel):
    """``amount`` is a decimal string on the wire; kept as :class:`~decimal.Decimal` (no float loss)."""

    currency_code: str
    amount: Decimal


class Points(ResponseModel):
    points_number: int


class Audience(ResponseModel):
    value: str | None = None
    display_name: str | None = None


class ItemOfferByMarketplace(ResponseModel):
    """``offerType``: B2C | B2B (lenient)."""

    marketplace_id: str
    offer_type: Literal["B2C", "B2B"] | str
    price: Money
    points: Points | None = None
    audience: Audience | None = None


class ItemProcurement(ResponseModel):
    cost_price: Money


class FulfillmentAvailability(ResponseModel):
    fulfillment_channel_code: str
    quantity: int | None = None


class ItemVariationTheme(ResponseModel):
    attributes: list[str]
    theme: str


class ItemRelationship(ResponseModel):
    """``type``: VARIATION | PACKAGE_HIERARCHY (lenient)."""

    type: Literal["VARIATION", "PACKAGE_HIERARCHY"] | str
    child_skus: list[str] | None = None
    parent_skus: list[str] | None = None
    variation_theme: ItemVariationTheme | None = None


class ItemRelationshipsByMarketplace(ResponseModel):
    marketplace_id: str
    relationships: list[ItemRelationship]


class ItemProductTypeByMarketplace(ResponseModel):
    marketplace_id: str
    product_type: str


class Item(ResponseModel):
    """A listings item (``getListingsItem``; also ``searchListingsItems.items`` and the feed report).

    Only the data sets asked for with ``includedData`` are present; the rest stay ``None``.
    ``attributes`` is left as Amazon's free-form JSON (its shape is the product-type schema).
    """

    sku: str
    summaries: list[ItemSummaryByMarketplace] | None = None
    attributes: dict[str, Any] | None = None
    issues: list[Issue] | None = None
    offers: list[ItemOfferByMarketplace] | None = None
    fulfillment_availability: list[FulfillmentAvailability] | None = None
    procurement: list[ItemProcurement] | None = None
    relationships: list[ItemRelationshipsByMarketplace] | None = None
    product_types: list[ItemProductTypeByMarketplace] | None = None


class Pagination(ResponseModel):
    """Pass ``next_token`` / ``previous_token`` back as ``pageToken``."""

    next_token: str | None = None
    previous_token: str | None = None


class ItemSearchResults(ResponseModel):
    """``searchListingsItems`` response. At most 1000 SKUs can be paged through."""

    number_of_results: int
    items: list[Item]
    pagination: Pagination | None = None

    @property
    def next_token(self) -> str | None:
        return self.pagination.next_token if self.pagination else None


# --- submissions (put / patch / delete) -------------------------------------------------------------


class ItemIdentifiersByMarketplace(ResponseModel):
    marketplace_id: str | None = None
    asin: str | None = None


class ListingsItemSubmissionResponse(ResponseModel):
    """Response of put, patch and delete.

    Amazon answers HTTP 200 even when it rejects the submission: the verdict is ``status``.
    ``ACCEPTED`` means queued (not live), ``INVALID`` means rejected with ``issues``, ``VALID``
    appears only with ``mode=VALIDATION_PREVIEW``. ``status`` is lenient (unknown values parse,
    and are neither :attr:`accepted` nor :attr:`is_valid`).
    """

    sku: str
    status: SubmissionStatus | str
    submission_id: str
    issues: list[Issue] | None = None
    identifiers: list[ItemIdentifiersByMarketplace] | None = None

    @property
    def accepted(self) -> bool:
        """Amazon queued the submission (``ACCEPTED``). Not the same as live."""
        return self.status == "ACCEPTED"

    @property
    def is_valid(self) -> bool:
        """A ``VALIDATION_PREVIEW`` found nothing blocking (``VALID``)."""
        return self.status == "VALID"

    @property
    def is_invalid(self) -> bool:
        """Amazon rejected the submission (``INVALID``); see :attr:`errors`."""
        return self.status == "INVALID"

    @property
    def errors(self) -> list[Issue]:
        """Issues with severity ERROR."""
        return [i for i in self.issues or () if i.severity == "ERROR"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues or () if i.severity == "WARNING"]


# --- requests ---------------------------------------------------------------------------------------


class PatchOperation(RequestModel):
    """One JSON Patch operation (``patchListingsItem`` and feed ``PATCH`` messages).

    * ``op`` is add | replace | merge | delete (there is no ``remove``).
    * ``path`` must be a top-level attribute, ``/attributes/<name>``.
    * ``value`` is always an array of objects. Amazon's model marks only ``op`` and ``path``
      required; we additionally require ``value`` for add, replace and merge (RFC 6902 requires it
      for add/replace, and an empty merge means nothing). ``delete`` may omit it, or carry selector
      objects (e.g. ``[{"marketplace_id": ...}]``) to delete matching values only.
    """

    op: PatchOp
    path: str = Field(pattern=PATCH_PATH_PATTERN)
    value: AttributeValues | None = None

    @model_validator(mode="after")
    def _value_required(self) -> PatchOperation:
        if self.value is None and self.op != "delete":
            raise ValueError(f"patch op {self.op!r} on {self.path!r} needs a 'value' (array of objects)")
        return self

    @property
    def attribute(self) -> str:
        return self.path.removeprefix("/attributes/")


class ListingsItemPutRequest(RequestModel):
    """Body of ``putListingsItem`` (full replace). ``productType`` and ``attributes`` required."""

    product_type: str = Field(min_length=1)
    attributes: Attributes
    requirements: Requirements | None = None


class ListingsItemPatchRequest(RequestModel):
    """Body of ``patchListingsItem``: ``productType`` is required as well as >= 1 patch."""

    product_type: str = Field(min_length=1)
    patches: list[PatchOperation] = Field(min_length=1)
