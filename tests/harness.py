"""Test harness: isolated pipelines on the real local stack.

Each :class:`Pipeline` gets its own topic prefix (so its own topics and consumer groups),
its own state directory (RocksDB stores, pid files) and free ports, and starts the real
processes (``canary-stream worker``/``ingress``) as subprocesses. Tests share the database
and tell their data apart by merchant.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream.apps import STAGES
from canary_stream.db.engine import make_engine
from canary_stream.ingress.signature import compute_signature
from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import now_utc
from canary_stream.processes import spawn_python
from canary_stream.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


#: Ports handed out in this test run (processes bind them later, so a port must not be
#: handed out twice).
_HANDED_OUT: set[int] = set()
#: Below the kernel's ephemeral range (32768 to 60999), so no outgoing connection takes a port
#: between the draw and the process binding it; above the stack's fixed ports.
_PORT_RANGE = (20000, 32000)


def free_port() -> int:
    """A TCP port nobody listens on right now and this run has not handed out before."""
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(*_PORT_RANGE)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port in 1000 draws")


@dataclass
class Proc:
    """A running application subprocess."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Pipeline:
    """One isolated deployment of canary-stream on the shared stack."""

    base: Settings
    root: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    overrides: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    signature_key: str = field(default_factory=lambda: f"sig-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in ("ingress", *STAGES, "mcp")}
        self.notification_url = f"http://127.0.0.1:{self.ports['ingress']}/webhooks/square"

    # Settings and environment ---------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """The environment every process of this pipeline runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
        env.update(
            CANARY_KAFKA_BOOTSTRAP=self.base.kafka_bootstrap,
            CANARY_DATABASE_URL=self.base.database_url.get_secret_value(),
            CANARY_OWNER_DATABASE_URL=self.base.owner_database_url.get_secret_value(),
            CANARY_ENCRYPTION_KEYS=self.base.encryption_keys.get_secret_value(),
            CANARY_CARD_HASH_KEYS=self.base.card_hash_keys.get_secret_value(),
            CANARY_CHECKPOINT_SIGNING_KEY=self.base.checkpoint_signing_key.get_secret_value(),
            CANARY_SQUARE_ACCESS_TOKEN=self.base.square_access_token.get_secret_value(),
            CANARY_SQUARE_APPLICATION_SECRET=self.base.square_application_secret.get_secret_value(),
            CANARY_TOPIC_PREFIX=self.prefix,
            CANARY_STATE_DIR=str(self.root),
            CANARY_INGRESS_PORT=str(self.ports["ingress"]),
            CANARY_NOTIFICATION_URL=self.notification_url,
            CANARY_SEAL_BATCH_SECONDS="0.02",
            CANARY_CONSUMER_SESSION_TIMEOUT_SECONDS="10",
            PYTHONUNBUFFERED="1",
        )
        for stage in STAGES:
            env[f"CANARY_{stage.upper()}_WEB_PORT"] = str(self.ports[stage])
        env["CANARY_MCP_PORT"] = str(self.ports["mcp"])
        env.update(self.overrides)
        env.update(extra)
        return env

    def settings(self) -> Settings:
        """Settings equal to what this pipeline's processes see."""
        env = self.env()
        values = {k[len("CANARY_") :].lower(): v for k, v in env.items() if k.startswith("CANARY_")}
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def topic(self, short: str) -> str:
        return f"{self.prefix}.{short}"

    # Processes ----------------------------------------------------------------------
    def start(self, name: str, *, wait: bool = True, timeout: float = 90.0) -> Proc:
        """Start ``ingress`` or a stage app and wait for ``/health/ready``."""
        args = ["ingress"] if name == "ingress" else ["worker", "--app", name]
        index = sum(1 for p in self.procs if p.name == name)
        log = self.root / "logs" / f"{name}-{index}.log"
        env = self.env()
        if index:  # a second process of the same app: its own port and store
            env[f"CANARY_{name.upper()}_WEB_PORT"] = str(free_port())
            env["CANARY_STATE_DIR"] = str(self.root / f"replica-{index}")
        popen = spawn_python(["-m", "canary_stream.cli.main", *args], log, env, cwd=ROOT)
        port = (
            env["CANARY_INGRESS_PORT"]
            if name == "ingress"
            else env[f"CANARY_{name.upper()}_WEB_PORT"]
        )
        proc = Proc(name, popen, f"http://127.0.0.1:{port}", log)
        self.procs.append(proc)
        if wait:
            self.wait_ready(proc, timeout)
        return proc

    def wait_ready(self, proc: Proc, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited early:\n{proc.tail()}")
            try:
                with urllib.request.urlopen(f"{proc.url}/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"{proc.name} not ready after {timeout}s:\n{proc.tail()}")

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.kill(signal.SIGTERM)
        self.procs.clear()

    # Broker and database ------------------------------------------------------------
    def cli(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``canary-stream ARGS`` against this pipeline; returns the completed process."""
        result = subprocess.run(
            [sys.executable, "-m", "canary_stream.cli.main", *args],
            cwd=ROOT,
            env=self.env(),
            input=input,
            capture_output=True,
            timeout=timeout,
        )
        done = subprocess.CompletedProcess(
            result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"canary-stream {' '.join(args)} failed: {done.stderr}{done.stdout}"
            )
        return done

    def add_merchant(self, provider_merchant_id: str | None = None, **opts: str) -> tuple[str, str]:
        """Onboard a merchant through the CLI; returns (our uuid, Square merchant id)."""
        pmid = provider_merchant_id or f"ML{uuid.uuid4().hex[:12].upper()}"
        args = ["merchants", "add", "--square-merchant-id", pmid]
        for k, v in opts.items():
            args += [f"--{k}", v]
        out = self.cli(*args).stdout.strip().splitlines()[-1]
        return str(uuid.UUID(out)), pmid

    def add_signature_key(self, key: str | None = None, url: str | None = None) -> None:
        self.cli(
            "webhooks",
            "add",
            "--notification-url",
            url or self.notification_url,
            "--key-id",
            f"k-{uuid.uuid4().hex[:8]}",
            input=(key or self.signature_key).encode(),
        )

    # Webhooks -------------------------------------------------------------------------
    def sign(self, body: bytes, key: str | None = None, url: str | None = None) -> str:
        return compute_signature(url or self.notification_url, body, key or self.signature_key)

    def post(
        self, body: bytes, *, signature: str | None = "auto", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST a body to this pipeline's ingress; returns (status, JSON answer)."""
        req = urllib.request.Request(self.notification_url, data=body, method="POST")
        if signature == "auto":
            signature = self.sign(body)
        if signature is not None:
            req.add_header("x-square-hmacsha256-signature", signature)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw or b"{}")
            except ValueError:
                return e.code, {"raw": raw.decode(errors="replace")}


def square_body(
    pmid: str, *, event_id: str | None = None, type_: str = "payment.created", **extra: Any
) -> bytes:
    """A Square-shaped webhook body."""
    payment_id = uuid.uuid4().hex[:22]
    doc = {
        "merchant_id": pmid,
        "type": type_,
        "event_id": event_id or str(uuid.uuid4()),
        "created_at": "2026-11-30T10:00:00Z",
        "data": {"type": "payment", "id": payment_id, "object": {"payment": {"id": payment_id}}},
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def make_envelope(
    merchant_id: str, pmid: str, raw: bytes, source_event_id: str | None = None
) -> Envelope:
    """An envelope as the ingress would produce it."""
    import uuid6

    return Envelope(
        event_id=uuid6.uuid7(),
        merchant_id=uuid.UUID(merchant_id),
        provider_merchant_id=pmid,
        source_event_id=source_event_id or f"ev-{uuid.uuid4()}",
        event_type="payment.created",
        event_hash=hashlib.sha256(raw).hexdigest(),
        raw_payload=raw,
        received_at=now_utc(),
    )


async def produce(settings: Settings, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Produce (key, value) records and wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(settings: Settings, topic: str, partitions: int | None = None) -> list[Any]:
    """Every record currently in ``topic`` (all partitions), read without a group."""
    n = partitions or settings.topic_partitions
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    out: list[Any] = []
    try:
        parts = [TopicPartition(topic, p) for p in range(n)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        pending = {tp for tp in parts if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for records in batch.values():
                out.extend(records)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return out


async def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Await ``predicate()`` (sync or async) until truthy; return its value or fail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


async def evidence_rows(engine: AsyncEngine, merchant_id: str) -> list[Any]:
    """The merchant's evidence rows in seq order."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_id, seq, source_event_id, event_hash, raw_size, parse_failed, "
                "oversize, chain_hash, prev_chain_hash FROM sales.evidence_records "
                "WHERE merchant_id = :m ORDER BY seq"
            ),
            {"m": uuid.UUID(merchant_id)},
        )
        return list(rows)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def engine_for(settings: Settings, owner: bool = False) -> AsyncEngine:
    return make_engine(settings, owner=owner, pool_size=2, max_overflow=2)
