"""``POST /webhooks/square``: the six steps of pipeline.md, in that order.

1. read the body with a timeout, 413 above the hard cap;  2. SHA-256 of the raw bytes;
3. signature against every active key (401 + rate-limited metadata dead letter);
4. JSON and merchant id (unusable → dead letter with the bytes, 202 after its ack);
5. merchant resolution (unknown or inactive → dead letter, 202 after its ack);
6. the envelope to ``canary.events``, 200 only after the broker acknowledged; 503 past the
   deadline or when in-flight sends are saturated.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import uuid6
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from canary_stream import topics
from canary_stream.ingress import keys
from canary_stream.ingress.body import read_body, webhook_envelope
from canary_stream.ingress.directory import KEYRING_MISS_REFRESH_SECONDS, Keyring, MerchantDirectory
from canary_stream.ingress.signature import HEADER, verify_signature
from canary_stream.kafka import make_producer
from canary_stream.models.dead_letter import DeadLetter, ReceivedBody, RejectedRequest
from canary_stream.models.wire import WireModel, now_utc
from canary_stream.observability.metrics import dead_letters, webhooks
from canary_stream.settings import Settings

log = logging.getLogger("canary.ingress")
READ_CHUNK = 65536
UNRECOVERABLE = (OutOfOrderSequenceNumber, UnknownProducerId, ProducerFenced)


class Saturated(Exception):
    """Too many sends in flight: answer 503 at once."""


@dataclass
class RateLimit:
    """At most ``per_minute`` events per rolling minute (token bucket)."""

    per_minute: int
    tokens: float = 0.0
    at: float = 0.0

    def allow(self) -> bool:
        """Take a token if one is there."""
        now = time.monotonic()
        if self.at == 0.0:
            self.tokens, self.at = float(self.per_minute), now
        self.tokens = min(
            float(self.per_minute), self.tokens + (now - self.at) * self.per_minute / 60
        )
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class WebhookGate:
    """The ingress's collaborators: producer, merchant directory, keyring, limits."""

    def __init__(
        self,
        settings: Settings,
        producer: AIOKafkaProducer,
        directory: MerchantDirectory,
        keyring: Keyring,
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.directory = directory
        self.keyring = keyring
        self.in_flight = asyncio.Semaphore(settings.ingress_max_in_flight)
        self.rejections = RateLimit(settings.signature_dead_letter_per_minute)
        self._replacing = asyncio.Lock()
        self.events_topic = settings.topic(topics.EVENTS)
        self.dead_topic = settings.topic(topics.DEAD_LETTER)

    async def produce(self, topic: str, key: bytes, record: WireModel, deadline: float) -> None:
        """Send and wait for the broker's ack before ``deadline``; raise on anything else."""
        if self.in_flight.locked():
            raise Saturated()
        async with self.in_flight:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError()
            producer = self.producer
            try:
                async with asyncio.timeout(remaining):
                    await producer.send_and_wait(
                        topic, record.to_bytes(), key=key, headers=record.headers()
                    )
            except UNRECOVERABLE:
                await self.replace_producer(producer)
                raise

    async def replace_producer(self, failed: AIOKafkaProducer) -> None:
        """Swap in a new producer after an error the idempotent producer cannot recover from.

        aiokafka 0.14 keeps failing every later send to a partition after, e.g., an
        ``OutOfOrderSequenceNumber`` (aio-libs/aiokafka#1017); a new producer id clears it.
        """
        async with self._replacing:
            if self.producer is not failed:
                return  # another request already replaced it
            fresh = make_producer(self.settings)
            await fresh.start()
            self.producer = fresh
            log.warning("producer replaced after an unrecoverable send error")
        await failed.stop()

    def reject_in_background(self, record: DeadLetter) -> None:
        """Send a rate-limited 401 dead letter without making the client wait for it."""
        if not self.rejections.allow() or self.in_flight.locked():
            return
        deadline = time.monotonic() + self.settings.ingress_deadline_seconds
        task = asyncio.create_task(self.produce(self.dead_topic, b"unknown", record, deadline))
        task.add_done_callback(_ignore_result)


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("401 dead letter not sent: %s", type(task.exception()).__name__)


async def _read_capped(request: web.Request, cap: int, timeout: float) -> bytes | None:
    """The whole body, or None when it is above ``cap`` (reading stops there)."""
    if request.content_length is not None and request.content_length > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout):
        while True:
            chunk = await request.content.read(READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, outcome: str, **extra: Any) -> web.Response:
    webhooks.labels(outcome).inc()
    return web.json_response({"status": outcome, **extra}, status=status)


async def webhook(request: web.Request) -> web.StreamResponse:
    """Receive one Square delivery; the answer is a promise about durability."""
    gate = request.app[keys.GATE]
    settings = gate.settings
    deadline = time.monotonic() + settings.ingress_deadline_seconds
    # 1. body, capped and timed
    try:
        body = await _read_capped(
            request, settings.ingress_hard_cap_bytes, settings.ingress_read_timeout_seconds
        )
    except TimeoutError:
        webhooks.labels("read_timeout").inc()
        if request.transport is not None:
            request.transport.close()
        raise web.HTTPRequestTimeout() from None
    if body is None:
        resp = _answer(413, "too_large", error="body above the hard cap")
        resp.force_close()
        return resp
    received_at = now_utc()
    # 2. hash the raw bytes before anything reads them
    event_hash = hashlib.sha256(body).hexdigest()
    # 3. signature against every active key
    header = request.headers.get(HEADER)
    groups = await gate.keyring.active()
    key_id = _verify(header, body, groups)
    if key_id is None and header:
        groups = await gate.keyring.active(max_age=KEYRING_MISS_REFRESH_SECONDS)
        key_id = _verify(header, body, groups)
    if key_id is None:
        gate.reject_in_background(
            DeadLetter(
                stage="ingress",
                reason="signature_invalid",
                error="no signature header" if not header else "signature matches no active key",
                at=received_at,
                request=RejectedRequest(
                    event_hash=event_hash,
                    size=len(body),
                    remote=request.remote,
                    header_names=sorted({h.lower() for h in request.headers}),
                    key_ids_tried=sorted(k for ks in groups.values() for k, _ in ks),
                ),
            )
        )
        dead_letters.labels("ingress", "signature_invalid").inc()
        return _answer(401, "unauthorized", error="invalid or missing signature")
    event_id = uuid6.uuid7()
    # 4. JSON and merchant id
    info = read_body(body, settings.ingress_soft_cap_bytes)
    received = ReceivedBody(
        event_id=event_id,
        event_hash=event_hash,
        raw_payload=body,
        received_at=received_at,
        signature_key_id=key_id,
    )
    if info.unusable is not None or info.provider_merchant_id is None:
        return await _dead_letter(
            gate, "unparseable", info.unusable or "no merchant_id", received, None, deadline
        )
    # 5. merchant resolution
    merchant = await gate.directory.resolve(info.provider_merchant_id)
    if merchant is None:
        return await _dead_letter(
            gate,
            "unknown_merchant",
            "merchant unknown or inactive",
            received,
            info.provider_merchant_id,
            deadline,
        )
    # 6. the envelope, 200 only after the broker's ack
    envelope = webhook_envelope(info, received, merchant.merchant_id)
    try:
        await gate.produce(
            gate.events_topic, str(merchant.merchant_id).encode(), envelope, deadline
        )
    except (TimeoutError, KafkaError, Saturated) as exc:
        return _unavailable(exc)
    return _answer(200, "accepted", event_id=str(event_id))


def _verify(
    header: str | None, body: bytes, groups: dict[str, list[tuple[str, bytes]]]
) -> str | None:
    """The id of the active key that signed ``body``, checking each key against its own URL."""
    key_id = None
    for url, url_keys in groups.items():
        key_id = verify_signature(header, url, body, url_keys) or key_id
    return key_id


async def _dead_letter(
    gate: WebhookGate,
    reason: str,
    error: str,
    received: ReceivedBody,
    provider_merchant_id: str | None,
    deadline: float,
) -> web.Response:
    record = DeadLetter(
        stage="ingress",
        reason=reason,
        event_id=received.event_id,
        provider_merchant_id=provider_merchant_id,
        error=error,
        at=received.received_at,
        body=received,
    )
    try:
        await gate.produce(gate.dead_topic, record.kafka_key(), record, deadline)
    except (TimeoutError, KafkaError, Saturated) as exc:
        return _unavailable(exc)
    dead_letters.labels("ingress", reason).inc()
    return _answer(202, "dead_lettered", reason=reason, event_id=str(received.event_id))


def _unavailable(exc: BaseException) -> web.Response:
    outcome = "saturated" if isinstance(exc, Saturated) else "unavailable"
    resp = _answer(503, outcome, error="broker did not acknowledge in time; retry")
    resp.headers["Retry-After"] = "1"
    return resp
