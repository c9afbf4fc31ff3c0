"""POLLING envelopes: what the order fetch loop and the drawer poller send to ``canary.events``.

Each API answer becomes one envelope carrying the exact response bytes (square.md), sealed
and parsed like any webhook. Sends go through one long-lived idempotent producer and are
awaited: a fetched order is only taken off the queue after the broker's ack.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import uuid6
from aiokafka import AIOKafkaProducer

from canary_stream import topics
from canary_stream.kafka import make_producer
from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import WireModel, now_utc
from canary_stream.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from canary_stream.square.client import SquareClient


def polling_envelope(
    merchant_id: uuid.UUID,
    provider_merchant_id: str,
    event_type: str,
    source_event_id: str,
    raw: bytes,
) -> Envelope:
    """An envelope for an API answer: SHA-256 of the exact bytes, a fresh UUIDv7."""
    return Envelope(
        event_id=uuid6.uuid7(),
        merchant_id=merchant_id,
        provider_merchant_id=provider_merchant_id,
        source_event_id=source_event_id,
        event_type=event_type,
        event_hash=hashlib.sha256(raw).hexdigest(),
        raw_payload=raw,
        received_at=now_utc(),
        source_type="POLLING",
    )


class MerchantWork:
    """What the order fetch loop and the drawer poller share: their dependencies and the
    per-merchant tasks in flight (one at a time per merchant in a process)."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        client: SquareClient,
        producer: EventsProducer,
        merchants: Callable[[], Sequence[uuid.UUID]],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.client = client
        self.producer = producer
        #: The deployment's active merchants (its config topic).
        self.merchants = merchants
        self.in_flight: dict[uuid.UUID, asyncio.Task[None]] = {}

    def idle(self) -> None:
        """Forget finished merchant tasks."""
        self.in_flight = {m: t for m, t in self.in_flight.items() if not t.done()}

    async def drain(self) -> None:
        """Wait for every merchant task (tests, shutdown)."""
        tasks = list(self.in_flight.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class EventsProducer:
    """One idempotent producer to ``canary.events`` (and the dead letters), start/stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect (idempotent)."""
        if self._producer is None:
            producer = make_producer(self.settings)
            await producer.start()
            self._producer = producer

    async def stop(self) -> None:
        """Flush and disconnect (idempotent)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def send(self, short_topic: str, records: Sequence[WireModel], key: bytes) -> None:
        """Send ``records`` and wait for every ack."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        name = self.settings.topic(short_topic)
        futures = [
            await self._producer.send(name, r.to_bytes(), key=key, headers=r.headers())
            for r in records
        ]
        for future in futures:
            await future

    async def envelopes(self, envelopes: Sequence[Envelope]) -> None:
        """Send envelopes to ``canary.events``, each keyed by its merchant."""
        for envelope in envelopes:
            await self.send(topics.EVENTS, [envelope], str(envelope.merchant_id).encode())
