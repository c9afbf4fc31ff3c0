"""Merkle batches, checkpoints and proofs through the real broker, database and processes.

Roots, paths and signatures are checked here independently (hashlib, ``cryptography``); the
code under test only produced the rows, records and bundles.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import random
import signal
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from harness import engine_for, make_envelope, produce, read_topic, square_body, wait_for
from sqlalchemy import text

from canary_stream.evidence.anchor import mock_reference
from canary_stream.evidence.signing import load_checkpoint_key

pytestmark = pytest.mark.integration

#: Long enough that a loaded machine seals 35 records given at once before the timer may
#: close a partial batch (correct, but not the batch sizes the test pins).
FAST = {"CANARY_MERKLE_MAX_WAIT_SECONDS": "8"}
#: The burst's wait: long enough that a loaded machine posts each merchant's first hundred
#: webhooks before the timer may close a partial batch (which would be correct, but not the
#: batch sizes this test pins).
BURST_WAIT = 10.0


# An independent RFC 6962 and C2SP note check -------------------------------------------------
def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """MTH of RFC 6962 section 2.1 over leaf hashes (split at the largest power of 2 < n)."""
    k = 1 << ((len(leaves) - 1).bit_length() - 1) if len(leaves) > 1 else 0
    return leaves[0] if k == 0 else sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def note_body(note: str, key_name: str, public_key: bytes) -> str:
    """The body of a signed note after checking its Ed25519 signature by ``key_name``."""
    cut = note.rindex("\n\n")
    body, lines = note[: cut + 1], note[cut + 2 :].rstrip("\n").split("\n")
    key_id = sha(key_name.encode() + b"\n\x01" + public_key)[:4]
    for line in lines:
        name, _, b64 = line[2:].partition(" ")
        blob = base64.b64decode(b64)
        if line.startswith("\u2014 ") and name == key_name and blob[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], body.encode())
            return body
    raise AssertionError(f"no signature by {key_name}")


def root_from_path(index: int, size: int, link: Any, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2 over a stored audit path."""
    fn, sn, r = index, size - 1, sha(b"\x00" + bytes(link.chain_hash))
    for p in map(bytes, path):
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    return r


# Database views -----------------------------------------------------------------------------
async def rows_of(engine: Any, sql: str, merchant_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), {"m": uuid.UUID(merchant_id)}))


async def chain(engine: Any, merchant_id: str) -> dict[int, Any]:
    sql = (
        "SELECT seq, event_id, chain_hash, event_hash, sealed_at FROM sales.evidence_records "
        "WHERE merchant_id = :m ORDER BY seq"
    )
    return {r.seq: r for r in await rows_of(engine, sql, merchant_id)}


async def batches(engine: Any, merchant_id: str) -> list[Any]:
    sql = "SELECT * FROM sales.inscription_pool WHERE merchant_id = :m ORDER BY batch_no"
    return await rows_of(engine, sql, merchant_id)


async def inscriptions(engine: Any, merchant_id: str) -> list[Any]:
    sql = (
        "SELECT event_id, seq, batch_no, leaf_index, audit_path FROM sales.event_inscriptions "
        "WHERE merchant_id = :m ORDER BY seq"
    )
    return await rows_of(engine, sql, merchant_id)


async def all_inscribed(engine: Any, merchant_id: str, n: int) -> list[Any] | None:
    rows = await inscriptions(engine, merchant_id)
    return rows if len(rows) >= n else None


async def check_batches(engine: Any, merchant_id: str, n: int, key: Any) -> list[Any]:
    """Every seq 1..n inscribed once; roots, chaining, numbering and notes all independent."""
    links = await chain(engine, merchant_id)
    assert sorted(links) == list(range(1, n + 1))
    rows = await batches(engine, merchant_id)
    assert [b.batch_no for b in rows] == list(range(1, len(rows) + 1))
    assert rows[0].first_seq == 1 and rows[-1].last_seq == n
    prev_root = bytes(32)
    for b in rows:
        seqs = range(b.first_seq, b.last_seq + 1)
        leaves = [sha(b"\x00" + bytes(links[s].chain_hash)) for s in seqs]
        assert b.leaf_count == len(leaves)
        assert bytes(b.root_hash) == mth(leaves), f"batch {b.batch_no} root"
        assert bytes(b.prev_root_hash) == prev_root, f"batch {b.batch_no} prev root"
        body = note_body(b.checkpoint, key.name, key.public_key)
        assert body == (
            f"canary-stream/{merchant_id}\n{b.leaf_count}\n"
            f"{base64.b64encode(bytes(b.root_hash)).decode()}\nbatch {b.batch_no}\n"
            f"seq {b.first_seq}-{b.last_seq}\n"
            f"prev-root {base64.b64encode(prev_root).decode()}\n"
            f"chain-head {bytes(links[b.last_seq].chain_hash).hex()}\n"
        )
        assert b.signing_key_id == key.key_id.hex()
        prev_root = bytes(b.root_hash)
    for i, (b, nxt) in enumerate(itertools.pairwise(rows)):
        assert nxt.first_seq == b.last_seq + 1, f"gap or overlap after batch {i + 1}"
    marks = await inscriptions(engine, merchant_id)
    assert [m.seq for m in marks] == list(range(1, n + 1))
    by_no = {b.batch_no: b for b in rows}
    for m in marks:
        b = by_no[m.batch_no]
        assert m.event_id == links[m.seq].event_id
        assert m.leaf_index == m.seq - b.first_seq
        assert root_from_path(m.leaf_index, b.leaf_count, links[m.seq], m.audit_path) == bytes(
            b.root_hash
        )
    return rows


async def checkpoint_records(settings: Any, topic: str, merchant_ids: set[str]) -> list[dict]:
    records = await read_topic(settings, topic)
    out = []
    for r in records:
        doc = json.loads(r.value)
        if doc["merchant_id"] in merchant_ids:
            assert dict(r.headers)["record-type"] == b"checkpoint"
            assert r.key.decode() == doc["merchant_id"]
            out.append(doc)
    return out


def stack_key(pipe: Any) -> Any:
    s = pipe.settings()
    return load_checkpoint_key(s.checkpoint_key_name, s.checkpoint_signing_key.get_secret_value())


def get(url: str, token: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


# Crash and failure, first: no other pipeline of this module runs beside them ---------------
async def test_sigkill_mid_batch_loses_and_duplicates_no_leaf(
    pipeline_factory: Any, engine: Any
) -> None:
    """(c) kill -9 while batches are closing; after a restart every seq is inscribed once."""
    # The default 600 s wait: only full batches close, so every batch holds exactly 50.
    pipe = pipeline_factory(CANARY_MERKLE_BATCH_SIZE="50")
    settings = pipe.settings()
    merchant_id, pmid = pipe.add_merchant()
    total = 1200  # a multiple of 50
    envelopes = [make_envelope(merchant_id, pmid, f"kill-{i}".encode()) for i in range(total)]
    seal = pipe.start("seal")

    async def feed() -> None:
        for start in range(0, total, 100):
            chunk = envelopes[start : start + 100]
            await produce(
                settings,
                pipe.topic("events"),
                [(merchant_id.encode(), e.to_bytes()) for e in chunk],
            )
            await asyncio.sleep(0.05)

    feeding = asyncio.create_task(feed())
    before = await wait_for(lambda: all_inscribed(engine, merchant_id, 100), timeout=90)
    seal.kill(signal.SIGKILL)
    assert len(before) < total
    await feeding
    pipe.start("seal")
    await wait_for(lambda: all_inscribed(engine, merchant_id, total), timeout=240)
    rows = await check_batches(engine, merchant_id, total, stack_key(pipe))
    assert all(b.leaf_count <= 50 for b in rows)

    async def every_batch_published() -> bool:
        records = await checkpoint_records(settings, pipe.topic("checkpoints"), {merchant_id})
        return {r["batch_no"] for r in records} == {b.batch_no for b in rows}

    await wait_for(every_batch_published, timeout=90)


async def test_failing_anchor_backend_leaves_pending_and_blocks_nothing(
    pipeline_factory: Any, engine: Any
) -> None:
    """(g) batches stay PENDING, checkpoints still go out, later events still seal and close."""
    pipe = pipeline_factory(CANARY_ANCHOR_BACKEND="failing", CANARY_MERKLE_BATCH_SIZE="10", **FAST)
    settings = pipe.settings()
    merchant_id, pmid = pipe.add_merchant()
    pipe.start("seal")
    key = merchant_id.encode()
    first = [make_envelope(merchant_id, pmid, f"pending-{i}".encode()) for i in range(35)]
    await produce(settings, pipe.topic("events"), [(key, e.to_bytes()) for e in first])
    await wait_for(lambda: all_inscribed(engine, merchant_id, 35), timeout=60)
    later = [make_envelope(merchant_id, pmid, f"later-{i}".encode()) for i in range(20)]
    await produce(settings, pipe.topic("events"), [(key, e.to_bytes()) for e in later])
    await wait_for(lambda: all_inscribed(engine, merchant_id, 55), timeout=60)
    rows = await check_batches(engine, merchant_id, 55, stack_key(pipe))
    assert [b.leaf_count for b in rows] == [10, 10, 10, 5, 10, 10]
    assert {(b.anchor_status, b.anchor_backend, b.anchor_ref) for b in rows} == {
        ("PENDING", "failing", None)
    }

    async def published() -> bool:
        records = await checkpoint_records(settings, pipe.topic("checkpoints"), {merchant_id})
        return {r["batch_no"] for r in records} == {b.batch_no for b in rows}

    await wait_for(published, timeout=60)


# The shared pipeline: ingress + seal, batches of 100, a 10 s wait --------------------------------
@pytest.fixture(scope="module")
async def burst(module_pipeline_factory: Any, stack_settings: Any) -> dict[str, Any]:
    """Three merchants, 250 + 130 + 7 signed webhooks in a burst, all inscribed."""
    pipe = module_pipeline_factory(CANARY_MERKLE_MAX_WAIT_SECONDS=str(BURST_WAIT))
    pipe.add_signature_key()
    merchants = [pipe.add_merchant() for _ in range(3)]
    counts = [250, 130, 7]
    pipe.start("seal")
    pipe.start("ingress")
    bodies = [square_body(pmid) for (_, pmid), n in zip(merchants, counts, strict=True)
              for _ in range(n)]  # fmt: skip
    random.Random(7).shuffle(bodies)
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda body: pipe.post(body)[0], bodies))
    assert statuses == [200] * len(bodies)
    engine = engine_for(stack_settings)
    try:
        for (merchant_id, _), n in zip(merchants, counts, strict=True):
            await wait_for(lambda m=merchant_id, n=n: all_inscribed(engine, m, n), timeout=90)
    finally:
        await engine.dispose()
    return {"pipe": pipe, "merchants": merchants, "counts": counts}


async def test_burst_every_sealed_event_is_inscribed(burst: dict, engine: Any) -> None:
    """(a) roots recomputed independently, prev_root chaining, gap-free batch_no; (b) tails."""
    key = stack_key(burst["pipe"])
    for (merchant_id, _), n in zip(burst["merchants"], burst["counts"], strict=True):
        rows = await check_batches(engine, merchant_id, n, key)
        full, tail = divmod(n, 100)
        assert [b.leaf_count for b in rows] == [100] * full + ([tail] if tail else [])
        links = await chain(engine, merchant_id)
        last = rows[-1]
        if tail:  # the quiet tail closed by the timer, never before its oldest waited
            waited = (last.closed_at - links[last.first_seq].sealed_at).total_seconds()
            assert waited >= BURST_WAIT, waited
    sql = (
        "SELECT l.event_id FROM sales.ingestion_log l JOIN sales.event_inscriptions i USING "
        "(event_id) WHERE i.merchant_id = :m AND l.step = 'MERKLE' AND l.status = 'SUCCESS'"
    )
    assert len(await rows_of(engine, sql, burst["merchants"][0][0])) == 250


async def test_checkpoints_are_published_and_anchored(burst: dict, engine: Any) -> None:
    """(f) one record per batch on {prefix}.checkpoints, equal to the stored note; mock anchor."""
    pipe = burst["pipe"]
    ids = {m for m, _ in burst["merchants"]}
    stored = {}
    for merchant_id in ids:
        for b in await batches(engine, merchant_id):
            stored[(merchant_id, b.batch_no)] = b

    async def published() -> list[dict] | None:
        records = await checkpoint_records(pipe.settings(), pipe.topic("checkpoints"), ids)
        keys = {(r["merchant_id"], r["batch_no"]) for r in records}
        return records if keys >= set(stored) else None

    records = await wait_for(published, timeout=60)
    key = stack_key(pipe)
    for r in records:
        b = stored[(r["merchant_id"], r["batch_no"])]
        assert r["checkpoint"] == b.checkpoint
        assert (r["first_seq"], r["last_seq"], r["tree_size"]) == (
            b.first_seq,
            b.last_seq,
            b.leaf_count,
        )
        assert r["root_hash"] == bytes(b.root_hash).hex()
        assert (r["key_name"], r["key_id"]) == (key.name, key.key_id.hex())

    async def anchored() -> bool:
        rows = [b for m in ids for b in await batches(engine, m)]
        return all(b.anchor_status == "ANCHORED" for b in rows)

    await wait_for(anchored, timeout=30)
    for m in ids:
        for b in await batches(engine, m):
            assert b.anchor_backend == "mock"
            assert b.anchor_ref == mock_reference(b.checkpoint)


async def test_proof_cli_bundle_verifies_and_any_changed_byte_fails(
    burst: dict, engine: Any, tmp_path: Path
) -> None:
    """(d) `proof EVENT_ID` → `verify proof` accepts; a changed byte anywhere is rejected."""
    pipe = burst["pipe"]
    merchant_id = burst["merchants"][0][0]
    event_id = str((await chain(engine, merchant_id))[137].event_id)
    path = tmp_path / "proof.json"
    pipe.cli("proof", event_id, "--out", str(path))
    key = stack_key(pipe)
    ok = pipe.cli("verify", "proof", str(path), "--public-key", key.verifier)
    assert ok.stdout.startswith(f"proof ok: merchant {merchant_id} seq 137 is leaf 36 of batch 2 ")
    data = path.read_bytes()
    assert json.loads(data)["seq"] == 137
    positions = sorted({(len(data) - 1) * i // 15 for i in range(16)})  # spread over the file

    def verify_changed(position: int) -> tuple[int, Any]:
        changed = bytearray(data)
        changed[position] ^= random.Random(position).choice([0x01, 0x02, 0x20, 0x40])
        bad = tmp_path / f"bad-{position}.json"
        bad.write_bytes(bytes(changed))
        return position, pipe.cli(
            "verify", "proof", str(bad), "--public-key", key.verifier, check=False
        )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(verify_changed, positions))
    accepted = [position for position, done in results if done.returncode == 0]
    assert not accepted, f"changed bytes at {accepted} still verify"
    for _, done in results:
        assert done.stderr.startswith("canary-stream: proof rejected: "), done.stderr
    missing = pipe.cli("proof", str(uuid.uuid4()), check=False)
    assert missing.returncode == 1 and "no event" in missing.stderr


async def test_proofs_endpoint_is_merchant_scoped(burst: dict, engine: Any) -> None:
    """(e) own token 200 + verifies; other merchant's token = missing id; no token 401."""
    pipe = burst["pipe"]
    (a, a_pmid), (b, _), _ = burst["merchants"]
    a_event = str((await chain(engine, a))[42].event_id)
    token_a = pipe.cli("tokens", "create", "--scope", "proofs", "--merchant", a_pmid).stdout.strip()
    token_b = pipe.cli("tokens", "create", "--scope", "proofs", "--merchant", b).stdout.strip()
    operator = pipe.cli("tokens", "create", "--scope", "proofs").stdout.strip()
    mcp_a = pipe.cli("tokens", "create", "--scope", "mcp", "--merchant", a).stdout.strip()
    base = pipe.notification_url.rsplit("/webhooks", 1)[0] + "/proofs/"

    status, body, headers = get(base + a_event, token_a)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    cli_bytes = pipe.cli("proof", a_event).stdout.encode()
    assert body == cli_bytes
    assert get(base + a_event, operator)[:2] == (200, body)

    foreign = get(base + a_event, token_b)
    missing = get(base + str(uuid.uuid4()), token_b)
    malformed = get(base + "not-an-id", token_b)
    assert foreign[0] == missing[0] == malformed[0] == 404
    assert foreign[1] == missing[1] == malformed[1] == b'{"error": "not_found"}'
    assert foreign[2].get("Content-Type") == missing[2].get("Content-Type")

    assert get(base + a_event)[0] == 401
    assert get(base + a_event, "cst_not-a-real-token")[0] == 401
    assert get(base + a_event, mcp_a)[0] == 401
    revoked = pipe.cli("tokens", "revoke", token_a)
    assert revoked.stdout.startswith("revoked ")
    assert get(base + a_event, token_a)[0] == 401
    for leftover in (token_b, operator, mcp_a):  # the stack's database outlives the test
        pipe.cli("tokens", "revoke", leftover)

    key = stack_key(pipe)
    path = Path(pipe.root) / "endpoint-proof.json"
    path.write_bytes(body)
    assert pipe.cli("verify", "proof", str(path), "--public-key", key.public_b64).returncode == 0
    shown = json.loads(pipe.cli("keys", "show", "--json").stdout)
    assert shown == {"key_name": "canary-stream", "key_id": key.key_id.hex(),
                     "public_key": key.public_b64, "verifier_key": key.verifier}  # fmt: skip
