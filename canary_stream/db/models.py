"""SQLAlchemy 2 models of every table of data-model.md and customers.md.

Two schemas: ``app`` (merchants, configuration, customers, alerts, cases) and ``sales``
(everything derived from received events). Every row carries ``merchant_id`` (except the
application-level ``webhook_signing_keys``) and ``created_at``. Types follow the spec: ids
``uuid``, hashes ``bytea``, money ``bigint`` minor units, quantities ``numeric(19,5)``,
timestamps ``timestamptz``, closed enumerations ``text`` with a CHECK constraint.

Tables whose spec key is a UNIQUE natural key (no ``id``) have no primary key in the
database; the ORM uses that natural key as the identity (``__mapper_args__``), and writes
target it with ``ON CONFLICT``. Which tables are append-only lives in
:mod:`canary_stream.db.append_only`; the migration installs the triggers and grants.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CHAR, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from canary_stream.db.append_only import APPEND_ONLY_TABLES, UPDATABLE_COLUMNS

__all__ = ["APPEND_ONLY_TABLES", "UPDATABLE_COLUMNS", "Base"]

# Closed lists (the CHECK constraints) ---------------------------------------------------
MERCHANT_STATUSES = ("active", "inactive")
API_TOKEN_SCOPES = ("proofs", "mcp", "status")
SEVERITIES = ("info", "low", "medium", "high", "critical")
ALERT_MODES = ("alerting", "dry_run", "backfill")
CASE_SUBJECT_TYPES = ("employee", "location")
CUSTOMER_DB_STATUSES = ("active", "archived")
LEDGER_KINDS = ("PAYMENT", "REFUND", "DISPUTE_LOST")
CARD_OUTCOMES = ("USE", "FAILURE")
LINK_METHODS = ("manual",)
SOURCE_TYPES = ("WEBHOOK", "POLLING", "BATCH")
INGESTION_STEPS = ("SEAL", "PARSE", "FETCH", "DETECT", "CUSTOMERS", "MERKLE", "ESCALATE")
INGESTION_STATUSES = ("SUCCESS", "FAILED", "SKIPPED", "DUPLICATE", "IGNORED", "DEFERRED")
TRANSACTION_TYPES = (
    "AUTHORIZATION",
    "PAYMENT",
    "VOID",
    "REFUND",
    "SALE",
    "EXCHANGE",
    "NO_SALE",
    "PAID_IN",
    "PAID_OUT",
)
TENDER_TYPES = ("CARD", "CASH", "GIFT_CARD", "CHECK", "OTHER")
DRAWER_SHIFT_STATES = ("OPEN", "ENDED", "CLOSED")
GIFT_CARD_ACTIVITIES = ("LOAD", "ACTIVATE", "REDEEM", "ADJUST")
ANCHOR_STATUSES = ("PENDING", "ANCHORED", "FAILED")

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


def one_of(column: str, values: Iterable[str]) -> CheckConstraint:
    """``CHECK (column IN (...))`` named after the column."""
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


def hash32(column: str, *, nullable: bool = False) -> CheckConstraint:
    """``CHECK`` that a hash column holds exactly 32 bytes (SHA-256)."""
    rule = f"octet_length({column}) = 32"
    if nullable:
        rule = f"{column} IS NULL OR {rule}"
    return CheckConstraint(rule, name=f"{column}_len")


class Base(DeclarativeBase):
    """Declarative base: one metadata, one naming convention, spec column types."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        uuid.UUID: Uuid(),
        dt.datetime: DateTime(timezone=True),
        dt.date: Date(),
        dt.time: Time(),
        str: Text(),
        bytes: LargeBinary(),
        bool: Boolean(),
        int: BigInteger(),
        Decimal: Numeric(19, 5),
        dict[str, Any]: JSONB(),
    }


class _CreatedAt:
    """``created_at timestamptz NOT NULL DEFAULT now()``, always the last column."""

    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), sort_order=100)


# app ------------------------------------------------------------------------------------
class Merchant(_CreatedAt, Base):
    __tablename__ = "merchants"
    __table_args__ = (
        UniqueConstraint("provider", "provider_merchant_id"),
        one_of("status", MERCHANT_STATUSES),
        {"schema": "app"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(server_default=text("'square'"))
    provider_merchant_id: Mapped[str]
    status: Mapped[str] = mapped_column(server_default=text("'active'"))
    currency: Mapped[str] = mapped_column(CHAR(3), server_default=text("'USD'"))
    timezone: Mapped[str] = mapped_column(server_default=text("'UTC'"))
    business_day_start: Mapped[dt.time] = mapped_column(server_default=text("'04:00'"))
    onboarded_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), sort_order=101
    )


class MerchantLocation(_CreatedAt, Base):
    __tablename__ = "merchant_locations"
    __table_args__ = (
        UniqueConstraint("merchant_id", "square_location_id"),
        {"schema": "app"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    merchant_id: Mapped[uuid.UUID]
    square_location_id: Mapped[str]
    name: Mapped[str | None]
    timezone: Mapped[str | None]
    status: Mapped[str | None]
    #: ``HH:MM-HH:MM`` local business hours for C-004 (NULL: the rule's threshold).
    business_hours: Mapped[str | None] = mapped_column(sort_order=50)


class MerchantRuleSetting(_CreatedAt, Base):
    """A merchant's settings of one rule; absent values are the catalog defaults (rules.md)."""

    __tablename__ = "merchant_rule_settings"
    __table_args__ = (
        CheckConstraint("mode IS NULL OR mode IN ('alerting', 'dry_run')", name="mode"),
        {"schema": "app"},
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    mode: Mapped[str | None]
    thresholds: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    allow_lists: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class MerchantEmployee(_CreatedAt, Base):
    """Square team members by id only: no names."""

    __tablename__ = "merchant_employees"
    __table_args__ = (
        UniqueConstraint("merchant_id", "square_team_member_id"),
        {"schema": "app"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    merchant_id: Mapped[uuid.UUID]
    square_team_member_id: Mapped[str]
    status: Mapped[str | None]


class WebhookSigningKey(_CreatedAt, Base):
    """Application-level (Square subscriptions belong to the application): no merchant."""

    __tablename__ = "webhook_signing_keys"
    __table_args__ = {"schema": "app"}

    key_id: Mapped[str] = mapped_column(primary_key=True)
    notification_url: Mapped[str]
    secret_enc: Mapped[bytes]
    active_from: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    active_until: Mapped[dt.datetime | None]


class SquareOAuthToken(_CreatedAt, Base):
    __tablename__ = "square_oauth_tokens"
    __table_args__ = {"schema": "app"}

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    access_token_enc: Mapped[bytes]
    refresh_token_enc: Mapped[bytes]
    expires_at: Mapped[dt.datetime]
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text()), server_default=text("'{}'"))
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ApiToken(Base):
    """Bearer tokens, stored hashed; ``merchant_id`` NULL is an operator token."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        one_of("scope", API_TOKEN_SCOPES),
        CheckConstraint("scope <> 'mcp' OR merchant_id IS NOT NULL", name="mcp_has_merchant"),
        Index(None, "merchant_id"),
        {"schema": "app"},
    )

    token_hash: Mapped[bytes] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID | None]
    scope: Mapped[str]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]


class MerchantBaseline(_CreatedAt, Base):
    __tablename__ = "merchant_baselines"
    __table_args__ = (
        UniqueConstraint("merchant_id", "metric", "scope"),
        {"schema": "app"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "metric", "scope")}

    merchant_id: Mapped[uuid.UUID]
    metric: Mapped[str]
    scope: Mapped[str]
    value: Mapped[dict[str, Any]]
    computed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class OnboardingRun(_CreatedAt, Base):
    __tablename__ = "onboarding_runs"
    __table_args__ = (UniqueConstraint("merchant_id", "step"), {"schema": "app"})
    __mapper_args__ = {"primary_key": ("merchant_id", "step")}

    merchant_id: Mapped[uuid.UUID]
    step: Mapped[str]
    status: Mapped[str]
    cursor: Mapped[dict[str, Any] | None]
    counts: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    started_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None]


class PollCursor(_CreatedAt, Base):
    __tablename__ = "poll_cursors"
    __table_args__ = (UniqueConstraint("merchant_id", "stream"), {"schema": "app"})
    __mapper_args__ = {"primary_key": ("merchant_id", "stream")}

    merchant_id: Mapped[uuid.UUID]
    stream: Mapped[str]
    cursor: Mapped[dict[str, Any] | None]
    polled_at: Mapped[dt.datetime | None]


class Alert(_CreatedAt, Base):
    """Append-only: one row per fired alert, thresholds as in force when it fired."""

    __tablename__ = "alerts"
    __table_args__ = (
        one_of("severity", SEVERITIES),
        one_of("mode", ALERT_MODES),
        CheckConstraint("score BETWEEN 0 AND 100", name="score"),
        CheckConstraint("tier >= 1", name="tier"),
        CheckConstraint("level >= 1", name="level"),
        Index(None, "merchant_id", "occurred_at"),
        {"schema": "app"},
    )

    alert_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    rule_id: Mapped[str]
    rule_name: Mapped[str]
    category: Mapped[str]
    severity: Mapped[str]
    score: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str]
    subject_key: Mapped[str]
    employee_id: Mapped[str | None]
    location_id: Mapped[str | None]
    amount_cents: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(CHAR(3))
    canonical_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    thresholds: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    occurred_at: Mapped[dt.datetime]
    fired_at: Mapped[dt.datetime]


class Case(_CreatedAt, Base):
    """Append-only: status changes belong to the case-management system downstream."""

    __tablename__ = "cases"
    __table_args__ = (
        one_of("priority", SEVERITIES),
        one_of("subject_type", CASE_SUBJECT_TYPES),
        Index(None, "merchant_id", "opened_at"),
        {"schema": "app"},
    )

    case_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    rule_id: Mapped[str]
    priority: Mapped[str]
    subject_type: Mapped[str]
    subject_id: Mapped[str]
    business_date: Mapped[dt.date]
    opened_at: Mapped[dt.datetime]


class CaseAlert(_CreatedAt, Base):
    __tablename__ = "case_alerts"
    __table_args__ = (
        PrimaryKeyConstraint("case_id", "alert_id"),
        Index(None, "alert_id"),
        {"schema": "app"},
    )

    case_id: Mapped[uuid.UUID]
    alert_id: Mapped[uuid.UUID]
    merchant_id: Mapped[uuid.UUID]
    linked_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Customer(_CreatedAt, Base):
    """Mutable with soft delete; vendor ids and derived numbers only, no personal data."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "square_customer_id"),
        one_of("db_status", CUSTOMER_DB_STATUSES),
        {"schema": "app"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    square_customer_id: Mapped[str]
    lifetime_value_cents: Mapped[int] = mapped_column(server_default=text("0"))
    transaction_count: Mapped[int] = mapped_column(server_default=text("0"))
    first_seen_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), sort_order=101
    )
    created_by: Mapped[str | None] = mapped_column(sort_order=102)
    modified_by: Mapped[str | None] = mapped_column(sort_order=103)
    db_status: Mapped[str] = mapped_column(server_default=text("'active'"), sort_order=104)
    db_effective_from: Mapped[dt.datetime] = mapped_column(
        server_default=func.now(), sort_order=105
    )
    db_effective_to: Mapped[dt.datetime | None] = mapped_column(sort_order=106)


class CustomerLedgerEntry(_CreatedAt, Base):
    """Append-only deltas that make the customer aggregates exact and rebuildable."""

    __tablename__ = "customer_ledger"
    __table_args__ = (
        UniqueConstraint("transaction_id", "kind"),
        one_of("kind", LEDGER_KINDS),
        Index(None, "merchant_id", "customer_id"),
        {"schema": "app"},
    )
    __mapper_args__ = {"primary_key": ("transaction_id", "kind")}

    merchant_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    transaction_id: Mapped[uuid.UUID]
    kind: Mapped[str]
    ltv_delta_cents: Mapped[int]
    count_delta: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime]


class CardObservationMarker(_CreatedAt, Base):
    """Append-only: one row per counted card observation, so redelivery never recounts."""

    __tablename__ = "card_observations"
    __table_args__ = (
        UniqueConstraint("transaction_id", "outcome"),
        one_of("outcome", CARD_OUTCOMES),
        Index(None, "merchant_id", "card_profile_id"),
        {"schema": "app"},
    )
    __mapper_args__ = {"primary_key": ("transaction_id", "outcome")}

    merchant_id: Mapped[uuid.UUID]
    card_profile_id: Mapped[uuid.UUID]
    transaction_id: Mapped[uuid.UUID]
    outcome: Mapped[str]
    occurred_at: Mapped[dt.datetime]


class CardProfile(_CreatedAt, Base):
    __tablename__ = "card_profiles"
    __table_args__ = (
        UniqueConstraint("merchant_id", "fingerprint_hash"),
        hash32("fingerprint_hash"),
        Index(None, "merchant_id", "customer_id"),
        {"schema": "app"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    fingerprint_hash: Mapped[bytes]
    fingerprint_key_version: Mapped[str]
    card_brand: Mapped[str | None]
    customer_id: Mapped[uuid.UUID | None]
    first_seen_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    use_count: Mapped[int] = mapped_column(server_default=text("0"))
    failed_count: Mapped[int] = mapped_column(server_default=text("0"))


class ExternalIdentity(_CreatedAt, Base):
    """Operator-made links only; ``source_namespace`` '' when the source has none."""

    __tablename__ = "external_identities"
    __table_args__ = (
        UniqueConstraint(
            "merchant_id",
            "source_system",
            "source_namespace",
            "source_customer_id",
            name="uq_external_identities_source_customer",  # the generated name is > 63
        ),
        one_of("link_method", LINK_METHODS),
        Index(None, "merchant_id", "customer_id"),
        {"schema": "app"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    merchant_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    source_system: Mapped[str]
    source_namespace: Mapped[str] = mapped_column(server_default=text("''"))
    source_customer_id: Mapped[str]
    link_method: Mapped[str] = mapped_column(server_default=text("'manual'"))
    linked_by: Mapped[str]
    linked_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]


# sales ----------------------------------------------------------------------------------
class EvidenceRecord(_CreatedAt, Base):
    """The per-merchant hash chain; ``prev_chain_hash`` is NULL exactly for ``seq`` 1."""

    __tablename__ = "evidence_records"
    __table_args__ = (
        UniqueConstraint("merchant_id", "seq"),
        UniqueConstraint("merchant_id", "source_event_id"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("(seq = 1) = (prev_chain_hash IS NULL)", name="genesis"),
        one_of("source_type", SOURCE_TYPES),
        CheckConstraint("raw_size >= 0", name="raw_size"),
        hash32("event_hash"),
        hash32("chain_hash"),
        hash32("prev_chain_hash", nullable=True),
        {"schema": "sales"},
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    seq: Mapped[int]
    source: Mapped[str]
    source_type: Mapped[str]
    source_event_id: Mapped[str]
    event_type: Mapped[str]
    event_hash: Mapped[bytes]
    prev_chain_hash: Mapped[bytes | None]
    chain_hash: Mapped[bytes]
    raw_payload_enc: Mapped[bytes]
    raw_size: Mapped[int] = mapped_column(Integer)
    parse_failed: Mapped[bool] = mapped_column(server_default=text("false"))
    oversize: Mapped[bool] = mapped_column(server_default=text("false"))
    signature_key_id: Mapped[str | None]
    received_at: Mapped[dt.datetime]
    sealed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class IngestionLogEntry(_CreatedAt, Base):
    """One row per (event, step, status); the current state is the latest row per step."""

    __tablename__ = "ingestion_log"
    __table_args__ = (
        UniqueConstraint("event_id", "step", "status"),
        one_of("step", INGESTION_STEPS),
        one_of("status", INGESTION_STATUSES),
        Index(None, "merchant_id", "at"),
        {"schema": "sales"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID]
    merchant_id: Mapped[uuid.UUID | None]
    step: Mapped[str]
    status: Mapped[str]
    detail: Mapped[str | None]
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Transaction(_CreatedAt, Base):
    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("merchant_id", "external_id", "transaction_type"),
        one_of("transaction_type", TRANSACTION_TYPES),
        one_of("source_type", SOURCE_TYPES),
        Index(None, "merchant_id", "transaction_date"),
        Index(None, "merchant_id", "customer_id", "transaction_date"),
        Index(None, "event_id"),
        {"schema": "sales"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    external_id: Mapped[str]
    transaction_type: Mapped[str]
    status: Mapped[str]
    transaction_date: Mapped[dt.datetime]
    location_id: Mapped[str | None]
    device_id: Mapped[str | None]
    employee_id: Mapped[str | None]
    customer_id: Mapped[str | None]
    order_id: Mapped[str | None]
    amount_cents: Mapped[int]
    approved_amount_cents: Mapped[int | None]
    tip_cents: Mapped[int | None]
    currency: Mapped[str] = mapped_column(CHAR(3))
    source_type: Mapped[str]
    event_id: Mapped[uuid.UUID]


class TransactionFee(_CreatedAt, Base):
    __tablename__ = "transaction_fees"
    __table_args__ = (
        UniqueConstraint("transaction_id", "fee_type", "effective_at"),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("transaction_id", "fee_type", "effective_at")}

    transaction_id: Mapped[uuid.UUID]
    merchant_id: Mapped[uuid.UUID]
    fee_type: Mapped[str]
    effective_at: Mapped[dt.datetime]
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(CHAR(3))


class TransactionLineItem(_CreatedAt, Base):
    __tablename__ = "transaction_line_items"
    __table_args__ = (UniqueConstraint("transaction_id", "line_uid"), {"schema": "sales"})
    __mapper_args__ = {"primary_key": ("transaction_id", "line_uid")}

    transaction_id: Mapped[uuid.UUID]
    merchant_id: Mapped[uuid.UUID]
    line_uid: Mapped[str]
    catalog_object_id: Mapped[str | None]
    name: Mapped[str | None]
    quantity: Mapped[Decimal]
    unit_price_cents: Mapped[int | None]
    gross_sales_cents: Mapped[int]
    discount_cents: Mapped[int] = mapped_column(server_default=text("0"))
    returned: Mapped[bool] = mapped_column(server_default=text("false"))


class TransactionTender(_CreatedAt, Base):
    __tablename__ = "transaction_tenders"
    __table_args__ = (
        UniqueConstraint("transaction_id", "payment_transaction_id"),
        one_of("tender_type", TENDER_TYPES),
        Index(None, "payment_transaction_id"),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("transaction_id", "payment_transaction_id")}

    transaction_id: Mapped[uuid.UUID]
    merchant_id: Mapped[uuid.UUID]
    payment_transaction_id: Mapped[uuid.UUID]
    tender_type: Mapped[str]
    amount_cents: Mapped[int]
    card_brand: Mapped[str | None]


class RefundLink(_CreatedAt, Base):
    __tablename__ = "refund_links"
    __table_args__ = (Index(None, "original_transaction_id"), {"schema": "sales"})

    refund_transaction_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    original_transaction_id: Mapped[uuid.UUID]
    amount_cents: Mapped[int]
    reason: Mapped[str | None]


class CashDrawerShift(_CreatedAt, Base):
    """A row per observed state of a shift."""

    __tablename__ = "cash_drawer_shifts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "square_shift_id", "state"),
        one_of("state", DRAWER_SHIFT_STATES),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "square_shift_id", "state")}

    merchant_id: Mapped[uuid.UUID]
    square_shift_id: Mapped[str]
    location_id: Mapped[str | None]
    device_id: Mapped[str | None]
    state: Mapped[str]
    opened_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    opened_cash_cents: Mapped[int | None]
    expected_cash_cents: Mapped[int | None]
    closed_cash_cents: Mapped[int | None]
    opening_employee_id: Mapped[str | None]
    closing_employee_id: Mapped[str | None]


class CashDrawerEvent(_CreatedAt, Base):
    __tablename__ = "cash_drawer_events"
    __table_args__ = (
        UniqueConstraint("merchant_id", "square_event_id"),
        Index(None, "merchant_id", "square_shift_id"),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "square_event_id")}

    merchant_id: Mapped[uuid.UUID]
    square_event_id: Mapped[str]
    square_shift_id: Mapped[str]
    event_type: Mapped[str]
    amount_cents: Mapped[int | None]
    employee_id: Mapped[str | None]
    occurred_at: Mapped[dt.datetime]


class LoyaltyEvent(_CreatedAt, Base):
    __tablename__ = "loyalty_events"
    __table_args__ = (
        UniqueConstraint("merchant_id", "square_loyalty_event_id"),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "square_loyalty_event_id")}

    merchant_id: Mapped[uuid.UUID]
    square_loyalty_event_id: Mapped[str]
    loyalty_account_id: Mapped[str]
    event_type: Mapped[str]
    points: Mapped[int]
    location_id: Mapped[str | None]
    occurred_at: Mapped[dt.datetime]


class Dispute(_CreatedAt, Base):
    """A row per dispute state."""

    __tablename__ = "disputes"
    __table_args__ = (
        UniqueConstraint("merchant_id", "dispute_id", "state"),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "dispute_id", "state")}

    merchant_id: Mapped[uuid.UUID]
    dispute_id: Mapped[str]
    state: Mapped[str]
    reason: Mapped[str | None]
    amount_cents: Mapped[int | None]
    disputed_transaction_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[dt.datetime]


class GiftCardActivity(_CreatedAt, Base):
    __tablename__ = "gift_card_activities"
    __table_args__ = (
        UniqueConstraint("merchant_id", "activity_id"),
        one_of("activity", GIFT_CARD_ACTIVITIES),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "activity_id")}

    merchant_id: Mapped[uuid.UUID]
    activity_id: Mapped[str]
    gift_card_id: Mapped[str]
    activity: Mapped[str]
    amount_cents: Mapped[int | None]
    location_id: Mapped[str | None]
    occurred_at: Mapped[dt.datetime]


class Payout(_CreatedAt, Base):
    """A row per payout status."""

    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "payout_id", "status"),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "payout_id", "status")}

    merchant_id: Mapped[uuid.UUID]
    payout_id: Mapped[str]
    status: Mapped[str]
    amount_cents: Mapped[int]
    occurred_at: Mapped[dt.datetime]


class ParseDeferral(_CreatedAt, Base):
    """Mutable work queue of thin events waiting for a fetch."""

    __tablename__ = "parse_deferrals"
    __table_args__ = (Index(None, "next_attempt_at"), {"schema": "sales"})

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str | None]


class InscriptionBatch(_CreatedAt, Base):
    """A closed Merkle batch; append-only except ``anchor_status`` and ``anchor_ref``."""

    __tablename__ = "inscription_pool"
    __table_args__ = (
        UniqueConstraint("merchant_id", "batch_no"),
        UniqueConstraint("merchant_id", "first_seq"),
        CheckConstraint("batch_no >= 1", name="batch_no_positive"),
        CheckConstraint(
            "first_seq >= 1 AND last_seq >= first_seq AND leaf_count = last_seq - first_seq + 1",
            name="seq_range",
        ),
        one_of("anchor_status", ANCHOR_STATUSES),
        hash32("root_hash"),
        hash32("prev_root_hash"),
        Index(
            "inscription_pool_pending_idx",
            "closed_at",
            postgresql_where=text("anchor_status = 'PENDING'"),
        ),
        {"schema": "sales"},
    )
    __mapper_args__ = {"primary_key": ("merchant_id", "batch_no")}

    merchant_id: Mapped[uuid.UUID]
    batch_no: Mapped[int]
    first_seq: Mapped[int]
    last_seq: Mapped[int]
    leaf_count: Mapped[int]
    root_hash: Mapped[bytes]
    prev_root_hash: Mapped[bytes]
    checkpoint: Mapped[str]
    signing_key_id: Mapped[str]
    anchor_backend: Mapped[str]
    anchor_status: Mapped[str] = mapped_column(server_default=text("'PENDING'"))
    anchor_ref: Mapped[str | None]
    closed_at: Mapped[dt.datetime]


class EventInscription(_CreatedAt, Base):
    """An event's place in its batch and its RFC 6962 audit path (leaf to root)."""

    __tablename__ = "event_inscriptions"
    __table_args__ = (
        CheckConstraint("leaf_index >= 0", name="leaf_index"),
        Index(None, "merchant_id", "batch_no"),
        Index(None, "merchant_id", "seq"),
        {"schema": "sales"},
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    seq: Mapped[int]
    batch_no: Mapped[int]
    leaf_index: Mapped[int]
    audit_path: Mapped[list[bytes]] = mapped_column(ARRAY(LargeBinary()))
