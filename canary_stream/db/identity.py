"""Read-only queries of the identity MCP server (customers.md); every one filtered by merchant.

A row of another merchant is never returned: each statement names ``merchant_id = :m``,
so a foreign id answers exactly like a missing one (``None`` / empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CUSTOMER_COLUMNS = (
    "id, square_customer_id, db_status, lifetime_value_cents, transaction_count, "
    "first_seen_at, last_seen_at"
)
PROFILE_COLUMNS = (
    "id, card_brand, customer_id, first_seen_at, last_seen_at, use_count, failed_count"
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def customer_dict(row: Any) -> dict[str, Any]:
    """The customer as tools return it: ids, status, aggregates."""
    return {
        "customer_id": str(row.id),
        "square_customer_id": row.square_customer_id,
        "status": row.db_status,
        "lifetime_value_cents": int(row.lifetime_value_cents),
        "transaction_count": int(row.transaction_count),
        "first_seen_at": _iso(row.first_seen_at),
        "last_seen_at": _iso(row.last_seen_at),
    }


def profile_dict(row: Any) -> dict[str, Any]:
    """A card profile without its fingerprint hash."""
    return {
        "card_profile_id": str(row.id),
        "card_brand": row.card_brand,
        "customer_id": str(row.customer_id) if row.customer_id is not None else None,
        "first_seen_at": _iso(row.first_seen_at),
        "last_seen_at": _iso(row.last_seen_at),
        "use_count": int(row.use_count),
        "failed_count": int(row.failed_count),
    }


async def customer_by_id(conn: AsyncConnection, m: UUID, customer_id: UUID) -> Any | None:
    """The merchant's customer row with our id, or None."""
    return (
        await conn.execute(
            text(
                f"SELECT {CUSTOMER_COLUMNS} FROM app.customers WHERE merchant_id = :m AND id = :c"
            ),
            {"m": m, "c": customer_id},
        )
    ).first()


async def customer_by_square_id(conn: AsyncConnection, m: UUID, square_id: str) -> Any | None:
    """The merchant's customer row with Square's id, or None."""
    return (
        await conn.execute(
            text(
                f"SELECT {CUSTOMER_COLUMNS} FROM app.customers "
                "WHERE merchant_id = :m AND square_customer_id = :s"
            ),
            {"m": m, "s": square_id},
        )
    ).first()


async def profiles_by_hashes(conn: AsyncConnection, m: UUID, hashes: Sequence[bytes]) -> list[Any]:
    """The merchant's card profiles whose fingerprint hash is one of ``hashes``."""
    rows = await conn.execute(
        text(
            f"SELECT {PROFILE_COLUMNS} FROM app.card_profiles "
            "WHERE merchant_id = :m AND fingerprint_hash = ANY(:h) ORDER BY first_seen_at, id"
        ),
        {"m": m, "h": list(hashes)},
    )
    return list(rows)


async def customers_by_ids(conn: AsyncConnection, m: UUID, ids: Sequence[UUID]) -> list[Any]:
    """The merchant's customers among ``ids``, in Square id order."""
    if not ids:
        return []
    rows = await conn.execute(
        text(
            f"SELECT {CUSTOMER_COLUMNS} FROM app.customers "
            "WHERE merchant_id = :m AND id = ANY(:ids) ORDER BY square_customer_id"
        ),
        {"m": m, "ids": list(ids)},
    )
    return list(rows)


async def profiles_of(conn: AsyncConnection, m: UUID, customer_id: UUID) -> list[Any]:
    """The merchant's card profiles tied to the customer."""
    rows = await conn.execute(
        text(
            f"SELECT {PROFILE_COLUMNS} FROM app.card_profiles "
            "WHERE merchant_id = :m AND customer_id = :c ORDER BY first_seen_at, id"
        ),
        {"m": m, "c": customer_id},
    )
    return list(rows)


HISTORY_SQL = """
SELECT t.id, t.transaction_type, t.status, t.amount_cents, t.currency, t.transaction_date,
       t.location_id, l.original_transaction_id
FROM sales.transactions t
LEFT JOIN sales.refund_links l ON l.refund_transaction_id = t.id AND l.merchant_id = :m
WHERE t.merchant_id = :m
  AND (t.customer_id = :sq OR EXISTS (
        SELECT 1 FROM sales.refund_links r JOIN sales.transactions o
          ON o.id = r.original_transaction_id
        WHERE r.refund_transaction_id = t.id AND r.merchant_id = :m
          AND o.merchant_id = :m AND o.customer_id = :sq))
  AND (CAST(:since AS timestamptz) IS NULL OR t.transaction_date >= :since)
  AND (CAST(:until AS timestamptz) IS NULL OR t.transaction_date < :until)
  AND (CAST(:after_at AS timestamptz) IS NULL
       OR (t.transaction_date, t.id) > (:after_at, CAST(:after_id AS uuid)))
ORDER BY t.transaction_date, t.id
LIMIT :limit
"""


async def history(
    conn: AsyncConnection,
    m: UUID,
    square_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Any]:
    """Up to ``limit`` transactions of the customer (its own and refunds of its payments).

    Keyset order ``(transaction_date, id)``; ``after`` is the last row of the previous page.
    """
    rows = await conn.execute(
        text(HISTORY_SQL),
        {
            "m": m,
            "sq": square_id,
            "since": since,
            "until": until,
            "after_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    )
    return list(rows)


def transaction_dict(row: Any) -> dict[str, Any]:
    """One history entry."""
    original = row.original_transaction_id
    return {
        "transaction_id": str(row.id),
        "type": row.transaction_type,
        "status": row.status,
        "amount_cents": int(row.amount_cents),
        "currency": row.currency,
        "date": _iso(row.transaction_date),
        "location_id": row.location_id,
        "refund_of": str(original) if original is not None else None,
    }


async def value_parts(
    conn: AsyncConnection, m: UUID, customer_id: UUID, square_id: str
) -> dict[str, int]:
    """What makes up the LTV (ledger sums by kind) and the voids that do not count."""
    ledger = await conn.execute(
        text(
            "SELECT kind, coalesce(sum(ltv_delta_cents), 0) AS cents, count(*) AS n "
            "FROM app.customer_ledger WHERE merchant_id = :m AND customer_id = :c GROUP BY kind"
        ),
        {"m": m, "c": customer_id},
    )
    sums = {r.kind: (int(r.cents), int(r.n)) for r in ledger}
    voids = (
        await conn.execute(
            text(
                "SELECT coalesce(sum(amount_cents), 0) AS cents, count(*) AS n "
                "FROM sales.transactions WHERE merchant_id = :m AND customer_id = :sq "
                "AND transaction_type = 'VOID'"
            ),
            {"m": m, "sq": square_id},
        )
    ).one()
    return {
        "gross_payments_cents": sums.get("PAYMENT", (0, 0))[0],
        "payment_count": sums.get("PAYMENT", (0, 0))[1],
        "refunds_cents": -sums.get("REFUND", (0, 0))[0],
        "refund_count": sums.get("REFUND", (0, 0))[1],
        "lost_disputes_cents": -sums.get("DISPUTE_LOST", (0, 0))[0],
        "lost_dispute_count": sums.get("DISPUTE_LOST", (0, 0))[1],
        "voids_cents": int(voids.cents),
        "void_count": int(voids.n),
    }


async def external_link(
    conn: AsyncConnection, m: UUID, system: str, namespace: str, source_id: str
) -> Any | None:
    """The customer of an active manual link, or None."""
    return (
        await conn.execute(
            text(
                "SELECT c.id, c.square_customer_id, c.db_status, c.lifetime_value_cents, "
                "c.transaction_count, c.first_seen_at, c.last_seen_at, e.linked_at "
                "FROM app.external_identities e JOIN app.customers c "
                "ON c.id = e.customer_id AND c.merchant_id = :m "
                "WHERE e.merchant_id = :m AND e.source_system = :s AND e.source_namespace = :ns "
                "AND e.source_customer_id = :id AND e.revoked_at IS NULL "
                "AND e.link_method = 'manual'"
            ),
            {"m": m, "s": system, "ns": namespace, "id": source_id},
        )
    ).first()
