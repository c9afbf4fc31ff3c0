"""Reading ``canary.dead-letter`` and replaying what can be replayed through ``canary.events``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream import topics
from canary_stream.db.merchants import by_provider_id
from canary_stream.errors import TransientError
from canary_stream.ingress.body import read_body, webhook_envelope
from canary_stream.kafka import make_producer
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.models.envelope import Envelope
from canary_stream.settings import Settings
from canary_stream.tail import tail


async def read_dead_letters(settings: Settings) -> list[DeadLetter]:
    """Every dead letter currently in the topic, oldest first per partition."""
    letters: list[DeadLetter] = []
    topic = settings.topic(topics.DEAD_LETTER)
    async for item in tail(settings, topic, from_beginning=True, follow=False):
        try:
            letters.append(DeadLetter.model_validate(item["value"]))
        except ValidationError:
            continue
    return letters


@dataclass(frozen=True)
class ReplayResult:
    """How many dead letters went back through ``canary.events`` and how many could not."""

    replayed: int
    still_unusable: int


async def envelope_for(
    letter: DeadLetter, engine: AsyncEngine, settings: Settings
) -> Envelope | None:
    """The envelope to send again, with the original ``event_id`` and ``received_at``."""
    if letter.envelope is not None:
        return letter.envelope
    body = letter.body
    if body is None:
        return None
    info = read_body(body.raw_payload, settings.ingress_soft_cap_bytes)
    if info.unusable is not None or info.provider_merchant_id is None:
        return None
    async with engine.connect() as conn:
        merchant = await by_provider_id(conn, info.provider_merchant_id)
    if merchant is None or merchant.status != "active":
        return None
    return webhook_envelope(info, body, merchant.merchant_id)


async def replay(
    letters: Sequence[DeadLetter], engine: AsyncEngine, settings: Settings
) -> ReplayResult:
    """Send each replayable letter back through ``canary.events``, keyed by its merchant."""
    producer = make_producer(settings, request_timeout_ms=15000)
    replayed = unusable = 0
    try:
        await producer.start()
        futures = []
        for letter in letters:
            if not letter.replayable:
                unusable += 1
                continue
            envelope = await envelope_for(letter, engine, settings)
            if envelope is None:
                unusable += 1
                continue
            futures.append(
                await producer.send(
                    settings.topic(topics.EVENTS),
                    envelope.to_bytes(),
                    key=str(envelope.merchant_id).encode(),
                    headers=envelope.headers(),
                )
            )
            replayed += 1
        for fut in futures:
            await fut
    except KafkaError as exc:
        raise TransientError(
            f"broker unreachable ({type(exc).__name__}); is the stack up?"
        ) from exc
    finally:
        await producer.stop()
    return ReplayResult(replayed, unusable)
