"""Structured logs through the real processes: webhooks carrying a secret-looking token and
personal data (email, name, card last 4) go through ingress, seal and parse, valid and not;
no log file of the pipeline contains any of it, and JSON lines about events carry
``event_id``, ``merchant_id``, ``stage`` and ``outcome``."""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path

import pytest
from harness import square_body, wait_for

pytestmark = pytest.mark.integration

VECTOR = Path(__file__).parents[1] / "vectors" / "square" / "webhooks" / "payment.created.json"
SECRET = "sk_live_" + "Zx9QleakMe7Hn2Vb8Kd4"
EMAIL = "marguerite.logcheck@example.org"
NAME = "Marguerite Logcheckova"
LAST4 = "7391"


def body_with_secrets(pmid: str) -> bytes:
    body = copy.deepcopy(json.loads(VECTOR.read_text())["body"])
    body["merchant_id"] = pmid
    body["event_id"] = f"evt-{uuid.uuid4()}"
    payment = body["data"]["object"]["payment"]
    body["data"]["id"] = payment["id"] = f"pay{uuid.uuid4().hex[:20]}"
    payment["buyer_email_address"] = EMAIL
    payment["note"] = f"api key {SECRET}"
    payment.setdefault("billing_address", {}).update(first_name="Marguerite", last_name=NAME)
    card = payment.setdefault("card_details", {}).setdefault("card", {})
    card.update(last_4=LAST4, cardholder_name=NAME)
    return json.dumps(body).encode()


async def test_logs_are_json_and_carry_no_secrets(pipeline_factory, engine) -> None:
    pipe = pipeline_factory()
    _merchant_id, pmid = pipe.add_merchant()
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse"):
        pipe.start(name)
    for _ in range(5):
        assert pipe.post(body_with_secrets(pmid))[0] == 200
    # Not parseable by Square's parsers (a parse failure), still carrying the data.
    assert pipe.post(square_body(pmid, note=f"{SECRET} {EMAIL} {NAME} {LAST4}"))[0] == 200
    # Unauthenticated: a bad signature and a token in a header; an unknown merchant.
    pipe.post(body_with_secrets(pmid), signature="bad", headers={"Authorization": SECRET})
    pipe.post(body_with_secrets("MLUNKNOWN" + uuid.uuid4().hex[:6].upper()))
    pipe.post(b'{"merchant_id": "' + EMAIL.encode() + b'", "secret": "' + SECRET.encode())

    logs = pipe.root / "logs"

    def event_lines() -> list[dict]:
        found = []
        for path in logs.glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    doc = json.loads(line)
                    if doc.get("event_id") and doc.get("outcome"):
                        found.append(doc)
        stages = {d.get("stage") for d in found}
        return found if {"seal", "parse"} <= stages else []

    lines = await wait_for(event_lines, timeout=60, interval=1.0)
    for doc in lines:
        assert {"ts", "level", "logger", "msg", "event_id", "merchant_id", "stage"} <= set(doc)
        uuid.UUID(doc["event_id"])

    files = list(logs.glob("*.log"))
    assert {p.name.split("-")[0] for p in files} >= {"ingress", "seal", "parse"}
    last4 = re.compile(rf"(?<![0-9A-Za-z]){LAST4}(?![0-9A-Za-z])")
    for path in files:
        text = path.read_text(errors="replace")
        for needle in (SECRET, EMAIL, NAME, "Marguerite", "Logcheckova", pmid):
            assert needle not in text, f"{needle!r} found in {path.name}"
        assert not last4.search(text), f"card last 4 found in {path.name}"
