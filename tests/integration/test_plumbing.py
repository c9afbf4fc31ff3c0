"""Issue 3 #7: a stage process on the real broker and database, killed and resumed."""

from __future__ import annotations

import json
import signal
from collections import Counter

import pytest
from harness import evidence_rows, make_envelope, produce, read_topic, wait_for

pytestmark = pytest.mark.integration


async def test_seal_resumes_from_committed_offset_after_sigkill(pipeline_factory, engine):
    pipe = pipeline_factory()
    settings = pipe.settings()
    merchant_id, pmid = pipe.add_merchant()
    key = merchant_id.encode()
    first = [make_envelope(merchant_id, pmid, f"body-{i}".encode()) for i in range(40)]
    seal = pipe.start("seal")
    await produce(settings, pipe.topic("events"), [(key, e.to_bytes()) for e in first])

    rows = await wait_for(lambda: _count(engine, merchant_id, 40), timeout=60)
    assert [r.seq for r in rows] == list(range(1, 41))
    sealed = await wait_for(lambda: _sealed(settings, pipe, 40), timeout=30)
    assert {s["event_id"] for s in sealed} == {str(e.event_id) for e in first}

    seal.kill(signal.SIGKILL)
    second = [make_envelope(merchant_id, pmid, f"later-{i}".encode()) for i in range(25)]
    # Some of the first batch again, as a redelivery would bring them.
    await produce(settings, pipe.topic("events"), [(key, e.to_bytes()) for e in second + first[:5]])
    pipe.start("seal")
    rows = await wait_for(lambda: _count(engine, merchant_id, 65), timeout=150)
    assert [r.seq for r in rows] == list(range(1, 66))
    assert Counter(r.event_id for r in rows).most_common(1)[0][1] == 1
    assert {str(r.event_id) for r in rows} == {str(e.event_id) for e in first + second}
    sealed = await wait_for(lambda: _sealed(settings, pipe, 70), timeout=30)
    by_event = {s["event_id"]: s for s in sealed}
    assert set(by_event) == {str(e.event_id) for e in first + second}
    # Republished records carry the stored chain fields, not new ones.
    stored = {str(r.event_id): r for r in rows}
    for event_id, record in by_event.items():
        assert record["seq"] == stored[event_id].seq
        assert record["chain_hash"] == bytes(stored[event_id].chain_hash).hex()
    assert pipe.cli("verify", "chain", "--merchant", merchant_id).returncode == 0


async def _count(engine, merchant_id: str, n: int):
    rows = await evidence_rows(engine, merchant_id)
    return rows if len(rows) >= n else None


async def _sealed(settings, pipe, at_least: int):
    records = await read_topic(settings, pipe.topic("sealed"))
    values = [json.loads(r.value) for r in records]
    assert all(dict(r.headers)["record-type"] == b"sealed" for r in records)
    return values if len(values) >= at_least else None
