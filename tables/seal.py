"""The seal stage's idempotency table: ``(merchant_id, source_event_id)`` → ``event_id``.

A fast path only (the database is the authority). Keys expire after the dedupe window:
a lookup ignores an expired value, and a sweep done inside stream processing deletes expired
keys of the partition being processed, a bounded number per batch, so the store and its
changelog stop holding them.
"""

from __future__ import annotations

import json
from typing import Any

import faust

from canary_stream.apps import StageContext
from tables._store import PartitionSweep, writing_for

STAGE = "seal"
TABLE_NAME = "seal-idempotency"
SWEEP_PER_BATCH = 1000


def table_key(merchant_id: str, source_event_id: str) -> bytes:
    """The table key: merchant first, so a key's partition is its merchant's partition."""
    return f"{merchant_id}|{source_event_id}".encode()


def _expired(key: bytes, raw: bytes, now: float) -> bool:
    expires: float = json.loads(raw)["expires_at"]
    return expires <= now


class IdempotencyIndex:
    """The only writer and reader of the idempotency table (the seal agent uses this)."""

    def __init__(self, table: Any, window_seconds: float) -> None:
        self.table = table
        self.window_seconds = window_seconds
        self._sweep = PartitionSweep(table, _expired)

    def lookup(self, merchant_id: str, source_event_id: str, now: float) -> str | None:
        """The ``event_id`` sealed for this delivery within the window, if any."""
        raw = self.table.get(table_key(merchant_id, source_event_id))
        if raw is None:
            return None
        value = json.loads(raw)
        if value["expires_at"] <= now:
            return None
        event_id: str = value["event_id"]
        return event_id

    def remember(
        self, event: Any, merchant_id: str, source_event_id: str, event_id: str, received_at: float
    ) -> None:
        """Record a sealed delivery while processing ``event`` (same merchant, same partition)."""
        value = {"event_id": event_id, "expires_at": received_at + self.window_seconds}
        with writing_for(event):
            self.table[table_key(merchant_id, source_event_id)] = json.dumps(value).encode()

    def sweep(self, event: Any, now: float, budget: int = SWEEP_PER_BATCH) -> int:
        """Delete up to ``budget`` expired keys of ``event``'s partition; return how many."""
        return self._sweep.sweep(event, now, budget)


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the table and hand its accessor to the stage context."""
    table = app.Table(
        TABLE_NAME,
        key_type=bytes,
        value_type=bytes,
        partitions=ctx.settings.topic_partitions,
        help="(merchant_id, source_event_id) -> event_id and expiry; the seal fast path",
    )
    ctx.tables["idempotency"] = IdempotencyIndex(table, ctx.settings.dedupe_window_seconds)
