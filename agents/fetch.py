"""The order fetch loop and the cash-drawer poller as a service of the parse app (timer
work, never a table write).

Every parse worker runs both; rows (``sales.parse_deferrals``, ``app.poll_cursors``) are
claimed with a lease and SKIP LOCKED, so workers share the work without fetching an order
or polling a merchant's drawers twice at the same time (pipeline.md, timers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from mode import Service

from canary_stream.apps import StageContext
from canary_stream.merchant_configs import MerchantConfigs
from canary_stream.square.client import SquareClient
from canary_stream.square.drawers import DrawerPoller
from canary_stream.square.fetch import OrderFetcher
from canary_stream.square.polling import EventsProducer
from canary_stream.square.vault import open_token_vault

STAGE = "parse"
log = logging.getLogger("canary.fetch")
#: How long stopping waits for a tick in progress before cancelling it.
STOP_GRACE_SECONDS = 10.0


class SquareWork(Service):
    """Opens the vault, the API client and a producer; runs periodic Square work on them."""

    def __init__(self, ctx: StageContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._stack = contextlib.AsyncExitStack()
        self.fetcher: OrderFetcher | None = None
        self.drawers: DrawerPoller | None = None
        self.configs: MerchantConfigs | None = None
        self._loops: list[asyncio.Future[Any]] = []

    async def on_start(self) -> None:
        settings = self.ctx.settings
        vault = await self._stack.enter_async_context(open_token_vault(settings, self.ctx.engine))
        client = await self._stack.enter_async_context(SquareClient(settings, vault.access_token))
        producer = EventsProducer(settings)
        await producer.start()
        self._stack.push_async_callback(producer.stop)
        self.configs = MerchantConfigs(settings)
        await self.configs.start()
        self._stack.push_async_callback(self.configs.stop)
        self.fetcher = OrderFetcher(
            settings, self.ctx.engine, client, producer, self.active_merchants
        )
        self._loops.append(
            self.add_future(
                self._every(settings.fetch_interval_seconds, self.fetcher.tick, "order fetch")
            )
        )
        self.drawers = DrawerPoller(
            settings, self.ctx.engine, client, producer, self.active_merchants
        )
        # look for due merchants a few times per interval (the claim itself polls each
        # merchant at most once per interval)
        every = min(5.0, max(0.2, settings.drawer_poll_interval_seconds / 4))
        self._loops.append(
            self.add_future(self._every(every, self.drawers.tick, "cash-drawer poll"))
        )

    def active_merchants(self) -> list[uuid.UUID]:
        """The deployment's active merchants, from its config topic."""
        if self.configs is None:
            return []
        return [m for m, c in self.configs.by_id.items() if c.status == "active"]

    async def _every(self, seconds: float, tick: Callable[[], Awaitable[int]], what: str) -> None:
        """Run ``tick`` every ``seconds`` until the service stops; a failed tick is logged."""
        while not self.should_stop:
            try:
                await tick()
            except Exception as exc:  # a timer never dies: the database may be back next tick
                log.warning("%s tick failed: %s", what, type(exc).__name__)
            await self.sleep(seconds)

    async def on_stop(self) -> None:
        # let the timer loops end first (stopping wakes their sleep; a tick in progress
        # finishes, one stuck past the grace is cancelled and its claims expire), so no tick
        # starts a merchant task after the drain; then close what the tasks use
        if self._loops:
            _, stuck = await asyncio.wait(self._loops, timeout=STOP_GRACE_SECONDS)
            for loop in stuck:
                loop.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self.fetcher is not None:
            await self.fetcher.drain()
        if self.drawers is not None:
            await self.drawers.drain()
        await self._stack.aclose()


def register(app: faust.App, ctx: StageContext) -> None:
    """Run the Square API work beside the parse agent."""
    work: Any = SquareWork(ctx)
    app.add_dependency(work)
    ctx.tables["square_work"] = work
