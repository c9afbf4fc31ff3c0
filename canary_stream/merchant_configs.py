"""The one follower of ``canary.merchant-config`` every process holds (rules.md).

Plain aiokafka, manually assigned, no consumer group: read the one partition from the
beginning to its end offset at start (the process is not ready before), then keep following
and apply each record as it arrives; a tombstone removes the merchant. Not a Faust
GlobalTable (see rules.md for the assignor hang seen with a shared custom-named changelog).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from canary_stream import topics
from canary_stream.models.merchant_config import MerchantConfig
from canary_stream.observability import metrics
from canary_stream.settings import Settings

log = logging.getLogger("canary.config")


class MerchantConfigs:
    """Merchant id → latest config record, kept current from the compacted topic."""

    def __init__(
        self, settings: Settings, on_change: Callable[[MerchantConfig], None] | None = None
    ) -> None:
        self.settings = settings
        self.by_id: dict[uuid.UUID, MerchantConfig] = {}
        self.by_provider_id: dict[str, MerchantConfig] = {}
        self.loaded = asyncio.Event()
        self.on_change = on_change
        #: Called with a merchant id its tombstone removed.
        self.on_remove: Callable[[uuid.UUID], None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the snapshot up to the end offset, then follow the topic in the background."""
        tp = TopicPartition(self.settings.topic(topics.MERCHANT_CONFIG), 0)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=100,
        )
        await self._consumer.start()
        self._consumer.assign([tp])
        await self._consumer.seek_to_beginning(tp)
        end = (await self._consumer.end_offsets([tp]))[tp]
        while await self._consumer.position(tp) < end:
            batch = await self._consumer.getmany(tp, timeout_ms=500)
            for records in batch.values():
                for record in records:
                    self.apply(record.key, record.value)
        self.loaded.set()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        """Apply records as they arrive; an error is logged and following goes on."""
        assert self._consumer is not None
        while True:
            try:
                async for record in self._consumer:
                    self.apply(record.key, record.value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dead follower would freeze every merchant's config
                log.warning("merchant-config follower: %s; following again", type(exc).__name__)
                await asyncio.sleep(1.0)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one topic record: a config replaces the merchant's, a tombstone removes it."""
        if value is None:
            if key is not None:
                with contextlib.suppress(ValueError):
                    self._remove(uuid.UUID(key.decode()))
            return
        try:
            config = MerchantConfig.model_validate_json(value)
        except ValidationError:
            log.warning("ignoring an undecodable merchant-config record")
            return
        self.put(config)

    def put(self, config: MerchantConfig) -> None:
        """Hold ``config`` as the merchant's current record."""
        old = self.by_id.get(config.merchant_id)
        if old is not None and old.provider_merchant_id != config.provider_merchant_id:
            self.by_provider_id.pop(old.provider_merchant_id, None)
        self.by_id[config.merchant_id] = config
        self.by_provider_id[config.provider_merchant_id] = config
        metrics.config_records.inc()
        if self.on_change is not None:
            self.on_change(config)

    def _remove(self, merchant_id: uuid.UUID) -> None:
        old = self.by_id.pop(merchant_id, None)
        if old is not None:
            self.by_provider_id.pop(old.provider_merchant_id, None)
        if self.on_remove is not None:
            self.on_remove(merchant_id)

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
