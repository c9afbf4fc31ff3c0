"""The ``sales.parse_deferrals`` work queue of thin events (claimed by lease, SKIP LOCKED)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.db.evidence import sealed_from_row
from canary_stream.evidence.crypto import KeyRing
from canary_stream.models.envelope import Envelope


@dataclass(frozen=True)
class Deferral:
    """One claimed thin event: the sealed envelope it came from and its attempts so far."""

    envelope: Envelope
    attempts: int


async def claim(
    conn: AsyncConnection,
    ring: KeyRing,
    *,
    limit: int,
    lease_seconds: float,
    merchants: Sequence[uuid.UUID],
    busy: Sequence[uuid.UUID] = (),
) -> list[Deferral]:
    """Claim due rows of ``merchants`` not in ``busy``: push their next attempt a lease ahead.

    ``merchants`` are the active merchants of this deployment (its config topic), so
    deployments sharing a database never take each other's work.

    ``FOR UPDATE SKIP LOCKED`` keeps two workers off the same row; the lease keeps a row
    claimed by a worker that died from being retried before the lease ends.
    """
    rows = (
        await conn.execute(
            text(
                "WITH due AS (SELECT event_id FROM sales.parse_deferrals "
                "WHERE next_attempt_at <= now() AND merchant_id = ANY(:mine) "
                "AND merchant_id <> ALL(:busy) "
                "ORDER BY next_attempt_at LIMIT :n FOR UPDATE SKIP LOCKED) "
                "UPDATE sales.parse_deferrals d SET next_attempt_at = "
                "now() + make_interval(secs => :lease) FROM due WHERE d.event_id = due.event_id "
                "RETURNING d.event_id, d.merchant_id, d.attempts"
            ),
            {"mine": list(merchants), "busy": list(busy), "n": limit, "lease": lease_seconds},
        )
    ).all()
    if not rows:
        return []
    sealed = await conn.execute(
        text(
            "SELECT e.*, m.provider_merchant_id FROM sales.evidence_records e "
            "JOIN app.merchants m ON m.id = e.merchant_id WHERE e.event_id = ANY(:ids)"
        ),
        {"ids": [r.event_id for r in rows]},
    )
    by_id = {r.event_id: r for r in sealed}
    out = []
    for row in rows:
        e = by_id.get(row.event_id)
        if e is None:  # not sealed (cannot happen: parse defers sealed events): drop it
            await done(conn, row.event_id)
            continue
        envelope = Envelope.model_validate(sealed_from_row(e, ring).model_dump())
        out.append(Deferral(envelope, row.attempts))
    return out


async def done(conn: AsyncConnection, event_id: uuid.UUID) -> None:
    """The thin event's order was fetched and published: remove it from the queue."""
    await conn.execute(
        text("DELETE FROM sales.parse_deferrals WHERE event_id = :e"), {"e": event_id}
    )


async def retry_later(
    conn: AsyncConnection, event_id: uuid.UUID, attempts: int, at: datetime, error: str
) -> None:
    """Record a failed attempt and when to try again."""
    await conn.execute(
        text(
            "UPDATE sales.parse_deferrals SET attempts = :a, next_attempt_at = :at, "
            "last_error = :err WHERE event_id = :e"
        ),
        {"e": event_id, "a": attempts, "at": at, "err": error[:500]},
    )
