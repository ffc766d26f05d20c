"""Initial schema: every table of the warehouse, Amazon's marketplaces, and the analyst views.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Migrations are frozen: they never import the ORM models, so the tables and the view SQL are written
out here, and a later change to ``models.py`` needs a new revision (``alembic revision
--autogenerate``; ``tests/warehouse`` fails until it exists).

The views are one SQL text per view, portable between SQLite and PostgreSQL except for four
snippets (day and hour buckets in UTC as text, seconds between two timestamps, and nothing else),
which :class:`_Sql` fills in per dialect. Latency percentiles use window functions (``ROW_NUMBER``,
``COUNT(*) OVER``), which both support: p50 is the median (mean of the two middle values for an
even count), p95 the nearest-rank value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Amazon's marketplaces: id, country code (as spapi.regions writes it: UK, not GB), region, currency,
# default language tag (left NULL where Amazon's documentation is not conclusive).
MARKETPLACES = [
    ("ATVPDKIKX0DER", "US", "na", "USD", "en_US"),
    ("A2EUQ1WTGCTBG2", "CA", "na", "CAD", "en_CA"),
    ("A1AM78C64UM0Y8", "MX", "na", "MXN", "es_MX"),
    ("A2Q3Y263D00KWC", "BR", "na", "BRL", "pt_BR"),
    ("A28R8C7NBKEWEA", "IE", "eu", "EUR", "en_IE"),
    ("A1RKKUPIHCS9HS", "ES", "eu", "EUR", "es_ES"),
    ("A1F83G8C2ARO7P", "UK", "eu", "GBP", "en_GB"),
    ("A13V1IB3VIYZZH", "FR", "eu", "EUR", "fr_FR"),
    ("AMEN7PMS3EDWL", "BE", "eu", "EUR", "fr_BE"),
    ("A1805IZSGTT6HS", "NL", "eu", "EUR", "nl_NL"),
    ("A1PA6795UKMFR9", "DE", "eu", "EUR", "de_DE"),
    ("APJ6JRA9NG5V4", "IT", "eu", "EUR", "it_IT"),
    ("A2NODRKZP88ZB9", "SE", "eu", "SEK", "sv_SE"),
    ("AE08WJ6YKNBMC", "ZA", "eu", "ZAR", "en_ZA"),
    ("A1C3SOZRARQ6R3", "PL", "eu", "PLN", "pl_PL"),
    ("ARBP9OOSHTCHU", "EG", "eu", "EGP", None),
    ("A33AVAJ2PDY3EV", "TR", "eu", "TRY", "tr_TR"),
    ("A17E79C6D8DWNP", "SA", "eu", "SAR", None),
    ("A2VIGQ35RCS4UG", "AE", "eu", "AED", "en_AE"),
    ("A21TJRUUN4KGV", "IN", "eu", "INR", "en_IN"),
    ("A19VAU5U5O7RUS", "SG", "fe", "SGD", "en_SG"),
    ("A39IBJ37TRP1C6", "AU", "fe", "AUD", "en_AU"),
    ("A1VC38T7YXB528", "JP", "fe", "JPY", "ja_JP"),
]


def upgrade() -> None:
    _create_tables()
    _seed_marketplaces()
    sql = _Sql.for_dialect(op.get_context().dialect.name)
    for name, select in _views(sql).items():
        _execute(f"CREATE VIEW {name} AS\n{select}")


def downgrade() -> None:
    for name in reversed(list(_views(_Sql.for_dialect("sqlite")))):
        _execute(f"DROP VIEW IF EXISTS {name}")
    for table in reversed(TABLES):
        op.drop_table(table)


def _execute(sql: str) -> None:
    # A string given to op.execute becomes text(), where ":name" is a bind parameter; the views
    # have none, but their time formats contain colons.
    op.execute(sa.text(sql.replace(":", "\\:")))


# --- tables ---------------------------------------------------------------------------------------------

TABLES = [
    "sellers",
    "marketplaces",
    "listings",
    "listing_events",
    "offers",
    "inventory",
    "publish_attempts",
    "feed_submissions",
    "message_results",
    "listing_issues",
    "quarantine",
    "dead_letters",
    "dead_letter_events",
    "api_calls",
    "run_summaries",
]


def _seed_marketplaces() -> None:
    table = sa.table(
        "marketplaces",
        sa.column("marketplace_id", sa.String()),
        sa.column("country_code", sa.String()),
        sa.column("region", sa.String()),
        sa.column("default_currency", sa.String()),
        sa.column("default_language_tag", sa.String()),
    )
    op.bulk_insert(table, [dict(zip(table.columns.keys(), row, strict=True)) for row in MARKETPLACES])


def _create_tables() -> None:
    op.create_table(
        "sellers",
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("spapi_conn_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("seller_id", name=op.f("pk_sellers")),
    )

    op.create_table(
        "marketplaces",
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("default_currency", sa.String(length=3), nullable=True),
        sa.Column("default_language_tag", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("marketplace_id", name=op.f("pk_marketplaces")),
    )

    op.create_table(
        "listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("product_type", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=True),
        sa.Column("submitted_hash", sa.String(length=64), nullable=True),
        sa.Column("accepted_hash", sa.String(length=64), nullable=True),
        sa.Column("accepted_at", TIMESTAMP, nullable=True),
        sa.Column("payload_changed_at", TIMESTAMP, nullable=True),
        sa.Column("last_submission_id", sa.String(length=100), nullable=True),
        sa.Column("asin", sa.String(length=20), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'quarantined', 'ready', 'submitted', 'accepted', 'invalid', 'dead_lettered', 'live', 'deleted')",
            name=op.f("ck_listings_status"),
        ),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.marketplace_id"],
            name=op.f("fk_listings_marketplace_id_marketplaces"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f("fk_listings_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint(
            "seller_id", "marketplace_id", "sku", name=op.f("uq_listings_seller_id_marketplace_id_sku")
        ),
    )
    # status first: the (seller, marketplace, sku) lookups must never pick this index over the unique one
    op.create_index(
        "ix_listings_status_seller_marketplace", "listings", ["status", "seller_id", "marketplace_id"]
    )

    op.create_table(
        "listing_events",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("cause", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_listing_events_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_events")),
    )
    op.create_index("ix_listing_events_listing_id_at", "listing_events", ["listing_id", "at"])
    op.create_index(op.f("ix_listing_events_run_id"), "listing_events", ["run_id"])

    op.create_table(
        "offers",
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("our_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("sale_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("sale_start_at", TIMESTAMP, nullable=True),
        sa.Column("sale_end_at", TIMESTAMP, nullable=True),
        sa.Column("min_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("max_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("updated_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.marketplace_id"],
            name=op.f("fk_offers_marketplace_id_marketplaces"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f("fk_offers_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "sku", name=op.f("pk_offers")),
    )

    op.create_table(
        "inventory",
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("fulfillment_channel_code", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("handling_time", sa.Integer(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.marketplace_id"],
            name=op.f("fk_inventory_marketplace_id_marketplaces"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f("fk_inventory_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint(
            "seller_id", "marketplace_id", "sku", "fulfillment_channel_code", name=op.f("pk_inventory")
        ),
    )

    op.create_table(
        "publish_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_ids", JSON, nullable=False),
        sa.Column("document_hash", sa.String(length=64), nullable=False),
        sa.Column("document_path", sa.String(length=1024), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("feed_document_id", sa.String(length=255), nullable=True),
        sa.Column("feed_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "state IN ('recorded', 'document_created', 'uploaded', 'feed_created', 'done', 'fatal', 'cancelled', 'failed')",
            name=op.f("ck_publish_attempts_state"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f("fk_publish_attempts_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_attempts")),
        sa.UniqueConstraint("feed_id", name=op.f("uq_publish_attempts_feed_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_publish_attempts_idempotency_key")),
    )
    op.create_index("ix_publish_attempts_seller_id_state", "publish_attempts", ["seller_id", "state"])

    op.create_table(
        "feed_submissions",
        sa.Column("feed_id", sa.String(length=64), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_ids", JSON, nullable=False),
        sa.Column("feed_type", sa.String(length=64), server_default="JSON_LISTINGS_FEED", nullable=False),
        sa.Column("processing_status", sa.String(length=20), nullable=False),
        sa.Column("document_path", sa.String(length=1024), nullable=True),
        sa.Column("document_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("processing_started_at", TIMESTAMP, nullable=True),
        sa.Column("processing_ended_at", TIMESTAMP, nullable=True),
        sa.Column("result_document_id", sa.String(length=255), nullable=True),
        sa.Column("report_path", sa.String(length=1024), nullable=True),
        sa.Column("messages_processed", sa.Integer(), nullable=True),
        sa.Column("messages_accepted", sa.Integer(), nullable=True),
        sa.Column("messages_invalid", sa.Integer(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=True),
        sa.Column("warnings", sa.Integer(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["publish_attempts.id"],
            name=op.f("fk_feed_submissions_attempt_id_publish_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.seller_id"], name=op.f("fk_feed_submissions_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("feed_id", name=op.f("pk_feed_submissions")),
    )
    op.create_index(op.f("ix_feed_submissions_attempt_id"), "feed_submissions", ["attempt_id"])
    op.create_index(op.f("ix_feed_submissions_processing_status"), "feed_submissions", ["processing_status"])
    op.create_index(
        "ix_feed_submissions_seller_id_created_at", "feed_submissions", ["seller_id", "created_at"]
    )

    op.create_table(
        "message_results",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("feed_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("operation_type", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.CheckConstraint(
            "status IN ('accepted', 'invalid', 'warning', 'unprocessed')",
            name=op.f("ck_message_results_status"),
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feed_submissions.feed_id"],
            name=op.f("fk_message_results_feed_id_feed_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_results")),
        sa.UniqueConstraint("feed_id", "message_id", name=op.f("uq_message_results_feed_id_message_id")),
    )
    op.create_index(op.f("ix_message_results_sku"), "message_results", ["sku"])

    op.create_table(
        "listing_issues",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("feed_id", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attribute_names", JSON, nullable=False),
        sa.Column("categories", JSON, nullable=False),
        sa.Column("observed_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.CheckConstraint(
            "source IN ('validation', 'feed', 'listings_api', 'notification')",
            name=op.f("ck_listing_issues_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_issues")),
    )
    op.create_index("ix_listing_issues_code", "listing_issues", ["code", "severity", "source"])
    op.create_index(op.f("ix_listing_issues_feed_id"), "listing_issues", ["feed_id"])
    op.create_index(
        "ix_listing_issues_listing", "listing_issues", ["seller_id", "marketplace_id", "sku", "observed_at"]
    )
    op.create_index(op.f("ix_listing_issues_run_id"), "listing_issues", ["run_id"])

    op.create_table(
        "quarantine",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("product_type", sa.String(length=100), nullable=True),
        sa.Column("column_name", sa.String(length=255), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("quarantined_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("released_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index("ix_quarantine_listing", "quarantine", ["seller_id", "marketplace_id", "sku"])
    op.create_index(op.f("ix_quarantine_run_id"), "quarantine", ["run_id"])

    op.create_table(
        "dead_letters",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=20), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("path IN ('feed', 'listings_api')", name=op.f("ck_dead_letters_path")),
        sa.CheckConstraint(
            "state IN ('open', 'replayed', 'resolved', 'discarded')", name=op.f("ck_dead_letters_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_listing", "dead_letters", ["seller_id", "marketplace_id", "sku"])
    op.create_index(op.f("ix_dead_letters_state"), "dead_letters", ["state"])

    op.create_table(
        "dead_letter_events",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("dead_letter_id", BIGINT_ID, nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dead_letter_id"],
            ["dead_letters.id"],
            name=op.f("fk_dead_letter_events_dead_letter_id_dead_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter_events")),
    )
    op.create_index(op.f("ix_dead_letter_events_dead_letter_id"), "dead_letter_events", ["dead_letter_id"])

    op.create_table(
        "api_calls",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=True),
        sa.Column("marketplace_id", sa.String(length=32), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("throttled", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("trace_id", sa.String(length=100), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("limiter_wait_ms", sa.Float(), server_default="0", nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_calls")),
    )
    op.create_index("ix_api_calls_operation_started_at", "api_calls", ["operation", "started_at"])
    op.create_index(op.f("ix_api_calls_run_id"), "api_calls", ["run_id"])
    op.create_index(op.f("ix_api_calls_started_at"), "api_calls", ["started_at"])

    op.create_table(
        "run_summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("marketplace_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.Column("extracted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("quarantined", sa.Integer(), server_default="0", nullable=False),
        sa.Column("planned", sa.Integer(), server_default="0", nullable=False),
        sa.Column("submitted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accepted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("invalid", sa.Integer(), server_default="0", nullable=False),
        sa.Column("warnings", sa.Integer(), server_default="0", nullable=False),
        sa.Column("dead_lettered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("throttled_calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("latency", JSON, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_summaries")),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "seller_id",
            "marketplace_id",
            name=op.f("uq_run_summaries_dag_id_run_id_seller_id_marketplace_id"),
        ),
    )
    op.create_index("ix_run_summaries_seller_id_started_at", "run_summaries", ["seller_id", "started_at"])


# --- views ----------------------------------------------------------------------------------------------


class _Sql:
    """The few expressions SQLite and PostgreSQL spell differently. Buckets are UTC, as text.

    (A plain class: Alembic loads this file outside ``sys.modules``, where dataclasses fail.)
    """

    def __init__(
        self,
        day: Callable[[str], str],
        hour: Callable[[str], str],
        seconds: Callable[[str, str], str],
    ) -> None:
        self.day = day
        self.hour = hour
        self.seconds = seconds

    @classmethod
    def for_dialect(cls, name: str) -> _Sql:
        if name == "sqlite":
            # SQLAlchemy stores SQLite timestamps as UTC text: 'YYYY-MM-DD HH:MM:SS[.ffffff]'
            return cls(
                day=lambda col: f"strftime('%Y-%m-%d', {col})",
                hour=lambda col: f"strftime('%Y-%m-%d %H:00', {col})",
                seconds=lambda start, end: f"((julianday({end}) - julianday({start})) * 86400.0)",
            )
        if name == "postgresql":
            return cls(
                day=lambda col: f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                hour=lambda col: f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00')",
                seconds=lambda start, end: f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS FLOAT)",
            )
        raise NotImplementedError(f"the warehouse views support sqlite and postgresql, not {name}")


def _views(sql: _Sql) -> dict[str, str]:
    """View name -> SELECT, in creation order."""
    return {
        # One row per listing: its status and since when, whether Amazon has the wanted payload, and
        # the issues of its most recent batch (all issues sharing its latest observed_at).
        "v_listing_status": """
WITH last_batch AS (
    SELECT seller_id, marketplace_id, sku, MAX(observed_at) AS observed_at
    FROM listing_issues
    WHERE sku IS NOT NULL AND marketplace_id IS NOT NULL
    GROUP BY seller_id, marketplace_id, sku
),
last_counts AS (
    SELECT i.seller_id, i.marketplace_id, i.sku,
           MAX(i.observed_at) AS last_issue_at,
           COUNT(*) AS issue_count,
           SUM(CASE WHEN i.severity = 'ERROR' THEN 1 ELSE 0 END) AS error_count,
           SUM(CASE WHEN i.severity = 'WARNING' THEN 1 ELSE 0 END) AS warning_count
    FROM listing_issues i
    JOIN last_batch b
      ON b.seller_id = i.seller_id AND b.marketplace_id = i.marketplace_id
     AND b.sku = i.sku AND b.observed_at = i.observed_at
    GROUP BY i.seller_id, i.marketplace_id, i.sku
)
SELECT l.seller_id, l.marketplace_id, l.sku, l.product_type, l.status,
       (SELECT MAX(e.at) FROM listing_events e WHERE e.listing_id = l.id) AS status_since,
       l.asin, l.last_submission_id, l.accepted_at,
       CASE WHEN l.payload_hash = l.accepted_hash THEN 1 ELSE 0 END AS in_sync,
       c.last_issue_at,
       COALESCE(c.issue_count, 0) AS issue_count,
       COALESCE(c.error_count, 0) AS error_count,
       COALESCE(c.warning_count, 0) AS warning_count
FROM listings l
LEFT JOIN last_counts c
  ON c.seller_id = l.seller_id AND c.marketplace_id = l.marketplace_id AND c.sku = l.sku
""",
        # Per UTC day (of createdTime) and seller: feeds by processing status, message figures from
        # the processing reports, and how long Amazon took (start to end, and creation to end).
        "v_feed_health": f"""
SELECT {sql.day("f.created_at")} AS day,
       f.seller_id,
       COUNT(*) AS feeds,
       SUM(CASE WHEN f.processing_status = 'DONE' THEN 1 ELSE 0 END) AS feeds_done,
       SUM(CASE WHEN f.processing_status = 'FATAL' THEN 1 ELSE 0 END) AS feeds_fatal,
       SUM(CASE WHEN f.processing_status = 'CANCELLED' THEN 1 ELSE 0 END) AS feeds_cancelled,
       SUM(CASE WHEN f.processing_status IN ('IN_QUEUE', 'IN_PROGRESS') THEN 1 ELSE 0 END)
           AS feeds_pending,
       COALESCE(SUM(f.messages_processed), 0) AS messages_processed,
       COALESCE(SUM(f.messages_accepted), 0) AS messages_accepted,
       COALESCE(SUM(f.messages_invalid), 0) AS messages_invalid,
       COALESCE(SUM(f.errors), 0) AS errors,
       COALESCE(SUM(f.warnings), 0) AS warnings,
       AVG({sql.seconds("f.processing_started_at", "f.processing_ended_at")}) AS avg_processing_seconds,
       MAX({sql.seconds("f.processing_started_at", "f.processing_ended_at")}) AS max_processing_seconds,
       AVG({sql.seconds("f.created_at", "f.processing_ended_at")}) AS avg_turnaround_seconds
FROM feed_submissions f
GROUP BY {sql.day("f.created_at")}, f.seller_id
""",
        # Which issues happen most: per code, severity and source. SKUs are counted per seller and
        # marketplace (the same SKU string in two marketplaces is two listings).
        "v_issues_by_code": """
SELECT i.code, i.severity, i.source,
       COUNT(*) AS issues,
       COUNT(DISTINCT CASE WHEN i.sku IS NOT NULL
                           THEN i.seller_id || '|' || COALESCE(i.marketplace_id, '') || '|' || i.sku
                      END) AS skus,
       MIN(i.observed_at) AS first_seen,
       MAX(i.observed_at) AS last_seen
FROM listing_issues i
GROUP BY i.code, i.severity, i.source
""",
        # Per operation and UTC hour: calls, throttling, failures, latency (avg, p50, p95, max) and
        # time spent waiting for the rate limiter. p50 is the median, p95 the nearest-rank value.
        "v_api_call_stats": f"""
WITH ranked AS (
    SELECT a.operation,
           {sql.hour("a.started_at")} AS hour,
           a.latency_ms, a.throttled, a.status, a.limiter_wait_ms,
           ROW_NUMBER() OVER (PARTITION BY a.operation, {sql.hour("a.started_at")}
                              ORDER BY a.latency_ms) AS rn,
           COUNT(*) OVER (PARTITION BY a.operation, {sql.hour("a.started_at")}) AS n
    FROM api_calls a
)
SELECT operation, hour,
       COUNT(*) AS calls,
       SUM(CASE WHEN throttled THEN 1 ELSE 0 END) AS throttled_calls,
       CAST(SUM(CASE WHEN throttled THEN 1 ELSE 0 END) AS FLOAT) / COUNT(*) AS throttled_share,
       SUM(CASE WHEN status IS NULL OR status >= 400 THEN 1 ELSE 0 END) AS failed_calls,
       AVG(latency_ms) AS avg_latency_ms,
       AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN latency_ms END) AS p50_latency_ms,
       MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN latency_ms END) AS p95_latency_ms,
       MAX(latency_ms) AS max_latency_ms,
       AVG(limiter_wait_ms) AS avg_limiter_wait_ms
FROM ranked
GROUP BY operation, hour
""",
        # Changes Amazon has not accepted yet (never accepted included; deleted listings excluded),
        # and for how long: since the wanted payload last changed.
        "v_backlog": f"""
SELECT l.seller_id, l.marketplace_id, l.sku, l.product_type, l.status,
       l.payload_hash, l.accepted_hash, l.accepted_at,
       COALESCE(l.payload_changed_at, l.created_at) AS pending_since,
       {sql.seconds("COALESCE(l.payload_changed_at, l.created_at)", "CURRENT_TIMESTAMP")} AS age_seconds
FROM listings l
WHERE l.payload_hash IS NOT NULL
  AND (l.accepted_hash IS NULL OR l.payload_hash <> l.accepted_hash)
  AND l.status <> 'deleted'
""",
    }
