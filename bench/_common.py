"""Shared helpers of the benchmarks: isolated pipelines, bodies, topics, results, tables.

Benchmarks reuse the test harness's :class:`Pipeline` (own topic prefix, state dir and free
ports; real processes started as subprocesses) and add what only benchmarks need: a
realistic ~1 KB Square body, topics, a scratch database, a JSON result file per run, and
the CPU accounting of ``_machine`` (re-exported).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402
from _machine import (  # noqa: E402
    CpuMeter,
    add_quiet_args,
    cpu_seconds,
    kafka_pid,
    machine,
    machine_jiffies,
    quiet,
    wait_quiet,
)
from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from aiokafka.admin import NewTopic  # noqa: E402
from harness import Pipeline, Proc, free_port  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from canary_stream.db.migrate import upgrade  # noqa: E402
from canary_stream.kafka import make_admin  # noqa: E402
from canary_stream.processes import spawn_python  # noqa: E402
from canary_stream.settings import Settings  # noqa: E402

__all__ = [
    "ROOT",
    "CpuMeter",
    "Pipeline",
    "Proc",
    "add_quiet_args",
    "cpu_seconds",
    "free_port",
    "kafka_pid",
    "machine",
    "machine_jiffies",
    "quiet",
    "wait_quiet",
]


# Bodies -----------------------------------------------------------------------------------
_BODY = (
    '{{"merchant_id":"{pmid}","type":"payment.created","event_id":"{event_id}",'
    '"created_at":"2026-11-30T10:00:00.000Z","data":{{"type":"payment","id":"{pay}",'
    '"object":{{"payment":{{"id":"{pay}","created_at":"2026-11-30T09:59:58.412Z",'
    '"updated_at":"2026-11-30T09:59:59.803Z","amount_money":{{"amount":{amount},'
    '"currency":"USD"}},"total_money":{{"amount":{amount},"currency":"USD"}},'
    '"approved_money":{{"amount":{amount},"currency":"USD"}},"status":"COMPLETED",'
    '"delay_duration":"PT168H","source_type":"CARD","card_details":{{"status":"CAPTURED",'
    '"card":{{"card_brand":"VISA","last_4":"1111","exp_month":11,"exp_year":2028,'
    '"fingerprint":"sq-1-{fp}","card_type":"CREDIT","bin":"411111"}},'
    '"entry_method":"EMV","cvv_status":"CVV_NOT_CHECKED","avs_status":"AVS_NOT_CHECKED",'
    '"statement_description":"SQ *CANARY CORNER STORE"}},"location_id":"LR85OSLA1D66T",'
    '"order_id":"{order}","receipt_number":"{receipt}","version_token":"{token}"}}}}}}}}'
)


def square_body(pmid: str, event_id: str | None = None, n: int = 0) -> bytes:
    """A ~1 KB Square ``payment.created`` body for merchant ``pmid`` (fresh ids each call)."""
    ids = uuid.uuid4().hex + uuid.uuid4().hex
    return _BODY.format(
        pmid=pmid,
        event_id=event_id or str(uuid.uuid4()),
        pay=ids[:29],
        amount=100 + n % 9900,
        fp=ids[29:61],
        order=ids[32:61],
        receipt=ids[:4].upper(),
        token=ids[10:46],
    ).encode()


# Database ---------------------------------------------------------------------------------
@contextlib.contextmanager
def scratch_database(settings: Settings, shared: bool = False) -> Iterator[Settings]:
    """Settings on a fresh database migrated to head, dropped afterwards (the owner role has
    CREATEDB on the local stack): every run starts from empty tables, and its rows never
    land in the database that tests share. ``shared`` (or no CREATEDB) uses the stack's.
    """
    name = f"canary_bench_{uuid.uuid4().hex[:10]}"
    owner_url = settings.owner_database_url.get_secret_value()
    try:
        if shared:
            raise PermissionError("shared database asked for")
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except (psycopg.Error, PermissionError):
        yield settings
        return

    def on(url: str) -> SecretStr:
        return SecretStr(urlunsplit(urlsplit(url)._replace(path=f"/{name}")))

    try:
        scratch = settings.model_copy(
            update={
                "database_url": on(settings.database_url.get_secret_value()),
                "owner_database_url": on(owner_url),
            }
        )
        upgrade(scratch)
        yield scratch
    finally:
        _drop_database(owner_url, name)


def _drop_database(owner_url: str, name: str) -> None:
    """Drop a scratch database once the stopped processes' sessions have gone."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for _ in range(60):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                time.sleep(0.5)
    print(f"warning: scratch database {name} still in use; drop it by hand", file=sys.stderr)


# Broker -----------------------------------------------------------------------------------
async def create_topic(settings: Settings, name: str, partitions: int) -> None:
    """Create one plain topic (the anchors' output topics)."""
    admin = make_admin(settings)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, settings.replication_factor)])
    finally:
        await admin.close()


async def delete_topics(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (this run's topics only)."""
    admin = make_admin(settings)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


class TopicSize:
    """Sum of a topic's end offsets (how many records it holds), asked repeatedly."""

    def __init__(self, settings: Settings, topic: str, partitions: int) -> None:
        self.parts = [TopicPartition(topic, p) for p in range(partitions)]
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)

    async def __aenter__(self) -> TopicSize:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def __call__(self) -> int:
        return sum((await self.consumer.end_offsets(self.parts)).values())


async def watch_progress(
    count: Any, total: int, proc: Proc, *, started: float, timeout: float, interval: float = 0.05
) -> dict[str, Any]:
    """Poll ``await count()`` until it reaches ``total`` (while ``proc`` lives); the steady rate
    is measured from the first poll that saw progress to the one that saw the last record
    (start-up excluded).
    """
    first_at = first_n = None
    n = 0
    deadline = started + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited after {n} of {total}:\n{proc.tail()}")
        n = await count()
        now = time.monotonic()
        if n and first_at is None:
            first_at, first_n = now, n
        if n >= total:
            break
        await asyncio.sleep(interval)
    else:
        raise TimeoutError(f"only {n} of {total} records after {timeout:.0f}s")
    assert first_at is not None and first_n is not None
    steady = (total - first_n) / (now - first_at) if now > first_at else float("nan")
    return {
        "events": total,
        "events_per_s": steady,
        "first_output_after_s": first_at - started,
        "last_output_after_s": now - started,
        "events_per_s_from_start": total / (now - started),
    }


# Processes --------------------------------------------------------------------------------
def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop processes and drop topics."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def spawn(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    log: Path,
    url: str,
    profile: Path | None = None,
) -> Proc:
    """Start ``python [-m cProfile -o PROFILE] ARGS`` in its own session, output to ``log``."""
    prof = ["-m", "cProfile", "-o", str(profile)] if profile else []
    popen = spawn_python([*prof, *args], log, env, cwd=ROOT)
    return Proc(name, popen, url, log)


def start_app(pipe: Pipeline, name: str, profile: Path | None = None, wait: bool = True) -> Proc:
    """Like ``Pipeline.start`` (same command, env and log), optionally under cProfile."""
    args = ["ingress"] if name == "ingress" else ["worker", "--app", name]
    port = pipe.ports[name]
    proc = spawn(
        name,
        ["-m", "canary_stream.cli.main", *args],
        pipe.env(),
        pipe.root / "logs" / f"{name}.log",
        f"http://127.0.0.1:{port}",
        profile,
    )
    pipe.procs.append(proc)
    if wait:
        pipe.wait_ready(proc)
    return proc


def wait_http(proc: Proc, path: str = "/health/ready", timeout: float = 60.0) -> None:
    """Wait until ``proc`` answers 200 on ``path``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(proc.url + path, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {timeout}s:\n{proc.tail()}")


def stop(procs: Sequence[Proc]) -> None:
    """SIGTERM each process we started (SIGKILL after 30 s), newest first."""
    for proc in reversed(procs):
        proc.kill(signal.SIGTERM)


def add_db_arg(parser: Any) -> None:
    """``--shared-db``: use the stack's database instead of a scratch one."""
    parser.add_argument(
        "--shared-db",
        action="store_true",
        help="use the stack's shared database (its size and other tests' keys "
        "and rows then count) instead of a fresh scratch database",
    )


def print_profile(path: Path, top: int = 25) -> None:
    """The functions with the most own time in a cProfile dump."""
    import pstats

    print(f"\nprofile {path} (top {top} by own time):")
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)


async def run_passthrough(pipe: Pipeline, source: str, n: int, timeout: float) -> dict[str, Any]:
    """The Faust pass-through anchor (bench/_passthrough.py) from ``source`` into
    ``{prefix}.passthrough`` until that holds ``n`` records; rate and CPU."""
    sink = pipe.topic("passthrough")
    await create_topic(pipe.base, sink, pipe.base.topic_partitions)
    started = time.monotonic()
    proc = spawn(
        "passthrough",
        [str(BENCH / "_passthrough.py"), source, sink, f"{pipe.prefix}-passthrough"],
        pipe.env(),
        pipe.root / "logs" / "passthrough.log",
        "",
    )
    pipe.procs.append(proc)
    meter = CpuMeter(worker=proc.popen.pid, kafka=kafka_pid(pipe.base)).start()
    try:
        async with TopicSize(pipe.base, sink, pipe.base.topic_partitions) as size:
            result = await watch_progress(size, n, proc, started=started, timeout=timeout)
        return {**result, **meter.stop()}
    finally:
        proc.kill(signal.SIGTERM)


# Reporting --------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table on stdout."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        pairs = enumerate(zip(row, widths, strict=True))
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>-<timestamp>.json`` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    doc = {"benchmark": name, "finished_at": stamp, "machine": machine(), **payload}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path


def ratio(a: float, b: float) -> float:
    """``a / b`` as a percentage (nan when ``b`` is zero)."""
    return 100.0 * a / b if b else float("nan")


def run_prefix(kind: str) -> str:
    """A random topic prefix for one benchmark run (``b<kind><hex>``)."""
    return f"b{kind}{uuid.uuid4().hex[:8]}"
