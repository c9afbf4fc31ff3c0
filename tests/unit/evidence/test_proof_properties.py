"""Property tests: every proof generated for a random tree verifies, and tampering fails.

Generate-then-verify (transparency-dev/merkle testonly/tree_fuzz_test.go), checked against
the slow recursive RFC 6962 definitions.
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from canary_stream.evidence.compact import CompactRange
from canary_stream.evidence.errors import ProofError
from canary_stream.evidence.proof import (
    consistency_proof,
    inclusion_proof,
    root_and_proofs,
    verify_consistency,
    verify_inclusion,
)
from canary_stream.evidence.rfc6962 import hash_children, hash_leaf, root_from_leaves


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 section 2.1 over leaf hashes, recursively."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hash_children(mth(leaves[:k]), mth(leaves[k:]))


@st.composite
def trees(draw: st.DrawFn, max_size: int = 300) -> list[bytes]:
    size = draw(st.integers(min_value=1, max_value=max_size))
    seed = draw(st.binary(min_size=0, max_size=8))
    return [hash_leaf(hashlib.sha256(seed + i.to_bytes(4, "big")).digest()) for i in range(size)]


@settings(max_examples=150, deadline=None)
@given(leaves=trees(), data=st.data())
def test_inclusion_proofs_of_random_trees_verify(leaves: list[bytes], data: st.DataObject) -> None:
    root = root_from_leaves(leaves)
    assert root == mth(leaves)
    index = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1))
    proof = inclusion_proof(leaves, index)
    verify_inclusion(index, len(leaves), leaves[index], proof, root)


@settings(max_examples=60, deadline=None)
@given(leaves=trees(max_size=200))
def test_batch_root_and_every_path_verify(leaves: list[bytes]) -> None:
    root, paths = root_and_proofs(leaves)
    assert root == mth(leaves)
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    assert compact.root() == root
    for index, path in enumerate(paths):
        verify_inclusion(index, len(leaves), leaves[index], list(path), root)


@settings(max_examples=150, deadline=None)
@given(leaves=trees(), data=st.data())
def test_consistency_proofs_of_random_trees_verify(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size1 = data.draw(st.integers(min_value=0, max_value=len(leaves)))
    proof = consistency_proof(leaves, size1)
    root1 = root_from_leaves(leaves[:size1])
    verify_consistency(size1, len(leaves), proof, root1, root_from_leaves(leaves))


@settings(max_examples=150, deadline=None)
@given(leaves=trees(), data=st.data())
def test_any_flipped_bit_of_an_inclusion_proof_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1))
    proof = inclusion_proof(leaves, index)
    root = root_from_leaves(leaves)
    targets = [("leaf", -1), ("root", -1)] + [("proof", i) for i in range(len(proof))]
    what, at = data.draw(st.sampled_from(targets))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    leaf = leaves[index]

    def flip(value: bytes) -> bytes:
        changed = bytearray(value)
        changed[bit // 8] ^= 1 << (bit % 8)
        return bytes(changed)

    if what == "leaf":
        leaf = flip(leaf)
    elif what == "root":
        root = flip(root)
    else:
        proof[at] = flip(proof[at])
    try:
        verify_inclusion(index, len(leaves), leaf, proof, root)
    except ProofError:
        return
    raise AssertionError(f"tampered {what}[{at}] bit {bit} still verifies")


@settings(max_examples=150, deadline=None)
@given(leaves=trees(), data=st.data())
def test_any_flipped_bit_of_a_consistency_proof_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size2 = len(leaves)
    size1 = data.draw(st.integers(min_value=1, max_value=size2))
    proof = consistency_proof(leaves, size1)
    root1, root2 = root_from_leaves(leaves[:size1]), root_from_leaves(leaves)
    if size1 == size2:
        return  # nothing but the roots to tamper with; equal roots are required
    at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    changed = bytearray(proof[at])
    changed[bit // 8] ^= 1 << (bit % 8)
    proof[at] = bytes(changed)
    try:
        verify_consistency(size1, size2, proof, root1, root2)
    except ProofError:
        return
    raise AssertionError(f"tampered proof[{at}] bit {bit} still verifies ({size1} -> {size2})")


@settings(max_examples=100, deadline=None)
@given(leaves=trees(max_size=100), data=st.data())
def test_wrong_index_or_size_fails(leaves: list[bytes], data: st.DataObject) -> None:
    size = len(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(leaves, index)
    root = root_from_leaves(leaves)
    other_index = data.draw(st.integers(min_value=0, max_value=2 * size))
    # Doubled or halved (size +- 1 can share a path shape: the root does not commit to the
    # size, which is why bundles bind tree_size to the signed checkpoint).
    other_size = data.draw(st.sampled_from([size * 2, size // 2]))
    for i, n in ((other_index, size), (index, other_size)):
        if (i, n) == (index, size) or leaves[index] == (leaves[i] if 0 <= i < size else None):
            continue
        try:
            verify_inclusion(i, n, leaves[index], proof, root)
        except ProofError:
            continue
        raise AssertionError(f"leaf {index} of {size} verifies as {i} of {n}")
