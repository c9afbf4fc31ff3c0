"""Send simulated webhooks to the ingress: paced, signed like Square, with a report.

One ``aiohttp.ClientSession``; webhook ``i`` is due at ``t0 + i / rate``; at most
``concurrency`` requests are in flight (a slow ingress lowers the achieved rate rather than
piling up requests). Nothing new is sent once ``duration`` has elapsed, and the run stops
early if the first requests all fail to connect.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import aiohttp

from canary_stream.ingress.signature import HEADER, compute_signature
from canary_stream.settings import Settings
from canary_stream.simulate.patterns import Injection, interleave
from canary_stream.simulate.payloads import Traffic, Webhook, merchant_ids

#: Seconds one request may take before it counts as a transport error.
REQUEST_TIMEOUT = 15.0
#: Give up when this many requests (or all, if fewer) failed to connect and none answered.
UNREACHABLE_AFTER = 10
USER_AGENT = "canary-stream-simulate/0.1"

Progress = Callable[[int, int], None]


def ingress_url(settings: Settings) -> str:
    """The webhook endpoint of the configured ingress."""
    return f"http://{settings.ingress_host}:{settings.ingress_port}/webhooks/square"


async def send_one(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    key: bytes | str,
    notification_url: str,
) -> int:
    """POST one body signed as Square would sign it for ``notification_url``; the HTTP status."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: compute_signature(notification_url, body, key),
    }
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class SimulationReport:
    """What a run sent and how the ingress answered."""

    url: str
    merchants: list[str]
    seed: int
    start: str
    target_rate: float
    duration: float
    planned: int
    sent: int = 0
    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    event_types: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    stopped_early: str | None = None
    injected: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        """Deliveries answered 200 (the broker took them)."""
        return self.statuses.get(200, 0)

    @property
    def achieved_rate(self) -> float:
        """Completed requests per second of wall time."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        """Latency percentile ``q`` of answered requests, in milliseconds."""
        return percentile(sorted(self.latencies), q) * 1000

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "url": self.url,
            "merchants": self.merchants,
            "seed": self.seed,
            "start": self.start,
            "target_rate": self.target_rate,
            "duration": self.duration,
            "planned": self.planned,
            "sent": self.sent,
            "elapsed_seconds": round(self.elapsed, 3),
            "achieved_rate": round(self.achieved_rate, 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(sorted(self.errors.items())),
            "event_types": dict(sorted(self.event_types.items())),
            "latency_p50_ms": round(self.latency_ms(50), 2),
            "latency_p99_ms": round(self.latency_ms(99), 2),
            "stopped_early": self.stopped_early,
            "injected": dict(sorted(self.injected.items())),
        }

    def failure(self) -> str | None:
        """One line when nothing got a 200, with the most likely cause; None otherwise."""
        if self.ok:
            return None
        if self.sent == 0 and not self.errors:
            return "nothing was sent (duration too short for the rate?)"
        counts = [*self.statuses.most_common(), *self.errors.most_common()]
        got = ", ".join(f"{what}: {n}" for what, n in counts)
        if self.errors and not self.statuses:
            hint = f"is the ingress running at {self.url}? (try 'canary-stream up')"
        elif 401 in self.statuses:
            hint = "401: wrong signature key or notification URL for this ingress"
        elif 202 in self.statuses:
            hint = "202: merchants unknown to the ingress (try --onboard)"
        else:
            hint = "see 'canary-stream logs'"
        return f"no webhook got a 200 from {self.url} ({got}); {hint}"


async def simulate(
    settings: Settings,
    *,
    rate: float,
    merchants: int,
    duration: float,
    seed: int,
    url: str | None = None,
    signature_key: bytes | str,
    notification_url: str,
    concurrency: int = 16,
    on_progress: Progress | None = None,
    start: datetime | None = None,
    currency: str = "USD",
    mix: Mapping[str, float] | None = None,
    fraud: Mapping[str, float] | None = None,
    injections: Sequence[Injection] = (),
) -> SimulationReport:
    """Post ``rate * duration`` simulated webhooks at ``rate``/s; business time from ``start``.

    ``start`` defaults to now (whole seconds), so each run mints new event ids; pass a fixed
    start to resend identical bytes (the seal stage then drops them as duplicates). ``mix``
    overrides story weights and ``fraud`` injects fraud patterns (see :class:`Traffic`).
    The webhooks of ``injections`` (:mod:`~canary_stream.simulate.patterns`) are merged in
    by business time; those after the last background webhook go last, and the run's
    duration grows by their count / ``rate``.
    """
    if rate <= 0 or duration <= 0 or merchants < 1 or concurrency < 1:
        raise ValueError("rate and duration must be positive, merchants and concurrency ≥ 1")
    start = start or datetime.now(UTC).replace(microsecond=0)
    ids = merchant_ids(seed, merchants)
    traffic = Traffic(seed, ids, start=start, rate=rate, currency=currency, mix=mix, fraud=fraud)
    background = max(1, math.ceil(rate * duration))
    extra = sum(len(i.webhooks) for i in injections)
    planned = background + extra
    duration += extra / rate
    report = SimulationReport(
        url=url or ingress_url(settings),
        merchants=ids,
        seed=seed,
        start=traffic.start.isoformat(),
        target_rate=rate,
        duration=duration,
        planned=planned,
    )
    gate = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    stop = asyncio.Event()

    async def deliver(session: aiohttp.ClientSession, hook: Webhook) -> None:
        began = time.perf_counter()
        try:
            status = await send_one(session, report.url, hook.body, signature_key, notification_url)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            report.errors[type(exc).__name__] += 1
        else:
            report.statuses[status] += 1
            report.latencies.append(time.perf_counter() - began)
        finally:
            gate.release()
            report.sent += 1
            report.event_types[hook.event_type] += 1
            if not report.statuses and sum(report.errors.values()) >= min(
                UNREACHABLE_AFTER, planned
            ):
                report.stopped_early = "ingress unreachable"
                stop.set()
            if on_progress is not None:
                on_progress(report.sent, planned)

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=concurrency)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        t0 = loop.time()
        for injection in injections:
            report.injected[injection.rule_id] += len(injection.webhooks)
        for i, hook in enumerate(interleave(islice(traffic, background), injections)):
            delay = t0 + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            if stop.is_set() or loop.time() - t0 >= duration:
                gate.release()
                if not stop.is_set():
                    report.stopped_early = "duration reached before every webhook was sent"
                break
            task = asyncio.create_task(deliver(session, hook))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        report.elapsed = loop.time() - t0
    return report
