"""RFC 6962 / RFC 9162 Merkle tree hashing (SHA-256, 0x00 leaf and 0x01 node prefixes)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from canary_stream.evidence.errors import ProofError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def empty_root() -> bytes:
    """Root of the empty tree: SHA-256 of no bytes."""
    return hashlib.sha256(b"").digest()


def hash_leaf(data: bytes) -> bytes:
    """Leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (requires size >= 2)."""
    if size < 2:
        raise ProofError(f"a tree of {size} leaves has no split")
    return 1 << ((size - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root over already-hashed leaves; an unpaired node moves up unchanged (no padding)."""
    if not leaf_hashes:
        return empty_root()
    for i, leaf in enumerate(leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ProofError(f"leaf hash {i} has {len(leaf)} bytes, want {HASH_SIZE}")
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
