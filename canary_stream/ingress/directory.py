"""What the ingress knows: the merchant snapshot and the application keyring.

The merchant snapshot is read from the compacted ``canary.merchant-config`` topic with a
plain aiokafka reader (no consumer group) up to its end offset at start, then followed. A
miss falls back to the database once, so a merchant onboarded a moment ago is not sent to
the dead letters because the snapshot had not caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream import topics
from canary_stream.db import merchants as merchants_db
from canary_stream.db import signing_keys as keys_db
from canary_stream.evidence.crypto import KeyRing
from canary_stream.models.merchant_config import MerchantConfig
from canary_stream.settings import Settings

log = logging.getLogger("canary.ingress")

KEYRING_REFRESH_SECONDS = 5.0
#: After a signature matched no key, the keyring is reloaded at most this often.
KEYRING_MISS_REFRESH_SECONDS = 1.0


class MerchantDirectory:
    """Square merchant id → merchant config, from the config topic, database as fallback."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.by_provider_id: dict[str, MerchantConfig] = {}
        self.loaded = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the snapshot up to the end offset, then follow the topic in the background."""
        name = self.settings.topic(topics.MERCHANT_CONFIG)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=100,
        )
        await self._consumer.start()
        tp = TopicPartition(name, 0)
        self._consumer.assign([tp])
        await self._consumer.seek_to_beginning(tp)
        end = (await self._consumer.end_offsets([tp]))[tp]
        while await self._consumer.position(tp) < end:
            batch = await self._consumer.getmany(tp, timeout_ms=500)
            for records in batch.values():
                for record in records:
                    self._apply(record.value)
        self.loaded.set()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            self._apply(record.value)

    def _apply(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            config = MerchantConfig.model_validate_json(value)
        except ValidationError:
            log.warning("ignoring an undecodable merchant-config record")
            return
        self.by_provider_id[config.provider_merchant_id] = config

    async def resolve(self, provider_merchant_id: str) -> MerchantConfig | None:
        """The active merchant for a Square merchant id, or None (unknown or inactive)."""
        config = self.by_provider_id.get(provider_merchant_id)
        if config is None:
            async with self.engine.connect() as conn:
                config = await merchants_db.by_provider_id(conn, provider_merchant_id)
        return config if config is not None and config.status == "active" else None

    async def stop(self) -> None:
        """Stop following; idempotent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class Keyring:
    """The active webhook signature keys, grouped by the notification URL they sign for."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.engine = engine
        self.ring = KeyRing(settings.encryption_ring())
        self.keys: list[keys_db.SigningKey] = []
        self.loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._grouped: dict[str, list[tuple[str, bytes]]] = {}
        self._grouped_until = datetime.min.replace(tzinfo=UTC)

    async def refresh(self) -> None:
        """Reload the keyring from the database."""
        async with self.engine.connect() as conn:
            self.keys = await keys_db.load_keys(conn, self.ring)
        self.loaded_at = time.monotonic()
        self._grouped_until = datetime.min.replace(tzinfo=UTC)

    def _group(self, now: datetime) -> None:
        """Group the keys active at ``now``, valid until the next key starts or ends."""
        grouped: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        for key in self.keys:
            if key.active_at(now):
                grouped[key.notification_url].append((key.key_id, key.secret))
        boundaries = [
            t
            for k in self.keys
            for t in (k.active_from, k.active_until)
            if t is not None and t > now
        ]
        self._grouped = dict(grouped)
        self._grouped_until = min(boundaries, default=datetime.max.replace(tzinfo=UTC))

    async def active(
        self, *, max_age: float = KEYRING_REFRESH_SECONDS
    ) -> dict[str, list[tuple[str, bytes]]]:
        """Notification URL → [(key_id, secret)] of keys active now, reloaded when older than
        ``max_age`` seconds (the view asks again with a short age after a miss, so a key added
        a moment ago verifies at once)."""
        if time.monotonic() - self.loaded_at > max_age:
            async with self._lock:
                if time.monotonic() - self.loaded_at > max_age:
                    try:
                        await self.refresh()
                    except Exception as exc:  # keep verifying with the keys we have
                        self.loaded_at = time.monotonic()
                        log.warning("keyring refresh failed: %s", type(exc).__name__)
        now = datetime.now(UTC)
        if now >= self._grouped_until:
            self._group(now)
        return self._grouped
