"""Regenerate column_v1.json: ``.venv/bin/python tests/vectors/crypto/generate.py``.

Independent of canary_stream: it assembles the contracts.md layout by hand around
``cryptography``'s AESGCM, so the vector checks the KeyRing rather than echoing it.
Layout: key_id (utf-8) | 0x00 | nonce (12) | ciphertext‖tag; AAD
``{schema}.{table}.{column}|{merchant_id}|{row_id}``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = Path(__file__).resolve().parent

KEYS = {
    "k1": bytes(range(0x00, 0x20)),
    "k2": bytes(range(0x20, 0x40)),
}

CASES = [
    {
        "desc": "webhook body in sales.evidence_records.raw_payload_enc",
        "key_id": "k1",
        "nonce": bytes(range(0xA0, 0xAC)),
        "column": "sales.evidence_records.raw_payload_enc",
        "merchant_id": "MLEFBHHSJGVHD",
        "row_id": "0190d3a2-7b4c-7def-8a12-3456789abcde",
        "plaintext": b'{"merchant_id":"MLEFBHHSJGVHD","type":"payment.created"}',
    },
    {
        "desc": "empty plaintext, newer key k2",
        "key_id": "k2",
        "nonce": bytes(12),
        "column": "sales.evidence_records.raw_payload_enc",
        "merchant_id": "MLEFBHHSJGVHD",
        "row_id": "0190d3a2-7b4c-7def-8a12-3456789abcdf",
        "plaintext": b"",
    },
    {
        "desc": "application-level row: empty merchant id, non-UTF-8 plaintext",
        "key_id": "k2",
        "nonce": bytes.fromhex("ffffffffffffffffffffffff"),
        "column": "app.webhook_signing_keys.secret_enc",
        "merchant_id": "",
        "row_id": "sq-webhook-1",
        "plaintext": bytes([0xFF, 0xFE, 0x00, 0x80]),
    },
]


def build() -> dict[str, object]:
    cases = []
    for case in CASES:
        key_id, nonce = str(case["key_id"]), bytes(case["nonce"])  # type: ignore[arg-type]
        plaintext = bytes(case["plaintext"])  # type: ignore[arg-type]
        aad = f"{case['column']}|{case['merchant_id']}|{case['row_id']}"
        sealed = AESGCM(KEYS[key_id]).encrypt(nonce, plaintext, aad.encode())
        blob = key_id.encode() + b"\x00" + nonce + sealed
        cases.append(
            {
                "desc": case["desc"],
                "key_id": key_id,
                "column": case["column"],
                "merchant_id": case["merchant_id"],
                "row_id": case["row_id"],
                "associated_data": aad,
                "nonce_hex": nonce.hex(),
                "plaintext_hex": plaintext.hex(),
                "blob_hex": blob.hex(),
            }
        )
    return {
        "version": 1,
        "layout": "key_id (utf-8) | 0x00 | nonce (12 bytes) | ciphertext||tag (16 bytes)",
        "algorithm": "AES-256-GCM",
        "associated_data": "{schema}.{table}.{column}|{merchant_id}|{row_id}",
        "generator": "tests/vectors/crypto/generate.py (cryptography AESGCM, layout by hand)",
        "keys": {
            key_id: {"hex": key.hex(), "base64": base64.b64encode(key).decode()}
            for key_id, key in KEYS.items()
        },
        "cases": cases,
    }


if __name__ == "__main__":
    out = HERE / "column_v1.json"
    out.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
