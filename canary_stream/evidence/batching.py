"""Pure Merkle batching: which seq ranges close now, and what closing one produces.

The database knows everything (evidence.md): a merchant's open batch is every sealed seq
after the last inscribed one. :func:`plan_ranges` takes that view plus ``now`` and the two
thresholds and names the ranges to close; :func:`build_batches` turns the chain hashes of
those ranges into RFC 6962 trees, audit paths and signed checkpoints, chained by
``prev_root_hash`` and numbered without gaps. No I/O: the caller reads the view and the
hashes under the merchant's lock and writes the result in the same transaction.

Rules:
- a range holds at most ``batch_size`` leaves; every full ``batch_size`` run closes at once;
- when the oldest open event (seq ``inscribed_seq + 1``) has waited ``max_wait_seconds`` or
  more, the whole open range closes, its tail as a smaller last batch;
- at most ``limit`` ranges per call (one transaction); the caller loops for more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from canary_stream.evidence.checkpoint import ZERO_ROOT, Checkpoint, sign_checkpoint
from canary_stream.evidence.errors import EvidenceError
from canary_stream.evidence.proof import root_and_proofs
from canary_stream.evidence.rfc6962 import HASH_SIZE, LEAF_PREFIX
from canary_stream.evidence.signing import CheckpointKey


class BatchError(EvidenceError):
    """The rows handed to the batch builder are not the contiguous range that was planned."""


@dataclass(frozen=True)
class OpenState:
    """One merchant's chain as the database sees it, relative to its last closed batch."""

    merchant_id: UUID
    last_batch_no: int
    inscribed_seq: int
    prev_root_hash: bytes
    head_seq: int
    oldest_open_at: datetime | None

    @property
    def open_count(self) -> int:
        """Sealed events not yet inscribed."""
        return max(0, self.head_seq - self.inscribed_seq)

    def waited(self, now: datetime) -> float:
        """Seconds the oldest open event has waited (0 when nothing is open)."""
        if self.open_count == 0 or self.oldest_open_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_open_at).total_seconds())


@dataclass(frozen=True)
class SeqRange:
    """An inclusive seq range, ``first`` to ``last``."""

    first: int
    last: int

    @property
    def size(self) -> int:
        """Leaves in the range."""
        return self.last - self.first + 1


def is_due(state: OpenState, now: datetime, *, batch_size: int, max_wait_seconds: float) -> bool:
    """Whether anything of this merchant closes now."""
    if batch_size < 1:
        raise BatchError(f"batch size must be >= 1, got {batch_size}")
    return state.open_count >= batch_size or (
        state.open_count > 0 and state.waited(now) >= max_wait_seconds
    )


def plan_ranges(
    state: OpenState,
    now: datetime,
    *,
    batch_size: int,
    max_wait_seconds: float,
    limit: int,
) -> list[SeqRange]:
    """The ranges to close now, in seq order (see the module rules); empty if none."""
    if limit < 1:
        raise BatchError(f"limit must be >= 1, got {limit}")
    if not is_due(state, now, batch_size=batch_size, max_wait_seconds=max_wait_seconds):
        return []
    expired = state.waited(now) >= max_wait_seconds
    ranges: list[SeqRange] = []
    first = state.inscribed_seq + 1
    while first <= state.head_seq and len(ranges) < limit:
        last = min(first + batch_size - 1, state.head_seq)
        if last - first + 1 < batch_size and not expired:
            break
        ranges.append(SeqRange(first, last))
        first = last + 1
    return ranges


@dataclass(frozen=True)
class Leaf:
    """One sealed event as a leaf: its seq, id and chain hash."""

    seq: int
    event_id: UUID
    chain_hash: bytes


@dataclass(frozen=True)
class ClosedBatch:
    """A closed batch: its checkpoint, the signed note and each leaf's audit path."""

    checkpoint: Checkpoint
    note: str
    key_id: bytes
    leaves: tuple[Leaf, ...]
    audit_paths: tuple[tuple[bytes, ...], ...]

    @property
    def merchant_id(self) -> str:
        """The merchant, as the checkpoint names it."""
        return self.checkpoint.merchant_id


def build_batch(
    merchant_id: UUID,
    batch_no: int,
    prev_root_hash: bytes,
    leaves: Sequence[Leaf],
    key: CheckpointKey,
) -> ClosedBatch:
    """Tree, audit paths and signed checkpoint over ``leaves`` (contiguous, in seq order).

    Leaf hash = ``SHA-256(0x00 ‖ chain_hash)``: each leaf commits to its event and to the
    whole chain before it.
    """
    if not leaves:
        raise BatchError(f"batch {batch_no} of {merchant_id} has no leaves")
    first = leaves[0].seq
    for offset, leaf in enumerate(leaves):
        if leaf.seq != first + offset:
            raise BatchError(
                f"batch {batch_no} of {merchant_id}: seq {leaf.seq} at position {offset}, "
                f"want {first + offset} (the range must be contiguous)"
            )
        if len(leaf.chain_hash) != HASH_SIZE:
            raise BatchError(f"seq {leaf.seq}: chain hash has {len(leaf.chain_hash)} bytes")
    sha256 = hashlib.sha256  # hash_leaf, inlined: 10,000 calls per large batch
    root, paths = root_and_proofs(
        [sha256(LEAF_PREFIX + leaf.chain_hash).digest() for leaf in leaves]
    )
    checkpoint = Checkpoint(
        merchant_id=str(merchant_id),
        tree_size=len(leaves),
        root_hash=root,
        batch_no=batch_no,
        first_seq=first,
        last_seq=leaves[-1].seq,
        prev_root_hash=prev_root_hash,
        chain_head=leaves[-1].chain_hash,
    )
    note = sign_checkpoint(checkpoint, key.name, key.require_seed())
    return ClosedBatch(
        checkpoint=checkpoint,
        note=note,
        key_id=key.key_id,
        leaves=tuple(leaves),
        audit_paths=tuple(paths),
    )


def build_batches(
    state: OpenState,
    ranges: Sequence[SeqRange],
    leaves: Sequence[Leaf],
    key: CheckpointKey,
) -> list[ClosedBatch]:
    """Close ``ranges`` (consecutive, starting right after the last batch) over ``leaves``.

    ``leaves`` are the rows read for exactly those ranges, in seq order. Batch numbers
    follow ``state.last_batch_no`` without gaps; each batch's ``prev_root_hash`` is the
    previous batch's root (32 zero bytes before the first).
    """
    by_seq = {leaf.seq: leaf for leaf in leaves}
    expected_first = state.inscribed_seq + 1
    prev_root = state.prev_root_hash if state.last_batch_no else ZERO_ROOT
    batch_no = state.last_batch_no
    closed: list[ClosedBatch] = []
    for seq_range in ranges:
        if seq_range.first != expected_first or seq_range.last < seq_range.first:
            raise BatchError(
                f"range {seq_range.first}-{seq_range.last} does not start at {expected_first}"
            )
        try:
            chunk = [by_seq[seq] for seq in range(seq_range.first, seq_range.last + 1)]
        except KeyError as exc:
            raise BatchError(f"seq {exc.args[0]} of {state.merchant_id} was not read") from None
        batch_no += 1
        batch = build_batch(state.merchant_id, batch_no, prev_root, chunk, key)
        closed.append(batch)
        prev_root = batch.checkpoint.root_hash
        expected_first = seq_range.last + 1
    return closed
