"""Writes of the customer registry: every statement of one batch runs in the caller's transaction.

Idempotency (redelivery and replay never double count):

- ``customer_ledger`` rows are inserted ``ON CONFLICT (transaction_id, kind) DO NOTHING``
  and the customers aggregates move by exactly the rows that statement returned.
- first / last seen move with ``LEAST`` / ``GREATEST`` (order-independent, repeatable).
- archive / re-activate compare business times: ``customer.deleted`` at ``t`` archives a row
  active since ``<= t``; a record naming the customer re-activates it only when it happened
  after the archive time. So any order and any repetition converge to the same row.
- card ``use_count`` / ``failed_count`` move only by the ``app.card_observations`` rows this
  very transaction inserted: one per observation, keyed by (payment transaction id,
  ``USE`` | ``FAILURE``), like the ledger for customers. So every version, redelivery and
  replay of a payment counts once, however its canonical events are cut into batches (a
  POLLING / BATCH page shares one sealed event across many payments). Only new
  observations touch a profile, so it is exactly the aggregate of its markers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.customers.registry import Archive, CardObservation, CustomerTouch, LedgerEntry

ACTOR = "customers"


@dataclass(frozen=True)
class LogRow:
    """One ``sales.ingestion_log`` row of the CUSTOMERS step."""

    event_id: UUID
    merchant_id: UUID
    status: str
    detail: str | None = None


def _json(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(rows), default=str)


async def refund_originals(conn: AsyncConnection, refund_ids: Sequence[UUID]) -> dict[UUID, UUID]:
    """Refund transaction id → its original payment, from ``sales.refund_links``."""
    if not refund_ids:
        return {}
    rows = await conn.execute(
        text(
            "SELECT refund_transaction_id, original_transaction_id FROM sales.refund_links "
            "WHERE refund_transaction_id = ANY(:ids)"
        ),
        {"ids": list(set(refund_ids))},
    )
    return {r.refund_transaction_id: r.original_transaction_id for r in rows}


@dataclass(frozen=True)
class SalesFacts:
    """What ``sales.transactions`` holds for a ledger transaction (the authority)."""

    occurred_at: datetime
    amount_cents: int
    customer_id: str | None


async def sales_facts(conn: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, SalesFacts]:
    """Transaction id → its stored business time, amount and customer."""
    if not ids:
        return {}
    rows = await conn.execute(
        text(
            "SELECT id, transaction_date, amount_cents, customer_id FROM sales.transactions "
            "WHERE id = ANY(:ids)"
        ),
        {"ids": list(set(ids))},
    )
    return {r.id: SalesFacts(r.transaction_date, r.amount_cents, r.customer_id) for r in rows}


async def owners(conn: AsyncConnection, transaction_ids: Sequence[UUID]) -> dict[UUID, str]:
    """Transaction id → the Square customer it names (only transactions naming one)."""
    if not transaction_ids:
        return {}
    rows = await conn.execute(
        text(
            "SELECT id, customer_id FROM sales.transactions "
            "WHERE id = ANY(:ids) AND customer_id IS NOT NULL"
        ),
        {"ids": list(set(transaction_ids))},
    )
    return {r.id: r.customer_id for r in rows}


async def log_new(conn: AsyncConnection, rows: Sequence[LogRow]) -> set[tuple[UUID, str]]:
    """Insert ingestion-log rows; the ``(event_id, status)`` pairs that were new."""
    unique = {(r.event_id, r.status): r for r in rows}
    if not unique:
        return set()
    result = await conn.execute(
        text(
            "INSERT INTO sales.ingestion_log (event_id, merchant_id, step, status, detail) "
            "SELECT r.event_id, r.merchant_id, 'CUSTOMERS', r.status, r.detail "
            "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
            "AS r(event_id uuid, merchant_id uuid, status text, detail text) "
            "ON CONFLICT (event_id, step, status) DO NOTHING RETURNING event_id, status"
        ),
        {"rows": _json(r.__dict__ for r in unique.values())},
    )
    return {(r.event_id, r.status) for r in result}


async def archive(conn: AsyncConnection, archives: Sequence[Archive]) -> None:
    """Archive customers (creating never-seen ones archived); the aggregates stay."""
    latest: dict[UUID, Archive] = {}
    for a in archives:
        if a.customer_id not in latest or a.at > latest[a.customer_id].at:
            latest[a.customer_id] = a
    if not latest:
        return
    await conn.execute(
        text(
            "INSERT INTO app.customers AS c (id, merchant_id, square_customer_id, created_by, "
            "modified_by, db_status, db_effective_from, db_effective_to) "
            "SELECT r.id, r.merchant_id, r.square_customer_id, :actor, :actor, 'archived', "
            "r.at, r.at FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
            "AS r(id uuid, merchant_id uuid, square_customer_id text, at timestamptz) "
            "ON CONFLICT (merchant_id, square_customer_id) DO UPDATE SET "
            "db_status = 'archived', db_effective_to = EXCLUDED.db_effective_to, "
            "updated_at = now(), modified_by = :actor "
            "WHERE c.db_status = 'active' AND c.db_effective_from <= EXCLUDED.db_effective_to"
        ),
        {
            "actor": ACTOR,
            "rows": _json(
                {
                    "id": a.customer_id,
                    "merchant_id": a.merchant_id,
                    "square_customer_id": a.square_customer_id,
                    "at": a.at.isoformat(),
                }
                for a in latest.values()
            ),
        },
    )


def _merge_touches(touches: Sequence[CustomerTouch]) -> list[dict[str, Any]]:
    """One row per customer: earliest time, seen range, latest re-activating time."""
    merged: dict[UUID, dict[str, Any]] = {}
    for t in touches:
        row = merged.setdefault(
            t.customer_id,
            {
                "id": t.customer_id,
                "merchant_id": t.merchant_id,
                "square_customer_id": t.square_customer_id,
                "at": t.at,
                "first_seen": None,
                "last_seen": None,
                "react_at": None,
            },
        )
        row["at"] = min(row["at"], t.at)
        if t.seen_at is not None:
            row["first_seen"] = _opt(min, row["first_seen"], t.seen_at)
            row["last_seen"] = _opt(max, row["last_seen"], t.seen_at)
        if t.reactivate:
            row["react_at"] = _opt(max, row["react_at"], t.at)
    return [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
        for row in merged.values()
    ]


def _opt(pick: Any, current: datetime | None, new: datetime) -> datetime:
    return new if current is None else pick(current, new)


async def touch(conn: AsyncConnection, touches: Sequence[CustomerTouch]) -> None:
    """Create customers on first sight, widen first / last seen, re-activate when due."""
    rows = _merge_touches(touches)
    if not rows:
        return
    recordset = (
        "jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, merchant_id uuid, "
        "square_customer_id text, at timestamptz, first_seen timestamptz, "
        "last_seen timestamptz, react_at timestamptz)"
    )
    params = {"rows": _json(rows), "actor": ACTOR}
    await conn.execute(
        text(
            "INSERT INTO app.customers AS c (id, merchant_id, square_customer_id, first_seen_at, "
            "last_seen_at, created_by, modified_by, db_status, db_effective_from) "
            "SELECT r.id, r.merchant_id, r.square_customer_id, r.first_seen, r.last_seen, "
            f":actor, :actor, 'active', r.at FROM {recordset} "
            "ON CONFLICT (merchant_id, square_customer_id) DO UPDATE SET "
            "first_seen_at = LEAST(c.first_seen_at, EXCLUDED.first_seen_at), "
            "last_seen_at = GREATEST(c.last_seen_at, EXCLUDED.last_seen_at), "
            "updated_at = now(), modified_by = :actor "
            "WHERE EXCLUDED.first_seen_at IS NOT NULL"
        ),
        params,
    )
    await conn.execute(
        text(
            "UPDATE app.customers AS c SET db_status = 'active', db_effective_from = r.react_at, "
            "db_effective_to = NULL, updated_at = now(), modified_by = :actor "
            f"FROM {recordset} WHERE c.id = r.id AND c.db_status = 'archived' "
            "AND r.react_at IS NOT NULL AND r.react_at > c.db_effective_to"
        ),
        params,
    )


async def add_ledger(
    conn: AsyncConnection, entries: Sequence[LedgerEntry]
) -> set[tuple[UUID, str]]:
    """Insert ledger rows; move each customer's aggregates by the rows actually inserted.

    Returns the ``(transaction_id, kind)`` of the rows this call inserted.
    """
    if not entries:
        return set()
    first: dict[tuple[UUID, str], LedgerEntry] = {}
    for e in entries:
        first.setdefault((e.transaction_id, e.kind), e)
    rows = [{**e.__dict__, "occurred_at": e.occurred_at.isoformat()} for e in first.values()]
    result = await conn.execute(
        text(
            "WITH ins AS (INSERT INTO app.customer_ledger (merchant_id, customer_id, "
            "transaction_id, kind, ltv_delta_cents, count_delta, occurred_at) "
            "SELECT r.merchant_id, r.customer_id, r.transaction_id, r.kind, r.ltv_delta_cents, "
            "r.count_delta, r.occurred_at FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS "
            "r(merchant_id uuid, customer_id uuid, transaction_id uuid, kind text, "
            "ltv_delta_cents bigint, count_delta integer, occurred_at timestamptz) "
            "ON CONFLICT (transaction_id, kind) DO NOTHING "
            "RETURNING customer_id, transaction_id, kind, ltv_delta_cents, count_delta), "
            "agg AS (SELECT customer_id, sum(ltv_delta_cents) AS ltv, sum(count_delta) AS n "
            "FROM ins GROUP BY customer_id), "
            "upd AS (UPDATE app.customers c SET "
            "lifetime_value_cents = c.lifetime_value_cents + agg.ltv, "
            "transaction_count = c.transaction_count + agg.n, updated_at = now(), "
            "modified_by = :actor FROM agg WHERE c.id = agg.customer_id RETURNING c.id) "
            "SELECT transaction_id, kind FROM ins"
        ),
        {"rows": _json(rows), "actor": ACTOR},
    )
    return {(r.transaction_id, r.kind) for r in result}


async def _new_observations(
    conn: AsyncConnection, observations: Sequence[CardObservation]
) -> set[tuple[UUID, str]]:
    """Insert the observation markers; the ``(transaction_id, outcome)`` pairs that were new."""
    unique = {(o.transaction_id, o.outcome): o for o in observations}
    if not unique:
        return set()
    result = await conn.execute(
        text(
            "INSERT INTO app.card_observations (merchant_id, card_profile_id, transaction_id, "
            "outcome, occurred_at) SELECT r.merchant_id, r.card_profile_id, r.transaction_id, "
            "r.outcome, r.occurred_at FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS "
            "r(merchant_id uuid, card_profile_id uuid, transaction_id uuid, outcome text, "
            "occurred_at timestamptz) "
            "ON CONFLICT (transaction_id, outcome) DO NOTHING RETURNING transaction_id, outcome"
        ),
        {
            "rows": _json(
                {
                    "merchant_id": o.merchant_id,
                    "card_profile_id": o.profile_id,
                    "transaction_id": o.transaction_id,
                    "outcome": o.outcome,
                    "occurred_at": o.occurred_at.isoformat(),
                }
                for o in unique.values()
            )
        },
    )
    return {(r.transaction_id, r.outcome) for r in result}


async def observe_cards(conn: AsyncConnection, observations: Sequence[CardObservation]) -> None:
    """Upsert card profiles by the observations new to the database (none: nothing changes).

    A profile is then exactly the aggregate of its ``card_observations``: counts per
    outcome, first / last seen the min / max of their times (the first-applied version's).
    """
    new = await _new_observations(conn, observations)
    merged: dict[UUID, dict[str, Any]] = {}
    for o in observations:
        if (o.transaction_id, o.outcome) not in new:
            continue
        new.discard((o.transaction_id, o.outcome))  # a second copy in the batch: once
        row = merged.setdefault(
            o.profile_id,
            {
                "id": o.profile_id,
                "merchant_id": o.merchant_id,
                "fp": o.fingerprint_hash.hex(),
                "kv": o.key_version,
                "brand": None,
                "customer_id": None,
                "first_seen": o.occurred_at,
                "last_seen": o.occurred_at,
                "uses": 0,
                "failures": 0,
            },
        )
        row["brand"] = o.brand or row["brand"]
        row["customer_id"] = row["customer_id"] or o.customer_id
        row["first_seen"] = min(row["first_seen"], o.occurred_at)
        row["last_seen"] = max(row["last_seen"], o.occurred_at)
        row["uses"] += o.uses
        row["failures"] += o.failures
    if not merged:
        return
    await conn.execute(
        text(
            "INSERT INTO app.card_profiles AS p (id, merchant_id, fingerprint_hash, "
            "fingerprint_key_version, card_brand, customer_id, first_seen_at, last_seen_at, "
            "use_count, failed_count) "
            "SELECT r.id, r.merchant_id, decode(r.fp, 'hex'), r.kv, r.brand, r.customer_id, "
            "r.first_seen, r.last_seen, r.uses, r.failures "
            "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, merchant_id uuid, "
            "fp text, kv text, brand text, customer_id uuid, first_seen timestamptz, "
            "last_seen timestamptz, uses bigint, failures bigint) "
            "ON CONFLICT (merchant_id, fingerprint_hash) DO UPDATE SET "
            "card_brand = COALESCE(EXCLUDED.card_brand, p.card_brand), "
            "customer_id = COALESCE(p.customer_id, EXCLUDED.customer_id), "
            "first_seen_at = LEAST(p.first_seen_at, EXCLUDED.first_seen_at), "
            "last_seen_at = GREATEST(p.last_seen_at, EXCLUDED.last_seen_at), "
            "use_count = p.use_count + EXCLUDED.use_count, "
            "failed_count = p.failed_count + EXCLUDED.failed_count"
        ),
        {
            "rows": _json(
                {
                    **r,
                    "first_seen": r["first_seen"].isoformat(),
                    "last_seen": r["last_seen"].isoformat(),
                }
                for r in merged.values()
            )
        },
    )
