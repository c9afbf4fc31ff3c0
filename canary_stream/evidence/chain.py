"""The per-merchant hash chain (evidence.md): build links and find the first broken one.

``event_hash = SHA-256(raw)``; genesis ``chain_hash_1 = SHA-256(event_hash_1)``; then
``chain_hash_n = SHA-256(chain_hash_{n-1} || event_hash_n)``. Seq starts at 1 with no gaps;
the genesis link has no previous chain hash (``None``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from canary_stream.evidence.errors import ChainError

HASH_SIZE = 32

#: One stored row as the verifier reads it:
#: ``(seq, raw_payload, stored_event_hash, stored_prev_chain_hash, stored_chain_hash)``.
ChainRecord = tuple[int, bytes, bytes, bytes | None, bytes]


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ChainError(f"{name} has {len(value)} bytes, want {HASH_SIZE}")


def event_hash(raw: bytes) -> bytes:
    """SHA-256 of the exact raw bytes received."""
    return hashlib.sha256(raw).digest()


def chain_hash(prev: bytes | None, event_hash: bytes) -> bytes:
    """Next chain hash: ``SHA-256(event_hash)`` at genesis, else ``SHA-256(prev || event_hash)``."""
    _check_hash("event_hash", event_hash)
    if prev is None:
        return hashlib.sha256(event_hash).digest()
    _check_hash("prev chain hash", prev)
    return hashlib.sha256(prev + event_hash).digest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One link: its seq, event hash, the previous chain hash (None at genesis) and its own."""

    seq: int
    event_hash: bytes
    prev_chain_hash: bytes | None
    chain_hash: bytes


def next_links(
    head_seq: int, head_chain_hash: bytes | None, event_hashes: Sequence[bytes]
) -> list[ChainLink]:
    """Links for ``event_hashes`` appended after the head (``head_seq=0, None`` = empty chain)."""
    if head_seq < 0:
        raise ChainError(f"head seq must be >= 0, got {head_seq}")
    if (head_seq == 0) != (head_chain_hash is None):
        raise ChainError(
            f"head seq {head_seq} needs {'no' if head_seq == 0 else 'a'} head chain hash"
        )
    links: list[ChainLink] = []
    prev = head_chain_hash
    for seq, ev in enumerate(event_hashes, start=head_seq + 1):
        link = ChainLink(
            seq=seq, event_hash=ev, prev_chain_hash=prev, chain_hash=chain_hash(prev, ev)
        )
        links.append(link)
        prev = link.chain_hash
    return links


class BreakKind(StrEnum):
    """Why a link is broken, in the order the verifier checks."""

    SEQ_GAP = "seq_gap"
    EVENT_HASH_MISMATCH = "event_hash_mismatch"
    PREV_LINK_MISMATCH = "prev_link_mismatch"
    CHAIN_HASH_MISMATCH = "chain_hash_mismatch"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first broken link: its seq (as stored), why, and what was expected versus found."""

    seq: int
    kind: BreakKind
    expected: int | bytes | None
    found: int | bytes | None

    def describe(self) -> str:
        """One line for the CLI."""

        def show(value: int | bytes | None) -> str:
            if isinstance(value, bytes):
                return value.hex()
            return "none" if value is None else str(value)

        return (
            f"seq {self.seq}: {self.kind.value} "
            f"(expected {show(self.expected)}, found {show(self.found)})"
        )


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What a walk saw: intact links checked, the last intact head, and the first break."""

    checked: int
    head_seq: int
    head_chain_hash: bytes | None
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        """True when every record was an intact link."""
        return self.first_break is None


def walk_chain(
    records: Iterable[ChainRecord],
    *,
    start_seq: int = 1,
    start_prev_chain_hash: bytes | None = None,
) -> ChainReport:
    """Check every record in seq order and stop at the first broken one.

    Each record is ``(seq, raw, event_hash, prev_chain_hash, chain_hash)`` as stored. A walk
    may start mid-chain from a trusted head (``start_seq``, ``start_prev_chain_hash``).
    Checks per record: seq is the next one, SHA-256(raw) equals the stored event hash, the
    stored previous hash equals the previous record's chain hash, and the stored chain hash
    equals the one recomputed from them.
    """
    if start_seq < 1:
        raise ChainError(f"start seq must be >= 1, got {start_seq}")
    if (start_seq == 1) != (start_prev_chain_hash is None):
        raise ChainError(f"start seq {start_seq} does not fit the given previous chain hash")
    expected_seq, prev, checked = start_seq, start_prev_chain_hash, 0

    def report(brk: ChainBreak | None) -> ChainReport:
        return ChainReport(checked, expected_seq - 1, prev, brk)

    for seq, raw, stored_event, stored_prev, stored_chain in records:
        if seq != expected_seq:
            return report(ChainBreak(seq, BreakKind.SEQ_GAP, expected_seq, seq))
        computed_event = event_hash(raw)
        if stored_event != computed_event:
            return report(
                ChainBreak(seq, BreakKind.EVENT_HASH_MISMATCH, computed_event, stored_event)
            )
        if stored_prev != prev:
            return report(ChainBreak(seq, BreakKind.PREV_LINK_MISMATCH, prev, stored_prev))
        computed_chain = chain_hash(prev, computed_event)
        if stored_chain != computed_chain:
            return report(
                ChainBreak(seq, BreakKind.CHAIN_HASH_MISMATCH, computed_chain, stored_chain)
            )
        expected_seq, prev, checked = expected_seq + 1, stored_chain, checked + 1
    return report(None)


def find_first_break(
    records: Iterable[ChainRecord],
    *,
    start_seq: int = 1,
    start_prev_chain_hash: bytes | None = None,
) -> ChainBreak | None:
    """The first broken link of ``records`` (see ``walk_chain``), or None if all are intact."""
    return walk_chain(
        records, start_seq=start_seq, start_prev_chain_hash=start_prev_chain_hash
    ).first_break
