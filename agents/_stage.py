"""Shared pieces of stage agents: publishing records and dead letters through the app producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from agents._runner import one_line
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import WireModel, now_utc
from canary_stream.observability import metrics


def merchant_key(merchant_id: UUID) -> bytes:
    """The Kafka key of a merchant-scoped record."""
    return str(merchant_id).encode()


async def publish(ctx: StageContext, records: Sequence[tuple[str, bytes, WireModel]]) -> None:
    """Send ``(short topic, key, record)`` triples and wait until the broker acked them all."""
    futures = [
        await ctx.app.producer.send(
            ctx.settings.topic(short), key, record.to_bytes(), None, None, record.headers()
        )
        for short, key, record in records
    ]
    await asyncio.gather(*futures)


def dead_letter(
    stage: str,
    reason: str,
    error: str | BaseException,
    *,
    envelope: Envelope | None = None,
    event_id: UUID | None = None,
    merchant_id: UUID | None = None,
) -> DeadLetter:
    """A dead-letter record with a one-line error."""
    return DeadLetter(
        stage=stage,
        reason=reason,
        event_id=envelope.event_id if envelope else event_id,
        merchant_id=envelope.merchant_id if envelope else merchant_id,
        provider_merchant_id=envelope.provider_merchant_id if envelope else None,
        error=error if isinstance(error, str) else one_line(error),
        at=now_utc(),
        envelope=envelope,
    )


async def publish_dead(ctx: StageContext, letters: Sequence[DeadLetter]) -> None:
    """Publish dead letters and count them."""
    await publish(ctx, [(topics.DEAD_LETTER, d.kafka_key(), d) for d in letters])
    for letter in letters:
        metrics.dead_letters.labels(letter.stage, letter.reason).inc()


def key_hint(event: Any) -> UUID | None:
    """The merchant id from a record's Kafka key, when it is one."""
    try:
        return UUID(event.key.decode()) if event.key else None
    except (ValueError, UnicodeDecodeError):
        return None
