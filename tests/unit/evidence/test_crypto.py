"""Column encryption: the shipped vector, binding to row/column/merchant, tampering, rotation.

The vector tests/vectors/crypto/column_v1.json is written by generate.py beside it, which
assembles the layout by hand around cryptography's AESGCM (not through KeyRing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from canary_stream.errors import ConfigError
from canary_stream.evidence.crypto import KeyRing, associated_data, key_id_of
from canary_stream.evidence.errors import CryptoError, DecryptError, KeyRingError

VECTOR = Path(__file__).resolve().parents[2] / "vectors" / "crypto" / "column_v1.json"
DATA: dict[str, Any] = json.loads(VECTOR.read_text(encoding="utf-8"))
KEYS = {kid: bytes.fromhex(k["hex"]) for kid, k in DATA["keys"].items()}
COLUMN = "sales.evidence_records.raw_payload_enc"
MERCHANT = "MLEFBHHSJGVHD"
ROW = "0190d3a2-7b4c-7def-8a12-3456789abcde"


def ids(case: dict[str, Any]) -> dict[str, str]:
    return {"column": case["column"], "merchant_id": case["merchant_id"], "row_id": case["row_id"]}


@pytest.mark.parametrize("case", DATA["cases"], ids=lambda c: c["desc"])
def test_vector_decrypts(case: dict[str, Any]) -> None:
    ring = KeyRing(KEYS)
    blob = bytes.fromhex(case["blob_hex"])
    assert ring.decrypt(blob, **ids(case)) == bytes.fromhex(case["plaintext_hex"])
    assert key_id_of(blob) == case["key_id"]


@pytest.mark.parametrize("case", DATA["cases"], ids=lambda c: c["desc"])
def test_vector_encrypts_byte_for_byte(case: dict[str, Any]) -> None:
    ring = KeyRing({case["key_id"]: KEYS[case["key_id"]]})
    blob = ring.encrypt(
        bytes.fromhex(case["plaintext_hex"]), nonce=bytes.fromhex(case["nonce_hex"]), **ids(case)
    )
    assert blob.hex() == case["blob_hex"]
    assert associated_data(**ids(case)).decode() == case["associated_data"]


def test_first_vector_exact_blob() -> None:
    case = DATA["cases"][0]
    assert case["blob_hex"] == (
        "6b3100a0a1a2a3a4a5a6a7a8a9aaab9d3a114837a86ade0c11d8ba6358fafc3de01c56d0ff0a3fd649"
        "70ce3b895923a60f379a8d18714d3ee569ad670ead9a357e273c07b43803077367c24e26ff8113a484"
        "f96ab014a6"
    )
    blob = bytes.fromhex(case["blob_hex"])
    assert blob[:3] == b"k1\x00" and blob[3:15] == bytes(range(0xA0, 0xAC))


def test_associated_data_layout() -> None:
    assert associated_data(COLUMN, MERCHANT, ROW) == (
        b"sales.evidence_records.raw_payload_enc|MLEFBHHSJGVHD|0190d3a2-7b4c-7def-8a12-3456789abcde"
    )
    assert associated_data("app.webhook_signing_keys.secret_enc", "", "k1") == (
        b"app.webhook_signing_keys.secret_enc||k1"
    )


@pytest.mark.parametrize(
    ("column", "merchant", "row", "message"),
    [
        ("evidence_records.raw_payload_enc", MERCHANT, ROW, "column must be"),
        ("sales..raw_payload_enc", MERCHANT, ROW, "column must be"),
        ("a.b.c.d", MERCHANT, ROW, "column must be"),
        ("sales.evidence|x.raw", MERCHANT, ROW, "column must be"),
        (COLUMN, "M|X", ROW, "merchant_id must not contain '|'"),
        (COLUMN, MERCHANT, "", "row_id must not be empty"),
    ],
)
def test_associated_data_rejects_ambiguous_ids(
    column: str, merchant: str, row: str, message: str
) -> None:
    with pytest.raises(CryptoError, match=message):
        associated_data(column, merchant, row)


@pytest.mark.parametrize(
    "other",
    [
        {"column": COLUMN, "merchant_id": MERCHANT, "row_id": ROW[:-1] + "f"},
        {"column": "sales.evidence_records.other_enc", "merchant_id": MERCHANT, "row_id": ROW},
        {"column": COLUMN, "merchant_id": "OTHERMERCHANT", "row_id": ROW},
    ],
    ids=["other row", "other column", "other merchant"],
)
def test_copied_ciphertext_fails(other: dict[str, str]) -> None:
    ring = KeyRing(KEYS)
    blob = bytes.fromhex(DATA["cases"][0]["blob_hex"])
    with pytest.raises(DecryptError, match="authentication failed") as info:
        ring.decrypt(blob, **other)
    assert KEYS["k1"].hex() not in str(info.value)
    assert "payment.created" not in str(info.value)


def test_every_flipped_byte_fails() -> None:
    ring = KeyRing(KEYS)
    blob = bytes.fromhex(DATA["cases"][0]["blob_hex"])
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(DecryptError):
            ring.decrypt(bytes(tampered), column=COLUMN, merchant_id=MERCHANT, row_id=ROW)


def test_error_messages_never_carry_secrets() -> None:
    ring = KeyRing(KEYS)
    plaintext = b"secret-plaintext-marker"
    blob = ring.encrypt(plaintext, column=COLUMN, merchant_id=MERCHANT, row_id=ROW)
    with pytest.raises(DecryptError) as info:
        ring.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), column=COLUMN, merchant_id=MERCHANT,
                     row_id=ROW)  # fmt: skip
    text = str(info.value) + repr(ring)
    assert str(info.value) == (
        f"authentication failed for {COLUMN} merchant 'MLEFBHHSJGVHD' row '{ROW}' (key 'k2'): "
        "wrong row, column or merchant, or a corrupted blob"
    )
    assert all(k.hex() not in text and repr(k) not in text for k in KEYS.values())
    assert "secret-plaintext-marker" not in text
    assert repr(ring) == "KeyRing(key_ids=('k1', 'k2'), current='k2')"


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "does not start with a key id"),
        (b"\x00" + bytes(40), "does not start with a key id"),
        (b"k1" + b"x" * 40, "does not start with a key id"),
        (b"k1\x00" + bytes(27), "blob of 30 bytes is too short for nonce and tag"),
        (b"k9\x00" + bytes(28), "unknown key id 'k9'"),
        (b"\xff\xfe\x00" + bytes(28), "key id is not valid UTF-8"),
        (b"x" * 65 + b"\x00" + bytes(28), "does not start with a key id"),
    ],
)
def test_bad_layout(blob: bytes, message: str) -> None:
    with pytest.raises(DecryptError, match=message):
        KeyRing(KEYS).decrypt(blob, column=COLUMN, merchant_id=MERCHANT, row_id=ROW)


def test_rotation_keeps_old_blobs_readable_and_encrypts_with_new_key() -> None:
    old_ring = KeyRing({"k1": KEYS["k1"]})
    old_blob = old_ring.encrypt(b"before rotation", column=COLUMN, merchant_id=MERCHANT, row_id=ROW)
    rotated = KeyRing({"k1": KEYS["k1"], "k2": KEYS["k2"]})
    assert rotated.current_key_id == "k2" and rotated.key_ids == ("k1", "k2")
    assert rotated.decrypt(old_blob, column=COLUMN, merchant_id=MERCHANT, row_id=ROW) == (
        b"before rotation"
    )
    new_blob = rotated.encrypt(b"after", column=COLUMN, merchant_id=MERCHANT, row_id=ROW)
    assert new_blob.startswith(b"k2\x00") and key_id_of(new_blob) == "k2"
    with pytest.raises(DecryptError, match="unknown key id 'k2'"):
        old_ring.decrypt(new_blob, column=COLUMN, merchant_id=MERCHANT, row_id=ROW)


def test_random_nonces_differ() -> None:
    ring = KeyRing(KEYS)
    a = ring.encrypt(b"x", column=COLUMN, merchant_id=MERCHANT, row_id=ROW)
    b = ring.encrypt(b"x", column=COLUMN, merchant_id=MERCHANT, row_id=ROW)
    assert a[3:15] != b[3:15]
    assert len(a) == 3 + 12 + 1 + 16


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({}, "the encryption key ring is empty"),
        ({"k1": bytes(16)}, "key 'k1' has 16 bytes, want 32"),
        ({"": bytes(32)}, "key id '' must be 1-64 UTF-8 bytes without NUL"),
        ({"a\x00b": bytes(32)}, "without NUL"),
        ({"x" * 65: bytes(32)}, "without NUL"),
    ],
)
def test_bad_key_ring(keys: dict[str, bytes], message: str) -> None:
    with pytest.raises(KeyRingError, match=message) as info:
        KeyRing(keys)
    assert isinstance(info.value, ConfigError)


def test_bad_nonce_length() -> None:
    with pytest.raises(CryptoError, match="nonce has 8 bytes, want 12"):
        KeyRing(KEYS).encrypt(b"x", column=COLUMN, merchant_id=MERCHANT, row_id=ROW,
                              nonce=bytes(8))  # fmt: skip
