"""P1: webhooks accepted per second at the real ingress, beside its two anchors (quality.md).

    .venv/bin/python bench/ingress.py [--duration 15] [--rounds 1] [--profile]

Needs the local stack (``canary-stream stack up``). Starts, each as its own process:
(a) a bare aiohttp handler answering 200; (b) the minimal durable edge (SHA-256 + HMAC, an
envelope, an awaited idempotent acks=all send with linger_ms=0, 200); and the real
``canary-stream ingress`` with its own topic prefix, a merchant and a signature key set up
through the CLI. Then, one target at a time, a separate load-generator process
(bench/_load.py) keeps 64 keep-alive connections busy for ``--duration`` seconds after a
warm-up. Only 200 answers count. Prints req/s, p50, p99 per target and the ratios
ingress/(b) and ingress/(a); writes bench/results/ingress-<timestamp>.json. Processes and
topics of the run are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from _common import (
    RESULTS,
    CpuMeter,
    Pipeline,
    Proc,
    TopicSize,
    add_db_arg,
    add_quiet_args,
    create_topic,
    delete_topics,
    exit_on_sigterm,
    free_port,
    kafka_pid,
    print_profile,
    print_table,
    quiet,
    ratio,
    run_prefix,
    scratch_database,
    spawn,
    start_app,
    stop,
    wait_http,
    write_results,
)

from canary_stream.settings import Settings

TARGETS = {"p1_share_of_edge_pct": 85.0, "p1_share_of_bare_pct": 42.0, "p99_ms": 25.0}


def run_load(
    proc: Proc, url: str, pipe: Pipeline, pmid: str, args: argparse.Namespace
) -> dict[str, Any]:
    """One load-generator run against ``proc``; adds server, broker and machine CPU use."""
    port = url.split(":")[2].split("/")[0]
    cmd = [
        sys.executable,
        str(Path(__file__).parent / "_load.py"),
        "--port",
        port,
        "--url",
        url,
        "--key",
        pipe.signature_key,
        "--merchant",
        pmid,
        "--concurrency",
        str(args.concurrency),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
    ]
    meter = CpuMeter(server=proc.popen.pid, kafka=kafka_pid(pipe.base)).start()
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.duration + args.warmup + 120
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(meter.stop())
    if result["requests_per_s"]:  # server CPU per accepted request: steadier than req/s
        result["server_cpu_us_per_req"] = result["server_cpu_pct"] * 1e4 / result["requests_per_s"]
    return result


def keyring_size(settings: Settings) -> dict[str, int]:
    """Active signature keys and URLs: the ingress computes one HMAC per active key."""
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT notification_url) FROM app.webhook_signing_keys "
            "WHERE active_from <= now() AND (active_until IS NULL OR active_until > now())"
        ).fetchone()
    return {"active_keys": row[0], "urls": row[1]} if row else {}


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Medians over rounds of every numeric field, per target."""
    out: dict[str, dict[str, Any]] = {}
    for name, results in runs.items():
        keys = [k for k, v in results[0].items() if isinstance(v, int | float)]
        out[name] = {k: statistics.median(r[k] for r in results) for k in keys}
        out[name]["non_200"] = sum(
            n for r in results for s, n in r["statuses"].items() if s != "200"
        )
    return out


def report(summary: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, float]:
    rows = [
        (
            name,
            s["requests_per_s"],
            s["p50_ms"],
            s["p99_ms"],
            s["max_ms"],
            s["non_200"],
            s.get("server_cpu_us_per_req", float("nan")),
            s["server_cpu_pct"],
            s["client_cpu_pct"],
            s.get("kafka_cpu_pct", float("nan")),
            s["machine_busy_pct"],
        )
        for name, s in summary.items()
    ]
    print(
        f"\nP1 ingress, {args.concurrency} connections, {args.duration:.0f} s per target "
        f"after {args.warmup:.0f} s warm-up, median of {args.rounds} round(s)\n"
    )
    print_table(
        [
            "target",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "non-200",
            "cpu us/req",
            "server cpu%",
            "client cpu%",
            "kafka cpu%",
            "machine busy%",
        ],
        rows,
    )
    rate = {name: s["requests_per_s"] for name, s in summary.items()}
    ingress, edge, bare = rate["ingress"], rate["edge (b)"], rate["bare (a)"]
    ratios = {
        "ingress_vs_edge_pct": ratio(ingress, edge),
        "ingress_vs_bare_pct": ratio(ingress, bare),
        "edge_vs_bare_pct": ratio(edge, bare),
    }
    p99 = summary["ingress"]["p99_ms"]
    print()
    print_table(
        ["ratio", "measured", "target", "met"],
        [
            (
                "ingress / edge (b)",
                f"{ratios['ingress_vs_edge_pct']:.0f} %",
                ">= 85 %",
                _yes(ratios["ingress_vs_edge_pct"] >= TARGETS["p1_share_of_edge_pct"]),
            ),
            (
                "ingress / bare (a)",
                f"{ratios['ingress_vs_bare_pct']:.0f} %",
                ">= 42 %",
                _yes(ratios["ingress_vs_bare_pct"] >= TARGETS["p1_share_of_bare_pct"]),
            ),
            ("edge (b) / bare (a)", f"{ratios['edge_vs_bare_pct']:.0f} %", "(anchor)", ""),
            ("ingress p99", f"{p99:.1f} ms", "<= 25 ms", _yes(p99 <= TARGETS["p99_ms"])),
        ],
    )
    return ratios


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def main() -> None:
    p = argparse.ArgumentParser(description="P1: ingress throughput beside its anchors")
    p.add_argument("--duration", type=float, default=15.0, help="measured seconds per target")
    p.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds before each")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=1, help="measure each target this many times")
    add_quiet_args(p)
    add_db_arg(p)
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the ingress under cProfile (slower; figures then not comparable)",
    )
    args = p.parse_args()
    exit_on_sigterm()
    base = Settings()
    prefix = run_prefix("i")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    profile = RESULTS / f"ingress-{stamp}.prof" if args.profile else None
    if profile:
        RESULTS.mkdir(parents=True, exist_ok=True)
    loadavg = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"bare (a)": [], "edge (b)": [], "ingress": []}
    with (
        tempfile.TemporaryDirectory(prefix="canary-bench-") as tmp,
        scratch_database(base, shared=args.shared_db) as settings,
    ):
        database = "shared" if settings is base else "scratch"
        print(f"database: {database} ({_db_name(settings)})", flush=True)
        pipe = Pipeline(settings, Path(tmp), prefix=prefix)
        anchors: list[Proc] = []
        try:
            pipe.cli("topics", "create")
            merchant_id, pmid = pipe.add_merchant()
            pipe.add_signature_key()
            keyring = keyring_size(settings)
            edge_topic = f"{prefix}.edge"
            asyncio.run(create_topic(settings, edge_topic, settings.topic_partitions))
            servers = Path(__file__).parent / "_servers.py"
            urls: dict[str, str] = {}
            for kind, extra in (
                ("bare", []),
                (
                    "edge",
                    [
                        "--bootstrap",
                        settings.kafka_bootstrap,
                        "--topic",
                        edge_topic,
                        "--key",
                        pipe.signature_key,
                        "--merchant-uuid",
                        merchant_id,
                    ],
                ),
            ):
                port = free_port()
                url = urls[kind] = f"http://127.0.0.1:{port}/webhooks/square"
                anchors.append(
                    spawn(
                        kind,
                        [str(servers), kind, "--port", str(port), "--url", url, *extra],
                        pipe.env(),
                        Path(tmp) / "logs" / f"{kind}.log",
                        f"http://127.0.0.1:{port}",
                    )
                )
            for proc in anchors:
                wait_http(proc)
            ingress = start_app(pipe, "ingress", profile=profile)
            targets = {
                "bare (a)": (anchors[0], urls["bare"]),
                "edge (b)": (anchors[1], urls["edge"]),
                "ingress": (ingress, pipe.notification_url),
            }
            for round_no in range(args.rounds):
                for name, (proc, url) in targets.items():
                    print(f"round {round_no + 1}/{args.rounds}: {name} ...", flush=True)
                    waited = quiet(args)
                    runs[name].append({**run_load(proc, url, pipe, pmid, args), **waited})
            accepted = sum(r["accepted"] for r in runs["ingress"])
            events_in_topic = asyncio.run(_topic_size(settings, pipe.topic("events")))
        finally:
            stop(anchors)
            pipe.stop_all()
            asyncio.run(delete_topics(base, prefix))
    summary = summarise(runs)
    ratios = report(summary, args)
    print(
        f"\ncheck: {events_in_topic:,} envelopes in {prefix}.events >= {accepted:,} answered 200 "
        f"in the counted windows: {_yes(events_in_topic >= accepted)}"
    )
    path = write_results(
        "ingress",
        {
            "config": {
                **vars(args),
                "prefix": prefix,
                "database": database,
                "loadavg_at_start": loadavg,
            },
            "runs": runs,
            "summary": summary,
            "ratios": ratios,
            "targets": TARGETS,
            "events_in_topic": events_in_topic,
            "keyring": keyring,
        },
    )
    keys, urls = keyring.get("active_keys"), keyring.get("urls")
    print(
        f"keyring: {keys} active signature key(s) for {urls} URL(s) in the {database} "
        "database; the ingress computes an HMAC per key, the edge one"
    )
    print(f"results: {path}")
    if profile:
        print_profile(profile)


async def _topic_size(settings: Settings, topic: str) -> int:
    async with TopicSize(settings, topic, settings.topic_partitions) as size:
        return await size()


def _db_name(settings: Settings) -> str:
    return settings.database_url.get_secret_value().rsplit("/", 1)[-1]


if __name__ == "__main__":
    main()
