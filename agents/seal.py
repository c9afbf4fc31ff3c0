"""Seal (app ``canary-seal``): dedupe, chain and store every envelope, then publish it sealed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
from pydantic import ValidationError

from agents._runner import one_line, run_batch
from agents._stage import dead_letter, key_hint, merchant_key, publish, publish_dead
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.db import evidence as db
from canary_stream.evidence.chain import event_hash as sha256
from canary_stream.evidence.crypto import KeyRing
from canary_stream.evidence.sealing import plan_batch
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import now_utc
from canary_stream.observability import metrics

STAGE = "seal"
log = logging.getLogger("canary.seal")


@dataclass
class Decoded:
    """A batch split into envelopes to seal and dead letters to publish."""

    envelopes: list[tuple[Any, Envelope]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def decode_batch(events: Sequence[Any]) -> Decoded:
    """Decode each record and re-check its hash; failures become dead letters."""
    out = Decoded()
    for event in events:
        try:
            env = Envelope.model_validate_json(event.value)
        except (ValidationError, ValueError, TypeError) as exc:
            out.dead.append(_dead("decode_error", one_line(exc), merchant_hint=key_hint(event)))
            continue
        if sha256(env.raw_payload).hex() != env.event_hash:
            log.critical(
                "event hash mismatch: envelope altered in transit",
                extra={
                    "event_id": str(env.event_id),
                    "merchant_id": str(env.merchant_id),
                    "stage": STAGE,
                    "outcome": "HASH_MISMATCH",
                },
            )
            out.dead.append(
                _dead("hash_mismatch", "SHA-256 of raw_payload differs from event_hash", env=env)
            )
            continue
        out.envelopes.append((event, env))
    return out


def _dead(
    reason: str, error: str, *, env: Envelope | None = None, merchant_hint: Any = None
) -> DeadLetter:
    return dead_letter(STAGE, reason, error, envelope=env, merchant_id=merchant_hint)


class Sealer:
    """Handles one batch: database transaction, then table entries, then publishing."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.ring = KeyRing(ctx.settings.encryption_ring())
        self.index = ctx.tables["idempotency"]

    async def handle(self, events: Sequence[Any]) -> None:
        """Seal a batch; returns only when its effects are committed and published."""
        decoded = decode_batch(events)
        now = now_utc()
        fresh: list[tuple[Any, Envelope]] = []
        fast_duplicates: list[Envelope] = []
        for event, env in decoded.envelopes:
            hit = self.index.lookup(str(env.merchant_id), env.source_event_id, now.timestamp())
            if hit is not None and hit != str(env.event_id):
                fast_duplicates.append(env)
            else:
                fresh.append((event, env))
        envelopes = [env for _, env in fresh]
        async with self.ctx.engine.begin() as conn:
            await db.lock_merchants(conn, {e.merchant_id for e in envelopes})
            by_id, by_natural = await db.existing_events(
                conn,
                [e.event_id for e in envelopes],
                [(e.merchant_id, e.source_event_id) for e in envelopes],
            )
            heads = await db.chain_heads(conn, {e.merchant_id for e in envelopes})
            plan = plan_batch(envelopes, heads, by_id, by_natural, now)
            await db.insert_sealed(conn, plan.new, self.ring)
            duplicates = fast_duplicates + plan.duplicates
            await db.log_ingestion(
                conn,
                [db.LogEntry(r.event_id, r.merchant_id, "SEAL", "SUCCESS") for r in plan.new]
                + [db.LogEntry(e.event_id, e.merchant_id, "SEAL", "DUPLICATE") for e in duplicates],
            )
        dead = decoded.dead + [
            _dead("hash_mismatch", reason, env=env) for env, reason in plan.conflicts
        ]
        events_by_id = {env.event_id: event for event, env in fresh}
        for record in plan.new:
            self.index.remember(
                events_by_id[record.event_id],
                str(record.merchant_id),
                record.source_event_id,
                str(record.event_id),
                record.received_at.timestamp(),
            )
        if events:
            self.index.sweep(events[-1], now.timestamp())
        await publish(
            self.ctx,
            [(topics.SEALED, merchant_key(r.merchant_id), r) for r in plan.new + plan.republish],
        )
        await publish_dead(self.ctx, dead)
        metrics.record_sealed(plan.new, len(duplicates), now)

    async def dead_letter_record(self, event: Any, error: BaseException) -> None:
        """The runner's last resort for a record that keeps failing: dead-letter it."""
        decoded = decode_batch([event])
        env = decoded.envelopes[0][1] if decoded.envelopes else None
        await publish_dead(self.ctx, [_dead("decode_error", one_line(error), env=env)])


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the seal agent on ``canary.events``."""
    source = ctx.topic(topics.EVENTS)
    ctx.topic(topics.SEALED)
    ctx.topic(topics.DEAD_LETTER)
    sealer: Sealer | None = None

    @app.agent(source, name="seal", concurrency=1)
    async def seal(stream: Any) -> None:
        nonlocal sealer
        sealer = sealer or Sealer(ctx)
        async for events in stream.take_events(
            ctx.settings.seal_batch_size, ctx.settings.seal_batch_seconds
        ):
            await run_batch(
                events, sealer.handle, on_record_failure=sealer.dead_letter_record, stage=STAGE
            )
