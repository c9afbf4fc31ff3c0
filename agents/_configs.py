"""The merchant-config follower as a service of a Faust app, and the rules' view of it."""

from __future__ import annotations

import asyncio
import time
import uuid

import faust
from mode import Service

from canary_stream.apps import StageContext
from canary_stream.db import merchants as merchants_db
from canary_stream.errors import NotFound
from canary_stream.merchant_configs import MerchantConfigs
from canary_stream.models.merchant_config import MerchantConfig
from canary_stream.rules.merchant import MerchantView

#: How long a merchant missing from the topic and the database is served the defaults.
MISS_TTL_SECONDS = 5.0


class ConfigFollowerService(Service):
    """Runs the follower beside the agents: started and stopped with the app."""

    def __init__(self, configs: MerchantConfigs) -> None:
        super().__init__()
        self.configs = configs

    async def on_start(self) -> None:
        await self.configs.start()

    async def on_stop(self) -> None:
        await self.configs.stop()


class MerchantViews:
    """Merchant id → :class:`MerchantView`, rebuilt when its config record changes.

    A merchant not on the topic yet (created a moment ago) is read from the database once;
    one in neither gets the catalog defaults for a few seconds before looking again.
    """

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.configs = MerchantConfigs(ctx.settings, on_change=self._changed)
        self.configs.on_remove = self._removed
        self._views: dict[uuid.UUID, MerchantView] = {}
        self._misses: dict[uuid.UUID, float] = {}

    def _changed(self, config: MerchantConfig) -> None:
        self._views[config.merchant_id] = MerchantView.of(config)
        self._misses.pop(config.merchant_id, None)

    def _removed(self, merchant_id: uuid.UUID) -> None:
        self._views.pop(merchant_id, None)

    def install(self, app: faust.App) -> None:
        """Start the follower with ``app`` and gate readiness on its snapshot."""
        app.add_dependency(ConfigFollowerService(self.configs))
        self.ctx.ready_checks["merchant_config"] = self.configs.loaded.is_set

    async def view(self, merchant_id: uuid.UUID) -> MerchantView:
        """The merchant's view, waiting for the snapshot at first use."""
        if not self.configs.loaded.is_set():
            await asyncio.wait_for(self.configs.loaded.wait(), timeout=60)
        found = self._views.get(merchant_id)
        if found is not None:
            return found
        if time.monotonic() < self._misses.get(merchant_id, 0.0):
            return MerchantView.defaults(merchant_id)
        async with self.ctx.engine.connect() as conn:
            try:
                config = await merchants_db.resolve(conn, str(merchant_id))
            except NotFound:
                config = None
        if config is None:
            self._misses[merchant_id] = time.monotonic() + MISS_TTL_SECONDS
            return MerchantView.defaults(merchant_id)
        view = MerchantView.of(config)
        self._views.setdefault(merchant_id, view)
        return self._views[merchant_id]
