"""RFC 6962 inclusion and consistency proofs: build, recompute the root, verify.

After transparency-dev/merkle (proof/proof.go, proof/verify.go). Inclusion proofs list
sibling hashes from the leaf up to the root; consistency proofs follow RFC 6962's
SUBPROOF order. Verification validates sizes, indexes and lengths first, requires the
exact proof length the sizes demand, rebuilds the root and compares it, raising one
``RootMismatch`` that holds both roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from canary_stream.evidence.errors import ProofError, RootMismatch
from canary_stream.evidence.rfc6962 import (
    HASH_SIZE,
    NODE_PREFIX,
    hash_children,
    root_from_leaves,
    split_point,
)


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    if any(len(leaf) != HASH_SIZE for leaf in leaf_hashes):
        i, leaf = next((i, h) for i, h in enumerate(leaf_hashes) if len(h) != HASH_SIZE)
        raise ProofError(f"leaf hash {i} has {len(leaf)} bytes, want {HASH_SIZE}")
    levels = [list(leaf_hashes)]
    sha256, prefix = hashlib.sha256, NODE_PREFIX  # hash_children, inlined: the hot loop
    while len(levels[-1]) > 1:
        level = levels[-1]
        paired = [
            sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])  # an unpaired node moves up unchanged
        levels.append(paired)
    return levels


def _path(levels: list[list[bytes]], index: int) -> list[bytes]:
    proof: list[bytes] = []
    for level in levels[:-1]:
        if (index ^ 1) < len(level):
            proof.append(level[index ^ 1])
        index //= 2
    return proof


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree over ``leaf_hashes`` (leaf to root)."""
    if not 0 <= index < len(leaf_hashes):
        raise ProofError(f"index {index} is outside a tree of size {len(leaf_hashes)}")
    return _path(_levels(leaf_hashes), index)


def inclusion_proofs(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """The audit path of every leaf, in leaf order, building the tree once."""
    if not leaf_hashes:
        return []
    levels = _levels(leaf_hashes)
    return [_path(levels, index) for index in range(len(leaf_hashes))]


def root_and_proofs(leaf_hashes: Sequence[bytes]) -> tuple[bytes, list[tuple[bytes, ...]]]:
    """The root and every leaf's audit path, building the tree once (a closing batch).

    Paths are built top-down: a node's path above it is shared by all its leaves, so each
    node costs one tuple concatenation instead of one append per leaf and level.
    """
    if not leaf_hashes:
        raise ProofError("a batch needs at least one leaf")
    levels = _levels(leaf_hashes)
    above: list[tuple[bytes, ...]] = [()]
    for level in reversed(levels[:-1]):
        width = len(level)
        above = [((level[j ^ 1],) if (j ^ 1) < width else ()) + above[j >> 1] for j in range(width)]
    return levels[-1][0], above


def decompose(index: int, size: int) -> tuple[int, int]:
    """Proof length split for ``index`` in ``size``: (inner, border) part lengths.

    ``inner`` hashes lie below the point where the paths to ``index`` and ``size - 1``
    diverge; ``border`` hashes are left siblings along the right border above it.
    """
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` in a tree of ``size``.

    Requires ``0 <= index < size``, 32-byte hashes and exactly the proof length the
    index/size pair demands; anything else raises ``ProofError`` before hashing.
    """
    if index < 0 or index >= size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash has {len(leaf_hash)} bytes, want {HASH_SIZE}")
    inner, border = decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"proof has {len(proof)} hashes, want {inner + border}")
    for i, node in enumerate(proof):
        if len(node) != HASH_SIZE:
            raise ProofError(f"proof[{i}] has {len(node)} bytes, want {HASH_SIZE}")
    seed = leaf_hash
    for i, node in enumerate(proof[:inner]):
        seed = hash_children(seed, node) if (index >> i) & 1 == 0 else hash_children(node, seed)
    for node in proof[inner:]:
        seed = hash_children(node, seed)
    return seed


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check ``proof`` against ``root``: ``ProofError`` if malformed, else ``RootMismatch``."""
    computed = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if computed != root:
        raise RootMismatch(expected=root, computed=computed)


# Consistency proofs (RFC 6962 section 2.1.2 / RFC 9162 section 2.1.4) -----------------------


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 6962 section 2.1.2, over leaf hashes."""
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaves(leaves)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root_from_leaves(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root_from_leaves(leaves[:k])]


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(size1, D[n]): shows the tree of the first ``size1`` leaves is a prefix of this one.

    Empty when ``size1`` is 0 or the whole tree (any tree extends the empty one).
    """
    size2 = len(leaf_hashes)
    if not 0 <= size1 <= size2:
        raise ProofError(f"size1 {size1} must be between 0 and the tree size {size2}")
    for i, leaf in enumerate(leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ProofError(f"leaf hash {i} has {len(leaf)} bytes, want {HASH_SIZE}")
    if size1 == 0:
        return []
    return _subproof(size1, leaf_hashes, True)


def _check_hashes(proof: Sequence[bytes], *roots: tuple[str, bytes]) -> None:
    for name, root in roots:
        if len(root) != HASH_SIZE:
            raise ProofError(f"{name} has {len(root)} bytes, want {HASH_SIZE}")
    for i, node in enumerate(proof):
        if len(node) != HASH_SIZE:
            raise ProofError(f"proof[{i}] has {len(node)} bytes, want {HASH_SIZE}")


def root_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> bytes:
    """The root of the ``size2`` tree that ``proof`` implies, once it reproduces ``root1``.

    Requires ``0 < size1 <= size2``, 32-byte hashes and exactly the proof length the sizes
    demand (``ProofError`` otherwise, before hashing). The proof's left part must rebuild
    ``root1``; if it does not, ``RootMismatch`` holds ``root1`` and what was rebuilt.
    """
    if size1 <= 0 or size2 < size1:
        raise ProofError(f"sizes {size1} -> {size2}: need 0 < size1 <= size2")
    _check_hashes(proof, ("root1", root1))
    if size1 == size2:
        if proof:
            raise ProofError(f"proof has {len(proof)} hashes, want 0 for equal sizes")
        return root1
    inner, border = decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    inner -= shift
    # The proof starts with the root of the size1 tree's last perfect subtree, unless
    # size1 is itself a power of two (then that subtree is the whole old tree: root1).
    seed, start = (root1, 0) if size1 == 1 << shift else (proof[0] if proof else b"", 1)
    if len(proof) != start + inner + border:
        raise ProofError(f"proof has {len(proof)} hashes, want {start + inner + border}")
    path = proof[start:]
    mask = (size1 - 1) >> shift
    old, new = seed, seed
    for i, node in enumerate(path[:inner]):
        if (mask >> i) & 1:
            old, new = hash_children(node, old), hash_children(node, new)
        else:
            new = hash_children(new, node)
    for node in path[inner:]:
        old, new = hash_children(node, old), hash_children(node, new)
    if old != root1:
        raise RootMismatch(expected=root1, computed=old)
    return new


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the ``size1`` tree with ``root1`` is a prefix of the ``size2`` tree.

    ``size1 == 0`` is consistent with anything given an empty proof. Malformed input raises
    ``ProofError``; a well-formed proof leading elsewhere raises ``RootMismatch``.
    """
    if size1 < 0 or size2 < size1:
        raise ProofError(f"sizes {size1} -> {size2}: need 0 <= size1 <= size2")
    _check_hashes(proof, ("root1", root1), ("root2", root2))
    if size1 == 0:
        if proof:
            raise ProofError(f"proof has {len(proof)} hashes, want 0 from an empty tree")
        return
    computed = root_from_consistency_proof(size1, size2, proof, root1)
    if computed != root2:
        raise RootMismatch(expected=root2, computed=computed)
