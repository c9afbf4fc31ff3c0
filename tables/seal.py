"""The seal stage's idempotency table: ``(merchant_id, source_event_id)`` → ``event_id``.

A fast path only (the database is the authority). Keys expire after the dedupe window:
a lookup ignores an expired value, and a sweep done inside stream processing deletes expired
keys of the partition being processed, a bounded number per batch, so the store and its
changelog stop holding them.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import Iterator
from typing import Any

import faust
from faust.streams import _current_event

from canary_stream.apps import StageContext

STAGE = "seal"
TABLE_NAME = "seal-idempotency"
SWEEP_PER_BATCH = 1000


@contextlib.contextmanager
def writing_for(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event, so a table write goes to its partition's changelog."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def table_key(merchant_id: str, source_event_id: str) -> bytes:
    """The table key: merchant first, so a key's partition is its merchant's partition."""
    return f"{merchant_id}|{source_event_id}".encode()


class IdempotencyIndex:
    """The only writer and reader of the idempotency table (the seal agent uses this)."""

    def __init__(self, table: Any, window_seconds: float) -> None:
        self.table = table
        self.window_seconds = window_seconds
        self._sweep_from: dict[int, bytes | None] = {}

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
        partition = event.message.partition
        keys = list(self._partition_keys(partition, self._sweep_from.get(partition), budget))
        if len(keys) < budget:
            self._sweep_from[partition] = None  # wrapped around: start over next time
        elif keys:
            self._sweep_from[partition] = keys[-1][0]
        deleted = 0
        with writing_for(event):
            for key, raw in keys:
                if json.loads(raw)["expires_at"] <= now:
                    del self.table[key]
                    deleted += 1
        return deleted

    def _partition_keys(
        self, partition: int, start: bytes | None, budget: int
    ) -> Iterator[tuple[bytes, bytes]]:
        store = self.table.data
        db_for = getattr(store, "_db_for_partition", None)
        if db_for is None:  # memory store: keys of every partition live in one dict
            raise RuntimeError("the seal table needs the rocksdb store")
        db = db_for(partition)
        items = db.items(from_key=start) if start is not None else db.items()
        count = 0
        for key, value in items:
            if start is not None and key == start:
                continue
            if key.startswith(b"__faust"):
                continue
            yield bytes(key), bytes(value)
            count += 1
            if count >= budget:
                return


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
