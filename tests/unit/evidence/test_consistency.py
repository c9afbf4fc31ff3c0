"""Consistency proofs: transparency-dev/merkle's known proofs, its vector mutations, a reference."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from canary_stream.evidence.errors import ProofError, RootMismatch
from canary_stream.evidence.proof import (
    consistency_proof,
    root_from_consistency_proof,
    verify_consistency,
)
from canary_stream.evidence.rfc6962 import hash_leaf, root_from_leaves

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "rfc6962" / "consistency"

CT_LEAVES = [
    hash_leaf(bytes.fromhex(h))
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip

# proof/verify_test.go consistencyProofs (transparency-dev/merkle).
GO_PROOFS = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


def reference_proof(m: int, leaves: list[bytes], complete: bool = True) -> list[bytes]:
    """SUBPROOF(m, D[n], b) from RFC 6962 section 2.1.2 over leaf hashes."""
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaves(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*reference_proof(m, leaves[:k], complete), root_from_leaves(leaves[k:])]
    return [*reference_proof(m - k, leaves[k:], False), root_from_leaves(leaves[:k])]


@pytest.mark.parametrize(("size1", "size2", "want"), GO_PROOFS)
def test_known_proofs(size1: int, size2: int, want: list[str]) -> None:
    proof = consistency_proof(CT_LEAVES[:size2], size1)
    assert [p.hex() for p in proof] == want
    root1, root2 = root_from_leaves(CT_LEAVES[:size1]), root_from_leaves(CT_LEAVES[:size2])
    assert root_from_consistency_proof(size1, size2, proof, root1) == root2
    verify_consistency(size1, size2, proof, root1, root2)


def test_every_pair_up_to_40_leaves_matches_reference_and_verifies() -> None:
    leaves = [hash_leaf(hashlib.sha256(str(i).encode()).digest()) for i in range(40)]
    roots = [root_from_leaves(leaves[:n]) for n in range(41)]
    for size2 in range(1, 41):
        for size1 in range(0, size2 + 1):
            proof = consistency_proof(leaves[:size2], size1)
            if size1:
                assert proof == reference_proof(size1, leaves[:size2]), (size1, size2)
            verify_consistency(size1, size2, proof, roots[size1], roots[size2])


def test_from_empty_tree_is_empty_proof() -> None:
    assert consistency_proof(CT_LEAVES, 0) == []
    verify_consistency(0, 8, [], bytes(32), root_from_leaves(CT_LEAVES))


@pytest.mark.parametrize("size1", [-1, 9])
def test_size1_out_of_range(size1: int) -> None:
    with pytest.raises(ProofError, match=f"size1 {size1} must be between 0 and the tree size 8"):
        consistency_proof(CT_LEAVES, size1)


def test_root1_mismatch_holds_both_roots() -> None:
    proof = consistency_proof(CT_LEAVES, 6)
    wrong = bytes(32)
    with pytest.raises(RootMismatch) as info:
        root_from_consistency_proof(6, 8, proof, wrong)
    assert info.value.expected == wrong
    assert info.value.computed == root_from_leaves(CT_LEAVES[:6])


def test_root2_mismatch_holds_both_roots() -> None:
    proof = consistency_proof(CT_LEAVES, 6)
    root1, root2 = root_from_leaves(CT_LEAVES[:6]), root_from_leaves(CT_LEAVES)
    with pytest.raises(RootMismatch) as info:
        verify_consistency(6, 8, proof, root1, bytes(32))
    assert (info.value.expected, info.value.computed) == (bytes(32), root2)


@pytest.mark.parametrize(
    ("size1", "size2", "proof", "root1", "root2", "message"),
    [
        (3, 2, [], bytes(32), bytes(32), "sizes 3 -> 2: need 0 <= size1 <= size2"),
        (2, 2, [bytes(32)], bytes(32), bytes(32), "proof has 1 hashes, want 0 for equal sizes"),
        (0, 2, [bytes(32)], bytes(32), bytes(32), "proof has 1 hashes, want 0 from an empty tree"),
        (6, 8, [bytes(32)] * 2, bytes(32), bytes(32), "proof has 2 hashes, want 3"),
        (6, 8, [bytes(32)] * 4, bytes(32), bytes(32), "proof has 4 hashes, want 3"),
        (6, 8, [bytes(32), b"x", bytes(32)], bytes(32), bytes(32), r"proof\[1\] has 1 bytes"),
        (6, 8, [bytes(32)] * 3, b"short", bytes(32), "root1 has 5 bytes, want 32"),
        (6, 8, [bytes(32)] * 3, bytes(32), b"", "root2 has 0 bytes, want 32"),
    ],
)
def test_malformed_inputs(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes, message: str
) -> None:
    with pytest.raises(ProofError, match=message) as info:
        verify_consistency(size1, size2, proof, root1, root2)
    assert type(info.value) is ProofError


def _run_vector(path: Path) -> str | None:
    """None if the vector behaves as it says, else one line describing the failure."""
    case = json.loads(path.read_text(encoding="utf-8"))
    try:
        verify_consistency(
            case["size1"],
            case["size2"],
            [bytes.fromhex(p) for p in case["proof"]],
            bytes.fromhex(case["root1"]),
            bytes.fromhex(case["root2"]),
        )
        got = None
    except RootMismatch:
        got = "root_mismatch"
    except ProofError:
        got = "proof_error"
    if case["want_error"] != (got is not None) or case["error"] != got:
        return f"{path.relative_to(VECTORS)} ({case['desc']}): want {case['error']}, got {got}"
    return None


def test_all_consistency_vectors() -> None:
    paths = sorted(VECTORS.rglob("*.json"))
    assert len(paths) == 333, "regenerate with tests/vectors/rfc6962/generate_consistency.py"
    failures = [f for f in map(_run_vector, paths) if f is not None]
    assert not failures, f"{len(failures)} of {len(paths)} vectors failed:\n" + "\n".join(failures)
