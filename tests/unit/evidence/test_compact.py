"""Incremental roots: every size of the CT test tree, and the nodes reported on the way.

Expected values: transparency-dev/merkle testonly/constants.go (RootHashes, NodeHashes).
"""

from __future__ import annotations

import hashlib

import pytest

from canary_stream.evidence.compact import CompactRange
from canary_stream.evidence.errors import ProofError
from canary_stream.evidence.rfc6962 import empty_root, hash_leaf, root_from_leaves

CT_LEAVES = [
    hash_leaf(bytes.fromhex(h))
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# NodeHashes() levels 1..3 as (level, index) -> hash.
INNER_NODES = {
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def test_roots_of_every_size() -> None:
    cr = CompactRange()
    assert (cr.size, cr.root().hex()) == (0, ROOTS[0])
    for size, leaf in enumerate(CT_LEAVES, start=1):
        cr.append(leaf)
        assert (cr.size, cr.root().hex()) == (size, ROOTS[size])


def test_visit_reports_every_perfect_subtree_node_in_order() -> None:
    seen: list[tuple[int, int, str]] = []
    cr = CompactRange()
    for leaf in CT_LEAVES:
        cr.append(leaf, lambda level, index, h: seen.append((level, index, h.hex())))
    want_order = [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0),
                  (0, 4), (0, 5), (1, 2), (0, 6), (0, 7), (1, 3), (2, 1), (3, 0)]  # fmt: skip
    assert [(lv, ix) for lv, ix, _ in seen] == want_order
    for level, index, digest in seen:
        want = CT_LEAVES[index].hex() if level == 0 else INNER_NODES[(level, index)]
        assert digest == want, (level, index)


def test_hashes_are_the_perfect_subtree_roots() -> None:
    cr = CompactRange()
    for leaf in CT_LEAVES[:7]:
        cr.append(leaf)
    assert [h.hex() for h in cr.hashes] == [
        INNER_NODES[(2, 0)], INNER_NODES[(1, 2)], CT_LEAVES[6].hex()
    ]  # fmt: skip


def test_matches_root_from_leaves_up_to_300() -> None:
    leaves = [hash_leaf(hashlib.sha256(str(i).encode()).digest()) for i in range(300)]
    cr = CompactRange()
    assert cr.root() == empty_root()
    for size, leaf in enumerate(leaves, start=1):
        cr.append(leaf)
        assert cr.root() == root_from_leaves(leaves[:size]), size


def test_rejects_short_leaf_hash() -> None:
    with pytest.raises(ProofError, match="leaf hash has 3 bytes, want 32"):
        CompactRange().append(b"abc")
