"""What the ingress knows: the merchant snapshot and the application keyring.

The merchant snapshot is the shared follower of ``canary.merchant-config``
(:mod:`canary_stream.merchant_configs`). A miss falls back to the database once, so a
merchant onboarded a moment ago is not sent to the dead letters because the snapshot had not
caught up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream.db import merchants as merchants_db
from canary_stream.db import signing_keys as keys_db
from canary_stream.evidence.crypto import KeyRing
from canary_stream.merchant_configs import MerchantConfigs
from canary_stream.models.merchant_config import MerchantConfig
from canary_stream.settings import Settings

log = logging.getLogger("canary.ingress")

KEYRING_REFRESH_SECONDS = 5.0
#: After a signature matched no key, the keyring is reloaded at most this often.
KEYRING_MISS_REFRESH_SECONDS = 1.0


class MerchantDirectory:
    """Square merchant id → merchant config, from the config topic, database as fallback."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.engine = engine
        self.configs = MerchantConfigs(settings)
        self.loaded = self.configs.loaded

    async def start(self) -> None:
        """Load the snapshot up to the end offset, then follow the topic in the background."""
        await self.configs.start()

    async def resolve(self, provider_merchant_id: str) -> MerchantConfig | None:
        """The active merchant for a Square merchant id, or None (unknown or inactive)."""
        config = self.configs.by_provider_id.get(provider_merchant_id)
        if config is None:
            async with self.engine.connect() as conn:
                config = await merchants_db.by_provider_id(conn, provider_merchant_id)
        return config if config is not None and config.status == "active" else None

    async def stop(self) -> None:
        """Stop following; idempotent."""
        await self.configs.stop()


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
