"""The registry's writes on the real PostgreSQL: order-independent archive / re-activation,
ledger idempotency, card counts only on new markers; and the no-free-text schema test.
Every write runs in a transaction that is rolled back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from canary_stream.customers.registry import (
    Archive,
    CardObservation,
    CustomerTouch,
    LedgerEntry,
    card_profile_uuid,
    customer_uuid,
)
from canary_stream.db import customers as db

pytestmark = pytest.mark.integration

T = [datetime(2026, 6, d, tzinfo=UTC) for d in range(1, 10)]

#: The only text columns of customers / card_profiles: vendor ids, closed enums, actor ids.
TEXT_ALLOWED = {
    ("customers", "square_customer_id"),  # Square's opaque id
    ("customers", "db_status"),  # CHECK (active / archived)
    ("customers", "created_by"),  # actor id (the agent or an operator id)
    ("customers", "modified_by"),
    ("card_profiles", "fingerprint_key_version"),  # key version label, e.g. c1
    ("card_profiles", "card_brand"),  # Square's card brand enum
}
FREE_TEXT_TYPES = {"text", "character varying", "character", "json", "jsonb", "xml", "ARRAY"}


async def test_no_column_can_hold_free_text_outside_the_allow_list(engine):
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name, data_type, udt_name "
                    "FROM information_schema.columns WHERE table_schema = 'app' "
                    "AND table_name IN ('customers', 'card_profiles')"
                )
            )
        ).all()
    assert {r.table_name for r in rows} == {"customers", "card_profiles"}
    texty = {
        (r.table_name, r.column_name)
        for r in rows
        if r.data_type in FREE_TEXT_TYPES or r.data_type == "USER-DEFINED"
    }
    assert texty <= TEXT_ALLOWED, texty - TEXT_ALLOWED
    # everything else is a number, uuid, timestamp or the 32-byte hash
    others = {r.data_type for r in rows if (r.table_name, r.column_name) not in TEXT_ALLOWED}
    assert others <= {"uuid", "bigint", "integer", "timestamp with time zone", "bytea"}


def _touch(m: uuid.UUID, at: datetime, *, seen: bool = True, react: bool = True) -> CustomerTouch:
    return CustomerTouch(customer_uuid(m, "C1"), m, "C1", at, at if seen else None, react)


async def _row(conn, m: uuid.UUID):
    return (
        await conn.execute(
            text(
                "SELECT * FROM app.customers WHERE merchant_id = :m AND square_customer_id = 'C1'"
            ),
            {"m": m},
        )
    ).one()


async def test_archive_and_reactivation_converge_in_any_order(engine):
    m = uuid.uuid4()
    deleted = Archive(customer_uuid(m, "C1"), m, "C1", T[4])
    async with engine.connect() as conn, conn.begin() as tx:
        await db.touch(conn, [_touch(m, T[1])])
        await db.archive(conn, [deleted])
        row = await _row(conn, m)
        assert (row.db_status, row.db_effective_to) == ("archived", T[4])
        await db.touch(conn, [_touch(m, T[2])])  # a replayed older payment: stays archived
        assert (await _row(conn, m)).db_status == "archived"
        await db.touch(conn, [_touch(m, T[6], react=False)])  # a refund does not re-activate
        assert (await _row(conn, m)).db_status == "archived"
        await db.touch(conn, [_touch(m, T[7])])  # a later payment re-activates
        row = await _row(conn, m)
        assert (row.db_status, row.db_effective_from, row.db_effective_to) == ("active", T[7], None)
        await db.archive(conn, [deleted])  # the deletion redelivered: still active
        row = await _row(conn, m)
        assert row.db_status == "active"
        assert (row.first_seen_at, row.last_seen_at) == (T[1], T[7])
        await tx.rollback()


async def test_deleted_before_first_sight_creates_an_archived_row(engine):
    m = uuid.uuid4()
    async with engine.connect() as conn, conn.begin() as tx:
        await db.archive(conn, [Archive(customer_uuid(m, "C1"), m, "C1", T[4])])
        await db.touch(conn, [_touch(m, T[3])])  # older than the deletion
        row = await _row(conn, m)
        assert (row.db_status, row.first_seen_at, row.last_seen_at) == ("archived", T[3], T[3])
        await tx.rollback()


async def test_ledger_and_card_counts_are_idempotent(engine):
    m = uuid.uuid4()
    c = customer_uuid(m, "C1")
    pay = LedgerEntry(m, c, uuid.uuid4(), "PAYMENT", 1000, 1, T[1])
    refund = LedgerEntry(m, c, uuid.uuid4(), "REFUND", -300, 0, T[2])
    digest = bytes(range(32))
    seen = CardObservation(
        card_profile_uuid(m, digest), m, digest, "c1", "VISA", c, T[1], 1, 0, pay.transaction_id
    )
    async with engine.connect() as conn, conn.begin() as tx:
        await db.touch(conn, [_touch(m, T[1])])
        assert await db.add_ledger(conn, [pay, pay]) == {(pay.transaction_id, "PAYMENT")}
        assert await db.add_ledger(conn, [pay, refund]) == {(refund.transaction_id, "REFUND")}
        assert await db.add_ledger(conn, [pay, refund]) == set()
        row = await _row(conn, m)
        assert (row.lifetime_value_cents, row.transaction_count) == (700, 1)
        await db.observe_cards(conn, [seen])
        await db.observe_cards(conn, [seen])  # redelivered: its marker exists
        card = (
            await conn.execute(
                text("SELECT * FROM app.card_profiles WHERE merchant_id = :m"), {"m": m}
            )
        ).one()
        assert (card.use_count, card.failed_count, card.customer_id) == (1, 0, c)
        event = uuid.uuid4()
        first = await db.log_new(conn, [db.LogRow(event, m, "SUCCESS")])
        again = await db.log_new(conn, [db.LogRow(event, m, "SUCCESS")])
        assert (first, again) == ({(event, "SUCCESS")}, set())
        await tx.rollback()


async def _profile_from_markers(conn, m: uuid.UUID) -> tuple:
    return tuple(
        (
            await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE outcome = 'USE'), "
                    "count(*) FILTER (WHERE outcome = 'FAILURE'), min(occurred_at), "
                    "max(occurred_at) FROM app.card_observations WHERE merchant_id = :m"
                ),
                {"m": m},
            )
        ).one()
    )


def _observation(
    m: uuid.UUID, digest: bytes, txn: uuid.UUID, at: datetime, *, failed: bool = False
):
    uses, failures = (0, 1) if failed else (1, 0)
    profile = card_profile_uuid(m, digest)
    return CardObservation(profile, m, digest, "c1", "VISA", None, at, uses, failures, txn)


async def test_card_counts_move_once_per_payment_however_batches_are_cut(engine):
    m = uuid.uuid4()
    digest = bytes(range(1, 33))
    p1, p2, p3, declined = (uuid.uuid4() for _ in range(4))
    page = [
        _observation(m, digest, p1, T[1]),
        _observation(m, digest, p2, T[2]),
        _observation(m, digest, p3, T[3]),
        _observation(m, digest, declined, T[4], failed=True),
    ]
    async with engine.connect() as conn, conn.begin() as tx:
        await db.observe_cards(conn, [page[0], page[1], page[0]])  # a duplicate in the batch
        await db.observe_cards(conn, page[2:])  # the rest of the page, in the next batch
        await db.observe_cards(conn, page)  # the whole page again
        await db.observe_cards(conn, [_observation(m, digest, declined, T[5], failed=True)])
        assert await _profile_from_markers(conn, m) == (3, 1, T[1], T[4])
        card = (
            await conn.execute(
                text("SELECT * FROM app.card_profiles WHERE merchant_id = :m"), {"m": m}
            )
        ).one()
        assert (card.use_count, card.failed_count) == (3, 1)
        # the declined payment's second version (T[5]) is the same observation: not seen again
        assert (card.first_seen_at, card.last_seen_at) == (T[1], T[4])
        markers = (
            await conn.execute(
                text(
                    "SELECT transaction_id, outcome FROM app.card_observations "
                    "WHERE merchant_id = :m"
                ),
                {"m": m},
            )
        ).all()
        assert sorted(map(tuple, markers)) == sorted(
            [(p1, "USE"), (p2, "USE"), (p3, "USE"), (declined, "FAILURE")]
        )
        await tx.rollback()


async def test_rebuild_reports_and_applies_differences(pipeline_factory, engine):
    pipe = pipeline_factory()
    merchant_id, _ = pipe.add_merchant()
    m = uuid.UUID(merchant_id)
    async with engine.begin() as conn:
        await db.touch(conn, [_touch(m, T[1])])
        await conn.execute(
            text("UPDATE app.customers SET lifetime_value_cents = 999 WHERE merchant_id = :m"),
            {"m": m},
        )
    found = pipe.cli("customers", "rebuild", "--merchant", merchant_id, check=False)
    assert found.returncode == 1
    assert "C1 lifetime_value_cents: live=999 expected=0" in found.stdout
    assert "C1 first_seen_at" in found.stdout  # no sales row names C1
    applied = pipe.cli("customers", "rebuild", "--merchant", merchant_id, "--apply")
    assert "applied: 1 customer row(s)" in applied.stdout
    clean = pipe.cli("customers", "rebuild", "--merchant", merchant_id)
    assert "0 difference(s)" in clean.stdout
