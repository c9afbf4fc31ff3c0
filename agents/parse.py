"""Parse (app ``canary-parse``): route sealed events to parsers, record every outcome.

Skipped (``parse_failed`` / ``oversize``) and unhandled event types are logged as such; the
parser families of square.md plug into :mod:`canary_stream.square.registry`.
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
from canary_stream.models.envelope import SealedEnvelope
from canary_stream.square.registry import parser_for

STAGE = "parse"


def outcome_of(record: SealedEnvelope) -> tuple[str, str | None]:
    """The parse status of a sealed record that has no parser work to do, with a detail."""
    if record.parse_failed:
        return "SKIPPED", "parse_failed"
    if record.oversize:
        return "SKIPPED", "oversize"
    if parser_for(record.source, record.event_type) is None:
        return "IGNORED", f"no parser for {record.event_type}"
    return "DEFERRED", "parser registered"


class Parse:
    """Handles one batch of sealed records."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    async def handle(self, events: Sequence[Any]) -> None:
        """Log the outcome of every record; dead-letter what does not decode."""
        entries: list[db.LogEntry] = []
        dead = []
        for event in events:
            try:
                record = SealedEnvelope.model_validate_json(event.value)
            except (ValidationError, ValueError) as exc:
                dead.append(dead_letter(STAGE, "decode_error", exc, merchant_id=key_hint(event)))
                continue
            status, detail = outcome_of(record)
            entries.append(
                db.LogEntry(record.event_id, record.merchant_id, "PARSE", status, detail)
            )
        async with self.ctx.engine.begin() as conn:
            await db.log_ingestion(conn, entries)
        await publish_dead(self.ctx, dead)

    async def on_record_failure(self, event: Any, error: BaseException) -> None:
        """Quarantine a record that keeps failing."""
        letter = dead_letter(STAGE, "parse_error", one_line(error), merchant_id=key_hint(event))
        await publish_dead(self.ctx, [letter])


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the parse agent on ``canary.sealed``."""
    source = ctx.topic(topics.SEALED)
    ctx.topic(topics.DETECTION)
    ctx.topic(topics.DEAD_LETTER)
    handler = Parse(ctx)

    @app.agent(source, name="parse", concurrency=1)
    async def parse(stream: Any) -> None:
        async for events in stream.take_events(500, 0.05):
            await run_batch(
                events, handler.handle, on_record_failure=handler.on_record_failure, stage=STAGE
            )
