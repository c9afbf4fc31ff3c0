"""Batch planning at exact times and thresholds, and batch building against a reference."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from canary_stream.evidence.batching import (
    BatchError,
    Leaf,
    OpenState,
    SeqRange,
    build_batch,
    build_batches,
    is_due,
    plan_ranges,
)
from canary_stream.evidence.chain import next_links
from canary_stream.evidence.checkpoint import ZERO_ROOT, open_checkpoint
from canary_stream.evidence.proof import verify_inclusion
from canary_stream.evidence.rfc6962 import hash_leaf, root_from_leaves
from canary_stream.evidence.signing import load_checkpoint_key

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
MERCHANT = uuid.UUID("0190d3a2-7b4c-7def-8a12-3456789abcde")
KEY = load_checkpoint_key("canary-stream", base64.b64encode(bytes(range(32))).decode())


def state(inscribed: int, head: int, waited: float | None = 0.0, last_batch: int = 0) -> OpenState:
    oldest = None if waited is None else NOW - timedelta(seconds=waited)
    root = ZERO_ROOT if last_batch == 0 else hashlib.sha256(b"prev").digest()
    return OpenState(MERCHANT, last_batch, inscribed, root, head, oldest)


def plan(s: OpenState, limit: int = 20) -> list[tuple[int, int]]:
    ranges = plan_ranges(s, NOW, batch_size=100, max_wait_seconds=600, limit=limit)
    return [(r.first, r.last) for r in ranges]


@pytest.mark.parametrize(
    ("inscribed", "head", "waited", "want"),
    [
        (0, 0, None, []),  # nothing sealed
        (0, 99, 599.999, []),  # one short of both thresholds
        (0, 100, 0.0, [(1, 100)]),  # exactly the batch size
        (0, 99, 600.0, [(1, 99)]),  # exactly the wait: the tail closes
        (0, 250, 0.0, [(1, 100), (101, 200)]),  # full runs only; 50 stay open
        (0, 250, 600.0, [(1, 100), (101, 200), (201, 250)]),  # expired: the tail too
        (300, 420, 10.0, [(301, 400)]),  # after earlier batches
        (300, 300, 9999.0, []),  # all inscribed
        (7, 8, 601.0, [(8, 8)]),  # a one-event tail
    ],
)
def test_plan_ranges(inscribed: int, head: int, waited: float | None, want: list) -> None:
    assert plan(state(inscribed, head, waited)) == want


def test_plan_is_limited_per_call() -> None:
    assert plan(state(0, 1000, 0.0), limit=3) == [(1, 100), (101, 200), (201, 300)]


def test_is_due() -> None:
    due = {"batch_size": 100, "max_wait_seconds": 600}
    assert not is_due(state(0, 99, 599.0), NOW, **due)
    assert is_due(state(0, 99, 600.0), NOW, **due)
    assert is_due(state(0, 100, 0.0), NOW, **due)
    assert not is_due(state(5, 5, 10_000.0), NOW, **due)
    assert state(5, 5, 10_000.0).waited(NOW) == 0.0


@pytest.mark.parametrize(("size", "limit"), [(0, 1), (100, 0)])
def test_invalid_thresholds(size: int, limit: int) -> None:
    with pytest.raises(BatchError):
        plan_ranges(state(0, 10, 0.0), NOW, batch_size=size, max_wait_seconds=1, limit=limit)


def chain(n: int) -> list[Leaf]:
    links = next_links(0, None, [hashlib.sha256(f"raw {i}".encode()).digest() for i in range(n)])
    return [Leaf(link.seq, uuid.UUID(int=link.seq), link.chain_hash) for link in links]


def test_build_batch_root_paths_and_checkpoint() -> None:
    leaves = chain(7)
    batch = build_batch(MERCHANT, 1, ZERO_ROOT, leaves, KEY)
    hashes = [hash_leaf(leaf.chain_hash) for leaf in leaves]
    root = root_from_leaves(hashes)
    cp = batch.checkpoint
    assert (cp.batch_no, cp.first_seq, cp.last_seq, cp.tree_size) == (1, 1, 7, 7)
    assert cp.root_hash == root
    assert cp.prev_root_hash == ZERO_ROOT
    assert cp.chain_head == leaves[-1].chain_hash
    assert open_checkpoint(batch.note, "canary-stream", KEY.public_key) == cp
    assert batch.key_id == KEY.key_id
    for index, path in enumerate(batch.audit_paths):
        verify_inclusion(index, 7, hashes[index], list(path), root)


def test_build_batches_chain_roots_and_number_without_gaps() -> None:
    leaves = chain(250)
    s = state(0, 250, 600.0)
    ranges = plan_ranges(s, NOW, batch_size=100, max_wait_seconds=600, limit=20)
    batches = build_batches(s, ranges, leaves, KEY)
    assert [b.checkpoint.batch_no for b in batches] == [1, 2, 3]
    assert [b.checkpoint.prev_root_hash for b in batches] == [
        ZERO_ROOT,
        batches[0].checkpoint.root_hash,
        batches[1].checkpoint.root_hash,
    ]
    for b in batches:
        cp = b.checkpoint
        expected = root_from_leaves(
            [hash_leaf(leaf.chain_hash) for leaf in leaves[cp.first_seq - 1 : cp.last_seq]]
        )
        assert cp.root_hash == expected


def test_build_batches_continue_after_the_last_batch() -> None:
    leaves = chain(150)
    s = state(100, 150, 700.0, last_batch=4)
    batches = build_batches(s, [SeqRange(101, 150)], leaves[100:], KEY)
    assert batches[0].checkpoint.batch_no == 5
    assert batches[0].checkpoint.prev_root_hash == s.prev_root_hash


def test_a_gap_in_the_rows_is_refused() -> None:
    leaves = chain(5)
    with pytest.raises(BatchError, match="seq 4 at position 2, want 3"):
        build_batch(MERCHANT, 1, ZERO_ROOT, [leaves[0], leaves[1], leaves[3]], KEY)
    with pytest.raises(BatchError, match=r"seq 3 of .* was not read"):
        build_batches(state(0, 5, 600.0), [SeqRange(1, 5)], leaves[:2] + leaves[3:], KEY)
    with pytest.raises(BatchError, match="does not start at 1"):
        build_batches(state(0, 5, 600.0), [SeqRange(2, 5)], leaves, KEY)


def test_a_key_without_seed_cannot_close() -> None:
    public_only = load_checkpoint_key("canary-stream", "", KEY.public_b64)
    with pytest.raises(Exception, match="CANARY_CHECKPOINT_SIGNING_KEY is empty"):
        build_batch(MERCHANT, 1, ZERO_ROOT, chain(1), public_only)
