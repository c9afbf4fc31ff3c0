"""The seal stage through the real broker and database: tampering, rebalances, verify chain."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import pytest
from harness import evidence_rows, make_envelope, produce, read_topic, wait_for
from sqlalchemy import text

pytestmark = pytest.mark.integration


async def test_tampered_envelope_is_dead_lettered_and_later_events_sealed(pipeline_factory, engine):
    pipe = pipeline_factory()
    settings = pipe.settings()
    merchant_id, pmid = pipe.add_merchant()
    good = make_envelope(merchant_id, pmid, b"genuine bytes")
    tampered = make_envelope(merchant_id, pmid, b"original").model_copy(
        update={"raw_payload": b"altered in transit"}
    )
    later = make_envelope(merchant_id, pmid, b"after the tampering")
    undecodable = b'{"event_id": "not a uuid"}'
    key = merchant_id.encode()
    pipe.start("seal")
    await produce(
        settings,
        pipe.topic("events"),
        [
            (key, good.to_bytes()),
            (key, tampered.to_bytes()),
            (key, undecodable),
            (key, later.to_bytes()),
        ],
    )
    rows = await wait_for(lambda: _rows_at_least(engine, merchant_id, 2))
    assert [(r.seq, str(r.event_id)) for r in rows] == [
        (1, str(good.event_id)),
        (2, str(later.event_id)),
    ]

    letters = await wait_for(lambda: _letters(settings, pipe.topic("dead-letter"), 2))
    by_reason = {d["reason"]: d for d in letters}
    assert set(by_reason) == {"hash_mismatch", "decode_error"}
    mismatch = by_reason["hash_mismatch"]
    assert mismatch["stage"] == "seal"
    assert mismatch["event_id"] == str(tampered.event_id)
    assert mismatch["merchant_id"] == merchant_id
    assert base64.b64decode(mismatch["envelope"]["raw_payload"]) == b"altered in transit"
    assert by_reason["decode_error"]["merchant_id"] == merchant_id
    assert "\n" not in by_reason["decode_error"]["error"]


async def test_duplicate_source_event_is_logged_not_chained(pipeline_factory, engine):
    pipe = pipeline_factory()
    settings = pipe.settings()
    merchant_id, pmid = pipe.add_merchant()
    first = make_envelope(merchant_id, pmid, b"delivery", source_event_id="sq-evt-1")
    retry = make_envelope(merchant_id, pmid, b"delivery", source_event_id="sq-evt-1")
    pipe.start("seal")
    key = merchant_id.encode()
    await produce(settings, pipe.topic("events"), [(key, first.to_bytes())])
    await wait_for(lambda: _rows_at_least(engine, merchant_id, 1))
    await produce(settings, pipe.topic("events"), [(key, retry.to_bytes())])
    log = await wait_for(lambda: _log(engine, retry.event_id))
    assert log == [("SEAL", "DUPLICATE")]
    rows = await evidence_rows(engine, merchant_id)
    assert [str(r.event_id) for r in rows] == [str(first.event_id)]


async def test_two_seal_processes_during_traffic_keep_one_chain(pipeline_factory, engine):
    pipe = pipeline_factory()
    settings = pipe.settings()
    merchants = [pipe.add_merchant() for _ in range(6)]
    pipe.start("seal")
    per_merchant = 60
    envelopes = {
        m: [make_envelope(m, p, f"{m}-{i}".encode()) for i in range(per_merchant)]
        for m, p in merchants
    }

    async def feed(start: int, stop: int) -> None:
        for i in range(start, stop):
            await produce(
                settings,
                pipe.topic("events"),
                [(m.encode(), envelopes[m][i].to_bytes()) for m, _ in merchants],
            )
            await asyncio.sleep(0.05)

    feeding = asyncio.create_task(feed(0, per_merchant // 2))
    await asyncio.to_thread(pipe.start, "seal")  # a second member joins: the group rebalances
    await feeding
    await feed(per_merchant // 2, per_merchant)
    for merchant_id, _ in merchants:
        rows = await wait_for(
            lambda m=merchant_id: _rows_at_least(engine, m, per_merchant), timeout=90
        )
        assert [r.seq for r in rows] == list(range(1, per_merchant + 1))
        assert {str(r.event_id) for r in rows} == {str(e.event_id) for e in envelopes[merchant_id]}
        assert pipe.cli("verify", "chain", "--merchant", merchant_id).returncode == 0


async def test_verify_chain_names_the_seq_of_a_changed_byte(pipeline_factory, engine, owner_engine):
    pipe = pipeline_factory()
    settings = pipe.settings()
    merchant_id, pmid = pipe.add_merchant()
    envelopes = [make_envelope(merchant_id, pmid, f"payload {i}".encode()) for i in range(5)]
    pipe.start("seal")
    await produce(
        settings, pipe.topic("events"), [(merchant_id.encode(), e.to_bytes()) for e in envelopes]
    )
    await wait_for(lambda: _rows_at_least(engine, merchant_id, 5))
    ok = pipe.cli("verify", "chain", "--merchant", pmid)
    assert ok.stdout.strip() == f"chain of {merchant_id} ok: 5 links verified, head seq 5"

    async with owner_engine.begin() as conn:
        await conn.execute(text("ALTER TABLE sales.evidence_records DISABLE TRIGGER USER"))
        await conn.execute(
            text(
                "UPDATE sales.evidence_records SET raw_payload_enc = "
                "overlay(raw_payload_enc placing decode(lpad(to_hex(get_byte(raw_payload_enc, "
                "length(raw_payload_enc) - 1) # 1), 2, '0'), 'hex') "
                "from length(raw_payload_enc)) WHERE merchant_id = :m AND seq = 3"
            ),
            {"m": uuid.UUID(merchant_id)},
        )
        await conn.execute(text("ALTER TABLE sales.evidence_records ENABLE TRIGGER USER"))
    broken = pipe.cli("verify", "chain", "--merchant", merchant_id, check=False)
    assert broken.returncode == 1
    assert broken.stderr.strip().startswith(
        f"canary-stream: chain of {merchant_id} broken at seq 3:"
    )


async def _rows_at_least(engine, merchant_id: str, n: int):
    rows = await evidence_rows(engine, merchant_id)
    return rows if len(rows) >= n else None


async def _letters(settings, topic: str, n: int):
    records = await read_topic(settings, topic)
    values = [json.loads(r.value) for r in records]
    return values if len(values) >= n else None


async def _log(engine, event_id):
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT step, status FROM sales.ingestion_log WHERE event_id = :e ORDER BY id"),
            {"e": event_id},
        )
        return [tuple(r) for r in rows] or None


async def test_idempotency_keys_expire_after_the_window(pipeline_factory, engine):
    """With a 2 s window, a later batch of the same partition sweeps the expired key: its
    changelog gets a tombstone, and a late retry is still refused by the database."""
    pipe = pipeline_factory(CANARY_DEDUPE_WINDOW_SECONDS="2")
    settings = pipe.settings()
    merchant_id, pmid = pipe.add_merchant()
    key = merchant_id.encode()
    first = make_envelope(merchant_id, pmid, b"first", source_event_id="sq-expiring")
    pipe.start("seal")
    await produce(settings, pipe.topic("events"), [(key, first.to_bytes())])
    await wait_for(lambda: _rows_at_least(engine, merchant_id, 1))
    changelog = f"{pipe.prefix}-seal-seal-idempotency-changelog"
    table_key = f"{merchant_id}|sq-expiring".encode()

    async def entries():
        return [r for r in await read_topic(settings, changelog) if r.key == table_key]

    written = await wait_for(entries)
    assert json.loads(written[0].value)["event_id"] == str(first.event_id)
    await asyncio.sleep(2.5)
    later = make_envelope(merchant_id, pmid, b"later", source_event_id="sq-later")
    await produce(settings, pipe.topic("events"), [(key, later.to_bytes())])

    async def tombstoned():
        return any(r.value is None for r in await entries())

    assert await wait_for(tombstoned, timeout=30)
    retry = make_envelope(merchant_id, pmid, b"first", source_event_id="sq-expiring")
    await produce(settings, pipe.topic("events"), [(key, retry.to_bytes())])
    assert await wait_for(lambda: _log(engine, retry.event_id)) == [("SEAL", "DUPLICATE")]
    rows = await evidence_rows(engine, merchant_id)
    assert [r.source_event_id for r in rows] == ["sq-expiring", "sq-later"]
