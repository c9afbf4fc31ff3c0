"""Checkpoint bodies (evidence.md) and their signed notes, byte for byte.

The root is the 8-leaf CT test tree root (transparency-dev/merkle testonly/constants.go);
`echo <hex> | xxd -r -p | base64` gives its base64. The key id reproduces with
`(printf 'canary-stream-dev\\n\\x01'; echo -n <public key hex> | xxd -r -p) | sha256sum`.
"""

from __future__ import annotations

import dataclasses

import pytest

from canary_stream.evidence.checkpoint import (
    ZERO_ROOT,
    Checkpoint,
    format_checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from canary_stream.evidence.errors import CheckpointError, InvalidNoteSignature
from canary_stream.evidence.note import key_id, public_key_from_seed

ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
HEAD = bytes.fromhex("3d4df2be59ff78c645b83b05a1df8ca767a885cab13a153c8e532af97db258d6")
MERCHANT = "0190d3a2-7b4c-7def-8a12-3456789abcde"
CP = Checkpoint(
    merchant_id=MERCHANT,
    tree_size=8,
    root_hash=ROOT,
    batch_no=1,
    first_seq=1,
    last_seq=8,
    prev_root_hash=ZERO_ROOT,
    chain_head=HEAD,
)
BODY = (
    "canary-stream/0190d3a2-7b4c-7def-8a12-3456789abcde\n"
    "8\n"
    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    "batch 1\n"
    "seq 1-8\n"
    "prev-root AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    "chain-head 3d4df2be59ff78c645b83b05a1df8ca767a885cab13a153c8e532af97db258d6\n"
)
KEY_NAME = "canary-stream-dev"
SEED = bytes(range(32))
PUBLIC = bytes.fromhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
NOTE = (
    BODY + "\n\u2014 canary-stream-dev G7sZg2ogAImkSuW9Pi2V4tQZIahUVgQp1WCtfevIgS5FTR9yG5oPoyfJrV9"
    "EBnrIVkhBqeQ4SvvTUh9zzL2P5CGWzQY=\n"
)


def test_format() -> None:
    assert CP.origin == "canary-stream/0190d3a2-7b4c-7def-8a12-3456789abcde"
    assert format_checkpoint(CP) == BODY


def test_parse_round_trips() -> None:
    assert parse_checkpoint(BODY) == CP
    later = dataclasses.replace(
        CP, tree_size=100, batch_no=12, first_seq=1101, last_seq=1200, prev_root_hash=ROOT
    )
    assert parse_checkpoint(format_checkpoint(later)) == later


def test_signed_note() -> None:
    assert public_key_from_seed(SEED) == PUBLIC
    assert key_id(KEY_NAME, PUBLIC).hex() == "1bbb1983"
    assert sign_checkpoint(CP, KEY_NAME, SEED) == NOTE
    assert open_checkpoint(NOTE, KEY_NAME, PUBLIC) == CP


def test_changed_chain_head_breaks_the_signature() -> None:
    forged = NOTE.replace("chain-head 3d4d", "chain-head 3d4e")
    with pytest.raises(InvalidNoteSignature):
        open_checkpoint(forged, KEY_NAME, PUBLIC)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("canary-stream/", "canary/"),
        ("\n8\n", "\n08\n"),
        ("\n8\n", "\n+8\n"),
        ("\n8\n", "\n 8\n"),
        ("batch 1\n", "batch 01\n"),
        ("batch 1\n", "Batch 1\n"),
        ("seq 1-8", "seq 1 - 8"),
        (
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg",
        ),
        (
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=",
        ),
        ("chain-head 3d4d", "chain-head 3D4D"),
        ("chain-head 3d4df2be", "chain-head 3d4df2"),
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAA"),
        ("\nchain-head", "\nextra line\nchain-head"),
        ("d6\n", "d6"),
        ("d6\n", "d6\n\n"),
        ("\n", "\r\n"),
    ],
)
def test_parse_rejects_non_canonical(old: str, new: str) -> None:
    assert old in BODY
    with pytest.raises(CheckpointError):
        parse_checkpoint(BODY.replace(old, new, 1))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"merchant_id": ""}, "merchant id '' is empty or has spaces"),
        ({"merchant_id": "a b"}, "is empty or has spaces"),
        ({"batch_no": 0}, "need batch >= 1"),
        ({"first_seq": 0, "tree_size": 9}, "1 <= first_seq <= last_seq"),
        ({"first_seq": 9, "last_seq": 8}, "1 <= first_seq <= last_seq"),
        ({"tree_size": 7}, "tree size 7 does not cover seq 1-8"),
        ({"root_hash": bytes(31)}, "root_hash has 31 bytes, want 32"),
        ({"prev_root_hash": b""}, "prev_root_hash has 0 bytes, want 32"),
        ({"chain_head": bytes(33)}, "chain_head has 33 bytes, want 32"),
    ],
)
def test_inconsistent_fields(changes: dict[str, object], message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        dataclasses.replace(CP, **changes)  # type: ignore[arg-type]
