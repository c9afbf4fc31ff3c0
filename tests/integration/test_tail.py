"""`canary-stream tail TOPIC`: JSON lines, one merchant's, from the beginning."""

from __future__ import annotations

import json

import pytest
from harness import make_envelope, produce

pytestmark = pytest.mark.integration


async def test_tail_prints_one_merchants_records_as_json_lines(pipeline_factory):
    pipe = pipeline_factory()
    (m1, p1), (m2, p2) = pipe.add_merchant(), pipe.add_merchant()
    mine = [make_envelope(m1, p1, f"m1-{i}".encode()) for i in range(3)]
    theirs = [make_envelope(m2, p2, f"m2-{i}".encode()) for i in range(2)]
    await produce(
        pipe.settings(),
        pipe.topic("events"),
        [(m1.encode(), e.to_bytes()) for e in mine] + [(m2.encode(), e.to_bytes()) for e in theirs],
    )
    out = pipe.cli(
        "tail", pipe.topic("events"), "--from-beginning", "--no-follow", "--merchant", p1
    )
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["event_id"] for line in lines] == [str(e.event_id) for e in mine]
    everything = pipe.cli("tail", pipe.topic("events"), "--from-beginning", "--no-follow", "--meta")
    metas = [json.loads(line) for line in everything.stdout.splitlines()]
    assert sorted(m["value"]["event_id"] for m in metas) == sorted(
        str(e.event_id) for e in mine + theirs
    )
    assert {m["key"] for m in metas} == {m1, m2}
