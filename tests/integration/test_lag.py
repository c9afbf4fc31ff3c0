"""``canary-stream lag --json`` against Kafka's own ``kafka-consumer-groups --describe``: after
a burst of signed webhooks and a quiet moment the numbers are equal, and with the seal worker
stopped the backlog shows up as lag in messages and in seconds."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import pytest
from harness import square_body, wait_for

from canary_stream.stack.kafka import kafka_consumer_groups

pytestmark = pytest.mark.integration

Key = tuple[str, str, int]


def describe(pipe: Any, group: str) -> dict[Key, dict[str, Any]]:
    """Kafka's ``--describe`` rows of ``group``, keyed by group/topic/partition."""
    out = kafka_consumer_groups(["--describe", "--group", group], settings=pipe.settings())
    rows: dict[Key, dict[str, Any]] = {}
    header: list[str] | None = None
    for line in out.splitlines():
        cells = line.split()
        if cells[:1] == ["GROUP"]:
            header = cells
            continue
        if header is None or len(cells) < 6 or cells[0] != group:
            continue
        row = dict(zip(header, cells, strict=False))
        rows[(group, row["TOPIC"], int(row["PARTITION"]))] = row
    return rows


def ours(pipe: Any, group: str) -> dict[Key, dict[str, Any]]:
    rows = json.loads(pipe.cli("lag", "--json", "--group", group).stdout)
    assert all(
        set(r) == {"group", "topic", "partition", "committed", "log_end", "lag", "lag_seconds"}
        for r in rows
    )
    return {(r["group"], r["topic"], r["partition"]): r for r in rows}


def assert_same(theirs: dict[Key, dict[str, Any]], mine: dict[Key, dict[str, Any]]) -> None:
    """Every row Kafka prints is ours with equal numbers; our extra rows are never-committed."""
    assert theirs, "kafka-consumer-groups printed no rows"
    for key, row in theirs.items():
        assert key in mine, f"{key} missing from canary-stream lag"
        r = mine[key]
        current = None if row["CURRENT-OFFSET"] == "-" else int(row["CURRENT-OFFSET"])
        assert r["committed"] == current, (key, row, r)
        assert r["log_end"] == int(row["LOG-END-OFFSET"]), (key, row, r)
        if row["LAG"] != "-":
            assert r["lag"] == int(row["LAG"]), (key, row, r)
    for key in mine.keys() - theirs.keys():
        assert mine[key]["committed"] is None, (key, mine[key])


def settled(pipe: Any, groups: list[str]) -> dict[str, dict[Key, dict[str, Any]]]:
    """Lag of ``groups`` once two readings a moment apart agree (nothing moves any more)."""
    before = {g: ours(pipe, g) for g in groups}
    while True:
        time.sleep(1.5)
        now = {g: ours(pipe, g) for g in groups}
        strip = lambda d: {k: {**v, "lag_seconds": 0} for k, v in d.items()}  # noqa: E731
        if all(strip(now[g]) == strip(before[g]) for g in groups):
            return now
        before = now


async def test_lag_equals_kafka_consumer_groups(pipeline_factory) -> None:
    pipe = pipeline_factory()
    pmids = [pipe.add_merchant()[1] for _ in range(4)]
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse"):
        pipe.start(name)
    accepted = 0
    for i in range(40):
        status, _ = pipe.post(square_body(pmids[i % len(pmids)]))
        assert status == 200
        accepted += 1
    seal, parse = f"{pipe.prefix}-seal", f"{pipe.prefix}-parse"
    events = pipe.topic("events")

    def drained() -> bool:
        rows = ours(pipe, seal)
        ends = sum(r["log_end"] for k, r in rows.items() if k[1] == events)
        return ends == accepted and sum(r["lag"] for r in rows.values()) == 0

    await wait_for(drained, timeout=90, interval=1.0)
    mine = settled(pipe, [seal, parse])
    for group in (seal, parse):
        theirs = describe(pipe, group)
        assert_same(theirs, mine[group])
        assert_same(theirs, ours(pipe, group))  # and still equal right after
    assert sum(r["log_end"] for k, r in mine[parse].items()) == accepted
    assert all(r["lag"] == 0 and r["lag_seconds"] == 0 for r in mine[seal].values())

    # Lag > 0: the seal worker stops, more webhooks arrive, the backlog is visible.
    for proc in [p for p in pipe.procs if p.name == "seal"]:
        proc.kill(signal.SIGTERM)
    more = 12
    for i in range(more):
        assert pipe.post(square_body(pmids[i % len(pmids)]))[0] == 200
    await asyncio.sleep(1.0)  # records age a little so lag_seconds is measurably positive
    mine_seal = ours(pipe, seal)
    theirs = describe(pipe, seal)
    assert_same(theirs, mine_seal)
    backlog = [r for k, r in mine_seal.items() if k[1] == events and r["lag"] > 0]
    assert sum(r["lag"] for r in backlog) == more
    assert all(r["lag_seconds"] >= 1.0 for r in backlog), backlog
    assert describe(pipe, seal) == theirs  # nothing moved while we compared
