"""Inclusion proofs: transparency-dev/merkle's known proofs, its vector mutations, a reference."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from canary_stream.evidence.errors import ProofError, RootMismatch
from canary_stream.evidence.proof import (
    decompose,
    inclusion_proof,
    inclusion_proofs,
    root_from_inclusion_proof,
    verify_inclusion,
)
from canary_stream.evidence.rfc6962 import hash_children, hash_leaf, root_from_leaves

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "rfc6962" / "inclusion"

CT_LEAVES = [
    hash_leaf(bytes.fromhex(h))
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip

# proof/verify_test.go inclusionProofs (leaf numbers there are 1-based; indexes here 0-based).
GO_PROOFS = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def reference_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from RFC 6962 section 2.1.1 over leaf hashes, leaf to root."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*reference_path(m, leaves[:k]), root_from_leaves(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), root_from_leaves(leaves[:k])]


@pytest.mark.parametrize(("index", "size", "want"), GO_PROOFS)
def test_known_proofs(index: int, size: int, want: list[str]) -> None:
    proof = inclusion_proof(CT_LEAVES[:size], index)
    assert [p.hex() for p in proof] == want
    root = root_from_leaves(CT_LEAVES[:size])
    assert root_from_inclusion_proof(index, size, CT_LEAVES[index], proof) == root
    verify_inclusion(index, size, CT_LEAVES[index], proof, root)


def test_known_root_of_8() -> None:
    proof = inclusion_proof(CT_LEAVES, 5)
    assert root_from_inclusion_proof(5, 8, CT_LEAVES[5], proof).hex() == ROOT_8


@pytest.mark.parametrize(
    ("index", "size", "split"),
    [(0, 1, (0, 0)), (0, 8, (3, 0)), (5, 8, (2, 1)), (2, 3, (0, 1)), (1, 5, (3, 0)),
     (4, 5, (0, 1)), (6, 7, (0, 2)), (4, 6, (1, 1))],
)  # fmt: skip
def test_decompose(index: int, size: int, split: tuple[int, int]) -> None:
    assert decompose(index, size) == split
    assert sum(split) == len(reference_path(index, CT_LEAVES[:size]))


def test_every_proof_up_to_70_leaves_matches_reference_and_verifies() -> None:
    leaves = [hash_leaf(hashlib.sha256(str(i).encode()).digest()) for i in range(70)]
    for size in range(1, 71):
        tree = leaves[:size]
        root = root_from_leaves(tree)
        proofs = inclusion_proofs(tree)
        for index in range(size):
            assert proofs[index] == reference_path(index, tree), (index, size)
            assert inclusion_proof(tree, index) == proofs[index]
            verify_inclusion(index, size, tree[index], proofs[index], root)


def test_inclusion_proofs_of_empty_tree() -> None:
    assert inclusion_proofs([]) == []


@pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
def test_inclusion_proof_index_out_of_range(index: int, size: int) -> None:
    with pytest.raises(ProofError, match=f"index {index} is outside a tree of size {size}"):
        inclusion_proof(CT_LEAVES[:size], index)


def test_root_mismatch_holds_both_roots() -> None:
    proof = inclusion_proof(CT_LEAVES, 5)
    wrong = bytes(32)
    with pytest.raises(RootMismatch) as info:
        verify_inclusion(5, 8, CT_LEAVES[5], proof, wrong)
    assert info.value.expected == wrong
    assert info.value.computed.hex() == ROOT_8
    assert str(info.value) == f"computed root {ROOT_8} does not match expected {'00' * 32}"


@pytest.mark.parametrize(
    ("index", "size", "leaf", "proof", "message"),
    [
        (8, 8, bytes(32), [bytes(32)] * 3, "index 8 is outside a tree of size 8"),
        (-1, 8, bytes(32), [bytes(32)] * 3, "index -1 is outside a tree of size 8"),
        (0, 0, bytes(32), [], "index 0 is outside a tree of size 0"),
        (0, 8, b"WrongLeaf", [bytes(32)] * 3, "leaf hash has 9 bytes, want 32"),
        (0, 8, bytes(32), [bytes(32)] * 4, "proof has 4 hashes, want 3"),
        (0, 8, bytes(32), [bytes(32)] * 2, "proof has 2 hashes, want 3"),
        (0, 8, bytes(32), [bytes(32), b"", bytes(32)], r"proof\[1\] has 0 bytes, want 32"),
    ],
)
def test_malformed_inputs(
    index: int, size: int, leaf: bytes, proof: list[bytes], message: str
) -> None:
    with pytest.raises(ProofError, match=message) as info:
        verify_inclusion(index, size, leaf, proof, bytes(32))
    assert type(info.value) is ProofError


def test_node_order_matters() -> None:
    proof = inclusion_proof(CT_LEAVES[:2], 0)
    swapped_root = hash_children(CT_LEAVES[1], CT_LEAVES[0])
    with pytest.raises(RootMismatch):
        verify_inclusion(0, 2, CT_LEAVES[0], proof, swapped_root)


def _run_vector(path: Path) -> str | None:
    """None if the vector behaves as it says, else one line describing the failure."""
    case = json.loads(path.read_text(encoding="utf-8"))
    args = (
        case["leaf_index"],
        case["tree_size"],
        bytes.fromhex(case["leaf_hash"]),
        [bytes.fromhex(p) for p in case["proof"]],
        bytes.fromhex(case["root"]),
    )
    try:
        verify_inclusion(*args)
        got = None
    except RootMismatch:
        got = "root_mismatch"
    except ProofError:
        got = "proof_error"
    if case["want_error"] != (got is not None) or case["error"] != got:
        return f"{path.relative_to(VECTORS)} ({case['desc']}): want {case['error']}, got {got}"
    return None


def test_all_inclusion_vectors() -> None:
    paths = sorted(VECTORS.rglob("*.json"))
    assert len(paths) == 166, "regenerate with tests/vectors/rfc6962/generate.py"
    failures = [f for f in map(_run_vector, paths) if f is not None]
    assert not failures, f"{len(failures)} of {len(paths)} vectors failed:\n" + "\n".join(failures)
