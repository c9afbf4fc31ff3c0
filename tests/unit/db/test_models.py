"""The models declare every table of data-model.md and customers.md, with the spec's keys."""

from __future__ import annotations

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import configure_mappers

from canary_stream.db.append_only import APPEND_ONLY_TABLES, UPDATABLE_COLUMNS
from canary_stream.db.models import Base

# The spec's columns per table, beyond merchant_id and created_at (data-model.md, customers.md),
# plus what rules.md's per-merchant settings need (business hours, rule settings: decisions #19)
# and the card-observation markers (decisions #21).
SPEC_COLUMNS: dict[str, set[str]] = {
    "app.merchants": {
        "id", "provider", "provider_merchant_id", "status", "currency", "timezone",
        "business_day_start", "onboarded_at", "updated_at",
    },
    "app.merchant_locations": {
        "id", "square_location_id", "name", "timezone", "status", "business_hours",
    },
    "app.merchant_rule_settings": {
        "rule_id", "enabled", "mode", "thresholds", "allow_lists", "updated_at",
    },
    "app.card_observations": {"card_profile_id", "transaction_id", "outcome", "occurred_at"},
    "app.merchant_employees": {"id", "square_team_member_id", "status"},
    "app.webhook_signing_keys": {
        "key_id", "notification_url", "secret_enc", "active_from", "active_until",
    },
    "app.square_oauth_tokens": {
        "access_token_enc", "refresh_token_enc", "expires_at", "scopes", "updated_at",
    },
    "app.api_tokens": {"token_hash", "scope", "revoked_at"},
    "app.merchant_baselines": {"metric", "scope", "value", "computed_at"},
    "app.onboarding_runs": {
        "step", "status", "cursor", "counts", "started_at", "finished_at", "error",
    },
    "app.poll_cursors": {"stream", "cursor", "polled_at"},
    "app.alerts": {
        "alert_id", "rule_id", "rule_name", "category", "severity", "score", "tier", "level",
        "mode", "subject_key", "employee_id", "location_id", "amount_cents", "currency",
        "canonical_ids", "details", "thresholds", "occurred_at", "fired_at",
    },
    "app.cases": {
        "case_id", "rule_id", "priority", "subject_type", "subject_id", "business_date",
        "opened_at",
    },
    "app.case_alerts": {"case_id", "alert_id", "linked_at"},
    "app.customers": {
        "id", "square_customer_id", "lifetime_value_cents", "transaction_count",
        "first_seen_at", "last_seen_at", "updated_at", "created_by", "modified_by",
        "db_status", "db_effective_from", "db_effective_to",
    },
    "app.customer_ledger": {
        "customer_id", "transaction_id", "kind", "ltv_delta_cents", "count_delta", "occurred_at",
    },
    "app.card_profiles": {
        "id", "fingerprint_hash", "fingerprint_key_version", "card_brand", "customer_id",
        "first_seen_at", "last_seen_at", "use_count", "failed_count",
    },
    "app.external_identities": {
        "id", "customer_id", "source_system", "source_namespace", "source_customer_id",
        "link_method", "linked_by", "linked_at", "revoked_at",
    },
    "sales.evidence_records": {
        "event_id", "seq", "source", "source_type", "source_event_id", "event_type",
        "event_hash", "prev_chain_hash", "chain_hash", "raw_payload_enc", "raw_size",
        "parse_failed", "oversize", "signature_key_id", "received_at", "sealed_at",
    },
    "sales.ingestion_log": {"id", "event_id", "step", "status", "detail", "at"},
    "sales.transactions": {
        "id", "external_id", "transaction_type", "status", "transaction_date", "location_id",
        "device_id", "employee_id", "customer_id", "order_id", "amount_cents",
        "approved_amount_cents", "tip_cents", "currency", "source_type", "event_id",
    },
    "sales.transaction_fees": {
        "transaction_id", "fee_type", "effective_at", "amount_cents", "currency",
    },
    "sales.transaction_line_items": {
        "transaction_id", "line_uid", "catalog_object_id", "name", "quantity",
        "unit_price_cents", "gross_sales_cents", "discount_cents", "returned",
    },
    "sales.transaction_tenders": {
        "transaction_id", "payment_transaction_id", "tender_type", "amount_cents", "card_brand",
    },
    "sales.refund_links": {
        "refund_transaction_id", "original_transaction_id", "amount_cents", "reason",
    },
    "sales.cash_drawer_shifts": {
        "square_shift_id", "location_id", "device_id", "state", "opened_at", "ended_at",
        "closed_at", "opened_cash_cents", "expected_cash_cents", "closed_cash_cents",
        "opening_employee_id", "closing_employee_id",
    },
    "sales.cash_drawer_events": {
        "square_event_id", "square_shift_id", "event_type", "amount_cents", "employee_id",
        "occurred_at",
    },
    "sales.loyalty_events": {
        "square_loyalty_event_id", "loyalty_account_id", "event_type", "points", "location_id",
        "occurred_at",
    },
    "sales.disputes": {
        "dispute_id", "state", "reason", "amount_cents", "disputed_transaction_id", "occurred_at",
    },
    "sales.gift_card_activities": {
        "activity_id", "gift_card_id", "activity", "amount_cents", "location_id", "occurred_at",
    },
    "sales.payouts": {"payout_id", "status", "amount_cents", "occurred_at"},
    "sales.parse_deferrals": {"event_id", "attempts", "next_attempt_at", "last_error"},
    "sales.inscription_pool": {
        "batch_no", "first_seq", "last_seq", "leaf_count", "root_hash", "prev_root_hash",
        "checkpoint", "signing_key_id", "anchor_backend", "anchor_status", "anchor_ref",
        "closed_at",
    },
    "sales.event_inscriptions": {"event_id", "seq", "batch_no", "leaf_index", "audit_path"},
}  # fmt: skip

# The spec's keys: primary key columns and every UNIQUE constraint, per table.
SPEC_KEYS: dict[str, tuple[tuple[str, ...], set[tuple[str, ...]]]] = {
    "app.merchants": (("id",), {("provider", "provider_merchant_id")}),
    "app.merchant_locations": (("id",), {("merchant_id", "square_location_id")}),
    "app.merchant_rule_settings": (("merchant_id", "rule_id"), set()),
    "app.card_observations": ((), {("transaction_id", "outcome")}),
    "app.merchant_employees": (("id",), {("merchant_id", "square_team_member_id")}),
    "app.webhook_signing_keys": (("key_id",), set()),
    "app.square_oauth_tokens": (("merchant_id",), set()),
    "app.api_tokens": (("token_hash",), set()),
    "app.merchant_baselines": ((), {("merchant_id", "metric", "scope")}),
    "app.onboarding_runs": ((), {("merchant_id", "step")}),
    "app.poll_cursors": ((), {("merchant_id", "stream")}),
    "app.alerts": (("alert_id",), set()),
    "app.cases": (("case_id",), set()),
    "app.case_alerts": (("case_id", "alert_id"), set()),
    "app.customers": (("id",), {("merchant_id", "square_customer_id")}),
    "app.customer_ledger": ((), {("transaction_id", "kind")}),
    "app.card_profiles": (("id",), {("merchant_id", "fingerprint_hash")}),
    "app.external_identities": (
        ("id",),
        {("merchant_id", "source_system", "source_namespace", "source_customer_id")},
    ),
    "sales.evidence_records": (
        ("event_id",),
        {("merchant_id", "seq"), ("merchant_id", "source_event_id")},
    ),
    "sales.ingestion_log": (("id",), {("event_id", "step", "status")}),
    "sales.transactions": (("id",), {("merchant_id", "external_id", "transaction_type")}),
    "sales.transaction_fees": ((), {("transaction_id", "fee_type", "effective_at")}),
    "sales.transaction_line_items": ((), {("transaction_id", "line_uid")}),
    "sales.transaction_tenders": ((), {("transaction_id", "payment_transaction_id")}),
    "sales.refund_links": (("refund_transaction_id",), set()),
    "sales.cash_drawer_shifts": ((), {("merchant_id", "square_shift_id", "state")}),
    "sales.cash_drawer_events": ((), {("merchant_id", "square_event_id")}),
    "sales.loyalty_events": ((), {("merchant_id", "square_loyalty_event_id")}),
    "sales.disputes": ((), {("merchant_id", "dispute_id", "state")}),
    "sales.gift_card_activities": ((), {("merchant_id", "activity_id")}),
    "sales.payouts": ((), {("merchant_id", "payout_id", "status")}),
    "sales.parse_deferrals": (("event_id",), set()),
    "sales.inscription_pool": (
        (),
        {("merchant_id", "batch_no"), ("merchant_id", "first_seq")},
    ),
    "sales.event_inscriptions": (("event_id",), set()),
}

SPEC_APPEND_ONLY = {
    "app.alerts", "app.cases", "app.case_alerts", "app.customer_ledger", "app.card_observations",
    "sales.evidence_records", "sales.ingestion_log", "sales.transactions",
    "sales.transaction_fees", "sales.transaction_line_items", "sales.transaction_tenders",
    "sales.refund_links", "sales.cash_drawer_shifts", "sales.cash_drawer_events",
    "sales.loyalty_events", "sales.disputes", "sales.gift_card_activities", "sales.payouts",
    "sales.inscription_pool", "sales.event_inscriptions",
}  # fmt: skip

NO_MERCHANT = {"app.merchants", "app.webhook_signing_keys"}
NULLABLE_MERCHANT = {"app.api_tokens", "sales.ingestion_log"}


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def uniques(t: Table) -> set[tuple[str, ...]]:
    return {
        tuple(c.name for c in con.columns)
        for con in t.constraints
        if isinstance(con, UniqueConstraint)
    }


def test_metadata_holds_exactly_the_spec_tables() -> None:
    assert set(Base.metadata.tables) == set(SPEC_COLUMNS)


def test_mappers_configure() -> None:
    configure_mappers()


@pytest.mark.parametrize("name", sorted(SPEC_COLUMNS))
def test_columns_are_the_spec_columns(name: str) -> None:
    expected = set(SPEC_COLUMNS[name]) | {"created_at"}
    if name not in NO_MERCHANT:
        expected.add("merchant_id")
    assert {c.name for c in table(name).columns} == expected


@pytest.mark.parametrize("name", sorted(SPEC_KEYS))
def test_keys_are_the_spec_keys(name: str) -> None:
    primary_key, unique = SPEC_KEYS[name]
    t = table(name)
    assert tuple(c.name for c in t.primary_key.columns) == primary_key
    assert uniques(t) == unique


def test_important_unique_constraints_exactly() -> None:
    assert uniques(table("sales.evidence_records")) == {
        ("merchant_id", "seq"),
        ("merchant_id", "source_event_id"),
    }
    assert uniques(table("sales.transactions")) == {
        ("merchant_id", "external_id", "transaction_type"),
    }
    assert uniques(table("sales.ingestion_log")) == {("event_id", "step", "status")}
    pk = table("sales.evidence_records").primary_key
    assert isinstance(pk, PrimaryKeyConstraint)
    assert [c.name for c in pk.columns] == ["event_id"]


def test_transactions_are_indexed_by_merchant_and_date() -> None:
    indexes = {tuple(c.name for c in ix.columns) for ix in table("sales.transactions").indexes}
    assert ("merchant_id", "transaction_date") in indexes


@pytest.mark.parametrize("name", sorted(SPEC_COLUMNS))
def test_merchant_id_and_created_at(name: str) -> None:
    t = table(name)
    created = t.c.created_at
    assert isinstance(created.type, DateTime) and created.type.timezone
    assert not created.nullable and created.server_default is not None
    if name in NO_MERCHANT:
        return
    assert isinstance(t.c.merchant_id.type, Uuid)
    assert t.c.merchant_id.nullable is (name in NULLABLE_MERCHANT)


def test_append_only_constant_is_the_spec_list() -> None:
    assert len(APPEND_ONLY_TABLES) == len(set(APPEND_ONLY_TABLES))
    assert set(APPEND_ONLY_TABLES) == SPEC_APPEND_ONLY
    assert dict(UPDATABLE_COLUMNS) == {"sales.inscription_pool": ("anchor_status", "anchor_ref")}


def test_column_types_follow_the_spec() -> None:
    ev = table("sales.evidence_records")
    for col in ("event_hash", "prev_chain_hash", "chain_hash", "raw_payload_enc"):
        assert isinstance(ev.c[col].type, LargeBinary), col
    assert isinstance(ev.c.seq.type, BigInteger)
    assert isinstance(ev.c.event_id.type, Uuid)
    assert ev.c.prev_chain_hash.nullable and ev.c.signature_key_id.nullable
    assert not ev.c.chain_hash.nullable
    assert isinstance(ev.c.parse_failed.type, Boolean)
    assert isinstance(ev.c.received_at.type, DateTime) and ev.c.received_at.type.timezone

    tx = table("sales.transactions")
    for col in ("amount_cents", "approved_amount_cents", "tip_cents"):
        assert isinstance(tx.c[col].type, BigInteger), col
    qty = table("sales.transaction_line_items").c.quantity.type
    assert isinstance(qty, Numeric) and (qty.precision, qty.scale) == (19, 5)

    audit_path = table("sales.event_inscriptions").c.audit_path.type
    assert isinstance(audit_path, ARRAY) and isinstance(audit_path.item_type, LargeBinary)
    canonical_ids = table("app.alerts").c.canonical_ids.type
    assert isinstance(canonical_ids, ARRAY) and isinstance(canonical_ids.item_type, Uuid)
    for col in ("details", "thresholds"):
        assert isinstance(table("app.alerts").c[col].type, JSONB)
    assert isinstance(table("app.merchant_baselines").c.value.type, JSONB)
    assert isinstance(table("sales.ingestion_log").c.id.type, BigInteger)
    assert isinstance(table("sales.ingestion_log").c.step.type, Text)
    assert isinstance(table("app.alerts").c.score.type, Integer)


def test_closed_lists_are_check_constraints() -> None:
    def checks(name: str) -> set[str]:
        return {str(c.name) for c in table(name).constraints if isinstance(c, CheckConstraint)}

    assert {"ck_ingestion_log_step", "ck_ingestion_log_status"} <= checks("sales.ingestion_log")
    assert {
        "ck_evidence_records_source_type",
        "ck_evidence_records_seq_positive",
        "ck_evidence_records_genesis",
    } <= checks("sales.evidence_records")
    assert "ck_inscription_pool_anchor_status" in checks("sales.inscription_pool")
    assert "ck_customers_db_status" in checks("app.customers")
    assert "ck_merchants_status" in checks("app.merchants")


def test_merchant_defaults() -> None:
    m = table("app.merchants")
    defaults = {
        col: str(m.c[col].server_default.arg)  # type: ignore[union-attr]
        for col in ("provider", "status", "currency", "timezone", "business_day_start")
    }
    assert defaults == {
        "provider": "'square'",
        "status": "'active'",
        "currency": "'USD'",
        "timezone": "'UTC'",
        "business_day_start": "'04:00'",
    }
