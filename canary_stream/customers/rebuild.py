"""Recompute every customer aggregate of a merchant from ``sales.*`` and diff the live rows.

The same rules as :mod:`canary_stream.customers.registry`, written over the ledger tables:
PAYMENT rows naming a customer (+amount, +1), COMPLETED refunds through ``refund_links`` to
a payment of the customer (-amount), LOST disputes of a payment of the customer
(-amount, the first LOST per payment); first / last seen over those rows and every other
ledger transaction naming the customer. Card profiles are not rebuildable from ``sales.*``
(fingerprints are never stored there) and are not compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.customers.registry import customer_uuid

EXPECTED_SQL = """
WITH named AS (
  SELECT customer_id AS sq, transaction_date AS at,
         CASE WHEN transaction_type = 'PAYMENT' THEN amount_cents ELSE 0 END AS ltv,
         CASE WHEN transaction_type = 'PAYMENT' THEN 1 ELSE 0 END AS n
  FROM sales.transactions
  WHERE merchant_id = :m AND customer_id IS NOT NULL
    AND transaction_type NOT IN ('NO_SALE', 'PAID_IN', 'PAID_OUT')
), refunds AS (
  SELECT o.customer_id AS sq, r.transaction_date AS at, -r.amount_cents AS ltv, 0 AS n
  FROM sales.transactions r
  JOIN sales.refund_links l ON l.refund_transaction_id = r.id
  JOIN sales.transactions o ON o.id = l.original_transaction_id
  WHERE r.merchant_id = :m AND r.transaction_type = 'REFUND' AND o.customer_id IS NOT NULL
), lost AS (
  SELECT DISTINCT ON (d.disputed_transaction_id)
         o.customer_id AS sq, d.occurred_at AS at, -d.amount_cents AS ltv, 0 AS n
  FROM sales.disputes d JOIN sales.transactions o ON o.id = d.disputed_transaction_id
  WHERE d.merchant_id = :m AND d.state = 'LOST' AND d.amount_cents IS NOT NULL
    AND o.customer_id IS NOT NULL
  ORDER BY d.disputed_transaction_id, d.occurred_at
)
SELECT sq, sum(ltv) AS ltv, sum(n) AS n, min(at) AS first_seen, max(at) AS last_seen
FROM (SELECT * FROM named UNION ALL SELECT * FROM refunds UNION ALL SELECT * FROM lost) x
GROUP BY sq
"""

LIVE_SQL = (
    "SELECT square_customer_id AS sq, lifetime_value_cents AS ltv, transaction_count AS n, "
    "first_seen_at AS first_seen, last_seen_at AS last_seen FROM app.customers "
    "WHERE merchant_id = :m"
)

Aggregates = tuple[int, int, datetime | None, datetime | None]
FIELDS = ("lifetime_value_cents", "transaction_count", "first_seen_at", "last_seen_at")
ZERO: Aggregates = (0, 0, None, None)


@dataclass(frozen=True)
class Difference:
    """One aggregate of one customer that differs (``live`` None: the row is missing)."""

    square_customer_id: str
    field: str
    live: object
    expected: object


async def _aggregates(conn: AsyncConnection, sql: str, merchant_id: UUID) -> dict[str, Aggregates]:
    rows = await conn.execute(text(sql), {"m": merchant_id})
    return {r.sq: (int(r.ltv), int(r.n), r.first_seen, r.last_seen) for r in rows}


def compare(live: dict[str, Aggregates], expected: dict[str, Aggregates]) -> list[Difference]:
    """Every differing aggregate, customers in id order."""
    out: list[Difference] = []
    for sq in sorted(set(live) | set(expected)):
        want = expected.get(sq, ZERO)
        if sq not in live:
            out.append(Difference(sq, "row", None, "missing"))
            continue
        for name, have, should in zip(FIELDS, live[sq], want, strict=True):
            if have != should:
                out.append(Difference(sq, name, have, should))
    return out


async def differences(conn: AsyncConnection, merchant_id: UUID) -> list[Difference]:
    """The live rows of ``merchant_id`` against the aggregates recomputed from ``sales.*``."""
    expected = await _aggregates(conn, EXPECTED_SQL, merchant_id)
    live = await _aggregates(conn, LIVE_SQL, merchant_id)
    return compare(live, expected)


APPLY_SQL = """
INSERT INTO app.customers AS c (id, merchant_id, square_customer_id, lifetime_value_cents,
  transaction_count, first_seen_at, last_seen_at, created_by, modified_by)
SELECT r.id, :m, r.sq, r.ltv, r.n, r.first_seen, r.last_seen, :actor, :actor
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, sq text, ltv bigint, n bigint,
  first_seen timestamptz, last_seen timestamptz)
ON CONFLICT (merchant_id, square_customer_id) DO UPDATE SET
  lifetime_value_cents = EXCLUDED.lifetime_value_cents,
  transaction_count = EXCLUDED.transaction_count, first_seen_at = EXCLUDED.first_seen_at,
  last_seen_at = EXCLUDED.last_seen_at, updated_at = now(), modified_by = :actor
"""


async def apply(conn: AsyncConnection, merchant_id: UUID, diffs: list[Difference]) -> int:
    """Set the aggregates of every differing customer to the recomputed values."""
    expected = await _aggregates(conn, EXPECTED_SQL, merchant_id)
    rows = []
    for sq in sorted({d.square_customer_id for d in diffs}):
        ltv, n, first, last = expected.get(sq, ZERO)
        rows.append(
            {
                "id": str(customer_uuid(merchant_id, sq)),
                "sq": sq,
                "ltv": ltv,
                "n": n,
                "first_seen": first.isoformat() if first else None,
                "last_seen": last.isoformat() if last else None,
            }
        )
    if rows:
        params = {"m": merchant_id, "rows": json.dumps(rows), "actor": "customers-rebuild"}
        await conn.execute(text(APPLY_SQL), params)
    return len(rows)
