"""A consumer of ``canary.detection`` that decodes canonical events and logs its step.

Detect and customers both start from this: they decode, dead-letter what does not decode,
and record their step in ``ingestion_log``. Their rule catalog and registry logic hang off
:meth:`CanonicalConsumer.apply`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust
from pydantic import ValidationError

from agents._runner import one_line, run_batch
from agents._stage import dead_letter, key_hint, publish_dead
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.db import evidence as db
from canary_stream.models.canonical import CanonicalEvent


class CanonicalConsumer:
    """Decode → apply → log, for one stage reading canonical events."""

    def __init__(self, ctx: StageContext, stage: str, step: str) -> None:
        self.ctx = ctx
        self.stage = stage
        self.step = step

    async def apply(self, records: Sequence[CanonicalEvent]) -> dict[Any, str]:
        """The stage's own work; returns event_id → ingestion status. Override per stage."""
        return {r.event_id: "IGNORED" for r in records}

    async def handle(self, events: Sequence[Any]) -> None:
        """Decode the batch, apply it, log each event's outcome, dead-letter the undecodable."""
        records: list[CanonicalEvent] = []
        dead = []
        for event in events:
            try:
                records.append(CanonicalEvent.model_validate_json(event.value))
            except (ValidationError, ValueError) as exc:
                dead.append(
                    dead_letter(self.stage, "decode_error", exc, merchant_id=key_hint(event))
                )
        statuses = await self.apply(records)
        merchants = {r.event_id: r.merchant_id for r in records}
        async with self.ctx.engine.begin() as conn:
            await db.log_ingestion(
                conn,
                [db.LogEntry(eid, merchants[eid], self.step, st) for eid, st in statuses.items()],
            )
        await publish_dead(self.ctx, dead)

    async def on_record_failure(self, event: Any, error: BaseException) -> None:
        """Dead-letter a record that keeps failing."""
        letter = dead_letter(
            self.stage, "decode_error", one_line(error), merchant_id=key_hint(event)
        )
        await publish_dead(self.ctx, [letter])


def register_consumer(app: faust.App, ctx: StageContext, consumer: CanonicalConsumer) -> None:
    """Declare ``consumer``'s agent on ``canary.detection``."""
    source = ctx.topic(topics.DETECTION)
    ctx.topic(topics.DEAD_LETTER)

    @app.agent(source, name=consumer.stage, concurrency=1)
    async def agent(stream: Any) -> None:
        async for events in stream.take_events(500, 0.05):
            await run_batch(
                events,
                consumer.handle,
                on_record_failure=consumer.on_record_failure,
                stage=consumer.stage,
            )
