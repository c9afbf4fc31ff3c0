"""``app.poll_cursors``: one row per (merchant, poller stream), claimed by lease, SKIP LOCKED.

A poller claims a merchant's row when it is due (``polled_at`` at least ``interval`` ago, or
never polled) and no live lease holds it. The claim stamps ``polled_at`` (the interval counts
from when a poll starts) and writes a lease into the row's ``cursor`` document::

    {"lease": {"token": "<uuid>", "until": "<timestamptz>"}, ...the poller's own keys...}

``FOR UPDATE SKIP LOCKED`` keeps two workers off the same row at the same instant; the
lease keeps the row to its claimer while it calls the API (no transaction is held open
across network calls), and the token fences a claimer that outlived its lease: its
:func:`save` changes nothing once another worker has claimed the row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

#: The key of the lease inside ``cursor``; the rest of the document is the poller's.
LEASE_KEY = "lease"


@dataclass(frozen=True)
class Claim:
    """One claimed row: whose, the poller's cursor document (lease removed), the fence token."""

    merchant_id: uuid.UUID
    provider_merchant_id: str
    cursor: dict[str, Any]
    token: uuid.UUID


async def ensure(conn: AsyncConnection, stream: str, merchants: Sequence[uuid.UUID]) -> None:
    """Create the missing rows of ``merchants`` for ``stream`` (never polled, no cursor)."""
    if not merchants:
        return
    await conn.execute(
        text(
            "INSERT INTO app.poll_cursors (merchant_id, stream) "
            "SELECT m, :s FROM unnest(CAST(:mine AS uuid[])) AS m "
            "ON CONFLICT (merchant_id, stream) DO NOTHING"
        ),
        {"s": stream, "mine": list(merchants)},
    )


async def claim(
    conn: AsyncConnection,
    stream: str,
    *,
    merchants: Sequence[uuid.UUID],
    busy: Sequence[uuid.UUID] = (),
    interval_seconds: float,
    lease_seconds: float,
    limit: int,
) -> list[Claim]:
    """Claim the due rows of ``merchants`` not in ``busy``: stamp ``polled_at``, take a lease.

    ``merchants`` are the deployment's active merchants (its config topic), so deployments
    sharing a database never poll each other's merchants.
    """
    token = uuid.uuid4()
    rows = (
        await conn.execute(
            text(
                "WITH due AS (SELECT merchant_id FROM app.poll_cursors "
                "WHERE stream = :s AND merchant_id = ANY(:mine) AND merchant_id <> ALL(:busy) "
                "AND (polled_at IS NULL OR polled_at <= now() - make_interval(secs => :every)) "
                "AND (cursor -> 'lease' IS NULL "
                "     OR (cursor -> 'lease' ->> 'until')::timestamptz <= now()) "
                "ORDER BY polled_at NULLS FIRST LIMIT :n FOR UPDATE SKIP LOCKED) "
                "UPDATE app.poll_cursors p SET polled_at = now(), "
                "cursor = jsonb_set(coalesce(p.cursor, '{}'::jsonb), '{lease}', "
                "  jsonb_build_object('token', CAST(:token AS text), "
                "    'until', now() + make_interval(secs => :lease))) "
                "FROM due, app.merchants m "
                "WHERE p.stream = :s AND p.merchant_id = due.merchant_id AND m.id = p.merchant_id "
                "RETURNING p.merchant_id, m.provider_merchant_id, p.cursor"
            ),
            {
                "s": stream,
                "mine": list(merchants),
                "busy": list(busy),
                "every": interval_seconds,
                "lease": lease_seconds,
                "n": limit,
                "token": str(token),
            },
        )
    ).all()
    return [
        Claim(
            r.merchant_id,
            r.provider_merchant_id,
            {k: v for k, v in (r.cursor or {}).items() if k != LEASE_KEY},
            token,
        )
        for r in rows
    ]


async def save(conn: AsyncConnection, stream: str, claimed: Claim, cursor: dict[str, Any]) -> bool:
    """Store the advanced ``cursor`` and end the lease; False when the lease was lost."""
    if LEASE_KEY in cursor:
        raise ValueError(f"a poller cursor may not use the key {LEASE_KEY!r}")
    result = await conn.execute(
        text(
            "UPDATE app.poll_cursors SET cursor = CAST(:c AS jsonb) "
            "WHERE merchant_id = :m AND stream = :s "
            "AND cursor -> 'lease' ->> 'token' = :token"
        ),
        {
            "c": json.dumps(cursor, sort_keys=True),
            "m": claimed.merchant_id,
            "s": stream,
            "token": str(claimed.token),
        },
    )
    return bool(getattr(result, "rowcount", 0))


async def reset(conn: AsyncConnection, stream: str, merchant_id: uuid.UUID) -> None:
    """Forget a merchant's cursor: its next poll starts from the beginning (operators, tests)."""
    await conn.execute(
        text(
            "UPDATE app.poll_cursors SET cursor = NULL, polled_at = NULL "
            "WHERE merchant_id = :m AND stream = :s"
        ),
        {"m": merchant_id, "s": stream},
    )
