"""RFC 6962 hashing and roots against transparency-dev/merkle's known answers.

Sources: rfc6962/rfc6962_test.go (hasher digests) and testonly/constants.go
(LeafInputs, NodeHashes, RootHashes of the standard 8-leaf CT test tree), both in
github.com/transparency-dev/merkle. Each digest sits next to a command reproducing it.
"""

from __future__ import annotations

import hashlib

import pytest

from canary_stream.evidence.errors import ProofError
from canary_stream.evidence.rfc6962 import (
    LEAF_PREFIX,
    NODE_PREFIX,
    empty_root,
    hash_children,
    hash_leaf,
    root_from_leaves,
    split_point,
)

LEAF_INPUTS = [
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

# testonly/constants.go RootHashes(), indexed by tree size 0..8. Size 2, for example:
#   echo -n 01 6e34…a01d 96a2…cfc7 | tr -d ' ' | xxd -r -p | sha256sum
# and every size: python3 -c 'import sys; sys.path.insert(0, "tests/vectors/rfc6962");
#   import generate as g; [print(g.mth(g.LEAVES[:n]).hex()) for n in range(9)]'
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

# testonly/constants.go NodeHashes() level 0: the leaf hashes of LEAF_INPUTS.
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]


def reference_root(data: list[bytes]) -> bytes:
    """MTH(D[n]) straight from RFC 6962 section 2.1: slow, recursive, obviously right."""
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < len(data):
        k *= 2
    left, right = reference_root(data[:k]), reference_root(data[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_prefixes() -> None:
    assert (LEAF_PREFIX, NODE_PREFIX) == (b"\x00", b"\x01")


def test_empty_root() -> None:
    # printf '' | sha256sum
    assert empty_root().hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_empty_leaf_differs_from_empty_root() -> None:
    # printf '\x00' | sha256sum
    assert hash_leaf(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_leaf_hash() -> None:
    # echo -n 004C313233343536 | xxd -r -p | sha256sum
    assert hash_leaf(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )


def test_node_hash() -> None:
    # echo -n 014E3132334E343536 | xxd -r -p | sha256sum
    assert hash_children(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_leaf_and_node_hashes_never_collide() -> None:
    left, right = hash_leaf(b"Hello"), hash_leaf(b"World")
    assert left != right
    assert hash_children(left, right) != hash_leaf(left + right)
    assert hash_children(left, right) != hash_children(right, left)


def test_ct_tree_leaf_hashes() -> None:
    assert [hash_leaf(d).hex() for d in LEAF_INPUTS] == LEAF_HASHES


@pytest.mark.parametrize("size", range(9))
def test_ct_tree_roots(size: int) -> None:
    leaves = [hash_leaf(d) for d in LEAF_INPUTS[:size]]
    assert root_from_leaves(leaves).hex() == ROOTS[size]
    assert reference_root(LEAF_INPUTS[:size]).hex() == ROOTS[size]


def test_roots_match_reference_up_to_200_leaves() -> None:
    data = [hashlib.sha256(str(i).encode()).digest()[: i % 7] for i in range(200)]
    leaves = [hash_leaf(d) for d in data]
    for size in range(201):
        assert root_from_leaves(leaves[:size]) == reference_root(data[:size]), size


def test_no_padding_second_preimage() -> None:
    # Duplicating the last leaf (the Bitcoin CVE-2012-2459 padding) must change the root.
    leaves = [hash_leaf(d) for d in LEAF_INPUTS[:3]]
    assert root_from_leaves(leaves) != root_from_leaves([*leaves, leaves[-1]])


@pytest.mark.parametrize(
    ("size", "split"), [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (100, 64), (129, 128)]
)
def test_split_point(size: int, split: int) -> None:
    assert split_point(size) == split


@pytest.mark.parametrize("size", [-1, 0, 1])
def test_split_point_needs_two_leaves(size: int) -> None:
    with pytest.raises(ProofError, match=f"a tree of {size} leaves has no split"):
        split_point(size)


def test_root_rejects_short_leaf_hash() -> None:
    with pytest.raises(ProofError, match="leaf hash 1 has 31 bytes, want 32"):
        root_from_leaves([bytes(32), bytes(31)])
