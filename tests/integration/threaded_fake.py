"""The fake Square on its own thread and event loop, for tests whose pipeline processes (and
CLI subprocesses) call it while the test itself waits: seeded sellers, app token, OAuth."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web

from canary_stream.square.fake import FakeSquareState, make_fake_square
from canary_stream.square.fake.merchants import MerchantData, seed_merchants

APP_TOKEN = f"app-{uuid.uuid4().hex}"
APP_SECRET = f"secret-{uuid.uuid4().hex}"


@dataclass
class ThreadedFake:
    """A running fake: its URL, its state and the loop it serves on."""

    url: str
    state: FakeSquareState
    loop: asyncio.AbstractEventLoop

    @property
    def sellers(self) -> list[MerchantData]:
        return list(self.state.merchants.values())

    def change(self, fn: Callable[[], None]) -> None:
        """Change the seeded data on the fake's own loop (between two requests)."""

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def pipeline_env(self) -> dict[str, str]:
        """Settings that point a pipeline's processes at this fake."""
        return {
            "CANARY_SQUARE_BASE_URL": self.url,
            "CANARY_SQUARE_ACCESS_TOKEN": APP_TOKEN,
            "CANARY_SQUARE_APPLICATION_SECRET": APP_SECRET,
        }


@contextmanager
def threaded_fake(sellers: int = 2, *, seed: int = 3, events: int = 400) -> Iterator[ThreadedFake]:
    """Serve ``sellers`` freshly named seeded sellers until the block ends."""
    ids = [f"ML{uuid.uuid4().hex[:12].upper()}" for _ in range(sellers)]
    state = FakeSquareState(access_token=APP_TOKEN)
    for seller in seed_merchants(seed, ids, events=events):
        state.add_merchant(seller)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_fake_square(state))

    async def up() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    url = asyncio.run_coroutine_threadsafe(up(), loop).result(30)
    try:
        yield ThreadedFake(url, state, loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
