"""Regenerate the inclusion-proof vectors: ``.venv/bin/python tests/vectors/rfc6962/generate.py``.

Mirrors transparency-dev/merkle cmd/proofgen/main.go and proof/verify_test.go: good proofs
over the standard 8-leaf CT test tree, each followed by systematic mutations that must
fail. Self-contained (hashlib only, straight from RFC 6962 section 2.1), so the vectors
check canary_stream.evidence.proof instead of echoing it. Each file holds ``desc``,
``leaf_index``, ``tree_size``, ``leaf_hash``, ``proof``, ``root`` (hex) and ``want_error``,
plus ``error``: ``"proof_error"`` (malformed input), ``"root_mismatch"`` or null.
Files land in ``inclusion/<tree_size>/i<leaf_index>-<desc>.json``, named after the
good proof a mutation came from (its own index and size may differ).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent

# testonly/constants.go LeafInputs() and RootHashes() (sizes 0..8), transparency-dev/merkle.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_TREE_HASH = ROOTS[0]

# (leaf index, tree size): proof/verify_test.go's five, then three more.
BASE_CASES = [(0, 1), (0, 8), (5, 8), (2, 3), (1, 5), (6, 7), (4, 6), (7, 8)]
# (index, size) pairs that admit no proof at all (verify_test.go TestVerifyInclusion).
STATIC_CASES = [(0, 0), (0, 1), (1, 0), (2, 1)]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(data: list[bytes]) -> bytes:
    """MTH(D[n]) from RFC 6962 section 2.1."""
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return leaf_hash(data[0])
    k = split(len(data))
    return node_hash(mth(data[:k]), mth(data[k:]))


def path(m: int, data: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from RFC 6962 section 2.1.1, leaf to root."""
    if len(data) == 1:
        return []
    k = split(len(data))
    if m < k:
        return [*path(m, data[:k]), mth(data[k:])]
    return [*path(m - k, data[k:]), mth(data[:k])]


def root_from_path(m: int, n: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """Rebuild the root from a path by the same recursion; None if its length is wrong."""
    if n == 1:
        return leaf if not proof else None
    if not proof:
        return None
    k = split(n)
    if m < k:
        sub = root_from_path(m, k, leaf, proof[:-1])
        return None if sub is None else node_hash(sub, proof[-1])
    sub = root_from_path(m - k, n - k, leaf, proof[:-1])
    return None if sub is None else node_hash(proof[-1], sub)


def expected_error(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> str | None:
    if not 0 <= index < size or len(leaf) != 32 or any(len(p) != 32 for p in proof):
        return "proof_error"
    computed = root_from_path(index, size, leaf, proof)
    if computed is None:
        return "proof_error"
    return None if computed == root else "root_mismatch"


def mutations(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:
    other_root = ROOTS[size - 1] if size > 1 else ROOTS[size + 1]
    other_leaf = leaf_hash(LEAVES[(index + 1) % len(LEAVES)])
    out = [
        ("leafIdx sub @1", index - 1, size, leaf, proof, root),
        ("leafIdx plus @1", index + 1, size, leaf, proof, root),
        ("leafIdx XOR @2", index ^ 2, size, leaf, proof, root),
        ("treeSize mul @2", index, size * 2, leaf, proof, root),
        ("treeSize div @2", index, size // 2, leaf, proof, root),
        ("wrong leaf", index, size, b"WrongLeaf", proof, root),
        ("wrong leaf hash", index, size, other_leaf, proof, root),
        ("empty root", index, size, leaf, proof, EMPTY_TREE_HASH),
        ("random root", index, size, leaf, proof, SOME_HASH),
        ("swapped root", index, size, leaf, proof, other_root),
        ("trailing garbage", index, size, leaf, [*proof, b""], root),
        ("trailing root", index, size, leaf, [*proof, root], root),
        ("preceding garbage", index, size, leaf, [b"", *proof], root),
        ("preceding root", index, size, leaf, [root, *proof], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        out.append((f"modified proof[{i}] bit @3", index, size, leaf, flipped, root))
    if proof:
        out.append(("removed component", index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        out.append(
            ("inserted component", index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root)
        )
    return out


def probe(desc: str, index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> dict:
    error = expected_error(index, size, leaf, proof, root)
    return {
        "desc": desc,
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": leaf.hex(),
        "proof": [p.hex() for p in proof],
        "root": root.hex(),
        "want_error": error is not None,
        "error": error,
    }


def probes() -> list[tuple[str, dict]]:
    """``(relative path, probe)`` pairs; the path names the unmutated case's size and index."""
    for size, root in enumerate(ROOTS):
        assert mth(LEAVES[:size]) == root, f"RFC 6962 root of size {size} differs from Go's"
    out: list[tuple[str, dict]] = []

    def add(size: int, index: int, p: dict) -> None:
        name = re.sub(r"[^A-Za-z0-9@\[\]]+", "-", p["desc"])
        out.append((f"{size}/i{index}-{name}.json", p))

    for index, size in BASE_CASES:
        leaf, root = leaf_hash(LEAVES[index]), ROOTS[size]
        proof = path(index, LEAVES[:size])
        good = probe("happy path", index, size, leaf, proof, root)
        assert not good["want_error"], (index, size)
        add(size, index, good)
        for desc, *args in mutations(index, size, proof, root, leaf):
            bad = probe(desc, *args)  # type: ignore[arg-type]
            assert bad["want_error"], f"mutation {desc!r} of ({index}, {size}) still verifies"
            add(size, index, bad)
    for index, size in STATIC_CASES:
        for desc, leaf, root in (
            ("additional random leaf", SOME_HASH, b""),
            ("additional empty root", b"", EMPTY_TREE_HASH),
            ("additional empty root and random leaf", SOME_HASH, EMPTY_TREE_HASH),
        ):
            add(size, index, probe(desc, index, size, leaf, [], root))
    data_hash = leaf_hash(b"data")  # a 1-leaf tree's root is its leaf hash
    for desc, root, leaf in (
        ("single entry matching root and leaf", data_hash, data_hash),
        ("single entry empty leaf", data_hash, b""),
        ("single entry empty root", b"", data_hash),
        ("single entry empty root and leaf", b"", b""),
    ):
        add(1, 0, probe(desc, 0, 1, leaf, [], root))
    return out


def main() -> None:
    root_dir = HERE / "inclusion"
    shutil.rmtree(root_dir, ignore_errors=True)
    for rel, p in probes():
        target = root_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        assert not target.exists(), f"two probes map to {target}"
        target.write_text(json.dumps(p, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(probes())} vectors under {root_dir}")


if __name__ == "__main__":
    main()
