"""The detect stage's Tier 2 state: one changelog-backed table of subject windows.

Key ``{merchant_id}|{rule_id}|{subject_key}`` (merchant first, so a key's partition is its
merchant's partition) → ``{"x": expires_at, "s": window state}``. Shift keys are also listed
under ``{merchant_id}|shift|{shift_id}`` so a shift's close drops them all. Expiry is in the
merchant's business time — the newest ``occurred_at`` processed for that merchant — so a
backfill of old days keeps its windows while it runs.
"""

from __future__ import annotations

import json
import time
from typing import Any

import faust

from canary_stream.apps import StageContext
from canary_stream.rules.windows import KeyState
from tables._store import PartitionSweep, writing_for

STAGE = "detect"
TABLE_NAME = "detect-windows"
#: Keys looked at per record processed (a partition's sweep keeps pace with its writes).
SWEEP_PER_RECORD = 4
#: Shift and day keys are kept this long past their newest record when no close arrives.
SHIFT_KEEP_SECONDS = 2 * 86_400.0


def state_key(merchant_id: str, rule_id: str, subject_key: str) -> bytes:
    """The table key of one rule's state for one subject."""
    return f"{merchant_id}|{rule_id}|{subject_key}".encode()


def shift_index_key(merchant_id: str, shift_id: str) -> bytes:
    """The key listing every state key of one drawer shift."""
    return f"{merchant_id}|shift|{shift_id}".encode()


#: A record's business time counts for the sweep clock at most this far past the wall
#: clock, so one bad timestamp cannot expire a partition's live windows.
MAX_CLOCK_AHEAD_SECONDS = 3600.0


def _encoded(value: dict[str, Any]) -> bytes:
    if isinstance(value.get("s"), KeyState):
        value = {**value, "s": value["s"].to_dict()}
    return json.dumps(value, separators=(",", ":")).encode()


class WindowStore:
    """Reads and writes of the Tier 2 table; writes are staged per batch, then flushed.

    The agent stages every change while it evaluates a batch (later records of the batch see
    earlier ones) and flushes only after the alerts are committed and published, so a crash
    in between replays the batch against the state it started from.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        #: key → (value as data, or None to delete; the event it is written for). Values
        #: stay decoded while the batch runs and are encoded once, at flush.
        self._staged: dict[bytes, tuple[dict[str, Any] | None, Any]] = {}
        self._sweep = PartitionSweep(table, self._expired)
        #: Per merchant, the newest business time processed: the sweep's clock. Per merchant,
        #: because a merchant's backfill of old days shares a partition with others' live
        #: traffic and must keep its windows while it runs.
        self.watermarks: dict[str, float] = {}

    def _value(self, key: bytes) -> dict[str, Any] | None:
        if key in self._staged:
            return self._staged[key][0]
        raw = self.table.get(key)
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        if "s" in value:
            value["s"] = KeyState.from_dict(value["s"])
        return value

    def state(self, key: bytes) -> KeyState | None:
        """The current (staged or stored) state of ``key``."""
        value = self._value(key)
        return value["s"] if value is not None else None

    def put(self, key: bytes, state: KeyState, expires_at: float, event: Any) -> None:
        """Stage ``state`` for ``key``, written for ``event``'s partition."""
        self._staged[key] = ({"x": expires_at, "s": state}, event)

    def index_shift(self, index: bytes, key: bytes, expires_at: float, event: Any) -> None:
        """List ``key`` under its shift's index."""
        value = self._value(index)
        keys: list[str] = value["k"] if value is not None else []
        if key.decode() not in keys:
            self._staged[index] = ({"x": expires_at, "k": [*keys, key.decode()]}, event)

    def drop_shift(self, index: bytes, event: Any) -> int:
        """Stage the deletion of a shift's keys and its index; return how many keys."""
        value = self._value(index)
        if value is None:
            return 0
        keys = [k.encode() for k in value["k"]]
        for key in [*keys, index]:
            self._staged[key] = (None, event)
        return len(keys)

    def observe_time(self, merchant_id: str, ts: float) -> None:
        """Advance the merchant's business-time clock (never past wall clock + an hour)."""
        ts = min(ts, time.time() + MAX_CLOCK_AHEAD_SECONDS)
        if ts > self.watermarks.get(merchant_id, 0.0):
            self.watermarks[merchant_id] = ts

    def _expired(self, key: bytes, raw: bytes, now: float) -> bool:
        merchant = key.split(b"|", 1)[0].decode()
        clock = self.watermarks.get(merchant)
        if clock is None:  # a merchant not seen since start: its clock is unknown, keep
            return False
        expires: float = json.loads(raw)["x"]
        return expires <= clock

    def discard(self) -> None:
        """Forget staged changes (the batch failed and will be replayed)."""
        self._staged.clear()

    def flush(self) -> int:
        """Write every staged change to the table; return how many."""
        staged, self._staged = self._staged, {}
        for key, (value, event) in staged.items():
            with writing_for(event):
                if value is None:
                    if self.table.get(key) is not None:
                        del self.table[key]
                else:
                    self.table[key] = _encoded(value)
        return len(staged)

    def sweep(self, event: Any, records: int) -> int:
        """Delete expired keys of ``event``'s partition (each merchant's business time), a
        few per record processed."""
        return self._sweep.sweep(event, 0.0, SWEEP_PER_RECORD * max(1, records))


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the table and hand its accessor to the stage context."""
    table = app.Table(
        TABLE_NAME,
        key_type=bytes,
        value_type=bytes,
        partitions=ctx.settings.topic_partitions,
        help="(merchant, rule, subject) -> Tier 2 window state; detect's state",
    )
    ctx.tables["windows"] = WindowStore(table)
