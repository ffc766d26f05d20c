"""The warehouse schema as typed SQLAlchemy 2 ORM models (docs/architecture.md, "The warehouse").

One :class:`Base`, one :class:`~sqlalchemy.MetaData` with a naming convention (so Alembic sees
stable constraint names) and a ``type_annotation_map``: ``datetime`` is a timezone-aware timestamp
(stored and returned in UTC on every backend, see :class:`UTCDateTime`), ``dict[str, Any]`` and
``list[...]`` are JSON (JSONB on PostgreSQL). Nullability comes from the annotation
(``Mapped[str | None]``).

Tables, grouped by job:

- reference: :class:`Seller`, :class:`Marketplace`;
- current state: :class:`Listing` (+ :class:`ListingPayload`, the payload it last planned;
  :class:`ListingEvent`, every lifecycle transition),
  :class:`Offer`, :class:`Inventory` (+ :class:`FbaStockRead`, :class:`FbaStockChange`: FBA stock read
  from Amazon; :class:`DriftCheck`, :class:`ListingDrift`: where Amazon's listings report and the
  warehouse disagree); :class:`SellerReportLoad`, :class:`AccountHealth`, :class:`AccountHealthMetric`,
  :class:`SalesTrafficDay`, :class:`SalesTrafficAsin`: Amazon's seller performance reports);
- bulk path: :class:`PublishAttempt` (the ledger), :class:`FeedSubmission`, :class:`MessageResult`;
- problems: :class:`ListingIssue` (validation, feeds, Listings API, notifications), :class:`Quarantine`,
  :class:`DeadLetter` (+ :class:`DeadLetterEvent`);
- observability: :class:`ApiCall` (mirrors ``spapi.client.CallRecord``), :class:`RunSummary`.

No table holds a secret: no tokens, passwords or keys, only ids and the name of the Airflow
connection that holds them.

The state columns are plain strings with a CHECK constraint; the allowed values are the
``StrEnum`` classes below, and :mod:`listings_pipeline.warehouse.lifecycle` and
:mod:`listings_pipeline.warehouse.ledger` own the transitions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always stores and returns UTC.

    PostgreSQL keeps the instant (``timestamptz``) but answers in the session's time zone; SQLite
    has no time zone at all and would hand back naive values. Here a naive value is taken as UTC
    on the way in, and every value comes back aware, in UTC, on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite stores text: keep it naive so every row has the same format (and sorts by time).
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_type() -> TypeEngine[Any]:
    """JSON, JSONB on PostgreSQL; Python ``None`` is SQL NULL, not the JSON ``null``."""
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _empty_list() -> list[Any]:
    return []


# Big surrogate keys for the tables that grow with every run (events, issues, calls). SQLite only
# auto-increments an ``INTEGER PRIMARY KEY``, hence the variant.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

intpk = Annotated[int, mapped_column(primary_key=True)]
bigintpk = Annotated[int, mapped_column(BigIntId, primary_key=True)]
created_at = Annotated[datetime, mapped_column(server_default=func.now())]
updated_at = Annotated[datetime, mapped_column(server_default=func.now(), onupdate=func.now())]
SellerId = Annotated[str, mapped_column(String(64))]
MarketplaceId = Annotated[str, mapped_column(String(32))]
Sku = Annotated[str, mapped_column(String(255))]
RunId = Annotated[str, mapped_column(String(250))]  # Airflow's run_id is at most 250 characters
Sha256 = Annotated[str, mapped_column(String(64))]
FeedId = Annotated[str, mapped_column(String(64))]
Code = Annotated[str, mapped_column(String(100))]
Money = Annotated[Decimal, mapped_column(Numeric(14, 2))]
Count = Annotated[int, mapped_column(server_default="0")]


def _one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: json_type(),
        list[Any]: json_type(),
        list[str]: json_type(),
    }


# --- states -------------------------------------------------------------------------------------------


class ListingStatus(StrEnum):
    """A listing's lifecycle (docs/architecture.md, "Listing lifecycle"); transitions live in ``lifecycle.py``."""

    DRAFT = "draft"
    QUARANTINED = "quarantined"
    READY = "ready"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    INVALID = "invalid"
    DEAD_LETTERED = "dead_lettered"
    LIVE = "live"
    DELETED = "deleted"


class AttemptState(StrEnum):
    """A publish attempt in the ledger; transitions live in ``ledger.py``."""

    RECORDED = "recorded"
    DOCUMENT_CREATED = "document_created"
    UPLOADED = "uploaded"
    FEED_CREATED = "feed_created"
    DONE = "done"
    FATAL = "fatal"
    CANCELLED = "cancelled"
    FAILED = "failed"


class MessageStatus(StrEnum):
    """A message's outcome in its processing report; ``unprocessed`` means the report could not
    settle it (a feed-level error, or nothing processed), so it goes round again."""

    ACCEPTED = "accepted"
    INVALID = "invalid"
    WARNING = "warning"
    UNPROCESSED = "unprocessed"


class IssueSource(StrEnum):
    VALIDATION = "validation"
    FEED = "feed"
    LISTINGS_API = "listings_api"
    NOTIFICATION = "notification"


class PublishPath(StrEnum):
    FEED = "feed"
    LISTINGS_API = "listings_api"


class DeadLetterState(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    RESOLVED = "resolved"
    DISCARDED = "discarded"


#: A letter not finished with yet: a listing has at most one (``uq_dead_letters_unfinished``).
UNFINISHED_LETTER_STATES = (DeadLetterState.OPEN, DeadLetterState.REPLAYED)
#: The partial index's predicate, as SQL both backends take (and ``ON CONFLICT ... WHERE`` repeats).
UNFINISHED_LETTER = "state IN ({})".format(", ".join(f"'{s.value}'" for s in UNFINISHED_LETTER_STATES))
#: The listings in flight, the only ones looked up by status (``ix_listings_submitted``).
SUBMITTED_LISTING = f"status = '{ListingStatus.SUBMITTED.value}'"


class RunStatus(StrEnum):
    """A ``run_summaries`` row's outcome, by the rule of the run's ``outcome`` task
    (``listings_pipeline.outcome.needs_attention``): a branch in which Amazon rejected a change or
    one was dead-lettered needs attention, and a run with any such branch fails at ``outcome``."""

    SUCCESS = "success"
    NEEDS_ATTENTION = "needs_attention"


# --- reference ----------------------------------------------------------------------------------------


class Seller(Base):
    """A selling partner. ``spapi_conn_id`` names the Airflow connection holding its credentials."""

    __tablename__ = "sellers"

    seller_id: Mapped[SellerId] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(8))
    spapi_conn_id: Mapped[str | None] = mapped_column(String(250))
    created_at: Mapped[created_at]


class Marketplace(Base):
    """An Amazon marketplace; the initial migration seeds Amazon's list."""

    __tablename__ = "marketplaces"

    marketplace_id: Mapped[MarketplaceId] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(8))
    default_currency: Mapped[str | None] = mapped_column(String(3))
    default_language_tag: Mapped[str | None] = mapped_column(String(16))


# --- current state ------------------------------------------------------------------------------------


class Listing(Base):
    """Current state of one SKU in one marketplace of one seller.

    ``payload_hash`` is the hash of the canonical payload we want on Amazon, ``submitted_hash`` the
    one last sent, ``accepted_hash`` the one Amazon last accepted; the backlog is where
    ``payload_hash`` and ``accepted_hash`` differ. ``payload_changed_at`` is when ``payload_hash``
    last changed (the backlog's age). ``last_submission_id`` is ``feed:<feedId>`` or
    ``listings_api:<submissionId>``. ``source_hash`` names the catalog row (and the mappings, policy,
    schemas and code) that ``payload_hash`` was made from, so an unchanged row need not be checked
    again (``catalog.unchanged``); any other change of the payload clears it.

    ``buyable``, ``discoverable`` and ``amazon_checked_at`` are Amazon's own view as last read
    (getListingsItem's summary ``status``; ``NULL``: never read), kept apart from ``status``, which
    says what the pipeline last did: a listing being re-sent is usually still buyable meanwhile.

    The payload itself is in :class:`ListingPayload`, beside this row rather than in it.
    """

    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("seller_id", "marketplace_id", "sku"),
        _one_of("status", ListingStatus),
        # the listings in flight only (reconcile, stale feeds): a move between two other statuses
        # touches no index entry (migration 0013)
        Index(
            "ix_listings_submitted",
            "seller_id",
            "marketplace_id",
            sqlite_where=text(SUBMITTED_LISTING),
            postgresql_where=text(SUBMITTED_LISTING),
        ),
    )

    id: Mapped[intpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    sku: Mapped[Sku]
    product_type: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    payload_hash: Mapped[Sha256 | None]
    submitted_hash: Mapped[Sha256 | None]
    accepted_hash: Mapped[Sha256 | None]
    source_hash: Mapped[Sha256 | None]
    accepted_at: Mapped[datetime | None]
    payload_changed_at: Mapped[datetime | None]
    last_submission_id: Mapped[str | None] = mapped_column(String(100))
    asin: Mapped[str | None] = mapped_column(String(20))
    buyable: Mapped[bool | None]
    discoverable: Mapped[bool | None]
    amazon_checked_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    events: Mapped[list[ListingEvent]] = relationship(
        back_populates="listing", order_by="ListingEvent.id", viewonly=True
    )
    stored_payload: Mapped[ListingPayload | None] = relationship(viewonly=True)

    @property
    def payload(self) -> dict[str, Any] | None:
        """The payload last planned (``None``: none yet), read from :class:`ListingPayload`."""
        return self.stored_payload.payload if self.stored_payload is not None else None

    def __repr__(self) -> str:
        return f"Listing({self.seller_id}/{self.marketplace_id}/{self.sku}: {self.status})"


class ListingPayload(Base):
    """The canonical payload a listing last planned (its hash is ``listings.payload_hash``).

    Kept beside the listing, not in its row: a payload is a few KB, the rest of the row a few hundred
    bytes, and SQLite rewrites a whole row to change one column of it. With the payload inline, every
    status move of a million listings (plan, build, parse) rewrote a GiB or more; apart, a move writes
    only the small rows, and a payload is written only when it changes. No row: no payload yet (a
    SKU quarantined before one was built, or one whose payload was cleared).
    """

    __tablename__ = "listing_payloads"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    payload: Mapped[dict[str, Any]]


class ListingEvent(Base):
    """One lifecycle transition: from, to, when, why (``cause``) and in which Airflow run.

    ``from_status`` is NULL when the transition created the listing. ``cause`` is e.g.
    ``validation``, ``feed:<feedId>``, ``listings_api:<submissionId>``, ``notification``, ``replay``.
    ``actor`` is who triggered the run (the Airflow user; ``NULL`` for a scheduled run or when not
    known) and ``dag_id`` with ``run_id`` names the Airflow run; ``changes`` is what a price or stock
    write changed, ``{field: {"old": ..., "new": ...}}``, on the move that made it real.
    """

    __tablename__ = "listing_events"
    __table_args__ = (Index("ix_listing_events_listing_id_at", "listing_id", "at"),)

    id: Mapped[bigintpk]
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[created_at]
    cause: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[RunId | None] = mapped_column(index=True)
    actor: Mapped[str | None] = mapped_column(String(255))
    dag_id: Mapped[str | None] = mapped_column(String(250))
    changes: Mapped[dict[str, Any] | None]

    listing: Mapped[Listing] = relationship(back_populates="events")


class Offer(Base):
    """The price of a SKU in a marketplace as last written to Amazon, field by field (a write that
    leaves a field out keeps it, as Amazon's ``merge`` does), by the offers sync or a hotfix.

    ``catalog_hash`` is the catalog's offer as the offers sync last sent it: the sync compares the
    catalog with that, not with the values, so a hotfix holds until the catalog itself changes.
    """

    __tablename__ = "offers"

    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"), primary_key=True)
    marketplace_id: Mapped[MarketplaceId] = mapped_column(
        ForeignKey("marketplaces.marketplace_id"), primary_key=True
    )
    sku: Mapped[Sku] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    our_price: Mapped[Money | None]
    sale_price: Mapped[Money | None]
    sale_start_at: Mapped[datetime | None]
    sale_end_at: Mapped[datetime | None]
    min_price: Mapped[Money | None]
    max_price: Mapped[Money | None]
    catalog_hash: Mapped[Sha256 | None]
    updated_at: Mapped[updated_at]


class Inventory(Base):
    """Stock of a SKU per fulfillment channel. ``DEFAULT`` (merchant-fulfilled) is the stock last
    written to Amazon, ``catalog_hash`` as in :class:`Offer`. An Amazon channel (``AMAZON_NA``,
    ``AMAZON_EU``, ``AMAZON_FE``) is FBA stock, which is Amazon's: read from the FBA Inventory API
    (``read_at``; :mod:`listings_pipeline.from_amazon.fba_stock`), ``quantity`` being the
    fulfillable units, beside Amazon's detail figures. Rows from before migration 0007 may hold FBA
    stock as the catalog gave it (``read_at`` NULL).
    """

    __tablename__ = "inventory"

    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"), primary_key=True)
    marketplace_id: Mapped[MarketplaceId] = mapped_column(
        ForeignKey("marketplaces.marketplace_id"), primary_key=True
    )
    sku: Mapped[Sku] = mapped_column(primary_key=True)
    fulfillment_channel_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[int | None]
    handling_time: Mapped[int | None]
    catalog_hash: Mapped[Sha256 | None]
    updated_at: Mapped[updated_at]
    # FBA stock as Amazon's getInventorySummaries last gave it (details=true); NULL on merchant rows
    fulfillable_quantity: Mapped[int | None]
    inbound_working_quantity: Mapped[int | None]
    inbound_shipped_quantity: Mapped[int | None]
    inbound_receiving_quantity: Mapped[int | None]
    reserved_quantity: Mapped[int | None]
    unfulfillable_quantity: Mapped[int | None]
    researching_quantity: Mapped[int | None]
    total_quantity: Mapped[int | None]
    amazon_updated_at: Mapped[datetime | None]  # Amazon's lastUpdatedTime
    read_at: Mapped[datetime | None]  # when the FBA sync last read the row from Amazon


class FbaStockRead(Base):
    """One complete read of a seller's FBA stock in a marketplace (every page of
    getInventorySummaries). Written once the last page is recorded, so the latest row's
    ``started_at`` is where the next changes-only read starts (``startDateTime``); ``changes_since``
    is the ``startDateTime`` this read sent, NULL for a full read."""

    __tablename__ = "fba_stock_reads"
    __table_args__ = (
        Index("ix_fba_stock_reads_seller_id_started_at", "seller_id", "marketplace_id", "started_at"),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    changes_since: Mapped[datetime | None]
    pages: Mapped[Count]
    summaries: Mapped[Count]
    changed: Mapped[Count]
    run_id: Mapped[RunId | None]
    dag_id: Mapped[str | None] = mapped_column(String(250))


class FbaStockChange(Base):
    """What one read changed in one SKU's FBA stock: each changed figure's old and new value
    (``{"fulfillable_quantity": {"old": 4, "new": 0}, ...}``; ``old`` NULL the first time)."""

    __tablename__ = "fba_stock_changes"
    __table_args__ = (Index("ix_fba_stock_changes_seller_id_sku", "seller_id", "marketplace_id", "sku"),)

    id: Mapped[bigintpk]
    read_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("fba_stock_reads.id", ondelete="CASCADE"))
    seller_id: Mapped[SellerId]
    marketplace_id: Mapped[MarketplaceId]
    sku: Mapped[Sku]
    changes: Mapped[dict[str, Any]]
    amazon_updated_at: Mapped[datetime | None]


class DriftCheck(Base):
    """One reconciliation of a seller's marketplace: Amazon's ``GET_MERCHANT_LISTINGS_ALL_DATA``
    report compared with the warehouse (:mod:`listings_pipeline.from_amazon.reconcile`).
    ``report_status`` is ``DONE``, or ``CANCELLED`` when Amazon had nothing to report (read as an
    empty report); ``found`` the drift the check saw, ``opened`` the rows it added, ``gone`` the open
    rows it no longer saw."""

    __tablename__ = "drift_checks"
    __table_args__ = (
        Index("ix_drift_checks_seller_id_checked_at", "seller_id", "marketplace_id", "checked_at"),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    report_id: Mapped[str] = mapped_column(String(64))
    report_status: Mapped[str] = mapped_column(String(20))
    checked_at: Mapped[datetime]
    amazon_rows: Mapped[Count]
    our_listings: Mapped[Count]
    found: Mapped[Count]
    opened: Mapped[Count]
    gone: Mapped[Count]
    run_id: Mapped[RunId | None]
    dag_id: Mapped[str | None] = mapped_column(String(250))


class DriftState(StrEnum):
    """A drift row: ``open`` until an operator resubmits our value or accepts Amazon's, or a later
    check no longer sees it (``gone``)."""

    OPEN = "open"
    RESUBMITTED = "resubmitted"
    ACCEPTED_AMAZON = "accepted_amazon"
    GONE = "gone"


class DriftKind(StrEnum):
    """What disagrees (:mod:`listings_pipeline.from_amazon.drift`)."""

    UNKNOWN_TO_CATALOG = "unknown_to_catalog"
    MISSING_ON_AMAZON = "missing_on_amazon"
    PRICE = "price"
    QUANTITY = "quantity"
    INACTIVE = "inactive"


class ListingDrift(Base):
    """One disagreement between Amazon's listings report and the warehouse, from the check that
    first saw it (``check_id``) to the last (``last_check_id``): a later check that sees the same
    SKU, kind and values again updates the open row rather than adding one. ``ours`` and ``amazon``
    are the two values as text (money with two decimals, quantities, status words; NULL where a
    side has none). Resolving it records when, by whom (``resolved_by``: the run's user, else the
    DAG and run) and in which run."""

    __tablename__ = "listing_drift"
    __table_args__ = (
        _one_of("kind", DriftKind),
        _one_of("state", DriftState),
        Index("ix_listing_drift_seller_id_state", "seller_id", "marketplace_id", "state"),
        Index("ix_listing_drift_seller_id_sku", "seller_id", "marketplace_id", "sku"),
    )

    id: Mapped[bigintpk]
    check_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("drift_checks.id", ondelete="CASCADE"))
    last_check_id: Mapped[int] = mapped_column(BigIntId)
    seller_id: Mapped[SellerId]
    marketplace_id: Mapped[MarketplaceId]
    sku: Mapped[Sku]
    kind: Mapped[str] = mapped_column(String(32))
    field: Mapped[str] = mapped_column(String(32))
    ours: Mapped[str | None] = mapped_column(Text)
    amazon: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), server_default=DriftState.OPEN.value)
    found_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    resolved_run_id: Mapped[RunId | None]
    note: Mapped[str | None] = mapped_column(Text)


class SellerReportLoad(Base):
    """One seller performance report taken in (or not) for a seller, marketplace and day:
    ``loaded`` (its figures replaced that day's), ``refused`` (the document failed Amazon's schema
    or our model: ``reason`` says why, and the day keeps what it had) or ``cancelled`` (Amazon had
    nothing to report). Nothing Amazon sends is dropped without a row here."""

    __tablename__ = "seller_report_loads"
    __table_args__ = (
        CheckConstraint("status IN ('loaded', 'refused', 'cancelled')", name="status"),
        Index("ix_seller_report_loads_seller_id_day", "seller_id", "marketplace_id", "report_type", "day"),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    report_type: Mapped[str] = mapped_column(String(64))
    day: Mapped[date]
    report_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    row_count: Mapped[Count]
    loaded_at: Mapped[datetime]
    run_id: Mapped[RunId | None]
    dag_id: Mapped[str | None] = mapped_column(String(250))


class AccountHealth(Base):
    """Amazon's account health for a seller in a marketplace, as its report on ``report_date``
    (the day the figures run to) gave it: the account's status, the Account Health Rating and the
    warning states; the metrics are in :class:`AccountHealthMetric`."""

    __tablename__ = "account_health"
    __table_args__ = (
        UniqueConstraint("seller_id", "marketplace_id", "report_date", name="uq_account_health_day"),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    report_date: Mapped[date]
    account_status: Mapped[str | None] = mapped_column(String(20))
    ahr_status: Mapped[str | None] = mapped_column(String(20))
    warning_states: Mapped[list[Any]] = mapped_column(default=_empty_list)
    report_id: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime]
    run_id: Mapped[RunId | None]


class AccountHealthMetric(Base):
    """One account health metric on one report date: ``orderDefectRate.mfn`` / ``.afn``,
    ``lateShipmentRate``, ``preFulfillmentCancellationRate``, ``validTrackingRate``,
    ``onTimeDeliveryRate``, ``unitOnTimeDeliveryRate``, ``invoiceDefectRate`` (with a ``rate``, a
    fraction) and the ten listing-level ones such as ``listingPolicyViolations`` (a count, no rate).
    ``defects`` is what counts against the seller (orders with defects, late shipments,
    cancellations, defects; for the delivery and tracking rates the good ones, as Amazon counts
    them), ``orders`` what the rate is of. ``status`` is Amazon's; ``meets_target`` is the rate (or
    count) against Amazon's target and condition, worked out here so a metric Amazon still calls
    GOOD but already past its target shows."""

    __tablename__ = "account_health_metrics"
    __table_args__ = (
        UniqueConstraint(
            "seller_id", "marketplace_id", "report_date", "metric", name="uq_account_health_metrics_day"
        ),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    report_date: Mapped[date]
    metric: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))
    rate: Mapped[float | None] = mapped_column(Float)
    defects: Mapped[int | None]
    orders: Mapped[float | None] = mapped_column(Float)
    target_value: Mapped[float] = mapped_column(Float)
    target_condition: Mapped[str] = mapped_column(String(16))
    meets_target: Mapped[bool] = mapped_column(Boolean)
    window_from: Mapped[str | None] = mapped_column(String(32))
    window_to: Mapped[str | None] = mapped_column(String(32))


class SalesTrafficDay(Base):
    """A seller's sales and traffic in a marketplace on one day, across its catalog
    (``salesAndTrafficByDate`` of ``GET_SALES_AND_TRAFFIC_REPORT`` with DAY granularity). Money in
    the report's ``currency``; percentages 0-100 as Amazon gives them."""

    __tablename__ = "sales_traffic_daily"
    __table_args__ = (
        UniqueConstraint("seller_id", "marketplace_id", "day", name="uq_sales_traffic_daily_day"),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    day: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    ordered_product_sales: Mapped[Money]
    units_ordered: Mapped[int]
    total_order_items: Mapped[int]
    units_refunded: Mapped[int]
    refund_rate: Mapped[float] = mapped_column(Float)
    shipped_product_sales: Mapped[Money]
    units_shipped: Mapped[int]
    orders_shipped: Mapped[int]
    page_views: Mapped[int]
    sessions: Mapped[int]
    buy_box_percentage: Mapped[float] = mapped_column(Float)
    unit_session_percentage: Mapped[float] = mapped_column(Float)
    order_item_session_percentage: Mapped[float] = mapped_column(Float)
    feedback_received: Mapped[int]
    negative_feedback_received: Mapped[int]
    report_id: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime]
    run_id: Mapped[RunId | None]


class SalesTrafficAsin(Base):
    """Sales and traffic of one ASIN (parent, child, or a SKU's: ``asin_granularity``) over a report's
    range ``period_start``..``period_end`` (one day for the daily DAG), from
    ``salesAndTrafficByAsin``. ``sku`` and ``child_asin`` are NULL where the granularity has none."""

    __tablename__ = "sales_traffic_by_asin"
    __table_args__ = (
        Index("ix_sales_traffic_by_asin_seller_id_period", "seller_id", "marketplace_id", "period_start"),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_id: Mapped[MarketplaceId] = mapped_column(ForeignKey("marketplaces.marketplace_id"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    asin_granularity: Mapped[str] = mapped_column(String(8))
    parent_asin: Mapped[str] = mapped_column(String(20))
    child_asin: Mapped[str | None] = mapped_column(String(20))
    sku: Mapped[Sku | None]
    currency: Mapped[str] = mapped_column(String(3))
    ordered_product_sales: Mapped[Money]
    units_ordered: Mapped[int]
    total_order_items: Mapped[int]
    sessions: Mapped[int]
    page_views: Mapped[int]
    session_percentage: Mapped[float] = mapped_column(Float)
    page_views_percentage: Mapped[float] = mapped_column(Float)
    buy_box_percentage: Mapped[float] = mapped_column(Float)
    unit_session_percentage: Mapped[float] = mapped_column(Float)
    report_id: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime]
    run_id: Mapped[RunId | None]


# --- bulk path ----------------------------------------------------------------------------------------


class PublishAttempt(Base):
    """The ledger: one row per feed document we mean to submit, written *before* Amazon is called.

    ``idempotency_key`` is :func:`listings_pipeline.warehouse.ledger.idempotency_key` of (seller,
    marketplaces, document hash): a retried or resumed task finds its row and never submits the same
    document twice.
    """

    __tablename__ = "publish_attempts"
    __table_args__ = (
        _one_of("state", AttemptState),
        Index("ix_publish_attempts_seller_id_state", "seller_id", "state"),
    )

    id: Mapped[intpk]
    idempotency_key: Mapped[Sha256] = mapped_column(unique=True)
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_ids: Mapped[list[str]]
    document_hash: Mapped[Sha256]
    document_path: Mapped[str] = mapped_column(String(1024))
    message_count: Mapped[int]
    run_id: Mapped[RunId | None]
    state: Mapped[str] = mapped_column(String(20))
    feed_document_id: Mapped[str | None] = mapped_column(String(255))
    feed_id: Mapped[FeedId | None] = mapped_column(unique=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    def __repr__(self) -> str:
        return f"PublishAttempt(id={self.id}, seller={self.seller_id}, state={self.state})"


class FeedSubmission(Base):
    """A feed Amazon knows about: its processing status and, once parsed, its report's figures."""

    __tablename__ = "feed_submissions"
    __table_args__ = (Index("ix_feed_submissions_seller_id_created_at", "seller_id", "created_at"),)

    feed_id: Mapped[FeedId] = mapped_column(primary_key=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("publish_attempts.id"), index=True)
    seller_id: Mapped[SellerId] = mapped_column(ForeignKey("sellers.seller_id"))
    marketplace_ids: Mapped[list[str]]
    feed_type: Mapped[str] = mapped_column(String(64), server_default="JSON_LISTINGS_FEED")
    processing_status: Mapped[str] = mapped_column(String(20), index=True)
    document_path: Mapped[str | None] = mapped_column(String(1024))
    document_hash: Mapped[Sha256 | None]
    created_at: Mapped[created_at]
    processing_started_at: Mapped[datetime | None]
    processing_ended_at: Mapped[datetime | None]
    result_document_id: Mapped[str | None] = mapped_column(String(255))
    report_path: Mapped[str | None] = mapped_column(String(1024))
    messages_processed: Mapped[int | None]
    messages_accepted: Mapped[int | None]
    messages_invalid: Mapped[int | None]
    errors: Mapped[int | None]
    warnings: Mapped[int | None]
    # what parsing did with the outcome, written in the same transaction: a retried parse returns it
    # instead of applying the report a second time
    applied_outcome: Mapped[dict[str, Any] | None]
    updated_at: Mapped[updated_at]


class MessageResult(Base):
    """What the processing report said about one message of a feed."""

    __tablename__ = "message_results"
    __table_args__ = (
        UniqueConstraint("feed_id", "message_id"),
        _one_of("status", MessageStatus),
    )

    id: Mapped[bigintpk]
    feed_id: Mapped[FeedId] = mapped_column(ForeignKey("feed_submissions.feed_id", ondelete="CASCADE"))
    message_id: Mapped[int]
    sku: Mapped[Sku | None] = mapped_column(index=True)
    operation_type: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))


# --- problems -----------------------------------------------------------------------------------------


class ListingIssue(Base):
    """One issue, whatever reported it (``source``): validation, a feed, the Listings API, a notification.

    The Listings API sends ``attributeNames`` (a list) and ``categories``; a feed's processing report
    sends a singular ``attributeName`` and no categories: here it is a one-element
    ``attribute_names`` and an empty ``categories``. Feed-level issues have no ``sku`` or
    ``message_id``. See :mod:`listings_pipeline.warehouse.records` for the conversions.

    ``preview`` marks the issues of a validation preview (``mode=VALIDATION_PREVIEW``): Amazon
    stored nothing, so they say what a change would meet, not what the listing has.
    """

    __tablename__ = "listing_issues"
    __table_args__ = (
        _one_of("source", IssueSource),
        Index("ix_listing_issues_listing", "seller_id", "marketplace_id", "sku", "observed_at"),
        Index("ix_listing_issues_code", "code", "severity", "source"),
    )

    id: Mapped[bigintpk]
    source: Mapped[str] = mapped_column(String(20))
    seller_id: Mapped[SellerId]
    marketplace_id: Mapped[MarketplaceId | None]
    sku: Mapped[Sku | None]
    feed_id: Mapped[FeedId | None] = mapped_column(index=True)
    message_id: Mapped[int | None]
    submission_id: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[Code | None]
    severity: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    attribute_names: Mapped[list[str]] = mapped_column(default=_empty_list)
    categories: Mapped[list[str]] = mapped_column(default=_empty_list)
    preview: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    observed_at: Mapped[created_at]
    run_id: Mapped[RunId | None] = mapped_column(index=True)


class AmazonNotification(Base):
    """One notification Amazon pushed (Notifications API, through the SQS queue), recorded once.

    ``notification_id`` is Amazon's: SQS delivers at least once, so a second delivery finds its row
    and changes nothing. ``outcome`` says what the notification did: ``applied`` (a listing moved or
    its issues were recorded, a feed wait was told, a schema refreshed), ``stale`` (a later
    notification of the same kind for the same listing was applied first: SQS does not keep order),
    or ``not_ours`` (a listing or seller the warehouse does not know). ``feed_id`` and
    ``report_id`` are the feed or report a processing notification names, so a wait can find it by
    index. The whole notification is kept in ``body``: it holds ids and states, no secret.
    """

    __tablename__ = "amazon_notifications"
    __table_args__ = (
        Index("ix_amazon_notifications_listing", "seller_id", "marketplace_id", "sku", "notification_type"),
    )

    notification_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    notification_type: Mapped[str] = mapped_column(String(64))
    seller_id: Mapped[SellerId | None]
    marketplace_id: Mapped[MarketplaceId | None]
    sku: Mapped[Sku | None]
    feed_id: Mapped[FeedId | None] = mapped_column(index=True)  # FEED_PROCESSING_FINISHED's feed
    # REPORT_PROCESSING_FINISHED's report
    report_id: Mapped[str | None] = mapped_column(String(64), index=True)
    event_time: Mapped[datetime]
    received_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict[str, Any]]
    run_id: Mapped[RunId | None]


class NotificationReject(Base):
    """A queue message the pipeline could not read (poison), by SQS message id: how often it came
    and why. The queue's redrive policy moves it to the dead-letter queue after ``maxReceiveCount``
    receives; the status page counts these rows. The body is not kept (it may be anything)."""

    __tablename__ = "notification_rejects"

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    receives: Mapped[int]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class Quarantine(Base):
    """A catalog row that failed validation: which rule, on which column, with which value.

    ``dag_id`` with ``run_id`` names the Airflow run (two DAGs' runs can share a run id, such as
    ``scheduled__<midnight>``); rows written before it was recorded have none.
    """

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_listing", "seller_id", "marketplace_id", "sku"),)

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId]
    marketplace_id: Mapped[MarketplaceId]
    sku: Mapped[Sku | None]  # a row may be quarantined precisely because it has no SKU
    product_type: Mapped[str | None] = mapped_column(String(100))
    column_name: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    source_file: Mapped[str | None] = mapped_column(Text)
    source_line: Mapped[int | None] = mapped_column(BigInteger)
    run_id: Mapped[RunId | None] = mapped_column(index=True)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    quarantined_at: Mapped[created_at]
    released_at: Mapped[datetime | None]


class DeadLetter(Base):
    """A change that failed for good (or too often) on either path, kept for a person or a replay.

    A listing has at most one unfinished (``open`` or ``replayed``) letter, whatever path or
    operation it failed by: a new failure reopens it (``lifecycle.open_dead_letters``), and the
    partial unique index ``uq_dead_letters_unfinished`` holds even for two writers at once.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (
        _one_of("path", PublishPath),
        _one_of("state", DeadLetterState),
        Index("ix_dead_letters_listing", "seller_id", "marketplace_id", "sku"),
        Index(
            "uq_dead_letters_unfinished",
            "seller_id",
            "marketplace_id",
            "sku",
            unique=True,
            sqlite_where=text(UNFINISHED_LETTER),
            postgresql_where=text(UNFINISHED_LETTER),
        ),
    )

    id: Mapped[bigintpk]
    seller_id: Mapped[SellerId]
    marketplace_id: Mapped[MarketplaceId]
    sku: Mapped[Sku]
    path: Mapped[str] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any] | None]
    reason: Mapped[str] = mapped_column(Text)
    code: Mapped[Code | None]
    state: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(server_default="1")
    run_id: Mapped[RunId | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    events: Mapped[list[DeadLetterEvent]] = relationship(
        back_populates="dead_letter", order_by="DeadLetterEvent.id", viewonly=True
    )


class DeadLetterEvent(Base):
    """One state change of a dead letter: who (``actor``: a run id, a user) and why (``note``)."""

    __tablename__ = "dead_letter_events"

    id: Mapped[bigintpk]
    dead_letter_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("dead_letters.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    at: Mapped[created_at]
    actor: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)

    dead_letter: Mapped[DeadLetter] = relationship(back_populates="events")


# --- observability ------------------------------------------------------------------------------------


class ApiCall(Base):
    """One HTTP attempt to SP-API (``spapi.client.CallRecord``, plus the Airflow run)."""

    __tablename__ = "api_calls"
    __table_args__ = (Index("ix_api_calls_operation_started_at", "operation", "started_at"),)

    id: Mapped[bigintpk]
    operation: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    seller_id: Mapped[SellerId | None]
    marketplace_id: Mapped[MarketplaceId | None]
    sku: Mapped[Sku | None]
    region: Mapped[str] = mapped_column(String(8))
    status: Mapped[int | None]
    latency_ms: Mapped[float] = mapped_column(Float)
    request_id: Mapped[str | None] = mapped_column(String(100))
    attempt: Mapped[int]
    throttled: Mapped[bool]
    error_code: Mapped[str | None] = mapped_column(String(100))
    trace_id: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(index=True)
    limiter_wait_ms: Mapped[float] = mapped_column(Float, server_default="0")
    run_id: Mapped[RunId | None] = mapped_column(index=True)


class RunSummary(Base):
    """A DAG run's figures per seller and marketplace (docs/architecture.md, "The bulk path", step 9).

    ``status`` is :class:`RunStatus`: whether this branch's figures need attention, so a run whose
    rows include one ended red at its ``outcome`` task.
    """

    __tablename__ = "run_summaries"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "seller_id", "marketplace_id"),
        _one_of("status", RunStatus),
        Index("ix_run_summaries_seller_id_started_at", "seller_id", "started_at"),
    )

    id: Mapped[intpk]
    run_id: Mapped[RunId]
    dag_id: Mapped[str] = mapped_column(String(250))
    seller_id: Mapped[SellerId]
    marketplace_id: Mapped[MarketplaceId]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    extracted: Mapped[Count]
    quarantined: Mapped[Count]
    quarantined_skus: Mapped[Count]
    planned: Mapped[Count]
    deleted: Mapped[Count]
    deletes_withheld: Mapped[Count]
    unchanged: Mapped[Count]
    skipped: Mapped[Count]
    skipped_reasons: Mapped[dict[str, Any] | None]
    withheld_reasons: Mapped[dict[str, Any] | None]
    submitted: Mapped[Count]
    accepted: Mapped[Count]
    invalid: Mapped[Count]
    warnings: Mapped[Count]
    dead_lettered: Mapped[Count]
    throttled_calls: Mapped[Count]
    latency: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20))


VIEW_NAMES = (
    "v_listing_status",
    "v_feed_health",
    "v_issues_by_code",
    "v_api_call_stats",
    "v_backlog",
    "v_fba_stock",
    "v_drift",
    "v_account_health",
    "v_sales_traffic_daily",
)
"""The analyst views; created by the migrations (SQL in ``migrations/versions``), not by the ORM."""
