"""Consumer-lag gauges for ``/metrics``, refreshed by a background task (no I/O on scrape).

``canary_consumer_lag_messages`` and ``canary_consumer_lag_seconds`` carry the labels
``group``, ``topic`` and ``partition`` only (no merchant data). The values are those of
``canary-stream lag`` (:mod:`canary_stream.lag`), at most :data:`REFRESH_SECONDS` old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from canary_stream.lag import LagRow, collect_lag
from canary_stream.settings import Settings

log = logging.getLogger("canary.lag")

REFRESH_SECONDS = 5.0


class LagMonitor:
    """The latest lag rows of every stage group, refreshed every few seconds."""

    def __init__(self, settings: Settings, interval: float = REFRESH_SECONDS) -> None:
        self.settings = settings
        self.interval = interval
        self.rows: list[LagRow] = []
        self.updated: float | None = None
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> list[LagRow]:
        """Read the lag now; on failure keep the last rows and remember the error."""
        try:
            self.rows = await collect_lag(self.settings)
            self.updated = time.time()
            self.error = None
        except Exception as exc:  # the monitor outlives a broker hiccup
            self.error = type(exc).__name__
            log.warning("consumer lag unavailable: %s", self.error)
        return self.rows

    async def _loop(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Start the refresh task and make it the source of the gauges."""
        self._task = asyncio.get_running_loop().create_task(self._loop())
        _COLLECTOR.monitor = self

    async def stop(self) -> None:
        """Stop the refresh task."""
        if _COLLECTOR.monitor is self:
            _COLLECTOR.monitor = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class LagCollector(Collector):
    """Yields the gauges from the current monitor's rows."""

    def __init__(self) -> None:
        self.monitor: LagMonitor | None = None

    def collect(self) -> Iterator[Metric]:
        labels = ["group", "topic", "partition"]
        messages = GaugeMetricFamily(
            "canary_consumer_lag_messages",
            "Records not yet consumed by a stage group (log-end minus committed offset)",
            labels=labels,
        )
        seconds = GaugeMetricFamily(
            "canary_consumer_lag_seconds",
            "Age in seconds of the oldest record not yet consumed by a stage group",
            labels=labels,
        )
        for row in self.monitor.rows if self.monitor else []:
            values = [row.group, row.topic, str(row.partition)]
            messages.add_metric(values, float(row.lag))
            seconds.add_metric(values, row.lag_seconds)
        yield messages
        yield seconds


_COLLECTOR = LagCollector()
REGISTRY.register(_COLLECTOR)
