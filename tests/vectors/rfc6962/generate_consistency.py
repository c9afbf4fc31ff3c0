"""Regenerate the consistency-proof vectors.

    .venv/bin/python tests/vectors/rfc6962/generate_consistency.py


Mirrors transparency-dev/merkle proof/verify_test.go (consistencyProofs, TestVerifyConsistency
and corruptConsistencyProof): good proofs over the standard 8-leaf CT test tree, each
followed by the same systematic mutations, all of which must fail. Self-contained (hashlib
only): proofs come from RFC 6962 section 2.1.2's SUBPROOF recursion and expected outcomes
from rebuilding both roots by that same recursion, so the vectors check
canary_stream.evidence.proof instead of echoing it.

Each file holds ``desc``, ``size1``, ``size2``, ``root1``, ``root2``, ``proof`` (hex),
``want_error`` and ``error``: ``"proof_error"`` (malformed: sizes out of order, a hash
that is not 32 bytes, a proof of the wrong length), ``"root_mismatch"`` or null. Unlike
the Go library, every root must be 32 bytes even where it is not hashed. Files land in
``consistency/<size2>/s<size1>-<desc>.json``, named after the good proof a mutation came
from.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from generate import LEAVES, ROOTS, SOME_HASH, leaf_hash, mth, node_hash, split

HERE = Path(__file__).resolve().parent

# proof/verify_test.go consistencyProofs: (size1, size2, proof).
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
# Go's five, then more (size1, size2) pairs: every split shape of the 8-leaf tree.
BASE_CASES = [(1, 8), (6, 8), (2, 5), (6, 7), (1, 2), (2, 3), (3, 8), (4, 8), (5, 8), (7, 8),
              (3, 7), (4, 6), (3, 4), (5, 7)]  # fmt: skip
DONT_CARE_1 = hashlib.sha256(b"don't care 1").digest()
DONT_CARE_2 = hashlib.sha256(b"don't care 2").digest()
EMPTY_TREE_HASH = ROOTS[0]


def subproof(m: int, data: list[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) from RFC 6962 section 2.1.2."""
    n = len(data)
    if m == n:
        return [] if complete else [mth(data)]
    k = split(n)
    if m <= k:
        return [*subproof(m, data[:k], complete), mth(data[k:])]
    return [*subproof(m - k, data[k:], False), mth(data[:k])]


def rebuild(
    m: int, n: int, proof: list[bytes], complete: bool, root1: bytes
) -> tuple[bytes, bytes] | None:
    """(old root, new root) a proof implies, by the SUBPROOF recursion; None if malformed."""
    if m == n:
        if complete:
            return (root1, root1) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k, last = split(n), proof[-1]
    if m <= k:
        sub = rebuild(m, k, proof[:-1], complete, root1)
        return None if sub is None else (sub[0], node_hash(sub[1], last))
    sub = rebuild(m - k, n - k, proof[:-1], False, root1)
    return None if sub is None else (node_hash(last, sub[0]), node_hash(last, sub[1]))


def expected_error(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> str | None:
    if size1 < 0 or size2 < size1:
        return "proof_error"
    if any(len(h) != 32 for h in (root1, root2, *proof)):
        return "proof_error"
    if size1 == 0:
        return "proof_error" if proof else None
    if size1 == size2:
        if proof:
            return "proof_error"
        return None if root1 == root2 else "root_mismatch"
    roots = rebuild(size1, size2, proof, True, root1)
    if roots is None:
        return "proof_error"
    return None if roots == (root1, root2) else "root_mismatch"


def probe(
    desc: str, size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> dict:
    error = expected_error(size1, size2, proof, root1, root2)
    return {
        "desc": desc,
        "size1": size1,
        "size2": size2,
        "root1": root1.hex(),
        "root2": root2.hex(),
        "proof": [p.hex() for p in proof],
        "want_error": error is not None,
        "error": error,
    }


def mutations(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """corruptConsistencyProof of verify_test.go, case for case."""
    out = [
        ("size1 sub @1", size1 - 1, size2, root1, root2, proof),
        ("size1 plus @1", size1 + 1, size2, root1, root2, proof),
        ("size1 XOR @2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 mul @2", size1, size2 * 2, root1, root2, proof),
        ("size2 div @2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, b"WrongRoot", root2, proof),
        ("wrong root2", size1, size2, root1, b"WrongRoot", proof),
        ("other root1", size1, size2, SOME_HASH, root2, proof),
        ("other root2", size1, size2, root1, SOME_HASH, proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, [*proof, b""]),
        ("trailing root1", size1, size2, root1, root2, [*proof, root1]),
        ("trailing root2", size1, size2, root1, root2, [*proof, root2]),
        ("preceding garbage", size1, size2, root1, root2, [b"", *proof]),
        ("preceding root1", size1, size2, root1, root2, [root1, *proof]),
        ("preceding root2", size1, size2, root1, root2, [root2, *proof]),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0], *proof]),
        ("truncated proof", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        out.append((f"modified proof[{i}] bit @4", size1, size2, root1, root2, flipped))
    return out


def probes() -> list[tuple[str, dict]]:
    """``(relative path, probe)`` pairs."""
    for size1, size2, want in GO_PROOFS:
        got = [p.hex() for p in subproof(size1, LEAVES[:size2], True)]
        assert got == want, f"SUBPROOF({size1}, {size2}) differs from verify_test.go"
    out: list[tuple[str, dict]] = []

    def add(size2: int, size1: int, p: dict) -> None:
        name = re.sub(r"[^A-Za-z0-9@\[\]]+", "-", p["desc"])
        out.append((f"{size2}/s{size1}-{name}.json", p))

    for size1, size2 in BASE_CASES:
        root1, root2 = ROOTS[size1], ROOTS[size2]
        proof = subproof(size1, LEAVES[:size2], True)
        good = probe("happy path", size1, size2, root1, root2, proof)
        assert not good["want_error"], (size1, size2)
        add(size2, size1, good)
        for desc, *args in mutations(size1, size2, root1, root2, proof):
            bad = probe(desc, *args)  # type: ignore[arg-type]
            assert bad["want_error"], f"mutation {desc!r} of ({size1}, {size2}) still verifies"
            add(size2, size1, bad)
    # TestVerifyConsistency's trivial cases (32-byte stand-ins for its "don't care" roots).
    trivial = [
        ("equal sizes other roots", 0, 0, DONT_CARE_1, DONT_CARE_2, []),
        ("equal sizes 1 other roots", 1, 1, DONT_CARE_1, DONT_CARE_2, []),
        ("empty to empty", 0, 0, DONT_CARE_1, DONT_CARE_1, []),
        ("empty to one", 0, 1, DONT_CARE_1, DONT_CARE_2, []),
        ("one to one same root", 1, 1, DONT_CARE_2, DONT_CARE_2, []),
        ("time travel 1 to 0", 1, 0, DONT_CARE_1, DONT_CARE_2, []),
        ("time travel 2 to 1", 2, 1, DONT_CARE_1, DONT_CARE_2, []),
        ("empty proof 1 to 2", 1, 2, DONT_CARE_1, DONT_CARE_2, []),
        ("empty roots differ", 0, 0, EMPTY_TREE_HASH, DONT_CARE_2, []),
        ("one roots differ", 1, 1, EMPTY_TREE_HASH, DONT_CARE_2, []),
        ("empty with proof", 0, 0, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH]),
        ("empty to one with proof", 0, 1, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH]),
        ("one to one with proof", 1, 1, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH]),
        ("known 1 to 1", 1, 1, ROOTS[1], ROOTS[1], []),
        ("single leaf root", 1, 1, leaf_hash(b"data"), leaf_hash(b"data"), []),
    ]
    for desc, size1, size2, root1, root2, proof in trivial:
        add(max(size2, 0), size1, probe(desc, size1, size2, root1, root2, proof))
    return out


def main() -> None:
    root_dir = HERE / "consistency"
    shutil.rmtree(root_dir, ignore_errors=True)
    found = probes()
    for rel, p in found:
        target = root_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        assert not target.exists(), f"two probes map to {target}"
        target.write_text(json.dumps(p, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(found)} vectors under {root_dir}")


if __name__ == "__main__":
    main()
