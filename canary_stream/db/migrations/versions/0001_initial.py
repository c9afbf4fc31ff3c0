"""Initial schema: every table of data-model.md and customers.md, append-only enforced.

Revision ID: 0001
Revises:
Create Date: 2026-11-30 10:38:27.014020

Runs as the owner role. Creates the schemas ``app`` and ``sales`` and their tables; three
shared trigger functions in ``app``; on each append-only table a row trigger rejecting
UPDATE / DELETE (``sales.inscription_pool``: UPDATE of anything but its anchor columns) and
a statement trigger rejecting TRUNCATE; and the application role's grants (its name comes
from ``context.config.attributes["app_role"]``, set by ``env.py``; the role is not created
here). Downgrade drops both schemas with everything in them.

Revisions are append-only: never edit one that has shipped; add the next one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from canary_stream.db.append_only import APPEND_ONLY_TABLES, UPDATABLE_COLUMNS

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("app", "sales")

#: Every table this revision creates (frozen here: later revisions add their own).
TABLES = (
    "app.merchants",
    "app.merchant_locations",
    "app.merchant_employees",
    "app.webhook_signing_keys",
    "app.square_oauth_tokens",
    "app.api_tokens",
    "app.merchant_baselines",
    "app.onboarding_runs",
    "app.poll_cursors",
    "app.alerts",
    "app.cases",
    "app.case_alerts",
    "app.customers",
    "app.customer_ledger",
    "app.card_profiles",
    "app.external_identities",
    "sales.evidence_records",
    "sales.ingestion_log",
    "sales.transactions",
    "sales.transaction_fees",
    "sales.transaction_line_items",
    "sales.transaction_tenders",
    "sales.refund_links",
    "sales.cash_drawer_shifts",
    "sales.cash_drawer_events",
    "sales.loyalty_events",
    "sales.disputes",
    "sales.gift_card_activities",
    "sales.payouts",
    "sales.parse_deferrals",
    "sales.inscription_pool",
    "sales.event_inscriptions",
)

TRIGGER_FUNCTIONS = (
    """
    CREATE FUNCTION app.reject_row_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
    BEGIN
        RAISE EXCEPTION '% on %.% is not allowed: the table is append-only',
            TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END
    $fn$
    """,
    """
    CREATE FUNCTION app.reject_truncate() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
    BEGIN
        RAISE EXCEPTION 'TRUNCATE on %.% is not allowed: the table is append-only',
            TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END
    $fn$
    """,
    # Trigger arguments name the columns that may change; every other column of OLD and NEW
    # must be equal (compared as jsonb, so columns added later are covered too).
    """
    CREATE FUNCTION app.reject_change_except() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
    BEGIN
        IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - TG_ARGV) = (to_jsonb(OLD) - TG_ARGV) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION '% on %.% is not allowed: the table is append-only except %',
            TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME, array_to_string(TG_ARGV, ', ')
            USING ERRCODE = 'insufficient_privilege';
    END
    $fn$
    """,
)


def _quote(name: str) -> str:
    return op.get_context().dialect.identifier_preparer.quote_identifier(name)


def _table(qualified: str) -> str:
    schema, _, name = qualified.partition(".")
    return f"{_quote(schema)}.{_quote(name)}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _create_tables() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("rule_name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.Text(), nullable=False),
        sa.Column("employee_id", sa.Text(), nullable=True),
        sa.Column("location_id", sa.Text(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("canonical_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "thresholds",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mode IN ('alerting', 'dry_run', 'backfill')", name=op.f("ck_alerts_mode")
        ),
        sa.CheckConstraint(
            "severity IN ('info', 'low', 'medium', 'high', 'critical')",
            name=op.f("ck_alerts_severity"),
        ),
        sa.CheckConstraint("level >= 1", name=op.f("ck_alerts_level")),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_alerts_score")),
        sa.CheckConstraint("tier >= 1", name=op.f("ck_alerts_tier")),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alerts")),
        schema="app",
    )
    op.create_index(
        op.f("ix_alerts_merchant_id_occurred_at"),
        "alerts",
        ["merchant_id", "occurred_at"],
        unique=False,
        schema="app",
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "scope <> 'mcp' OR merchant_id IS NOT NULL", name=op.f("ck_api_tokens_mcp_has_merchant")
        ),
        sa.CheckConstraint(
            "scope IN ('proofs', 'mcp', 'status')", name=op.f("ck_api_tokens_scope")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_tokens")),
        schema="app",
    )
    op.create_index(
        op.f("ix_api_tokens_merchant_id"), "api_tokens", ["merchant_id"], unique=False, schema="app"
    )
    op.create_table(
        "card_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint_hash", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint_key_version", sa.Text(), nullable=False),
        sa.Column("card_brand", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("use_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "octet_length(fingerprint_hash) = 32",
            name=op.f("ck_card_profiles_fingerprint_hash_len"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_profiles")),
        sa.UniqueConstraint(
            "merchant_id",
            "fingerprint_hash",
            name=op.f("uq_card_profiles_merchant_id_fingerprint_hash"),
        ),
        schema="app",
    )
    op.create_index(
        op.f("ix_card_profiles_merchant_id_customer_id"),
        "card_profiles",
        ["merchant_id", "customer_id"],
        unique=False,
        schema="app",
    )
    op.create_table(
        "case_alerts",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("case_id", "alert_id", name=op.f("pk_case_alerts")),
        schema="app",
    )
    op.create_index(
        op.f("ix_case_alerts_alert_id"), "case_alerts", ["alert_id"], unique=False, schema="app"
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "priority IN ('info', 'low', 'medium', 'high', 'critical')",
            name=op.f("ck_cases_priority"),
        ),
        sa.CheckConstraint(
            "subject_type IN ('employee', 'location')", name=op.f("ck_cases_subject_type")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
        schema="app",
    )
    op.create_index(
        op.f("ix_cases_merchant_id_opened_at"),
        "cases",
        ["merchant_id", "opened_at"],
        unique=False,
        schema="app",
    )
    op.create_table(
        "customer_ledger",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("ltv_delta_cents", sa.BigInteger(), nullable=False),
        sa.Column("count_delta", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('PAYMENT', 'REFUND', 'DISPUTE_LOST')", name=op.f("ck_customer_ledger_kind")
        ),
        sa.UniqueConstraint(
            "transaction_id", "kind", name=op.f("uq_customer_ledger_transaction_id_kind")
        ),
        schema="app",
    )
    op.create_index(
        op.f("ix_customer_ledger_merchant_id_customer_id"),
        "customer_ledger",
        ["merchant_id", "customer_id"],
        unique=False,
        schema="app",
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("square_customer_id", sa.Text(), nullable=False),
        sa.Column(
            "lifetime_value_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "transaction_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("modified_by", sa.Text(), nullable=True),
        sa.Column("db_status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column(
            "db_effective_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("db_effective_to", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "db_status IN ('active', 'archived')", name=op.f("ck_customers_db_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "merchant_id",
            "square_customer_id",
            name=op.f("uq_customers_merchant_id_square_customer_id"),
        ),
        schema="app",
    )
    op.create_table(
        "external_identities",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("source_system", sa.Text(), nullable=False),
        sa.Column("source_namespace", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("source_customer_id", sa.Text(), nullable=False),
        sa.Column("link_method", sa.Text(), server_default=sa.text("'manual'"), nullable=False),
        sa.Column("linked_by", sa.Text(), nullable=False),
        sa.Column(
            "linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "link_method IN ('manual')", name=op.f("ck_external_identities_link_method")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_identities")),
        sa.UniqueConstraint(
            "merchant_id",
            "source_system",
            "source_namespace",
            "source_customer_id",
            name=op.f("uq_external_identities_source_customer"),
        ),
        schema="app",
    )
    op.create_index(
        op.f("ix_external_identities_merchant_id_customer_id"),
        "external_identities",
        ["merchant_id", "customer_id"],
        unique=False,
        schema="app",
    )
    op.create_table(
        "merchant_baselines",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "metric",
            "scope",
            name=op.f("uq_merchant_baselines_merchant_id_metric_scope"),
        ),
        schema="app",
    )
    op.create_table(
        "merchant_employees",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("square_team_member_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_employees")),
        sa.UniqueConstraint(
            "merchant_id",
            "square_team_member_id",
            name=op.f("uq_merchant_employees_merchant_id_square_team_member_id"),
        ),
        schema="app",
    )
    op.create_table(
        "merchant_locations",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("square_location_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_locations")),
        sa.UniqueConstraint(
            "merchant_id",
            "square_location_id",
            name=op.f("uq_merchant_locations_merchant_id_square_location_id"),
        ),
        schema="app",
    )
    op.create_table(
        "merchants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.Text(), server_default=sa.text("'square'"), nullable=False),
        sa.Column("provider_merchant_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column(
            "business_day_start", sa.Time(), server_default=sa.text("'04:00'"), nullable=False
        ),
        sa.Column("onboarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("ck_merchants_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
        sa.UniqueConstraint(
            "provider",
            "provider_merchant_id",
            name=op.f("uq_merchants_provider_provider_merchant_id"),
        ),
        schema="app",
    )
    op.create_table(
        "onboarding_runs",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("cursor", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "merchant_id", "step", name=op.f("uq_onboarding_runs_merchant_id_step")
        ),
        schema="app",
    )
    op.create_table(
        "poll_cursors",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("cursor", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "merchant_id", "stream", name=op.f("uq_poll_cursors_merchant_id_stream")
        ),
        schema="app",
    )
    op.create_table(
        "square_oauth_tokens",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("access_token_enc", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token_enc", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "scopes", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_square_oauth_tokens")),
        schema="app",
    )
    op.create_table(
        "webhook_signing_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("notification_url", sa.Text(), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column(
            "active_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("active_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_webhook_signing_keys")),
        schema="app",
    )
    op.create_table(
        "cash_drawer_events",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("square_event_id", sa.Text(), nullable=False),
        sa.Column("square_shift_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("employee_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "square_event_id",
            name=op.f("uq_cash_drawer_events_merchant_id_square_event_id"),
        ),
        schema="sales",
    )
    op.create_index(
        op.f("ix_cash_drawer_events_merchant_id_square_shift_id"),
        "cash_drawer_events",
        ["merchant_id", "square_shift_id"],
        unique=False,
        schema="sales",
    )
    op.create_table(
        "cash_drawer_shifts",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("square_shift_id", sa.Text(), nullable=False),
        sa.Column("location_id", sa.Text(), nullable=True),
        sa.Column("device_id", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_cash_cents", sa.BigInteger(), nullable=True),
        sa.Column("expected_cash_cents", sa.BigInteger(), nullable=True),
        sa.Column("closed_cash_cents", sa.BigInteger(), nullable=True),
        sa.Column("opening_employee_id", sa.Text(), nullable=True),
        sa.Column("closing_employee_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('OPEN', 'ENDED', 'CLOSED')", name=op.f("ck_cash_drawer_shifts_state")
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "square_shift_id",
            "state",
            name=op.f("uq_cash_drawer_shifts_merchant_id_square_shift_id_state"),
        ),
        schema="sales",
    )
    op.create_table(
        "disputes",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("disputed_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "dispute_id",
            "state",
            name=op.f("uq_disputes_merchant_id_dispute_id_state"),
        ),
        schema="sales",
    )
    op.create_table(
        "event_inscriptions",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("batch_no", sa.BigInteger(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("audit_path", postgresql.ARRAY(sa.LargeBinary()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_event_inscriptions_leaf_index")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_inscriptions")),
        schema="sales",
    )
    op.create_index(
        op.f("ix_event_inscriptions_merchant_id_batch_no"),
        "event_inscriptions",
        ["merchant_id", "batch_no"],
        unique=False,
        schema="sales",
    )
    op.create_index(
        op.f("ix_event_inscriptions_merchant_id_seq"),
        "event_inscriptions",
        ["merchant_id", "seq"],
        unique=False,
        schema="sales",
    )
    op.create_table(
        "evidence_records",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("event_hash", sa.LargeBinary(), nullable=False),
        sa.Column("prev_chain_hash", sa.LargeBinary(), nullable=True),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.Column("raw_payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("parse_failed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("oversize", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("signature_key_id", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "sealed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source_type IN ('WEBHOOK', 'POLLING', 'BATCH')",
            name=op.f("ck_evidence_records_source_type"),
        ),
        sa.CheckConstraint(
            "(seq = 1) = (prev_chain_hash IS NULL)", name=op.f("ck_evidence_records_genesis")
        ),
        sa.CheckConstraint(
            "octet_length(chain_hash) = 32", name=op.f("ck_evidence_records_chain_hash_len")
        ),
        sa.CheckConstraint(
            "octet_length(event_hash) = 32", name=op.f("ck_evidence_records_event_hash_len")
        ),
        sa.CheckConstraint(
            "prev_chain_hash IS NULL OR octet_length(prev_chain_hash) = 32",
            name=op.f("ck_evidence_records_prev_chain_hash_len"),
        ),
        sa.CheckConstraint("raw_size >= 0", name=op.f("ck_evidence_records_raw_size")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_evidence_records_seq_positive")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_evidence_records")),
        sa.UniqueConstraint("merchant_id", "seq", name=op.f("uq_evidence_records_merchant_id_seq")),
        sa.UniqueConstraint(
            "merchant_id",
            "source_event_id",
            name=op.f("uq_evidence_records_merchant_id_source_event_id"),
        ),
        schema="sales",
    )
    op.create_table(
        "gift_card_activities",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("gift_card_id", sa.Text(), nullable=False),
        sa.Column("activity", sa.Text(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("location_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "activity IN ('LOAD', 'ACTIVATE', 'REDEEM', 'ADJUST')",
            name=op.f("ck_gift_card_activities_activity"),
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "activity_id",
            name=op.f("uq_gift_card_activities_merchant_id_activity_id"),
        ),
        schema="sales",
    )
    op.create_table(
        "ingestion_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('SUCCESS', 'FAILED', 'SKIPPED', 'DUPLICATE', 'IGNORED', 'DEFERRED')",
            name=op.f("ck_ingestion_log_status"),
        ),
        sa.CheckConstraint(
            "step IN ('SEAL', 'PARSE', 'FETCH', 'DETECT', 'CUSTOMERS', 'MERKLE', 'ESCALATE')",
            name=op.f("ck_ingestion_log_step"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingestion_log")),
        sa.UniqueConstraint(
            "event_id", "step", "status", name=op.f("uq_ingestion_log_event_id_step_status")
        ),
        schema="sales",
    )
    op.create_index(
        op.f("ix_ingestion_log_merchant_id_at"),
        "ingestion_log",
        ["merchant_id", "at"],
        unique=False,
        schema="sales",
    )
    op.create_table(
        "inscription_pool",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("batch_no", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("leaf_count", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("prev_root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("signing_key_id", sa.Text(), nullable=False),
        sa.Column("anchor_backend", sa.Text(), nullable=False),
        sa.Column("anchor_status", sa.Text(), server_default=sa.text("'PENDING'"), nullable=False),
        sa.Column("anchor_ref", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "anchor_status IN ('PENDING', 'ANCHORED', 'FAILED')",
            name=op.f("ck_inscription_pool_anchor_status"),
        ),
        sa.CheckConstraint("batch_no >= 1", name=op.f("ck_inscription_pool_batch_no_positive")),
        sa.CheckConstraint(
            "first_seq >= 1 AND last_seq >= first_seq AND leaf_count = last_seq - first_seq + 1",
            name=op.f("ck_inscription_pool_seq_range"),
        ),
        sa.CheckConstraint(
            "octet_length(prev_root_hash) = 32", name=op.f("ck_inscription_pool_prev_root_hash_len")
        ),
        sa.CheckConstraint(
            "octet_length(root_hash) = 32", name=op.f("ck_inscription_pool_root_hash_len")
        ),
        sa.UniqueConstraint(
            "merchant_id", "batch_no", name=op.f("uq_inscription_pool_merchant_id_batch_no")
        ),
        sa.UniqueConstraint(
            "merchant_id", "first_seq", name=op.f("uq_inscription_pool_merchant_id_first_seq")
        ),
        schema="sales",
    )
    op.create_table(
        "loyalty_events",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("square_loyalty_event_id", sa.Text(), nullable=False),
        sa.Column("loyalty_account_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("location_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "square_loyalty_event_id",
            name=op.f("uq_loyalty_events_merchant_id_square_loyalty_event_id"),
        ),
        schema="sales",
    )
    op.create_table(
        "parse_deferrals",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_parse_deferrals")),
        schema="sales",
    )
    op.create_index(
        op.f("ix_parse_deferrals_next_attempt_at"),
        "parse_deferrals",
        ["next_attempt_at"],
        unique=False,
        schema="sales",
    )
    op.create_table(
        "payouts",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("payout_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "payout_id",
            "status",
            name=op.f("uq_payouts_merchant_id_payout_id_status"),
        ),
        schema="sales",
    )
    op.create_table(
        "refund_links",
        sa.Column("refund_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("original_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("refund_transaction_id", name=op.f("pk_refund_links")),
        schema="sales",
    )
    op.create_index(
        op.f("ix_refund_links_original_transaction_id"),
        "refund_links",
        ["original_transaction_id"],
        unique=False,
        schema="sales",
    )
    op.create_table(
        "transaction_fees",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("fee_type", sa.Text(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "transaction_id",
            "fee_type",
            "effective_at",
            name=op.f("uq_transaction_fees_transaction_id_fee_type_effective_at"),
        ),
        schema="sales",
    )
    op.create_table(
        "transaction_line_items",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("line_uid", sa.Text(), nullable=False),
        sa.Column("catalog_object_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=19, scale=5), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=True),
        sa.Column("gross_sales_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("returned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.UniqueConstraint(
            "transaction_id",
            "line_uid",
            name=op.f("uq_transaction_line_items_transaction_id_line_uid"),
        ),
        schema="sales",
    )
    op.create_table(
        "transaction_tenders",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("payment_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("tender_type", sa.Text(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("card_brand", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "tender_type IN ('CARD', 'CASH', 'GIFT_CARD', 'CHECK', 'OTHER')",
            name=op.f("ck_transaction_tenders_tender_type"),
        ),
        sa.UniqueConstraint(
            "transaction_id",
            "payment_transaction_id",
            name=op.f("uq_transaction_tenders_transaction_id_payment_transaction_id"),
        ),
        schema="sales",
    )
    op.create_index(
        op.f("ix_transaction_tenders_payment_transaction_id"),
        "transaction_tenders",
        ["payment_transaction_id"],
        unique=False,
        schema="sales",
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("transaction_type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("transaction_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location_id", sa.Text(), nullable=True),
        sa.Column("device_id", sa.Text(), nullable=True),
        sa.Column("employee_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("approved_amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("tip_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source_type IN ('WEBHOOK', 'POLLING', 'BATCH')",
            name=op.f("ck_transactions_source_type"),
        ),
        sa.CheckConstraint(
            "transaction_type IN ('AUTHORIZATION', 'PAYMENT', 'VOID', 'REFUND', 'SALE', 'EXCHANGE', 'NO_SALE', 'PAID_IN', 'PAID_OUT')",
            name=op.f("ck_transactions_transaction_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "merchant_id",
            "external_id",
            "transaction_type",
            name=op.f("uq_transactions_merchant_id_external_id_transaction_type"),
        ),
        schema="sales",
    )
    op.create_index(
        op.f("ix_transactions_event_id"), "transactions", ["event_id"], unique=False, schema="sales"
    )
    op.create_index(
        op.f("ix_transactions_merchant_id_customer_id_transaction_date"),
        "transactions",
        ["merchant_id", "customer_id", "transaction_date"],
        unique=False,
        schema="sales",
    )
    op.create_index(
        op.f("ix_transactions_merchant_id_transaction_date"),
        "transactions",
        ["merchant_id", "transaction_date"],
        unique=False,
        schema="sales",
    )


def _install_append_only(table: str) -> None:
    target = _table(table)
    allowed = UPDATABLE_COLUMNS.get(table)
    if allowed:
        args = ", ".join(_literal(c) for c in allowed)
        row_fn = f"app.reject_change_except({args})"
    else:
        row_fn = "app.reject_row_change()"
    op.execute(
        f"CREATE OR REPLACE TRIGGER append_only_row BEFORE UPDATE OR DELETE ON {target} "
        f"FOR EACH ROW EXECUTE FUNCTION {row_fn}"
    )
    op.execute(
        f"CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON {target} "
        "FOR EACH STATEMENT EXECUTE FUNCTION app.reject_truncate()"
    )


def _grant(role: str, append_only: Sequence[str]) -> None:
    grantee = _quote(role)
    op.execute(f"GRANT USAGE ON SCHEMA {', '.join(_quote(s) for s in SCHEMAS)} TO {grantee}")
    for table in TABLES:
        target = _table(table)
        if table in append_only:
            op.execute(f"GRANT SELECT, INSERT ON {target} TO {grantee}")
            allowed = UPDATABLE_COLUMNS.get(table)
            if allowed:
                columns = ", ".join(_quote(c) for c in allowed)
                op.execute(f"GRANT UPDATE ({columns}) ON {target} TO {grantee}")
        else:
            op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {target} TO {grantee}")
    for schema in SCHEMAS:
        op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {_quote(schema)} TO {grantee}")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA {_quote(schema)}")
    _create_tables()
    for statement in TRIGGER_FUNCTIONS:
        op.execute(statement)
    append_only = [t for t in APPEND_ONLY_TABLES if t in TABLES]
    for table in append_only:
        _install_append_only(table)
    _grant(context.config.attributes["app_role"], append_only)


def downgrade() -> None:
    # Tables, triggers, trigger functions, sequences and grants all live in the two schemas.
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
