"""The order fetch loop: thin ``order.*`` events → RetrieveOrder → POLLING envelopes.

Parse queues every thin event in ``sales.parse_deferrals``. Each tick claims due rows
(lease + SKIP LOCKED, so any number of parse workers share the queue) of the deployment's
active merchants (its config topic) that have no fetch in flight, and starts one task per
merchant: its orders are fetched one after the other, within its own 100 calls/min. A
merchant whose API answers 429 or 5xx only delays its own orders — its rows wait with
backoff while other merchants' tasks run. After ``fetch_max_attempts`` a thin event is
dead-lettered ``deferred_exhausted`` (with its envelope, so ``replay dead-letters`` queues
the fetch again), never silently dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream import topics
from canary_stream.db import deferrals
from canary_stream.evidence.crypto import KeyRing
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import now_utc
from canary_stream.settings import Settings
from canary_stream.square.client import SquareClient
from canary_stream.square.errors import SquareUnavailable
from canary_stream.square.polling import EventsProducer, MerchantWork, polling_envelope

log = logging.getLogger("canary.fetch")
RETRIEVED = "square.order.retrieved"
#: Rows claimed per tick; at 90 calls/min a merchant's share is fetched well inside the lease.
CLAIM_LIMIT = 100
LEASE_SECONDS = 600.0


def thin_order_id(raw: bytes) -> str:
    """The order id a thin ``order.*`` webhook names (``data.id``, else the object's)."""
    doc = json.loads(raw)
    data = doc.get("data") or {}
    if isinstance(data.get("id"), str) and data["id"]:
        return str(data["id"])
    for value in (data.get("object") or {}).values():
        if isinstance(value, dict) and isinstance(value.get("order_id"), str):
            return str(value["order_id"])
    raise ValueError("the thin order event names no order id")


def order_version(raw: bytes) -> str:
    """The fetched order's ``version`` (``updated_at`` when Square gave none)."""
    order = json.loads(raw).get("order") or {}
    version = order.get("version")
    return str(version if version is not None else order.get("updated_at", "0"))


def backoff_seconds(attempts: int, base: float, cap: float, retry_after: float | None) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, never below Retry-After."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return max(delay, retry_after or 0.0)


def _log_failure(task: asyncio.Task[None]) -> None:
    """A merchant task that died (the database went away): say so; its lease brings it back."""
    if not task.cancelled() and task.exception() is not None:
        log.warning(
            "order fetch task failed: %s; its rows return after the lease",
            type(task.exception()).__name__,
        )


class OrderFetcher(MerchantWork):
    """Claims thin events and publishes their fetched orders; one task per busy merchant."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        client: SquareClient,
        producer: EventsProducer,
        merchants: Callable[[], Sequence[uuid.UUID]],
    ) -> None:
        super().__init__(settings, engine, client, producer, merchants)
        self.ring = KeyRing(settings.encryption_ring())

    async def tick(self) -> int:
        """Claim due thin events of idle merchants and start their tasks; how many claimed."""
        self.idle()
        mine = self.merchants()
        if not mine:
            return 0
        async with self.engine.begin() as conn:
            claimed = await deferrals.claim(
                conn,
                self.ring,
                limit=CLAIM_LIMIT,
                lease_seconds=LEASE_SECONDS,
                merchants=mine,
                busy=list(self.in_flight),
            )
        by_merchant: dict[uuid.UUID, list[deferrals.Deferral]] = {}
        for item in claimed:
            by_merchant.setdefault(item.envelope.merchant_id, []).append(item)
        for merchant_id, items in by_merchant.items():
            task = asyncio.create_task(self._merchant(items))
            task.add_done_callback(_log_failure)
            self.in_flight[merchant_id] = task
        return len(claimed)

    async def _merchant(self, items: Sequence[deferrals.Deferral]) -> None:
        for index, item in enumerate(items):
            try:
                await self._fetch(item)
            except SquareUnavailable as exc:
                # the merchant's API is struggling: put back this and the rest, with backoff
                for rest in items[index:]:
                    await self._failed(rest, exc, getattr(exc, "retry_after", None))
                return
            except Exception as exc:  # one bad order must not stop the others
                await self._failed(item, exc, None)

    async def _fetch(self, item: deferrals.Deferral) -> None:
        thin = item.envelope
        order_id = thin_order_id(thin.raw_payload)
        fetched = await self.client.retrieve_order(str(thin.merchant_id), order_id)
        envelope = polling_envelope(
            thin.merchant_id,
            thin.provider_merchant_id,
            RETRIEVED,
            f"poll:order:{order_id}:{order_version(fetched.raw)}",
            fetched.raw,
        )
        await self.producer.envelopes([envelope])
        async with self.engine.begin() as conn:
            await deferrals.done(conn, thin.event_id)

    async def _failed(
        self, item: deferrals.Deferral, error: BaseException, retry_after: float | None
    ) -> None:
        attempts = item.attempts + 1
        message = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        thin = item.envelope
        if attempts >= self.settings.fetch_max_attempts:
            await self._exhausted(thin, attempts, message)
            return
        delay = backoff_seconds(
            attempts,
            self.settings.fetch_retry_base_seconds,
            self.settings.fetch_retry_max_seconds,
            retry_after,
        )
        async with self.engine.begin() as conn:
            await deferrals.retry_later(
                conn, thin.event_id, attempts, now_utc() + timedelta(seconds=delay), message
            )
        log.warning(
            "order fetch failed (attempt %d), retrying in %.0f s: %s",
            attempts,
            delay,
            message,
            extra={"merchant_id": str(thin.merchant_id), "event_id": str(thin.event_id)},
        )

    async def _exhausted(self, thin: Envelope, attempts: int, message: str) -> None:
        letter = DeadLetter(
            stage="fetch",
            reason="deferred_exhausted",
            event_id=thin.event_id,
            merchant_id=thin.merchant_id,
            provider_merchant_id=thin.provider_merchant_id,
            error=f"order fetch failed {attempts} times; last: {message}",
            at=now_utc(),
            envelope=thin,
        )
        await self.producer.send(topics.DEAD_LETTER, [letter], letter.kafka_key())
        async with self.engine.begin() as conn:
            await deferrals.done(conn, thin.event_id)
        log.error(
            "order fetch gave up after %d attempts: dead-lettered deferred_exhausted",
            attempts,
            extra={"merchant_id": str(thin.merchant_id), "event_id": str(thin.event_id)},
        )
