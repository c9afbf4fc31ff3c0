"""RFC 6962 inclusion proofs: build, recompute the root, verify (after transparency-dev/merkle).

Proofs list sibling hashes from the leaf up to the root. Verification validates index,
size and lengths first, requires the proof length the index/size split demands, rebuilds
the root and compares it, raising one ``RootMismatch`` that holds both roots.
"""

from __future__ import annotations

from collections.abc import Sequence

from canary_stream.evidence.errors import ProofError, RootMismatch
from canary_stream.evidence.rfc6962 import HASH_SIZE, hash_children


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    for i, leaf in enumerate(leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ProofError(f"leaf hash {i} has {len(leaf)} bytes, want {HASH_SIZE}")
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        paired = [hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
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
