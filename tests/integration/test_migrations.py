"""Migrations and append-only enforcement on the real PostgreSQL of the local stack.

Settings come from the environment (``CANARY_DATABASE_URL``, ``CANARY_OWNER_DATABASE_URL``).
Every privilege test runs inside a transaction that is rolled back, so nothing it inserts
stays behind (rows of append-only tables could not be removed afterwards).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    ColumnElement,
    Executable,
    Table,
    and_,
    create_engine,
    delete,
    insert,
    pool,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from canary_stream.db import migrate
from canary_stream.db.append_only import APPEND_ONLY_TABLES, SCHEMAS, UPDATABLE_COLUMNS
from canary_stream.db.engine import make_engine
from canary_stream.db.models import Base
from canary_stream.settings import Settings

pytestmark = pytest.mark.integration

INSUFFICIENT_PRIVILEGE = "42501"
MUTABLE_TABLES = tuple(sorted(set(Base.metadata.tables) - set(APPEND_ONLY_TABLES)))
LONG_AGO = dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.UTC)


# Row factory -----------------------------------------------------------------------------
def _h() -> bytes:
    return os.urandom(32)


def _u() -> uuid.UUID:
    return uuid.uuid4()


def _s(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


RowFactory = Callable[[uuid.UUID], dict[str, Any]]

ROW_FACTORIES: dict[str, RowFactory] = {
    # app, append-only
    "app.alerts": lambda m: {
        "alert_id": _u(), "merchant_id": m, "rule_id": "C-001", "rule_name": "TEST_RULE",
        "category": "refunds", "severity": "high", "score": 60, "tier": 1, "level": 1,
        "mode": "alerting", "subject_key": "employee:e1|day:2026-01-02", "employee_id": "e1",
        "location_id": "L1", "amount_cents": 1250, "currency": "USD",
        "canonical_ids": [_u(), _u()], "details": {"count": 3}, "thresholds": {"count": 3},
        "occurred_at": _now(), "fired_at": _now(),
    },
    "app.cases": lambda m: {
        "case_id": _u(), "merchant_id": m, "rule_id": "C-009", "priority": "critical",
        "subject_type": "employee", "subject_id": "e1", "business_date": dt.date(2026, 1, 2),
        "opened_at": _now(),
    },
    "app.case_alerts": lambda m: {"case_id": _u(), "alert_id": _u(), "merchant_id": m},
    "app.customer_ledger": lambda m: {
        "merchant_id": m, "customer_id": _u(), "transaction_id": _u(), "kind": "PAYMENT",
        "ltv_delta_cents": 1000, "count_delta": 1, "occurred_at": _now(),
    },
    "app.card_observations": lambda m: {
        "merchant_id": m, "card_profile_id": _u(), "transaction_id": _u(), "outcome": "USE",
        "occurred_at": _now(),
    },
    # sales, append-only
    "sales.evidence_records": lambda m: {
        "event_id": _u(), "merchant_id": m, "seq": 1, "source": "square",
        "source_type": "WEBHOOK", "source_event_id": _s("evt"), "event_type": "payment.created",
        "event_hash": _h(), "prev_chain_hash": None, "chain_hash": _h(),
        "raw_payload_enc": b"k1\x00" + os.urandom(40), "raw_size": 24, "parse_failed": False,
        "oversize": False, "signature_key_id": "k1", "received_at": _now(), "sealed_at": _now(),
    },
    "sales.ingestion_log": lambda m: {
        "event_id": _u(), "merchant_id": m, "step": "SEAL", "status": "SUCCESS",
        "detail": "seq 1",
    },
    "sales.transactions": lambda m: {
        "id": _u(), "merchant_id": m, "external_id": _s("pay"), "transaction_type": "PAYMENT",
        "status": "COMPLETED", "transaction_date": _now(), "location_id": "L1",
        "device_id": "D1", "employee_id": "e1", "customer_id": "C1", "order_id": "O1",
        "amount_cents": 1000, "approved_amount_cents": 1000, "tip_cents": 0, "currency": "USD",
        "source_type": "WEBHOOK", "event_id": _u(),
    },
    "sales.transaction_fees": lambda m: {
        "transaction_id": _u(), "merchant_id": m, "fee_type": "PROCESSING",
        "effective_at": _now(), "amount_cents": 59, "currency": "USD",
    },
    "sales.transaction_line_items": lambda m: {
        "transaction_id": _u(), "merchant_id": m, "line_uid": "li-1", "catalog_object_id": "CO1",
        "name": "Coffee", "quantity": Decimal("1.50000"), "unit_price_cents": 400,
        "gross_sales_cents": 600, "discount_cents": 0, "returned": False,
    },
    "sales.transaction_tenders": lambda m: {
        "transaction_id": _u(), "merchant_id": m, "payment_transaction_id": _u(),
        "tender_type": "CARD", "amount_cents": 600, "card_brand": "VISA",
    },
    "sales.refund_links": lambda m: {
        "refund_transaction_id": _u(), "merchant_id": m, "original_transaction_id": _u(),
        "amount_cents": 300, "reason": "returned goods",
    },
    "sales.cash_drawer_shifts": lambda m: {
        "merchant_id": m, "square_shift_id": _s("shift"), "location_id": "L1",
        "device_id": "D1", "state": "OPEN", "opened_at": _now(), "opened_cash_cents": 10000,
        "opening_employee_id": "e1",
    },
    "sales.cash_drawer_events": lambda m: {
        "merchant_id": m, "square_event_id": _s("cde"), "square_shift_id": _s("shift"),
        "event_type": "NO_SALE", "amount_cents": 0, "employee_id": "e1", "occurred_at": _now(),
    },
    "sales.loyalty_events": lambda m: {
        "merchant_id": m, "square_loyalty_event_id": _s("loy"), "loyalty_account_id": "LA1",
        "event_type": "ACCUMULATE_POINTS", "points": 12, "location_id": "L1",
        "occurred_at": _now(),
    },
    "sales.disputes": lambda m: {
        "merchant_id": m, "dispute_id": _s("dsp"), "state": "EVIDENCE_REQUIRED",
        "reason": "NOT_AS_DESCRIBED", "amount_cents": 1000, "disputed_transaction_id": _u(),
        "occurred_at": _now(),
    },
    "sales.gift_card_activities": lambda m: {
        "merchant_id": m, "activity_id": _s("gca"), "gift_card_id": "GC1", "activity": "LOAD",
        "amount_cents": 5000, "location_id": "L1", "occurred_at": _now(),
    },
    "sales.payouts": lambda m: {
        "merchant_id": m, "payout_id": _s("po"), "status": "SENT", "amount_cents": 90000,
        "occurred_at": _now(),
    },
    "sales.inscription_pool": lambda m: {
        "merchant_id": m, "batch_no": 1, "first_seq": 1, "last_seq": 2, "leaf_count": 2,
        "root_hash": _h(), "prev_root_hash": bytes(32), "checkpoint": f"canary-stream/{m}\n2\n",
        "signing_key_id": "a1b2c3d4", "anchor_backend": "mock", "anchor_status": "PENDING",
        "anchor_ref": None, "closed_at": _now(),
    },
    "sales.event_inscriptions": lambda m: {
        "event_id": _u(), "merchant_id": m, "seq": 2, "batch_no": 1, "leaf_index": 1,
        "audit_path": [_h(), _h()],
    },
    # mutable
    "app.merchants": lambda m: {"id": m, "provider_merchant_id": _s("MLxyz")},
    "app.merchant_locations": lambda m: {
        "merchant_id": m, "square_location_id": _s("L"), "name": "Main St", "timezone": "UTC",
        "status": "ACTIVE",
    },
    "app.merchant_rule_settings": lambda m: {
        "merchant_id": m, "rule_id": "C-005", "mode": "dry_run", "thresholds": {"count": 7},
    },
    "app.merchant_employees": lambda m: {
        "merchant_id": m, "square_team_member_id": _s("TM"), "status": "ACTIVE",
    },
    "app.webhook_signing_keys": lambda m: {
        "key_id": _s("key"), "notification_url": "http://127.0.0.1:8080/webhooks/square",
        "secret_enc": b"k1\x00" + os.urandom(40),
    },
    "app.square_oauth_tokens": lambda m: {
        "merchant_id": m, "access_token_enc": b"k1\x00a", "refresh_token_enc": b"k1\x00r",
        "expires_at": _now(), "scopes": ["PAYMENTS_READ", "ORDERS_READ"],
    },
    "app.api_tokens": lambda m: {"token_hash": _h(), "merchant_id": m, "scope": "mcp"},
    "app.merchant_baselines": lambda m: {
        "merchant_id": m, "metric": "avg_ticket", "scope": "merchant", "value": {"cents": 1250},
    },
    "app.onboarding_runs": lambda m: {
        "merchant_id": m, "step": "payments", "status": "running", "cursor": {"c": "abc"},
    },
    "app.poll_cursors": lambda m: {
        "merchant_id": m, "stream": "cash_drawer_shifts", "cursor": {"begin_time": "2026-01-01"},
    },
    "app.customers": lambda m: {"id": _u(), "merchant_id": m, "square_customer_id": _s("CUST")},
    "app.card_profiles": lambda m: {
        "id": _u(), "merchant_id": m, "fingerprint_hash": _h(), "fingerprint_key_version": "c1",
        "card_brand": "VISA", "first_seen_at": _now(), "last_seen_at": _now(),
    },
    "app.external_identities": lambda m: {
        "merchant_id": m, "customer_id": _u(), "source_system": "crm",
        "source_customer_id": _s("x"), "linked_by": "operator@example.test",
    },
    "sales.parse_deferrals": lambda m: {"event_id": _u(), "merchant_id": m, "last_error": None},
}  # fmt: skip


def identity(table: Table) -> list[str]:
    """The columns the ORM identifies a row by (primary key, else the natural key)."""
    for mapper in Base.registry.mappers:
        if mapper.local_table is table:
            return [c.name for c in mapper.primary_key]
    raise AssertionError(f"no mapper for {table.fullname}")


def matching(table: Table, row: dict[str, Any]) -> ColumnElement[bool]:
    return and_(*(table.c[name] == row[name] for name in identity(table)))


def of_merchant(table: Table, merchant_id: uuid.UUID) -> ColumnElement[bool]:
    column = table.c.merchant_id if "merchant_id" in table.c else table.c.key_id
    value: Any = merchant_id if "merchant_id" in table.c else f"none-{merchant_id}"
    return column == value


async def refused(conn: AsyncConnection, statement: Executable) -> tuple[str | None, str]:
    """Run ``statement`` in a savepoint; it must fail. Returns (SQLSTATE, primary message)."""
    savepoint = await conn.begin_nested()
    try:
        await conn.execute(statement)
    except DBAPIError as exc:
        await savepoint.rollback()
        diag = getattr(exc.orig, "diag", None)
        message = getattr(diag, "message_primary", None) or str(exc.orig)
        return getattr(exc.orig, "sqlstate", None), message
    await savepoint.rollback()
    pytest.fail(f"not refused: {statement}")


def assert_denied_by_grant(error: tuple[str | None, str], table: Table) -> None:
    sqlstate, message = error
    assert sqlstate == INSUFFICIENT_PRIVILEGE, message
    assert f"permission denied for table {table.name}" in message, message


def assert_denied_by_trigger(error: tuple[str | None, str], table: Table, op: str) -> None:
    sqlstate, message = error
    assert sqlstate == INSUFFICIENT_PRIVILEGE, message
    assert message.startswith(f"{op} on {table.fullname} is not allowed"), message
    assert "append-only" in message, message


async def insert_row(conn: AsyncConnection, table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Insert ``row``; returns it with the generated identity columns (e.g. a serial id)."""
    keys = [table.c[name] for name in identity(table)]
    result = await conn.execute(insert(table).values(**row).returning(*keys))
    return {**row, **result.mappings().one()}


async def select_row(conn: AsyncConnection, table: Table, row: dict[str, Any]) -> dict[str, Any]:
    result = await conn.execute(select(table).where(matching(table, row)))
    return dict(result.mappings().one())


# Fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="module")
def at_head(settings: Settings) -> str:
    head = migrate.head_revision()
    assert head is not None
    assert migrate.upgrade(settings) == head
    return head


@pytest.fixture(scope="module")
async def app_engine(settings: Settings, at_head: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings, application_name="canary-test-app")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def owner_engine(settings: Settings, at_head: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings, owner=True, application_name="canary-test-owner")
    yield engine
    await engine.dispose()


@contextmanager
def scratch_settings(settings: Settings) -> Iterator[Settings]:
    """Settings for a throwaway database when the owner may create one, else ``settings``.

    The downgrade drops every table; on a scratch database that cannot disturb other tests
    sharing the stack's database. Without CREATEDB the cycle runs on the real database
    and leaves it at head.
    """
    name = f"canary_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        settings.sqlalchemy_url(owner=True), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except ProgrammingError:
        admin.dispose()
        yield settings
        return

    def on(url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    try:
        yield Settings(
            database_url=on(settings.database_url.get_secret_value()),
            owner_database_url=on(settings.owner_database_url.get_secret_value()),
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def schema_objects(settings: Settings) -> tuple[set[str], set[str], set[str]]:
    """(schemas, tables, functions) of the migrations' schemas in the database."""
    engine = create_engine(settings.sqlalchemy_url(owner=True), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            schemas = set(
                conn.scalars(
                    text("SELECT nspname FROM pg_namespace WHERE nspname = ANY(:s)"),
                    {"s": list(SCHEMAS)},
                )
            )
            tables = set(
                conn.scalars(
                    text(
                        "SELECT schemaname || '.' || tablename FROM pg_tables "
                        "WHERE schemaname = ANY(:s)"
                    ),
                    {"s": list(SCHEMAS)},
                )
            )
            functions = set(
                conn.scalars(
                    text(
                        "SELECT n.nspname || '.' || p.proname FROM pg_proc p "
                        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(:s)"
                    ),
                    {"s": list(SCHEMAS)},
                )
            )
    finally:
        engine.dispose()
    return schemas, tables, functions


# Migrations ------------------------------------------------------------------------------
def test_upgrade_downgrade_upgrade(settings: Settings, at_head: str) -> None:
    with scratch_settings(settings) as target:
        assert migrate.upgrade(target) == at_head
        assert migrate.downgrade(target, "base") is None
        assert schema_objects(target) == (set(), set(), set())
        assert migrate.upgrade(target) == at_head
        schemas, tables, functions = schema_objects(target)
        assert schemas == set(SCHEMAS)
        assert tables == set(Base.metadata.tables)
        assert functions == {
            "app.reject_row_change",
            "app.reject_truncate",
            "app.reject_change_except",
        }
    assert migrate.current_revision(settings) == at_head


def test_head_matches_the_models(settings: Settings, at_head: str) -> None:
    engine = create_engine(settings.sqlalchemy_url(owner=True), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, type_, parent: (
                        name in SCHEMAS if type_ == "schema" else True
                    ),
                    "compare_type": True,
                    "compare_server_default": True,
                },
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_app_role_is_not_the_owner(settings: Settings) -> None:
    assert migrate.app_role(settings) != migrate.owner_role(settings)


# Append-only tables ----------------------------------------------------------------------
def test_every_table_has_a_row_factory() -> None:
    assert set(ROW_FACTORIES) == set(Base.metadata.tables)


@pytest.mark.parametrize("name", APPEND_ONLY_TABLES)
async def test_app_role_can_only_insert_and_select(name: str, app_engine: AsyncEngine) -> None:
    table = Base.metadata.tables[name]
    merchant_id = _u()
    row = ROW_FACTORIES[name](merchant_id)
    mine = of_merchant(table, merchant_id)
    async with app_engine.connect() as conn:
        await conn.begin()
        # Nothing of this merchant yet: refused by the missing privilege (a row trigger
        # would not even fire).
        change = update(table).where(mine).values(created_at=LONG_AGO)
        assert_denied_by_grant(await refused(conn, change), table)
        assert_denied_by_grant(await refused(conn, delete(table).where(mine)), table)
        assert_denied_by_grant(await refused(conn, text(f"TRUNCATE {name}")), table)

        row = await insert_row(conn, table, row)
        stored = await select_row(conn, table, row)
        assert {k: stored[k] for k in row} == row

        change = update(table).where(matching(table, row)).values(created_at=LONG_AGO)
        assert_denied_by_grant(await refused(conn, change), table)
        assert_denied_by_grant(await refused(conn, delete(table).where(mine)), table)
        assert_denied_by_grant(await refused(conn, text(f"TRUNCATE {name}")), table)
        assert await select_row(conn, table, row) == stored
        await conn.rollback()


@pytest.mark.parametrize("name", APPEND_ONLY_TABLES)
async def test_owner_is_stopped_by_the_triggers(name: str, owner_engine: AsyncEngine) -> None:
    table = Base.metadata.tables[name]
    merchant_id = _u()
    row = ROW_FACTORIES[name](merchant_id)
    async with owner_engine.connect() as conn:
        await conn.begin()
        row = await insert_row(conn, table, row)
        stored = await select_row(conn, table, row)

        change = update(table).where(matching(table, row)).values(created_at=LONG_AGO)
        assert_denied_by_trigger(await refused(conn, change), table, "UPDATE")
        remove = delete(table).where(of_merchant(table, merchant_id))
        assert_denied_by_trigger(await refused(conn, remove), table, "DELETE")
        assert_denied_by_trigger(await refused(conn, text(f"TRUNCATE {name}")), table, "TRUNCATE")
        assert await select_row(conn, table, row) == stored
        await conn.rollback()


async def test_inscription_pool_anchor_columns_are_updatable(
    app_engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    name = "sales.inscription_pool"
    table = Base.metadata.tables[name]
    assert UPDATABLE_COLUMNS[name] == ("anchor_status", "anchor_ref")
    for engine in (app_engine, owner_engine):
        row = ROW_FACTORIES[name](_u())
        async with engine.connect() as conn:
            await conn.begin()
            row = await insert_row(conn, table, row)
            this = matching(table, row)
            done = await conn.execute(
                update(table).where(this).values(anchor_status="ANCHORED", anchor_ref="mock:1")
            )
            assert done.rowcount == 1
            stored = await select_row(conn, table, row)
            assert (stored["anchor_status"], stored["anchor_ref"]) == ("ANCHORED", "mock:1")
            assert stored["root_hash"] == row["root_hash"]

            rewrite = update(table).where(this).values(root_hash=_h())
            both = update(table).where(this).values(anchor_status="FAILED", root_hash=_h())
            for statement in (rewrite, both):
                sqlstate, message = await refused(conn, statement)
                assert sqlstate == INSUFFICIENT_PRIVILEGE, message
                if engine is app_engine:  # a column privilege the app role lacks
                    assert "permission denied for table inscription_pool" in message
                else:  # the owner has every privilege; the trigger compares OLD and NEW
                    assert message == (
                        "UPDATE on sales.inscription_pool is not allowed: the table is "
                        "append-only except anchor_status, anchor_ref"
                    )
            assert await select_row(conn, table, row) == stored
            await conn.rollback()


# Mutable tables --------------------------------------------------------------------------
@pytest.mark.parametrize("name", MUTABLE_TABLES)
async def test_app_role_may_change_mutable_tables(name: str, app_engine: AsyncEngine) -> None:
    table = Base.metadata.tables[name]
    row = ROW_FACTORIES[name](_u())
    async with app_engine.connect() as conn:
        await conn.begin()
        row = await insert_row(conn, table, row)
        this = matching(table, row)
        changed = await conn.execute(update(table).where(this).values(created_at=LONG_AGO))
        assert changed.rowcount == 1
        assert (await select_row(conn, table, row))["created_at"] == LONG_AGO
        assert (await conn.execute(delete(table).where(this))).rowcount == 1
        assert_denied_by_grant(await refused(conn, text(f"TRUNCATE {name}")), table)
        await conn.rollback()


async def test_app_role_has_no_ddl(app_engine: AsyncEngine) -> None:
    async with app_engine.connect() as conn:
        await conn.begin()
        for statement in (
            "CREATE TABLE sales.intruder (a int)",
            "CREATE TABLE app.intruder (a int)",
            "ALTER TABLE sales.evidence_records DISABLE TRIGGER append_only_row",
            "DROP TABLE sales.ingestion_log",
        ):
            sqlstate, message = await refused(conn, text(statement))
            assert sqlstate == INSUFFICIENT_PRIVILEGE, message
        await conn.rollback()
