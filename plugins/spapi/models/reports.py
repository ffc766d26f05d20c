"""Reports API 2021-06-30 models and the ``GET_MERCHANT_LISTINGS_ALL_DATA`` row.

Source of truth for the API shapes: ``models/reports-api-model/reports_2021-06-30.json``. Lenient
response enums (``Report.processing_status``, ``ReportDocument.compression_algorithm``) accept
unknown strings, like the Feeds models.

The merchant listings report is a flat file, not JSON, and no vendored file describes it: see
:class:`MerchantListingRow` for where its columns come from.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from decimal import Decimal
from email.message import Message
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from .common import PROCESSING_STATUSES as PROCESSING_STATUSES
from .common import TERMINAL_STATUSES as TERMINAL_STATUSES
from .common import DateTime, ProcessingState, ProcessingStatus, RequestModel, ResponseModel

GET_MERCHANT_LISTINGS_ALL_DATA = "GET_MERCHANT_LISTINGS_ALL_DATA"
MAX_CREATE_REPORT_MARKETPLACES = 25


class CreateReportSpecification(RequestModel):
    """Body of ``createReport``. Both data times default to now at Amazon and must not be later
    than now; not every report type reads them (the listings report does not)."""

    report_type: str = Field(min_length=1)
    marketplace_ids: list[str] = Field(min_length=1, max_length=MAX_CREATE_REPORT_MARKETPLACES)
    report_options: dict[str, str] | None = None
    data_start_time: DateTime | None = None
    data_end_time: DateTime | None = None


class CreateReportResponse(ResponseModel):
    """``reportId`` is unique only together with the seller."""

    report_id: str


class Report(ResponseModel, ProcessingState):
    """``getReport`` response. ``report_document_id`` is there once the report is DONE (and
    sometimes when FATAL: the document then says why). :attr:`is_terminal` (DONE, CANCELLED or
    FATAL: polling can stop) and :meth:`processing_times` as for a feed."""

    report_id: str
    report_type: str
    created_time: DateTime
    processing_status: ProcessingStatus | str
    marketplace_ids: list[str] | None = None
    data_start_time: DateTime | None = None
    data_end_time: DateTime | None = None
    report_schedule_id: str | None = None
    processing_start_time: DateTime | None = None
    processing_end_time: DateTime | None = None
    report_document_id: str | None = None


class GetReportsResponse(ResponseModel):
    """``getReports`` response. Pass ``next_token`` back as the *only* parameter for the next page."""

    reports: list[Report]
    next_token: str | None = None


class ReportDocument(ResponseModel):
    """``getReportDocument`` response. The URL expires after 5 minutes."""

    report_document_id: str
    url: str
    compression_algorithm: Literal["GZIP"] | str | None = None


@dataclass(frozen=True)
class ReportContent:
    """A downloaded report document, decompressed, with the ``Content-Type`` it was served with.

    Amazon writes flat-file reports in UTF-8 for some marketplaces and in a code page (Cp1252,
    latin-1) for others, and names it in the ``charset`` of the download's ``Content-Type``; its
    own download sample reads it from there and falls back to UTF-8. So does :meth:`text`.
    """

    data: bytes
    content_type: str | None = None

    @property
    def charset(self) -> str:
        if not self.content_type:
            return "utf-8"
        header = Message()
        header["content-type"] = self.content_type
        return str(header.get_param("charset") or "utf-8")

    def text(self) -> str:
        """The document as text; a byte order mark is dropped. Raises ``ValueError`` for a charset
        Python does not know, rather than guessing and garbling every name in the report."""
        try:
            codec = codecs.lookup(self.charset).name
        except LookupError:
            raise ValueError(f"the report's charset {self.charset!r} is not one Python can decode") from None
        return self.data.decode("utf-8-sig" if codec == "utf-8" else codec)


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class MerchantListingRow(ResponseModel):
    """One line of ``GET_MERCHANT_LISTINGS_ALL_DATA`` ("All Listings Report"), by column name.

    No file in ``include/spapi-models`` describes flat-file reports. The columns are the ones
    issue 15 names for this report (the active listings report's 28 columns plus ``status``), the
    same header client libraries in the wild parse. Amazon varies the columns by marketplace, so
    only ``seller-sku`` is required, every other column may be absent or empty (``None``), and a
    column not listed here is kept as an extra field under its own name.
    """

    model_config = ConfigDict(alias_generator=lambda name: name.replace("_", "-"), extra="allow")

    seller_sku: str = Field(min_length=1)
    item_name: str | None = None
    item_description: str | None = None
    listing_id: str | None = None
    price: Decimal | None = None
    quantity: int | None = None
    open_date: str | None = None
    image_url: str | None = None
    item_is_marketplace: str | None = None
    product_id_type: str | None = None
    zshop_shipping_fee: str | None = None
    item_note: str | None = None
    item_condition: str | None = None
    zshop_category1: str | None = None
    zshop_browse_path: str | None = None
    zshop_storefront_feature: str | None = None
    asin1: str | None = None
    asin2: str | None = None
    asin3: str | None = None
    will_ship_internationally: str | None = None
    expedited_shipping: str | None = None
    zshop_boldface: str | None = None
    product_id: str | None = None
    bid_for_featured_placement: str | None = None
    add_delete: str | None = None
    pending_quantity: int | None = None
    fulfillment_channel: str | None = None
    merchant_shipping_group: str | None = None
    status: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        """An empty cell means "nothing here", not an empty name or a price that fails to parse."""
        return _blank_is_none(value)

    @field_validator("price", mode="before")
    @classmethod
    def _decimal_comma(cls, value: object) -> object:
        """Some marketplaces write ``12,99``: a comma with no point is the decimal separator."""
        if isinstance(value, str) and "," in value and "." not in value:
            return value.replace(",", ".")
        return value

    @property
    def is_active(self) -> bool:
        return (self.status or "").casefold() == "active"
