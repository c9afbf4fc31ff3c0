"""P6: close a 10,000-leaf Merkle batch and verify one proof, beside hashlib anchors (quality.md).

    .venv/bin/python bench/merkle.py [--leaves 10000] [--runs 50]

No stack needed: this is the pure work the merkle agent and a verifier do, through the code
paths production runs.

1. close: ``evidence.batching.build_batch`` over ``--leaves`` chain hashes — leaf hashes,
   the RFC 6962 tree, every leaf's audit path and the Ed25519-signed checkpoint (what the
   agent computes before it writes the rows). Anchor: a plain loop of the same number of
   SHA-256 calls the tree needs (``n`` leaf hashes of 33 bytes, ``n - 1`` node hashes of 65
   bytes) and nothing else.
2. verify: ``evidence.proof.verify_inclusion`` of one leaf's path (the middle leaf).
   Anchor: a plain loop of as many SHA-256 calls over 65 bytes as the path is long, plus
   the leaf hash. Also reported: the whole bundle check of ``verify proof``
   (``evidence.bundle.verify_bundle``: bytes, chain link, Ed25519 signature, inclusion,
   chain head), which the P6 target does not cover.

Reports the median and p95 of ``--runs`` timed runs (after two warm-up runs), the P6
targets (close <= 50 ms, verify <= 1 ms), and each figure as a ratio to its anchor
measured in the same run; writes bench/results/merkle-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from _common import print_table, write_results

from canary_stream.evidence.batching import Leaf, build_batch
from canary_stream.evidence.bundle import make_bundle, verify_bundle
from canary_stream.evidence.chain import next_links
from canary_stream.evidence.checkpoint import ZERO_ROOT
from canary_stream.evidence.proof import verify_inclusion
from canary_stream.evidence.rfc6962 import hash_leaf
from canary_stream.evidence.signing import load_checkpoint_key

TARGET_CLOSE_MS = 50.0
TARGET_VERIFY_MS = 1.0


def timed(work: Callable[[], Any], runs: int) -> dict[str, float]:
    """Median and p95 wall time of ``work`` in milliseconds (two warm-up runs first)."""
    for _ in range(2):
        work()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p95_ms": samples[min(len(samples) - 1, int(0.95 * len(samples)))],
        "min_ms": samples[0],
    }


def hashlib_loop(calls_33: int, calls_65: int) -> Callable[[], None]:
    """The anchor: only the SHA-256 calls, over inputs of the right sizes."""
    leaf_input = b"\x00" + bytes(32)
    node_input = b"\x01" + bytes(64)
    sha256 = hashlib.sha256

    def run() -> None:
        for _ in range(calls_33):
            sha256(leaf_input).digest()
        for _ in range(calls_65):
            sha256(node_input).digest()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaves", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    n = args.leaves

    key = load_checkpoint_key("canary-stream", base64.b64encode(bytes(range(32))).decode())
    raws = [f'{{"event":{i}}}'.encode() for i in range(n)]
    links = next_links(0, None, [hashlib.sha256(raw).digest() for raw in raws])
    leaves = [Leaf(link.seq, uuid.UUID(int=link.seq), link.chain_hash) for link in links]
    merchant = uuid.UUID("0190d3a2-7b4c-7def-8a12-3456789abcde")

    close = timed(lambda: build_batch(merchant, 1, ZERO_ROOT, leaves, key), args.runs)
    close_anchor = timed(hashlib_loop(n, n - 1), args.runs)

    batch = build_batch(merchant, 1, ZERO_ROOT, leaves, key)
    index = n // 2
    path = list(batch.audit_paths[index])
    leaf = hash_leaf(leaves[index].chain_hash)
    root = batch.checkpoint.root_hash
    verify = timed(lambda: verify_inclusion(index, n, leaf, path, root), args.runs * 20)
    verify_anchor = timed(hashlib_loop(1, len(path)), args.runs * 20)

    link = links[index]
    bundle = make_bundle(
        merchant_id=str(merchant),
        seq=link.seq,
        raw=raws[index],
        event_hash=link.event_hash,
        prev_chain_hash=link.prev_chain_hash,
        chain_hash=link.chain_hash,
        later_event_hashes=[lk.event_hash for lk in links[index + 1 :]],
        batch_no=1,
        leaf_index=index,
        tree_size=n,
        audit_path=path,
        root_hash=root,
        note=batch.note,
        key_name=key.name,
        public_key=key.public_key,
    )
    bundle_check = timed(lambda: verify_bundle(bundle, public_key=key.public_key), args.runs)

    rows = [
        ("close batch", close, close_anchor, TARGET_CLOSE_MS),
        ("verify proof", verify, verify_anchor, TARGET_VERIFY_MS),
        ("verify bundle (all checks)", bundle_check, verify_anchor, None),
    ]
    print(f"P6 Merkle, {n} leaves, audit path of leaf {index}: {len(path)} hashes")
    print_table(
        ["measure", "median ms", "p95 ms", "anchor median ms", "x anchor", "target ms", "ok"],
        [
            (
                name,
                got["median_ms"],
                got["p95_ms"],
                anchor["median_ms"],
                got["median_ms"] / anchor["median_ms"],
                target if target is not None else "-",
                "-" if target is None else ("yes" if got["median_ms"] <= target else "NO"),
            )
            for name, got, anchor, target in rows
        ],
    )
    path_out = write_results(
        "merkle",
        {
            "leaves": n,
            "runs": args.runs,
            "audit_path_length": len(path),
            "close": close,
            "close_anchor_hashlib": close_anchor,
            "close_x_anchor": close["median_ms"] / close_anchor["median_ms"],
            "close_target_ms": TARGET_CLOSE_MS,
            "verify": verify,
            "verify_anchor_hashlib": verify_anchor,
            "verify_x_anchor": verify["median_ms"] / verify_anchor["median_ms"],
            "verify_target_ms": TARGET_VERIFY_MS,
            "verify_bundle": bundle_check,
        },
    )
    print(f"\nwrote {path_out}")


if __name__ == "__main__":
    main()
