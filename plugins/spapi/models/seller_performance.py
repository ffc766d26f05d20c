"""The two seller performance report documents, written by hand from Amazon's report schemas:

- ``GET_V2_SELLER_PERFORMANCE_REPORT``: ``schemas/reports/accountHealthReport-2020-11-18.json``
  (:class:`AccountHealthReport`);
- ``GET_SALES_AND_TRAFFIC_REPORT``: ``schemas/reports/sellerSalesAndTrafficReport.json``
  (:class:`SalesAndTrafficReport`).

A document is checked against its schema first (:mod:`spapi.report_documents`), so these models are
never stricter than the schema: what the schema requires is required here, what it leaves optional
is ``None`` when absent, and every type is the schema's (``integer`` -> ``int``, ``number`` ->
``float``, money ``Decimal`` read from the JSON text). Where the schema says nothing, neither do the
models: ``reportingDateFrom`` / ``reportingDateTo`` are "string" (Amazon writes
``2020-10-20T00:00Z``), and ``accountHealthRating.ahrStatus`` is required with no type at all (the
schema describes ``accountHealthRatingStatus`` but requires ``ahrStatus``, which Amazon's example
and its reports use), so it is any JSON value and :attr:`AccountHealthRating.rating` reads it.
Unknown fields are kept, as in every ``spapi`` response model.

Amazon's own example of the account health report does not pass its schema (it spells
``prefulfillmentCancelRate``, ``documentRequest`` and ``warningState``, and lacks two required
metrics); the tests keep it as the sample a loader must refuse.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, JsonValue, PlainSerializer

from .common import ResponseModel

GET_V2_SELLER_PERFORMANCE_REPORT = "GET_V2_SELLER_PERFORMANCE_REPORT"
GET_SALES_AND_TRAFFIC_REPORT = "GET_SALES_AND_TRAFFIC_REPORT"

Status = Literal["GOOD", "BAD", "NONE"]
TargetCondition = Literal["GREATER_THAN", "LESS_THAN", "EQUALS"]
AccountStatusValue = Literal["NORMAL", "AT_RISK", "DEACTIVATED"]
DateGranularity = Literal["DAY", "WEEK", "MONTH"]
AsinGranularity = Literal["PARENT", "CHILD", "SKU"]

#: the ten listing-level metrics of a ``performanceMetrics`` entry, all ``ListingLevelViolation``
LISTING_LEVEL_METRICS: tuple[str, ...] = (
    "listing_policy_violations",
    "product_authenticity_customer_complaints",
    "product_condition_customer_complaints",
    "product_safety_customer_complaints",
    "received_intellectual_property_complaints",
    "restricted_product_policy_violations",
    "suspected_intellectual_property_violations",
    "food_and_product_safety_issues",
    "other_policy_violations",
    "document_requests",
)


# -- account health ----------------------------------------------------------------------------


class ReportingDateRange(ResponseModel):
    """Both ends "in UTC" as Amazon writes them (``2020-11-18T23:59Z``); the schema types them as
    plain strings."""

    reporting_date_from: str
    reporting_date_to: str


class CountStatus(ResponseModel):
    count: int
    status: Status


class Target(ResponseModel):
    """What every metric has: its window, Amazon's status for it and the target to stay GOOD."""

    reporting_date_range: ReportingDateRange
    status: Status
    target_value: float
    target_condition: TargetCondition


class RateMetric(Target):
    """A metric with a rate (a fraction: 0.009 is 0.9 %, against a target such as 0.01)."""

    rate: float


class OrderDefectRate(RateMetric):
    """``OrderDefectRate``: one per fulfillment type (``mfn``: the seller ships, ``afn``: Amazon)."""

    order_count: int
    order_with_defects: CountStatus
    claims: CountStatus
    chargebacks: CountStatus
    negative_feedback: CountStatus
    fulfillment_type: str


class OrderDefectRates(ResponseModel):
    mfn: OrderDefectRate
    afn: OrderDefectRate


class InvoiceDefectRate(RateMetric):
    order_count: int
    invoice_defect: CountStatus
    missing_invoice: CountStatus
    late_invoice: CountStatus


class LateShipmentRate(RateMetric):
    order_count: int
    late_shipment_count: int


class OnTimeDeliveryRate(RateMetric):
    shipment_count_with_valid_tracking: float  # "number" in the schema
    on_time_delivery_count: int


class UnitOnTimeDeliveryRate(RateMetric):
    """Only meaningful in the US marketplace, Amazon says; the schema requires it everywhere."""

    unit_on_time_delivery_count: int
    total_unit_count: int


class ValidTrackingRate(RateMetric):
    shipment_count: int
    valid_tracking_count: int


class PreFulfillmentCancellationRate(RateMetric):
    order_count: int
    cancellation_count: int


class ListingLevelViolation(Target):
    """A count of defects whose target is usually 0 (``EQUALS``)."""

    defects_count: int


class WarningState(ResponseModel):
    warning_type: str
    status: Status


class AccountHealthRating(ResponseModel):
    reporting_date_range: ReportingDateRange
    ahr_status: JsonValue  # required by the schema, with no type
    account_health_rating_status: Literal["GREAT", "WARNED"] | None = None

    @property
    def rating(self) -> str | None:
        """The rating as text (``GREAT``, ``WARNED``): ``ahrStatus`` where it is text, else the
        described ``accountHealthRatingStatus``."""
        if isinstance(self.ahr_status, str):
            return self.ahr_status
        return self.account_health_rating_status


class PerformanceMetrics(ResponseModel):
    """One marketplace's metrics."""

    marketplace_id: str
    invoice_defect_rate: InvoiceDefectRate
    late_shipment_rate: LateShipmentRate
    order_defect_rate: OrderDefectRates
    on_time_delivery_rate: OnTimeDeliveryRate
    unit_on_time_delivery_rate: UnitOnTimeDeliveryRate
    valid_tracking_rate: ValidTrackingRate
    pre_fulfillment_cancellation_rate: PreFulfillmentCancellationRate
    warning_states: list[WarningState]
    account_health_rating: AccountHealthRating
    listing_policy_violations: ListingLevelViolation
    product_authenticity_customer_complaints: ListingLevelViolation
    product_condition_customer_complaints: ListingLevelViolation
    product_safety_customer_complaints: ListingLevelViolation
    received_intellectual_property_complaints: ListingLevelViolation
    restricted_product_policy_violations: ListingLevelViolation
    suspected_intellectual_property_violations: ListingLevelViolation
    food_and_product_safety_issues: ListingLevelViolation
    other_policy_violations: ListingLevelViolation
    document_requests: ListingLevelViolation

    def listing_level(self) -> list[tuple[str, ListingLevelViolation]]:
        """The ten listing-level metrics by their names (:data:`LISTING_LEVEL_METRICS`)."""
        return [(name, getattr(self, name)) for name in LISTING_LEVEL_METRICS]


class AccountStatus(ResponseModel):
    marketplace_id: str
    status: AccountStatusValue


class AccountHealthReport(ResponseModel):
    """``GET_V2_SELLER_PERFORMANCE_REPORT``: the account's status and metrics per marketplace."""

    account_statuses: list[AccountStatus]
    performance_metrics: list[PerformanceMetrics]


# -- sales and traffic -------------------------------------------------------------------------


#: read exactly from the JSON text, written back as a JSON number (the schema's ``number``)
JsonDecimal = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class Amount(ResponseModel):
    amount: JsonDecimal
    currency_code: str


class ReportOptions(ResponseModel):
    """Absent options mean the defaults: DAY by date, PARENT by ASIN."""

    date_granularity: DateGranularity | None = None
    asin_granularity: AsinGranularity | None = None


class ReportSpecification(ResponseModel):
    report_type: Literal["GET_SALES_AND_TRAFFIC_REPORT"]
    report_options: ReportOptions
    data_start_time: dt.date
    data_end_time: dt.date
    marketplace_ids: list[str]


class SalesByDate(ResponseModel):
    ordered_product_sales: Amount
    units_ordered: int
    total_order_items: int
    average_sales_per_order_item: Amount
    average_units_per_order_item: float
    average_selling_price: Amount
    units_refunded: int
    refund_rate: float
    claims_granted: int
    claims_amount: Amount
    shipped_product_sales: Amount
    units_shipped: int
    orders_shipped: int
    ordered_product_sales_b2b: Amount | None = Field(None, alias="orderedProductSalesB2B")
    units_ordered_b2b: int | None = Field(None, alias="unitsOrderedB2B")
    total_order_items_b2b: int | None = Field(None, alias="totalOrderItemsB2B")
    average_sales_per_order_item_b2b: Amount | None = Field(None, alias="averageSalesPerOrderItemB2B")
    average_units_per_order_item_b2b: float | None = Field(None, alias="averageUnitsPerOrderItemB2B")
    average_selling_price_b2b: Amount | None = Field(None, alias="averageSellingPriceB2B")


class TrafficByDate(ResponseModel):
    browser_page_views: int
    mobile_app_page_views: int
    page_views: int
    browser_sessions: int
    mobile_app_sessions: int
    sessions: int
    buy_box_percentage: float
    order_item_session_percentage: float
    unit_session_percentage: float
    average_offer_count: int
    average_parent_items: int
    feedback_received: int
    negative_feedback_received: int
    received_negative_feedback_rate: float
    browser_page_views_b2b: int | None = Field(None, alias="browserPageViewsB2B")
    mobile_app_page_views_b2b: int | None = Field(None, alias="mobileAppPageViewsB2B")
    page_views_b2b: int | None = Field(None, alias="pageViewsB2B")
    browser_sessions_b2b: int | None = Field(None, alias="browserSessionsB2B")
    mobile_app_sessions_b2b: int | None = Field(None, alias="mobileAppSessionsB2B")
    sessions_b2b: int | None = Field(None, alias="sessionsB2B")
    buy_box_percentage_b2b: float | None = Field(None, alias="buyBoxPercentageB2B")
    order_item_session_percentage_b2b: float | None = Field(None, alias="orderItemSessionPercentageB2B")
    unit_session_percentage_b2b: float | None = Field(None, alias="unitSessionPercentageB2B")


class SalesAndTrafficByDate(ResponseModel):
    """One period (a day, or the first day of a week or month)."""

    date: dt.date
    sales_by_date: SalesByDate
    traffic_by_date: TrafficByDate


class SalesByAsin(ResponseModel):
    units_ordered: int
    ordered_product_sales: Amount
    total_order_items: int
    units_ordered_b2b: int | None = Field(None, alias="unitsOrderedB2B")
    ordered_product_sales_b2b: Amount | None = Field(None, alias="orderedProductSalesB2B")
    total_order_items_b2b: int | None = Field(None, alias="totalOrderItemsB2B")


class TrafficByAsin(ResponseModel):
    browser_sessions: int
    mobile_app_sessions: int
    sessions: int
    browser_session_percentage: float
    mobile_app_session_percentage: float
    session_percentage: float
    browser_page_views: int
    mobile_app_page_views: int
    page_views: int
    browser_page_views_percentage: float
    mobile_app_page_views_percentage: float
    page_views_percentage: float
    buy_box_percentage: float
    unit_session_percentage: float
    browser_sessions_b2b: int | None = Field(None, alias="browserSessionsB2B")
    mobile_app_sessions_b2b: int | None = Field(None, alias="mobileAppSessionsB2B")
    sessions_b2b: int | None = Field(None, alias="sessionsB2B")
    browser_session_percentage_b2b: float | None = Field(None, alias="browserSessionPercentageB2B")
    mobile_app_session_percentage_b2b: float | None = Field(None, alias="mobileAppSessionPercentageB2B")
    session_percentage_b2b: float | None = Field(None, alias="sessionPercentageB2B")
    browser_page_views_b2b: int | None = Field(None, alias="browserPageViewsB2B")
    mobile_app_page_views_b2b: int | None = Field(None, alias="mobileAppPageViewsB2B")
    page_views_b2b: int | None = Field(None, alias="pageViewsB2B")
    browser_page_views_percentage_b2b: float | None = Field(None, alias="browserPageViewsPercentageB2B")
    mobile_app_page_views_percentage_b2b: float | None = Field(None, alias="mobileAppPageViewsPercentageB2B")
    page_views_percentage_b2b: float | None = Field(None, alias="pageViewsPercentageB2B")
    buy_box_percentage_b2b: float | None = Field(None, alias="buyBoxPercentageB2B")
    unit_session_percentage_b2b: float | None = Field(None, alias="unitSessionPercentageB2B")


class SalesAndTrafficByAsin(ResponseModel):
    """Figures over the whole report range for a parent ASIN, a child ASIN (``CHILD``) or a SKU
    (``SKU``: all three identifiers)."""

    parent_asin: str
    child_asin: str | None = None
    sku: str | None = None
    sales_by_asin: SalesByAsin
    traffic_by_asin: TrafficByAsin


class SalesAndTrafficReport(ResponseModel):
    """``GET_SALES_AND_TRAFFIC_REPORT``: one marketplace's sales and traffic by period and by ASIN."""

    report_specification: ReportSpecification
    sales_and_traffic_by_date: list[SalesAndTrafficByDate]
    sales_and_traffic_by_asin: list[SalesAndTrafficByAsin]
