"""Merkle (app ``canary-seal``, reads ``canary.sealed``): batches, signed checkpoints, anchors.

The database drives batching (evidence.md): a merchant's open batch is every sealed seq
after its last inscribed one. Three loops share one :class:`Closer`:

- the ``merkle`` agent: for the merchants of each batch of sealed records, closes what is
  due (>= ``merkle_batch_size`` open events, or the oldest waited
  ``merkle_max_wait_seconds``);
- a leader timer (``on_leader=True``): the same for every merchant, so a quiet merchant's
  tail closes too; it writes only the database and the checkpoints topic, no Faust table;
- an anchoring task on every worker: anchors ``PENDING`` batches (claimed with
  ``FOR UPDATE SKIP LOCKED``) after their checkpoint was published, with a timeout, so a
  failing backend leaves batches ``PENDING`` and delays nothing else.

Closing a merchant's batches happens in one transaction under its ``merkle:{merchant}``
advisory lock, re-reading the open range after taking it, so the agent and the timer (on
any worker) never close the same range twice. Order: commit → publish the checkpoints →
anchor. A batch is ANCHORED only after its checkpoint was published; after a crash, a
``PENDING`` batch that this process has not published is published by the anchoring sweep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import faust
from pydantic import ValidationError

from agents._runner import one_line, run_batch
from agents._stage import dead_letter, key_hint, publish, publish_dead
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.db import inscriptions as db
from canary_stream.evidence.anchor import AnchorBackend, make_anchor_backend
from canary_stream.evidence.batching import (
    ClosedBatch,
    OpenState,
    build_batches,
    is_due,
    plan_ranges,
)
from canary_stream.evidence.checkpoint import Checkpoint
from canary_stream.evidence.note import split_note
from canary_stream.evidence.signing import CheckpointKey, SigningKeyError, load_checkpoint_key
from canary_stream.models.checkpoint import CheckpointRecord
from canary_stream.models.envelope import SealedEnvelope
from canary_stream.models.wire import now_utc
from canary_stream.observability import metrics
from canary_stream.settings import Settings

STAGE = "seal"
NAME = "merkle"
log = logging.getLogger("canary.merkle")

TAKE_EVENTS = 1000
TAKE_SECONDS = 0.1
#: Batches closed per transaction; the closer loops (new transaction) while more are due.
BATCHES_PER_TRANSACTION = 20
#: Merchants the timer closes per tick (oldest waiting first); the rest wait a tick.
MERCHANTS_PER_TICK = 200
ANCHOR_TIMEOUT_SECONDS = 5.0
ANCHOR_SWEEP_SECONDS = 30.0
ANCHOR_SWEEP_LIMIT = 200
#: A PENDING batch this process did not publish is left to its closer for this long.
PUBLISH_GRACE_SECONDS = 10.0
PUBLISHED_MEMORY = 100_000


def timer_interval(settings: Settings) -> float:
    """How often the leader looks for due batches: a third of the wait, within 0.5-30 s."""
    return min(30.0, max(0.5, settings.merkle_max_wait_seconds / 3))


def checkpoint_record(cp: Checkpoint, note: str, closed_at: datetime) -> CheckpointRecord:
    """The ``canary.checkpoints`` record of a batch (key name and id from its signature)."""
    _, sigs = split_note(note)
    name, kid, _ = sigs[0]
    return CheckpointRecord(
        merchant_id=UUID(cp.merchant_id),
        batch_no=cp.batch_no,
        first_seq=cp.first_seq,
        last_seq=cp.last_seq,
        tree_size=cp.tree_size,
        root_hash=cp.root_hash.hex(),
        prev_root_hash=cp.prev_root_hash.hex(),
        chain_head=cp.chain_head.hex(),
        checkpoint=note,
        key_name=name,
        key_id=kid.hex(),
        closed_at=closed_at,
    )


class Published:
    """The batches this process has published (bounded, oldest forgotten first)."""

    def __init__(self, size: int = PUBLISHED_MEMORY) -> None:
        self._keys: OrderedDict[tuple[UUID, int], None] = OrderedDict()
        self._size = size

    def add(self, merchant_id: UUID, batch_no: int) -> None:
        self._keys[(merchant_id, batch_no)] = None
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys


class Closer:
    """Closes due batches under the merchant lock, then publishes their checkpoints."""

    def __init__(self, ctx: StageContext, key: CheckpointKey, backend: AnchorBackend) -> None:
        self.ctx = ctx
        self.key = key
        self.backend = backend
        self.settings = ctx.settings
        self.published = Published()
        self.queue: asyncio.Queue[tuple[UUID, int]] = asyncio.Queue()
        self.wake = asyncio.Event()

    def due(self, state: OpenState, now: datetime) -> bool:
        """Whether a merchant has a batch to close now."""
        return is_due(
            state,
            now,
            batch_size=self.settings.merkle_batch_size,
            max_wait_seconds=self.settings.merkle_max_wait_seconds,
        )

    async def close_merchant(self, merchant_id: UUID) -> list[tuple[ClosedBatch, datetime]]:
        """Close everything due for one merchant (one transaction per up to 20 batches).

        Returns each closed batch with its ``closed_at``.
        """
        closed: list[tuple[ClosedBatch, datetime]] = []
        while True:
            now = now_utc()
            async with self.ctx.engine.begin() as conn:
                await db.lock_merchant(conn, merchant_id)
                state = (await db.open_states(conn, [merchant_id])).get(merchant_id)
                if state is None:
                    return closed
                ranges = plan_ranges(
                    state,
                    now,
                    batch_size=self.settings.merkle_batch_size,
                    max_wait_seconds=self.settings.merkle_max_wait_seconds,
                    limit=BATCHES_PER_TRANSACTION,
                )
                if not ranges:
                    return closed
                leaves = await db.read_leaves(conn, merchant_id, ranges[0].first, ranges[-1].last)
                batches = build_batches(state, ranges, leaves, self.key)
                await db.insert_batches(conn, batches, backend=self.backend.name, closed_at=now)
            closed.extend((batch, now) for batch in batches)
            metrics.batches_closed.inc(len(batches))
            log.info(
                "closed %d batch(es) of %s: seq %d-%d",
                len(batches),
                merchant_id,
                ranges[0].first,
                ranges[-1].last,
                extra={"stage": NAME, "merchant_id": str(merchant_id), "outcome": "CLOSED"},
            )
            if len(ranges) < BATCHES_PER_TRANSACTION:
                return closed

    async def publish(self, records: Sequence[tuple[UUID, int, CheckpointRecord]]) -> None:
        """Publish checkpoint records (acks awaited) and remember them as published."""
        await publish(self.ctx, [(topics.CHECKPOINTS, r.kafka_key(), r) for _, _, r in records])
        for merchant_id, batch_no, _ in records:
            self.published.add(merchant_id, batch_no)

    async def close_and_publish(self, merchant_ids: Sequence[UUID]) -> int:
        """Close what is due for these merchants, publish, hand the batches to the anchorer."""
        count = 0
        for merchant_id in merchant_ids:
            batches = await self.close_merchant(merchant_id)
            if not batches:
                continue
            await self.publish(
                [
                    (merchant_id, b.checkpoint.batch_no,
                     checkpoint_record(b.checkpoint, b.note, closed_at))
                    for b, closed_at in batches
                ]
            )  # fmt: skip
            for b, _ in batches:
                self.queue.put_nowait((merchant_id, b.checkpoint.batch_no))
            self.wake.set()
            count += len(batches)
        return count

    # The agent ------------------------------------------------------------------------
    async def handle(self, events: Sequence[Any]) -> None:
        """Close what is due for the merchants of a batch of sealed records."""
        merchants: set[UUID] = set()
        dead = []
        for event in events:
            try:
                merchants.add(SealedEnvelope.model_validate_json(event.value).merchant_id)
            except (ValidationError, ValueError) as exc:
                dead.append(dead_letter(NAME, "decode_error", exc, merchant_id=key_hint(event)))
        if merchants:
            now = now_utc()
            async with self.ctx.engine.connect() as conn:
                states = await db.open_states(conn, merchants)
            due = sorted((m for m, s in states.items() if self.due(s, now)), key=str)
            await self.close_and_publish(due)
        await publish_dead(self.ctx, dead)

    async def on_record_failure(self, event: Any, error: BaseException) -> None:
        """Nothing is lost: the database still holds the open range; log and move on."""
        log.error(
            "could not close batches for a sealed record: %s (the timer retries)",
            one_line(error),
            extra={"stage": NAME, "outcome": "FAILED"},
        )

    # The leader timer -------------------------------------------------------------------
    async def tick(self) -> None:
        """Close every merchant's due batches (quiet tails included); never raises."""
        try:
            now = now_utc()
            async with self.ctx.engine.connect() as conn:
                states = await db.open_states(conn)
            due = sorted(
                (s for s in states.values() if self.due(s, now)),
                key=lambda s: (s.oldest_open_at or now, str(s.merchant_id)),
            )[:MERCHANTS_PER_TICK]
            await self.close_and_publish([s.merchant_id for s in due])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a timer must not die; the next tick retries
            log.warning(
                "batch timer failed: %s", one_line(exc), extra={"stage": NAME, "outcome": "RETRY"}
            )

    # Anchoring --------------------------------------------------------------------------
    async def run_anchoring(self) -> None:
        """Anchor this process's new batches at once and sweep PENDING ones periodically."""
        last_sweep = 0.0
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), ANCHOR_SWEEP_SECONDS)
            except TimeoutError:
                pass
            self.wake.clear()
            try:
                keys: list[tuple[UUID, int]] = []
                while not self.queue.empty():
                    keys.append(self.queue.get_nowait())
                if time.monotonic() - last_sweep >= ANCHOR_SWEEP_SECONDS:
                    last_sweep = time.monotonic()
                    before = now_utc()
                    async with self.ctx.engine.connect() as conn:
                        keys += await db.pending_batches(
                            conn,
                            backend=self.backend.name,
                            closed_before=before,
                            limit=ANCHOR_SWEEP_LIMIT,
                        )
                await self.anchor_all(list(dict.fromkeys(keys)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop outlives any failure; PENDING rows wait
                log.warning("anchoring sweep failed: %s", one_line(exc), extra={"stage": NAME})

    async def anchor_all(self, keys: Sequence[tuple[UUID, int]]) -> None:
        """Anchor each batch that is still PENDING and not claimed by another worker."""
        failures: list[str] = []
        for merchant_id, batch_no in keys:
            error = await self.anchor_one(merchant_id, batch_no)
            if error is not None:
                metrics.anchor_failures.inc()
                failures.append(error)
        if failures:
            log.warning(
                "anchor backend %r failed for %d batch(es), left PENDING: %s",
                self.backend.name,
                len(failures),
                failures[0],
                extra={"stage": NAME, "outcome": "PENDING"},
            )

    async def anchor_one(self, merchant_id: UUID, batch_no: int) -> str | None:
        """Publish if needed, then anchor; returns a one-line error or None."""
        async with self.ctx.engine.begin() as conn:
            stored = await db.claim_pending(conn, merchant_id, batch_no, backend=self.backend.name)
            if stored is None:
                return None
            if (merchant_id, batch_no) not in self.published:
                if stored.closed_at > now_utc() - timedelta(seconds=PUBLISH_GRACE_SECONDS):
                    return None  # its closer (another process) is still publishing it
                record = checkpoint_record(stored.checkpoint, stored.note, stored.closed_at)
                await self.publish([(merchant_id, batch_no, record)])
            try:
                ref = await asyncio.wait_for(
                    self.backend.anchor(stored.checkpoint, stored.note), ANCHOR_TIMEOUT_SECONDS
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any backend failure leaves the batch PENDING
                return one_line(exc)
            await db.mark_anchored(conn, merchant_id, batch_no, ref)
        return None


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the merkle agent on ``canary.sealed``, its leader timer and anchoring task."""
    source = ctx.topic(topics.SEALED)
    ctx.topic(topics.CHECKPOINTS)
    ctx.topic(topics.DEAD_LETTER)
    settings = ctx.settings
    backend = make_anchor_backend(settings.anchor_backend)
    key: CheckpointKey | None = None
    try:
        key = load_checkpoint_key(
            settings.checkpoint_key_name,
            settings.checkpoint_signing_key.get_secret_value(),
            settings.checkpoint_public_key,
        )
        key.require_seed()
    except SigningKeyError as exc:
        key = None
        log.critical(
            "Merkle batching is OFF: %s. Sealed events stay open (nothing is lost) until a "
            "key is configured.",
            exc,
            extra={"stage": NAME, "outcome": "DISABLED"},
        )
    closer = Closer(ctx, key, backend) if key is not None else None

    @app.agent(source, name="merkle", concurrency=1)
    async def merkle(stream: Any) -> None:
        async for events in stream.take_events(TAKE_EVENTS, TAKE_SECONDS):
            if closer is not None:
                await run_batch(
                    events, closer.handle, on_record_failure=closer.on_record_failure, stage=NAME
                )

    if closer is None:
        return

    @app.timer(timer_interval(settings), on_leader=True)
    async def merkle_timer() -> None:
        await closer.tick()

    @app.task
    async def merkle_anchoring() -> None:
        await closer.run_anchoring()
