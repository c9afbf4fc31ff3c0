"""Incremental RFC 6962 root: a compact range over leaves ``[0, size)``.

It keeps only the roots of the perfect subtrees covering the leaves (at most one per bit
of ``size``), so appending is O(log n) and memory O(log n). New perfect-subtree nodes are
reported through an optional ``visit(level, index, hash)`` callback instead of stored.
"""

from __future__ import annotations

from collections.abc import Callable

from canary_stream.evidence.errors import ProofError
from canary_stream.evidence.rfc6962 import HASH_SIZE, empty_root, hash_children

#: ``visit(level, index, hash)``: level 0 is the leaves, index counts from the left.
VisitFn = Callable[[int, int, bytes], None]


class CompactRange:
    """Perfect-subtree roots over the leaves appended so far, largest (leftmost) first."""

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, left to right."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes, visit: VisitFn | None = None) -> None:
        """Add the next leaf hash, merging equal-height subtrees and reporting each new node."""
        if len(leaf_hash) != HASH_SIZE:
            raise ProofError(f"leaf hash has {len(leaf_hash)} bytes, want {HASH_SIZE}")
        if visit is not None:
            visit(0, self._size, leaf_hash)
        node, level, carry = leaf_hash, 0, self._size
        while carry & 1:
            node = hash_children(self._hashes.pop(), node)
            level, carry = level + 1, carry >> 1
            if visit is not None:
                visit(level, self._size >> level, node)
        self._hashes.append(node)
        self._size += 1

    def root(self) -> bytes:
        """The RFC 6962 root of the leaves so far (the empty root for none)."""
        if not self._hashes:
            return empty_root()
        node = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            node = hash_children(left, node)
        return node
