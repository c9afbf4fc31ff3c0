"""What every stage table shares: writing for the current event, and a bounded sweep."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from faust.streams import _current_event


@contextlib.contextmanager
def writing_for(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event, so a table write goes to its partition's changelog."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def partition_items(
    table: Any, partition: int, start: bytes | None, budget: int
) -> Iterator[tuple[bytes, bytes]]:
    """Up to ``budget`` (key, value) pairs of one partition's store, after ``start``."""
    store = table.data
    db_for = getattr(store, "_db_for_partition", None)
    if db_for is None:  # memory store: keys of every partition live in one dict
        raise RuntimeError("stage tables need the rocksdb store")
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


class PartitionSweep:
    """Delete expired keys of the partition being processed, a bounded number per call.

    Each call resumes where the last one stopped in that partition and wraps around, so
    over many batches every key is looked at.
    """

    def __init__(self, table: Any, expired: Callable[[bytes, bytes, float], bool]) -> None:
        self.table = table
        self.expired = expired
        self._from: dict[int, bytes | None] = {}

    def sweep(self, event: Any, now: float, budget: int) -> int:
        """Delete up to ``budget`` keys of ``event``'s partition expired at ``now``."""
        partition = event.message.partition
        keys = list(partition_items(self.table, partition, self._from.get(partition), budget))
        if len(keys) < budget:
            self._from[partition] = None  # wrapped around: start over next time
        elif keys:
            self._from[partition] = keys[-1][0]
        deleted = 0
        with writing_for(event):
            for key, raw in keys:
                if self.expired(key, raw, now):
                    del self.table[key]
                    deleted += 1
        return deleted
