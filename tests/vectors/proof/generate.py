"""Regenerate the worked example of docs/proof-format.md.

    .venv/bin/python tests/vectors/proof/generate.py


A merchant with ten events sealed into two batches (seq 1-5 and 6-10), closed by the same
code the merkle agent runs (``canary_stream.evidence.batching``), and the bundle of seq 8
(leaf 2 of batch 2) assembled as the endpoint does. The signing seed is the bytes 0x00..0x1f
(a published test key: never use it for anything real). Writes ``example.json`` (the
bundle, canonical bytes) and ``example-values.json`` (every intermediate value the
walk-through in the doc shows).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path

from canary_stream.evidence.batching import Leaf, OpenState, SeqRange, build_batches
from canary_stream.evidence.bundle import ProofBundle, make_bundle
from canary_stream.evidence.chain import next_links
from canary_stream.evidence.checkpoint import ZERO_ROOT, format_checkpoint
from canary_stream.evidence.rfc6962 import hash_children, hash_leaf
from canary_stream.evidence.signing import CheckpointKey, load_checkpoint_key

HERE = Path(__file__).resolve().parent
MERCHANT = uuid.UUID("0190d3a2-7b4c-7def-8a12-3456789abcde")
KEY_NAME = "canary-stream"
SEED = bytes(range(32))
SEQ = 8


def raw_event(seq: int) -> bytes:
    """The raw bytes of the example's event ``seq`` (a trimmed Square-shaped body)."""
    return (
        '{"merchant_id":"MLEXAMPLE","type":"payment.created",'
        f'"event_id":"example-{seq:02d}","data":{{"amount":{100 * seq}}}}}'
    ).encode()


def key() -> CheckpointKey:
    return load_checkpoint_key(KEY_NAME, base64.b64encode(SEED).decode())


def example() -> tuple[ProofBundle, dict[str, object]]:
    """The bundle of seq 8 and the intermediate values of its verification."""
    raws = {seq: raw_event(seq) for seq in range(1, 11)}
    links = next_links(0, None, [hashlib.sha256(raws[s]).digest() for s in range(1, 11)])
    leaves = [Leaf(link.seq, uuid.UUID(int=link.seq), link.chain_hash) for link in links]
    state = OpenState(MERCHANT, 0, 0, ZERO_ROOT, 10, None)
    first, second = build_batches(state, [SeqRange(1, 5), SeqRange(6, 10)], leaves, key())
    link = links[SEQ - 1]
    index = SEQ - second.checkpoint.first_seq
    bundle = make_bundle(
        merchant_id=str(MERCHANT),
        seq=SEQ,
        raw=raws[SEQ],
        event_hash=link.event_hash,
        prev_chain_hash=link.prev_chain_hash,
        chain_hash=link.chain_hash,
        later_event_hashes=[lk.event_hash for lk in links[SEQ:10]],
        batch_no=second.checkpoint.batch_no,
        leaf_index=index,
        tree_size=second.checkpoint.tree_size,
        audit_path=second.audit_paths[index],
        root_hash=second.checkpoint.root_hash,
        note=second.note,
        key_name=KEY_NAME,
        public_key=key().public_key,
    )
    leaf = hash_leaf(link.chain_hash)
    path = second.audit_paths[index]
    # Leaf 2 of 5 (RFC 9162 section 2.1.3.2): right sibling, left sibling, right sibling.
    step1 = hash_children(leaf, path[0])
    step2 = hash_children(path[1], step1)
    step3 = hash_children(step2, path[2])
    values: dict[str, object] = {
        "key_id": key().key_id.hex(),
        "public_key_hex": key().public_key.hex(),
        "event_hash": link.event_hash.hex(),
        "prev_chain_hash": link.prev_chain_hash.hex() if link.prev_chain_hash else None,
        "chain_hash": link.chain_hash.hex(),
        "leaf_hash": leaf.hex(),
        "batch1_root": first.checkpoint.root_hash.hex(),
        "batch2_root": second.checkpoint.root_hash.hex(),
        "checkpoint_body": format_checkpoint(second.checkpoint),
        "chain_9": links[8].chain_hash.hex(),
        "chain_10": links[9].chain_hash.hex(),
        "step1": step1.hex(),
        "step2": step2.hex(),
        "step3": step3.hex(),
    }
    return bundle, values


def main() -> None:
    bundle, values = example()
    (HERE / "example.json").write_bytes(bundle.to_bytes())
    (HERE / "example-values.json").write_text(json.dumps(values, indent=2) + "\n")
    print(f"wrote {HERE / 'example.json'}")


if __name__ == "__main__":
    main()
