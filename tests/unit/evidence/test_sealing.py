"""Seal planning: gap-free seq, chain hashes, republish and duplicates, exact values."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from canary_stream.evidence.sealing import ChainHead, StoredEvent, plan_batch
from canary_stream.models.envelope import Envelope

M1 = uuid.UUID("00000000-0000-4000-8000-000000000001")
M2 = uuid.UUID("00000000-0000-4000-8000-000000000002")
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def env(merchant: uuid.UUID, raw: bytes, source_event_id: str, n: int) -> Envelope:
    return Envelope(
        event_id=uuid.UUID(int=n),
        merchant_id=merchant,
        provider_merchant_id="ML1",
        source_event_id=source_event_id,
        event_type="payment.created",
        event_hash=hashlib.sha256(raw).hexdigest(),
        raw_payload=raw,
        received_at=AT,
    )


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_genesis_and_links_per_merchant_in_batch_order():
    a1, b1, a2 = env(M1, b"a1", "s1", 1), env(M2, b"b1", "s1", 2), env(M1, b"a2", "s2", 3)
    plan = plan_batch([a1, b1, a2], {}, {}, {}, AT)
    assert [(r.merchant_id, r.seq) for r in plan.new] == [(M1, 1), (M2, 1), (M1, 2)]
    genesis = sha(sha(b"a1"))
    assert plan.new[0].chain_hash == genesis.hex()
    assert plan.new[0].prev_chain_hash is None
    assert plan.new[2].prev_chain_hash == genesis.hex()
    assert plan.new[2].chain_hash == sha(genesis + sha(b"a2")).hex()


def test_continues_from_the_database_head():
    head = ChainHead(41, b"\x11" * 32)
    plan = plan_batch([env(M1, b"x", "s", 1)], {M1: head}, {}, {}, AT)
    assert plan.new[0].seq == 42
    assert plan.new[0].prev_chain_hash == "11" * 32
    assert plan.new[0].chain_hash == sha(b"\x11" * 32 + sha(b"x")).hex()


def test_stored_event_id_is_republished_from_the_row():
    e = env(M1, b"x", "s", 7)
    stored = StoredEvent(e.event_id, M1, "s", 5, sha(b"x"), b"\x01" * 32, b"\x02" * 32, AT)
    plan = plan_batch([e], {M1: ChainHead(9, b"\x03" * 32)}, {e.event_id: stored}, {}, AT)
    assert plan.new == []
    assert [(r.seq, r.chain_hash, r.prev_chain_hash) for r in plan.republish] == [
        (5, "02" * 32, "01" * 32)
    ]


def test_stored_event_id_with_other_bytes_is_a_conflict():
    e = env(M1, b"x", "s", 7)
    stored = StoredEvent(e.event_id, M1, "s", 5, sha(b"other"), None, b"\x02" * 32, AT)
    plan = plan_batch([e], {}, {e.event_id: stored}, {}, AT)
    assert plan.republish == [] and plan.new == []
    assert [reason for _, reason in plan.conflicts] == ["event_id already sealed with other bytes"]


def test_same_source_event_under_new_event_id_is_a_duplicate():
    first, retry = env(M1, b"x", "sq-1", 1), env(M1, b"x", "sq-1", 2)
    plan = plan_batch([first, retry], {}, {}, {}, AT)
    assert [r.event_id for r in plan.new] == [first.event_id]
    assert plan.duplicates == [retry]
    stored = StoredEvent(first.event_id, M1, "sq-1", 1, sha(b"x"), None, sha(sha(b"x")), AT)
    later = plan_batch([retry], {M1: ChainHead(1, sha(sha(b"x")))}, {}, {(M1, "sq-1"): stored}, AT)
    assert later.duplicates == [retry] and later.new == []


def test_the_same_envelope_twice_in_a_batch_is_sealed_once():
    e = env(M1, b"x", "s", 1)
    plan = plan_batch([e, e], {}, {}, {}, AT)
    assert [r.seq for r in plan.new] == [1]
    assert plan.duplicates == []
