"""P4: sealed events per second of the seal stage alone, beside its anchors (quality.md).

    .venv/bin/python bench/seal.py [--events 20000] [--merchants 8] [--profile]

Needs the local stack (``canary-stream stack up``). With its own topic prefix, the run
onboards ``--merchants`` merchants through the CLI and pre-fills ``{prefix}.events`` with
``--events`` envelopes (~1 KB Square ``payment.created`` bodies, merchants interleaved at
random). Then, one at a time, each reading the same pre-filled topic with its own consumer
group:

1. anchor: a Faust pass-through app (bench/_passthrough.py: ``take_events(500)``, each
   record sent through ``app.producer.send``, acks gathered per batch) into another topic;
   done when that topic holds every record;
2. the real ``canary-stream worker --app seal``; done when every event is a row of
   ``sales.evidence_records`` (polled every 50 ms);
3. anchor: a COPY (binary, one transaction per 500 rows) of the very rows the seal stored
   into a scratch table shaped like ``sales.evidence_records`` (indexes and checks included,
   no triggers), dropped afterwards.

Rates count from the first record out to the last (start-up excluded; the time from process
start is printed too). Prints events/s and the ratios; writes
bench/results/seal-<timestamp>.json. Processes, topics and the scratch table of the run are
removed at the end (the evidence rows stay: the table is append-only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import uuid6
from _common import (
    BENCH,
    RESULTS,
    CpuMeter,
    Pipeline,
    add_db_arg,
    add_quiet_args,
    delete_topics,
    exit_on_sigterm,
    kafka_pid,
    percentile,
    print_profile,
    print_table,
    quiet,
    ratio,
    run_passthrough,
    run_prefix,
    scratch_database,
    spawn,
    square_body,
    start_app,
    watch_progress,
    write_results,
)
from aiokafka import AIOKafkaProducer

from canary_stream.evidence.chain import event_hash
from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import now_utc
from canary_stream.settings import Settings

TARGET_SHARE_OF_PASSTHROUGH_PCT = 60.0
BATCH = int(Settings.model_fields["seal_batch_size"].default)  # rows per COPY transaction too
TIMEOUT = 600.0
#: Rows stored so far for the run's merchants: their chains are gap-free from seq 1, so the
#: sum of the heads is the count, read from the (merchant_id, seq) index alone.
SEALED_SO_FAR = (
    "SELECT coalesce(sum(h.seq), 0) FROM unnest(%s::uuid[]) AS m(id) CROSS JOIN LATERAL "
    "(SELECT seq FROM sales.evidence_records e WHERE e.merchant_id = m.id "
    "ORDER BY seq DESC LIMIT 1) h"
)


async def prefill(
    settings: Settings, topic: str, merchants: list[tuple[str, str]], n: int
) -> float:
    """Produce ``n`` envelopes, keyed by merchant as the ingress does; returns records/s."""
    rng = random.Random(4)
    records = []
    for i in range(n):
        merchant_id, pmid = rng.choice(merchants)
        source_event_id = str(uuid.uuid4())
        body = square_body(pmid, event_id=source_event_id, n=i)
        env = Envelope(
            event_id=uuid6.uuid7(),
            merchant_id=uuid.UUID(merchant_id),
            provider_merchant_id=pmid,
            source_event_id=source_event_id,
            event_type="payment.created",
            event_hash=event_hash(body).hex(),
            raw_payload=body,
            received_at=now_utc(),
            signature_key_id="k-bench",
        )
        records.append((merchant_id.encode(), env.to_bytes(), env.headers()))
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        t0 = time.monotonic()
        futures = [await producer.send(topic, v, key=k, headers=h) for k, v, h in records]
        await asyncio.gather(*futures)
        return n / (time.monotonic() - t0)
    finally:
        await producer.stop()


async def passthrough(pipe: Pipeline, n: int) -> dict[str, Any]:
    """The Faust pass-through anchor on this run's source topic."""
    return await run_passthrough(pipe, pipe.topic("events"), n, TIMEOUT)


async def seal(
    pipe: Pipeline, merchant_ids: list[str], n: int, profile: Path | None, trace: Path | None
) -> dict[str, Any]:
    """Run the seal worker until ``sales.evidence_records`` holds ``n`` rows of the run."""
    url = pipe.base.database_url.get_secret_value()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:

        async def count() -> int:
            cur = await conn.execute(SEALED_SO_FAR, (merchant_ids,))
            row = await cur.fetchone()
            return int(row[0]) if row else 0

        cur = await conn.execute("SELECT count(*) FROM sales.evidence_records")
        row = await cur.fetchone()
        table_rows_before = int(row[0]) if row else 0
        started = time.monotonic()
        if trace:  # the same worker, with timers around the steps of a batch
            proc = spawn(
                "seal",
                [str(BENCH / "_seal_trace.py"), "worker", "--app", "seal"],
                {**pipe.env(), "CANARY_BENCH_TRACE": str(trace)},
                pipe.root / "logs" / "seal.log",
                "",
            )
            pipe.procs.append(proc)
        else:
            proc = start_app(pipe, "seal", profile=profile, wait=False)
        meter = CpuMeter(worker=proc.popen.pid, kafka=kafka_pid(pipe.base)).start()
        try:
            result = await watch_progress(count, n, proc, started=started, timeout=TIMEOUT)
            result.update(meter.stop())
        finally:
            proc.kill(signal.SIGTERM)
        cur = await conn.execute(
            "SELECT count(*) FROM sales.evidence_records WHERE merchant_id = ANY(%s::uuid[])",
            (merchant_ids,),
        )
        row = await cur.fetchone()
        result["rows_counted"] = int(row[0]) if row else 0
        result["evidence_rows_before"] = table_rows_before  # all merchants: queries scan some
        return result


def copy_same_rows(pipe: Pipeline, merchant_ids: list[str]) -> dict[str, Any]:
    """COPY the run's evidence rows into a scratch table in 500-row transactions; rows/s."""
    scratch = f"public.{pipe.prefix}_copy"
    with psycopg.connect(pipe.base.owner_database_url.get_secret_value()) as conn:
        cur = conn.execute(
            "SELECT * FROM sales.evidence_records WHERE merchant_id = ANY(%s::uuid[]) "
            "ORDER BY merchant_id, seq",
            (merchant_ids,),
        )
        columns = [c.name for c in cur.description or []]
        types = [c.type_code for c in cur.description or []]
        rows = cur.fetchall()
        conn.execute(f"CREATE TABLE {scratch} (LIKE sales.evidence_records INCLUDING ALL)")
        conn.commit()
        try:
            t0 = time.monotonic()
            for start in range(0, len(rows), BATCH):
                with (
                    conn.cursor() as c,
                    c.copy(
                        f"COPY {scratch} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(types)
                    for row in rows[start : start + BATCH]:
                        copy.write_row(row)
                conn.commit()
            elapsed = time.monotonic() - t0
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {scratch}")
            conn.commit()
    return {"events": len(rows), "events_per_s": len(rows) / elapsed, "seconds": elapsed}


def print_trace(path: Path) -> None:
    """The seal worker's wall time per step of a batch (bench/_seal_trace.py)."""
    trace = json.loads(path.read_text())
    totals, calls, sizes = trace["totals_s"], trace["calls"], trace["batch_sizes"]
    whole = totals.pop("seal batch (whole)", 0.0)
    merkle = totals.pop("merkle batch (same app)", 0.0)
    batches = max(1, len(sizes))
    rows = [
        (step, calls.get(step, 0), s * 1000 / batches, ratio(s, whole))
        for step, s in sorted(totals.items(), key=lambda kv: -kv[1])
    ]
    rest = whole - sum(totals.values())
    rest_ms = rest * 1000 / batches
    rows.append(("rest: begin/commit, bookkeeping", batches, rest_ms, ratio(rest, whole)))
    sizes.sort()
    print(
        f"\nseal batches: {len(sizes)}, events per batch median {percentile(sizes, 50)}, "
        f"min {sizes[0] if sizes else 0}, max {sizes[-1] if sizes else 0}; wall in batches "
        f"{whole:.2f} s; merkle agent batches in the same process {merkle:.2f} s\n"
    )
    print_table(["step (wall time)", "calls", "ms per batch", "% of batch"], rows)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, float]:
    print(
        f"\nP4 seal stage alone: {args.events:,} envelopes, {args.merchants} merchants, "
        f"take_events({BATCH}, {args.batch_seconds}); sales.evidence_records held "
        f"{results['seal']['evidence_rows_before']:,} rows before\n"
    )
    print_table(
        [
            "run",
            "events/s",
            "first out s",
            "last out s",
            "ev/s from start",
            "worker cpu%",
            "kafka cpu%",
            "machine busy%",
        ],
        [
            (
                name,
                r["events_per_s"],
                r.get("first_output_after_s", ""),
                r.get("last_output_after_s", r.get("seconds", "")),
                r.get("events_per_s_from_start", ""),
                r.get("worker_cpu_pct", ""),
                r.get("kafka_cpu_pct", ""),
                r.get("machine_busy_pct", ""),
            )
            for name, r in results.items()
        ],
    )
    rate = {name: r["events_per_s"] for name, r in results.items()}
    ratios = {
        "seal_vs_passthrough_pct": ratio(rate["seal"], rate["faust pass-through"]),
        "seal_vs_copy_pct": ratio(rate["seal"], rate["COPY same rows"]),
    }
    met = ratios["seal_vs_passthrough_pct"] >= TARGET_SHARE_OF_PASSTHROUGH_PCT
    print()
    print_table(
        ["ratio", "measured", "target", "met"],
        [
            (
                "seal / faust pass-through",
                f"{ratios['seal_vs_passthrough_pct']:.0f} %",
                ">= 60 %",
                "yes" if met else "NO",
            ),
            (
                "seal / COPY of the same rows",
                f"{ratios['seal_vs_copy_pct']:.1f} %",
                "(context)",
                "",
            ),
        ],
    )
    return ratios


def main() -> None:
    p = argparse.ArgumentParser(description="P4: seal stage throughput beside its anchors")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--merchants", type=int, default=8)
    add_quiet_args(p)
    add_db_arg(p)
    p.add_argument(
        "--batch-seconds",
        type=float,
        default=Settings.model_fields["seal_batch_seconds"].default,
        help="take_events window of the seal and the pass-through "
        "(CANARY_SEAL_BATCH_SECONDS; default: the project's)",
    )
    p.add_argument(
        "--trace",
        action="store_true",
        help="time the steps of each seal batch (bench/_seal_trace.py)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the seal worker under cProfile (slower; figures then not comparable)",
    )
    args = p.parse_args()
    exit_on_sigterm()
    base = Settings()
    prefix = run_prefix("s")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    profile = RESULTS / f"seal-{stamp}.prof" if args.profile else None
    trace = RESULTS / f"seal-{stamp}.trace.json" if args.trace else None
    RESULTS.mkdir(parents=True, exist_ok=True)
    loadavg = os.getloadavg()
    batch_seconds = str(args.batch_seconds)
    results: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="canary-bench-") as tmp,
        scratch_database(base, shared=args.shared_db) as settings,
    ):
        database = "shared" if settings is base else "scratch"
        print(f"database: {database} ({_db_name(settings)})", flush=True)
        pipe = Pipeline(
            settings,
            Path(tmp),
            prefix=prefix,
            overrides={"CANARY_SEAL_BATCH_SECONDS": batch_seconds},
        )
        try:
            pipe.cli("topics", "create")
            with ThreadPoolExecutor(4) as pool:
                merchants = list(pool.map(lambda _: pipe.add_merchant(), range(args.merchants)))
            merchant_ids = [m for m, _ in merchants]
            fill_rate = asyncio.run(prefill(settings, pipe.topic("events"), merchants, args.events))
            print(
                f"pre-filled {pipe.topic('events')} with {args.events:,} envelopes "
                f"({fill_rate:,.0f}/s)",
                flush=True,
            )
            print("faust pass-through ...", flush=True)
            waited = quiet(args)
            passed = asyncio.run(passthrough(pipe, args.events))
            results["faust pass-through"] = {**passed, **waited}
            print("seal ...", flush=True)
            waited = quiet(args)
            sealed = asyncio.run(seal(pipe, merchant_ids, args.events, profile, trace))
            results["seal"] = {**sealed, **waited}
            print("COPY ...", flush=True)
            waited = quiet(args)
            results["COPY same rows"] = {**copy_same_rows(pipe, merchant_ids), **waited}
        finally:
            pipe.stop_all()
            asyncio.run(delete_topics(base, prefix))
    ratios = report(results, args)
    path = write_results(
        "seal",
        {
            "config": {
                **vars(args),
                "prefix": prefix,
                "database": database,
                "batch": BATCH,
                "loadavg_at_start": loadavg,
                "seal_batch_seconds": batch_seconds,
            },
            "results": results,
            "ratios": ratios,
            "targets": {"seal_vs_passthrough_pct": TARGET_SHARE_OF_PASSTHROUGH_PCT},
        },
    )
    print(f"results: {path}")
    if trace:
        print_trace(trace)
    if profile:
        print_profile(profile)


def _db_name(settings: Settings) -> str:
    return settings.database_url.get_secret_value().rsplit("/", 1)[-1]


if __name__ == "__main__":
    main()
