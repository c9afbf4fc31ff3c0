"""Detect stage alone: canonical records per second from a pre-filled ``canary.detection``,
beside a Faust pass-through agent on the same topic in the same run (issue 6, item 7).

    .venv/bin/python bench/detect.py [--events 20000] [--merchants 8] [--profile]

Needs the local stack (``canary-stream stack up``). With its own topic prefix the run
onboards ``--merchants`` merchants through the CLI and pre-fills ``{prefix}.detection`` with
``--events`` canonical records, keyed by merchant id as the parse stage keys them. The
records are the simulator's traffic (every webhook family, plus the ``card_testing`` and
``refund_burst`` fraud patterns at a small weight) run once through the real Square parsers
in this process (``agents.parse.parse_one``), with the parse agent's first-observation rule
and void/refund enrichment done in memory instead of against the ledger: so the key spread
(merchants, locations, employees, cards, customers, loyalty accounts, gift cards, drawer
shifts) and the mix of kinds are the simulator's, and some records trip rules. Then, one at
a time, each reading the same topic with its own consumer group:

1. anchor: the Faust pass-through app of bench/_passthrough.py (``take_events(500)``,
   ``app.producer.send`` with acks gathered per batch) into another topic;
2. the real ``canary-stream worker --app detect`` (agents ``detect`` and ``escalate``, the
   Tier 2 window table, the merchant-config follower); done when every ``event_id`` of the
   records has its ``(DETECT, …)`` row in ``sales.ingestion_log`` (several canonical records
   can share an ``event_id``: the count is of distinct event ids, converted to records/s by
   the records-per-event ratio of the pre-fill).

Prints canonical records/s for both, the ratio, the alerts stored and published, CPU;
writes bench/results/detect-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import uuid6
from _common import (
    RESULTS,
    CpuMeter,
    Pipeline,
    add_db_arg,
    add_quiet_args,
    delete_topics,
    exit_on_sigterm,
    kafka_pid,
    print_profile,
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
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.parse import ParseOutcome, card_hasher, parse_one
from canary_stream.db.ledger import row_identity
from canary_stream.models.canonical import CanonicalEvent, TransactionEvent
from canary_stream.models.envelope import SealedEnvelope
from canary_stream.models.wire import now_utc
from canary_stream.settings import Settings
from canary_stream.simulate.payloads import Traffic
from canary_stream.square.parse.actions import publishable

TIMEOUT = 600.0
#: Fraud stories beside the default mix (whose weights sum to ~107): about 1 % of stories.
FRAUD = {"card_testing": 0.6, "refund_burst": 0.6}
#: Business seconds between two polls of the simulated cash-drawer poller.
POLL_SECONDS = 60.0
DETECTED_SO_FAR = (
    "SELECT count(DISTINCT event_id) FROM sales.ingestion_log "
    "WHERE step = 'DETECT' AND merchant_id = ANY(%s)"
)
ALERTS_STORED = (
    "SELECT rule_id, level, count(*) FROM app.alerts WHERE merchant_id = ANY(%s) "
    "GROUP BY rule_id, level ORDER BY rule_id, level"
)


def _sealed(
    merchant_id: str,
    pmid: str,
    event_type: str,
    source_event_id: str,
    body: bytes,
    polled: bool = False,
) -> SealedEnvelope:
    digest = hashlib.sha256(body).hexdigest()
    return SealedEnvelope(
        event_id=uuid6.uuid7(),
        merchant_id=uuid.UUID(merchant_id),
        provider_merchant_id=pmid,
        source_event_id=source_event_id,
        event_type=event_type,
        event_hash=digest,
        raw_payload=body,
        received_at=now_utc(),
        signature_key_id="k-bench",
        source_type="POLLING" if polled else "WEBHOOK",
        seq=1,
        chain_hash=digest,
        prev_chain_hash=None,
        sealed_at=now_utc(),
    )


class DrawerPoller:
    """What the cash-drawer poller would seal every ``POLL_SECONDS`` of business time: per
    merchant one ``ListCashDrawerShifts`` page of the shifts whose state changed, and per
    shift one page of its new events (NO_SALE, PAID_IN, PAID_OUT, cash sales and refunds).
    A page is one sealed record, so its canonical records share one ``event_id``."""

    def __init__(self, traffic: Traffic, merchants: dict[str, str]) -> None:
        self.traffic, self.merchants = traffic, merchants
        self.states: dict[str, str] = {}
        self.polled: dict[str, int] = {}
        self.pages = 0

    def poll(self) -> Iterator[SealedEnvelope]:
        for pmid, merchant_id in self.merchants.items():
            shifts = self.traffic.drawer_shifts(pmid)
            changed = [s for s in shifts if self.states.get(s["id"]) != s["state"]]
            for shift in shifts:
                events = self.traffic.drawer_events(pmid, shift["id"])
                new = events[self.polled.get(shift["id"], 0) :]
                if not new:
                    continue
                self.polled[shift["id"]] = len(events)
                body = {
                    "shift_id": shift["id"],
                    "location_id": shift.get("location_id"),
                    "response": {"cash_drawer_shift_events": new},
                }
                yield self._page(merchant_id, pmid, "square.cash_drawer_shift_event.polled", body)
            if changed:
                self.states.update((s["id"], s["state"]) for s in changed)
                yield self._page(
                    merchant_id,
                    pmid,
                    "square.cash_drawer_shift.polled",
                    {"cash_drawer_shifts": changed},
                )

    def _page(self, merchant_id: str, pmid: str, event_type: str, body: Any) -> SealedEnvelope:
        self.pages += 1
        raw = json.dumps(body, separators=(",", ":")).encode()
        return _sealed(merchant_id, pmid, event_type, f"poll:{uuid.uuid4()}", raw, polled=True)


def canonical_stream(
    settings: Settings, merchants: list[tuple[str, str]], rate: float
) -> Iterator[CanonicalEvent]:
    """Canonical events of simulated traffic, as the parse stage would publish them.

    In memory instead of the ledger: a record whose primary row was seen before is not
    published again (parse's ``first_observations``), and a void's or refund's original time
    and employee are filled from the transactions seen so far (parse's ``enrich``).
    """
    ours = {pmid: merchant_id for merchant_id, pmid in merchants}
    traffic = Traffic(
        5, list(ours), start=datetime(2026, 11, 2, 14, tzinfo=UTC), rate=rate, fraud=FRAUD
    )
    poller = DrawerPoller(traffic, ours)
    hasher = card_hasher(settings)
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    originals: dict[uuid.UUID, tuple[datetime, str | None]] = {}
    next_poll = traffic.start + timedelta(seconds=POLL_SECONDS)
    for hook in traffic:
        sealed = [
            _sealed(
                ours[hook.merchant_id], hook.merchant_id, hook.event_type, hook.event_id, hook.body
            )
        ]
        if traffic.now >= next_poll:
            sealed.extend(poller.poll())
            next_poll += timedelta(seconds=POLL_SECONDS)
        out = ParseOutcome()
        for record in sealed:
            parse_one(record, "USD", hasher, out)
        for _, parsed in out.records:
            event = publishable(parsed)
            if event is None:
                continue
            if parsed.primary is not None:
                identity = row_identity(parsed.primary)
                if identity in seen:
                    continue
                seen.add(identity)
            if isinstance(event, TransactionEvent):
                event = _enrich(event, originals)
                if event.ledger:
                    originals.setdefault(
                        event.transaction_id, (event.occurred_at, event.employee_id)
                    )
            yield event


def _enrich(
    event: TransactionEvent, originals: dict[uuid.UUID, tuple[datetime, str | None]]
) -> TransactionEvent:
    original = event.original_transaction_id
    if original is None or original not in originals:
        return event
    occurred, employee = originals[original]
    update: dict[str, Any] = {}
    if event.original_occurred_at is None:
        update["original_occurred_at"] = occurred
    if event.original_employee_id is None and employee is not None:
        update["original_employee_id"] = employee
    return event.model_copy(update=update) if update else event


def key_spread(records: list[CanonicalEvent]) -> dict[str, Any]:
    """How many distinct subjects the records carry, and the mix of kinds."""
    subjects: dict[str, set[Any]] = {
        k: set()
        for k in (
            "merchants",
            "locations",
            "employees",
            "cards",
            "customers",
            "loyalty_accounts",
            "gift_cards",
            "drawer_shifts",
        )
    }
    kinds: Counter[str] = Counter()
    for r in records:
        subjects["merchants"].add(r.merchant_id)
        subjects["locations"].add((r.merchant_id, r.location_id))
        kind = r.kind
        if isinstance(r, TransactionEvent):
            kind = f"{r.kind}:{r.transaction_type}" + ("" if r.ledger else ":no-ledger")
            for employee in (r.employee_id, r.original_employee_id):
                if employee:
                    subjects["employees"].add((r.merchant_id, employee))
            if r.card and r.card.fingerprint_hash:
                subjects["cards"].add(r.card.fingerprint_hash)
            if r.customer_id:
                subjects["customers"].add(r.customer_id)
            if r.shift_id:
                subjects["drawer_shifts"].add(r.shift_id)
        for attr, name in (
            ("loyalty_account_id", "loyalty_accounts"),
            ("gift_card_id", "gift_cards"),
            ("customer_id", "customers"),
        ):
            value = getattr(r, attr, None)
            if value:
                subjects[name].add(value)
        if r.kind == "cash_drawer_shift":
            subjects["drawer_shifts"].add(getattr(r, "shift_id", None))
        kinds[kind] += 1
    return {
        "records": len(records),
        "event_ids": len({r.event_id for r in records}),
        **{k: len(v) for k, v in subjects.items()},
        "kinds": dict(kinds.most_common()),
    }


async def prefill(settings: Settings, topic: str, records: list[CanonicalEvent]) -> float:
    """Produce the records keyed by merchant id (as parse publishes them); records/s."""
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
        futures = [
            await producer.send(
                topic, r.to_bytes(), key=str(r.merchant_id).encode(), headers=r.headers()
            )
            for r in records
        ]
        await asyncio.gather(*futures)
        return len(records) / (time.monotonic() - t0)
    finally:
        await producer.stop()


async def passthrough(pipe: Pipeline, n: int) -> dict[str, Any]:
    """The Faust pass-through anchor on this run's source topic."""
    return await run_passthrough(pipe, pipe.topic("detection"), n, TIMEOUT)


async def published_alerts(pipe: Pipeline) -> tuple[int, int]:
    """How many records ``{prefix}.alerts`` holds, and how many distinct ``alert_id``."""
    topic = pipe.topic("alerts")
    parts = [TopicPartition(topic, p) for p in range(pipe.base.topic_partitions)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=pipe.base.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        count, ids = 0, set()
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                count += len(batch)
                ids.update(json.loads(m.value)["alert_id"] for m in batch if m.value)
        return count, len(ids)
    finally:
        await consumer.stop()


async def detect(
    pipe: Pipeline, merchant_ids: list[str], records: int, event_ids: int, profile: Path | None
) -> dict[str, Any]:
    """The detect worker until every event id is logged; records/s, alerts."""
    url = pipe.base.database_url.get_secret_value()
    ids = [uuid.UUID(m) for m in merchant_ids]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:

        async def count() -> int:
            row = await (await conn.execute(DETECTED_SO_FAR, (ids,))).fetchone()
            return int(row[0]) if row else 0

        started = time.monotonic()
        proc = start_app(pipe, "detect", profile=profile, wait=False)
        meter = CpuMeter(worker=proc.popen.pid, kafka=kafka_pid(pipe.base)).start()
        try:
            result = await watch_progress(count, event_ids, proc, started=started, timeout=TIMEOUT)
            result.update(meter.stop())
        finally:
            proc.kill(signal.SIGTERM)
        stored = await (await conn.execute(ALERTS_STORED, (ids,))).fetchall()
    published, distinct = await published_alerts(pipe)
    # watch_progress counted event ids; the records are in the same order and proportion.
    result["event_ids"] = result.pop("events")
    result["event_ids_per_s"] = result.pop("events_per_s")
    per_event = records / event_ids
    result["events"] = records
    result["events_per_s"] = result["event_ids_per_s"] * per_event
    result["events_per_s_from_start"] *= per_event
    result["alerts_stored"] = sum(int(n) for _, _, n in stored)
    result["alerts_by_rule"] = {f"{rule} L{level}": int(n) for rule, level, n in stored}
    result["alerts_published"] = published
    result["alerts_published_distinct"] = distinct
    return result


def main() -> None:
    p = argparse.ArgumentParser(description="Detect stage throughput beside a Faust pass-through")
    p.add_argument("--events", type=int, default=20_000, help="canonical records to pre-fill")
    p.add_argument("--merchants", type=int, default=8)
    p.add_argument(
        "--rate",
        type=float,
        default=5.0,
        help="simulated webhooks per second of business time, all merchants",
    )
    add_quiet_args(p)
    add_db_arg(p)
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the detect worker under cProfile (slower; figures then not comparable)",
    )
    args = p.parse_args()
    exit_on_sigterm()
    base = Settings()
    prefix = run_prefix("d")
    profile = RESULTS / f"detect-{time.strftime('%Y%m%dT%H%M%S')}.prof" if args.profile else None
    RESULTS.mkdir(parents=True, exist_ok=True)
    loadavg = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="canary-bench-") as tmp,
        scratch_database(base, shared=args.shared_db) as settings,
    ):
        pipe = Pipeline(settings, Path(tmp), prefix=prefix)
        try:
            pipe.cli("topics", "create")
            with ThreadPoolExecutor(4) as pool:
                merchants = list(pool.map(lambda _: pipe.add_merchant(), range(args.merchants)))
            merchant_ids = [m for m, _ in merchants]
            stream = canonical_stream(settings, merchants, args.rate)
            records = [next(stream) for _ in range(args.events)]
            spread = key_spread(records)
            fill_rate = asyncio.run(prefill(settings, pipe.topic("detection"), records))
            print(
                f"pre-filled {pipe.topic('detection')} with {len(records):,} canonical "
                f"records ({spread['event_ids']:,} event ids, {fill_rate:,.0f}/s)",
                flush=True,
            )
            print(
                "key spread: "
                + ", ".join(
                    f"{k} {v:,}"
                    for k, v in spread.items()
                    if k not in ("kinds", "records", "event_ids")
                )
            )
            print(
                "kinds: " + ", ".join(f"{k} {v:,}" for k, v in spread["kinds"].items()), flush=True
            )
            print("faust pass-through ...", flush=True)
            results["faust pass-through"] = {
                **quiet(args),
                **asyncio.run(passthrough(pipe, len(records))),
            }
            print("detect ...", flush=True)
            results["detect"] = {
                **quiet(args),
                **asyncio.run(
                    detect(pipe, merchant_ids, len(records), spread["event_ids"], profile)
                ),
            }
        finally:
            pipe.stop_all()
            asyncio.run(delete_topics(base, prefix))
    rate = {name: r["events_per_s"] for name, r in results.items()}
    share = ratio(rate["detect"], rate["faust pass-through"])
    found = results["detect"]
    print(f"\ndetect: {args.events:,} canonical records, {args.merchants} merchants\n")
    print_table(
        [
            "run",
            "records/s",
            "first out s",
            "last out s",
            "rec/s from start",
            "worker cpu%",
            "kafka cpu%",
            "machine busy%",
        ],
        [
            (
                name,
                r["events_per_s"],
                r["first_output_after_s"],
                r["last_output_after_s"],
                r["events_per_s_from_start"],
                r.get("worker_cpu_pct", ""),
                r.get("kafka_cpu_pct", ""),
                r.get("machine_busy_pct", ""),
            )
            for name, r in results.items()
        ],
    )
    print(
        f"\nalerts: {found['alerts_stored']:,} in app.alerts, {found['alerts_published']:,} "
        f"on {prefix}.alerts ({found['alerts_published_distinct']:,} distinct ids; "
        f"{ratio(found['alerts_stored'], args.events):.1f} alerts per 100 records)"
    )
    if found["alerts_by_rule"]:
        print("  " + ", ".join(f"{k} {v:,}" for k, v in found["alerts_by_rule"].items()))
    print(f"\ndetect / faust pass-through: {share:.0f} % (canonical records per second)")
    path = write_results(
        "detect",
        {
            "config": {**vars(args), "prefix": prefix, "loadavg_at_start": loadavg, "fraud": FRAUD},
            "key_spread": spread,
            "results": results,
            "ratios": {"detect_vs_passthrough_pct": share},
        },
    )
    print(f"results: {path}")
    if profile:
        print_profile(profile)


if __name__ == "__main__":
    main()
