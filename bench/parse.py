"""Parse stage alone: canonical records per second from a pre-filled ``canary.sealed``, beside a
Faust pass-through agent on the same topic in the same run (issue 5, item 7).

    .venv/bin/python bench/parse.py [--events 10000] [--merchants 4]

Needs the local stack (``canary-stream stack up``). With its own topic prefix the run
onboards ``--merchants`` merchants, and pre-fills ``{prefix}.sealed`` with ``--events``
sealed records of realistic simulated Square traffic (every webhook family the simulator
emits, bytes exactly as it signs them). Then, one at a time, each reading the same topic
with its own consumer group:

1. anchor: the Faust pass-through app of bench/_passthrough.py (``take_events(500)``,
   ``app.producer.send`` with acks gathered per batch) into another topic;
2. the real ``canary-stream worker --app parse``; done when every sealed record has its
   ``(PARSE, …)`` row in ``sales.ingestion_log``; canonical records/s is the number of
   records it published to ``{prefix}.detection`` over the same steady interval.

Prints sealed records/s for both, canonical records/s for parse, and the ratio; writes
bench/results/parse-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import uuid6
from _common import (
    CpuMeter,
    Pipeline,
    TopicSize,
    add_db_arg,
    add_quiet_args,
    delete_topics,
    exit_on_sigterm,
    kafka_pid,
    print_table,
    quiet,
    ratio,
    run_passthrough,
    run_prefix,
    scratch_database,
    start_app,
    watch_progress,
    write_results,
)
from aiokafka import AIOKafkaProducer

from canary_stream.models.envelope import SealedEnvelope
from canary_stream.models.wire import now_utc
from canary_stream.settings import Settings
from canary_stream.simulate.payloads import Traffic

TIMEOUT = 600.0
PARSED_SO_FAR = (
    "SELECT count(*) FROM sales.ingestion_log WHERE step = 'PARSE' AND merchant_id = ANY(%s)"
)


def sealed_records(merchants: list[tuple[str, str]], n: int) -> list[SealedEnvelope]:
    """``n`` sealed records of simulated traffic (chain fields are placeholders: parse
    does not read them)."""
    ours = {pmid: merchant_id for merchant_id, pmid in merchants}
    traffic = Traffic(5, list(ours), start=datetime(2026, 11, 2, tzinfo=UTC), rate=5.0)
    out, seqs = [], dict.fromkeys(ours, 0)
    for hook in traffic:
        if len(out) >= n:
            break
        seqs[hook.merchant_id] += 1
        digest = hashlib.sha256(hook.body).hexdigest()
        out.append(
            SealedEnvelope(
                event_id=uuid6.uuid7(),
                merchant_id=uuid.UUID(ours[hook.merchant_id]),
                provider_merchant_id=hook.merchant_id,
                source_event_id=hook.event_id,
                event_type=hook.event_type,
                event_hash=digest,
                raw_payload=hook.body,
                received_at=now_utc(),
                signature_key_id="k-bench",
                seq=seqs[hook.merchant_id],
                chain_hash=digest,
                prev_chain_hash=None,
                sealed_at=now_utc(),
            )
        )
    return out


async def prefill(settings: Settings, topic: str, records: list[SealedEnvelope]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, r.to_bytes(), key=str(r.merchant_id).encode(), headers=r.headers()
            )
            for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def passthrough(pipe: Pipeline, n: int) -> dict[str, Any]:
    """The Faust pass-through anchor on this run's source topic."""
    return await run_passthrough(pipe, pipe.topic("sealed"), n, TIMEOUT)


async def parse(pipe: Pipeline, merchant_ids: list[str], n: int) -> dict[str, Any]:
    """The parse worker until every sealed record is logged; canonical records/s beside."""
    url = pipe.base.database_url.get_secret_value()
    ids = [uuid.UUID(m) for m in merchant_ids]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:

        async def count() -> int:
            row = await (await conn.execute(PARSED_SO_FAR, (ids,))).fetchone()
            return int(row[0]) if row else 0

        started = time.monotonic()
        proc = start_app(pipe, "parse", wait=False)
        meter = CpuMeter(worker=proc.popen.pid, kafka=kafka_pid(pipe.base)).start()
        try:
            result = await watch_progress(count, n, proc, started=started, timeout=TIMEOUT)
            result.update(meter.stop())
        finally:
            proc.kill(signal.SIGTERM)
    async with TopicSize(pipe.base, pipe.topic("detection"), pipe.base.topic_partitions) as size:
        canonical = await size()
    steady_s = result["last_output_after_s"] - result["first_output_after_s"]
    result["canonical_records"] = canonical
    result["canonical_per_s"] = canonical * result["events_per_s"] / n if steady_s > 0 else 0.0
    return result


def main() -> None:
    p = argparse.ArgumentParser(description="Parse stage throughput beside a Faust pass-through")
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--merchants", type=int, default=4)
    add_quiet_args(p)
    add_db_arg(p)
    args = p.parse_args()
    exit_on_sigterm()
    base = Settings()
    prefix = run_prefix("p")
    loadavg = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="canary-bench-") as tmp,
        scratch_database(base, shared=args.shared_db) as settings,
    ):
        pipe = Pipeline(settings, Path(tmp), prefix=prefix)
        try:
            pipe.cli("topics", "create")
            merchants = [pipe.add_merchant() for _ in range(args.merchants)]
            records = sealed_records(merchants, args.events)
            asyncio.run(prefill(settings, pipe.topic("sealed"), records))
            print(
                f"pre-filled {pipe.topic('sealed')} with {len(records):,} sealed records",
                flush=True,
            )
            results["faust pass-through"] = {
                **quiet(args),
                **asyncio.run(passthrough(pipe, len(records))),
            }
            results["parse"] = {
                **quiet(args),
                **asyncio.run(parse(pipe, [m for m, _ in merchants], len(records))),
            }
        finally:
            pipe.stop_all()
            asyncio.run(delete_topics(base, prefix))
    rate = {name: r["events_per_s"] for name, r in results.items()}
    share = ratio(rate["parse"], rate["faust pass-through"])
    print()
    print_table(
        ["run", "sealed records/s", "canonical records/s", "worker cpu%", "kafka cpu%"],
        [
            (
                name,
                r["events_per_s"],
                r.get("canonical_per_s", ""),
                r.get("worker_cpu_pct", ""),
                r.get("kafka_cpu_pct", ""),
            )
            for name, r in results.items()
        ],
    )
    print(f"\nparse / faust pass-through: {share:.0f} % (sealed records per second)")
    path = write_results(
        "parse",
        {
            "config": {**vars(args), "prefix": prefix, "loadavg_at_start": loadavg},
            "results": results,
            "ratios": {"parse_vs_passthrough_pct": share},
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
