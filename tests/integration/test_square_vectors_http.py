"""Square's published signature vectors, posted over HTTP to the real ingress with their key
and notification URL: 200 (or 202 where the body names no merchant), 401 after any change."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from harness import evidence_rows, wait_for

pytestmark = pytest.mark.integration

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "square" / "signature_vectors.json").read_text()
)["cases"]
VALID = [c for c in VECTORS if c["want_valid"]]
WITH_MERCHANT = next(c for c in VALID if '"merchant_id"' in c["body"])


def _flip(text: str, index: int) -> str:
    return text[:index] + chr(ord(text[index]) ^ 1) + text[index + 1 :]


async def test_square_vectors_over_http(pipeline_factory, engine):
    pipe = pipeline_factory()
    merchant_id, _ = pipe.add_merchant(json.loads(WITH_MERCHANT["body"])["merchant_id"])
    for case in VALID:
        pipe.add_signature_key(key=case["signature_key"], url=case["notification_url"])
    pipe.start("ingress")
    pipe.start("seal")

    body = WITH_MERCHANT["body"].encode()
    signature = WITH_MERCHANT["signature_header"]
    status, answer = pipe.post(body, signature=signature)
    assert (status, answer["status"]) == (200, "accepted")
    rows = await wait_for(lambda: _row_for(engine, merchant_id, json.loads(body)["event_id"]))
    assert bytes(rows.event_hash) == hashlib.sha256(body).digest()
    assert rows.raw_size == len(body)

    escaped = next(c for c in VALID if '"merchant_id"' not in c["body"])
    status, answer = pipe.post(escaped["body"].encode(), signature=escaped["signature_header"])
    assert (status, answer["reason"]) == (202, "unparseable")

    for i in range(len(signature) - 1):  # the last character only carries base64 padding bits
        status, _ = pipe.post(body, signature=_flip(signature, i))
        assert status == 401, f"signature changed at {i}"
    for i in (0, len(body) // 2, len(body) - 1):
        changed = bytearray(body)
        changed[i] ^= 0x01
        status, _ = pipe.post(bytes(changed), signature=signature)
        assert status == 401, f"body changed at {i}"
    # Invalid vectors that change what is sent (the URL- and key-mismatch vectors change what
    # is registered, which the unit tests of the signature module cover).
    sent_valid = {(c["body"], c["signature_header"]) for c in VALID}
    for case in VECTORS:
        if case["want_valid"] or (case["body"], case["signature_header"]) in sent_valid:
            continue
        status, _ = pipe.post(case["body"].encode(), signature=case["signature_header"])
        assert status == 401, case["desc"]
    assert base64.b64decode(signature)  # the header really is base64


async def _row_for(engine, merchant_id, source_event_id):
    for row in await evidence_rows(engine, merchant_id):
        if row.source_event_id == source_event_id:
            return row
    return None
