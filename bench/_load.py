"""Load generator for bench/ingress.py: a wrk-style closed loop, run as its own process.

``--concurrency`` keep-alive HTTP/1.1 connections, each with one request in flight, written
straight on asyncio transports (an aiohttp client costs more CPU per request than the
servers it measures). Each request is a fresh ~1 KB Square ``payment.created`` body (new
``event_id``) signed for ``--url``. Requests that start in the first ``--warmup`` seconds
are not counted; sending stops when ``--duration`` more seconds have passed. Prints one JSON
line: counts by status, accepted per second, latency percentiles, own CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from _common import percentile, square_body

from canary_stream.ingress.signature import HEADER, compute_signature

POOL = 256
SLOT = "{event-id-slot-36-chars-long-xxxxxx}"


class Load:
    """The shared state of one run: the window, the request factory, the records."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.head = (
            f"POST {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
            "Content-Type: application/json\r\nUser-Agent: canary-bench\r\n"
        ).encode()
        # distinct payments; each request splices a fresh event_id into the next one
        bodies = (square_body(args.merchant, event_id=SLOT, n=i) for i in range(POOL))
        self.pool = [tuple(body.split(SLOT.encode())) for body in bodies]
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.n = 0
        self.count_from = self.stop_at = 0.0

    def request(self) -> bytes:
        self.n += 1
        before, after = self.pool[self.n % POOL]
        body = b"%s%s%s" % (before, str(uuid.uuid4()).encode(), after)
        signature = compute_signature(self.args.url, body, self.args.key)
        return b"%sContent-Length: %d\r\n%s: %s\r\n\r\n%s" % (
            self.head,
            len(body),
            HEADER.encode(),
            signature.encode(),
            body,
        )

    def record(self, started: float, ended: float, status: int) -> None:
        if started >= self.count_from and ended <= self.stop_at:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.latencies.append(ended - started)


class Connection(asyncio.Protocol):
    """One client: send, read the whole answer, send the next, until the window closes."""

    def __init__(self, load: Load, done: asyncio.Future[None]) -> None:
        self.load = load
        self.done = done
        self.buf = bytearray()
        self.started = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if time.perf_counter() >= self.load.stop_at:
            self.transport.close()
            return
        self.buf.clear()
        self.started = time.perf_counter()
        self.transport.write(self.load.request())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        length = 0
        if at >= 0:
            line_end = head.find(b"\r\n", at)
            length = int(head[at + 15 : line_end if line_end >= 0 else None])
        if len(self.buf) < end + 4 + length:
            return
        self.load.record(self.started, time.perf_counter(), int(head[9:12]))
        if b"connection: close" in head:
            assert self.transport is not None
            self.transport.close()  # connection_lost opens a new one
            return
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.load.errors += 1
        if not self.done.done():
            self.done.set_result(None)


async def client(load: Load) -> None:
    """One of the concurrent clients: reconnect whenever the server closes, until the end."""
    loop = asyncio.get_running_loop()
    while time.perf_counter() < load.stop_at:
        done: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(
                lambda d=done: Connection(load, d), load.args.host, load.args.port
            )
        except OSError:
            load.errors += 1
            await asyncio.sleep(0.05)
            continue
        await done


async def main(args: argparse.Namespace) -> dict[str, Any]:
    load = Load(args)
    t0 = time.perf_counter()
    load.count_from = t0 + args.warmup
    load.stop_at = load.count_from + args.duration
    cpu0 = time.process_time()
    await asyncio.gather(*(client(load) for _ in range(args.concurrency)))
    latencies = sorted(load.latencies)
    ok = load.statuses.get(200, 0)
    return {
        "accepted": ok,
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "connection_errors": load.errors,
        "requests_per_s": ok / args.duration,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "client_cpu_pct": 100 * (time.process_time() - cpu0) / (time.perf_counter() - t0),
        "body_bytes": len(square_body(args.merchant)),
    }


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/webhooks/square")
    p.add_argument("--url", required=True, help="notification URL the signature covers")
    p.add_argument("--key", required=True, help="signature key")
    p.add_argument("--merchant", required=True, help="Square merchant id in the bodies")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--warmup", type=float, default=2.0)
    return p.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse()))))
