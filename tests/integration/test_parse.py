"""Parsing through the real processes: Square's own example webhooks (with personal data added)
become one PAYMENT and one REFUND, a refund link, fees and canonical events; nothing personal
reaches the ledger or canary.detection; an unknown type is IGNORED."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
from harness import read_topic, wait_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).parents[1] / "vectors" / "square" / "webhooks"
PII = {
    "buyer_email_address": "jane.doe.pii@example.com",
    "note": "leave at the back door PII-NOTE",
    "billing_address": {
        "address_line_1": "500 Electric Ave PII",
        "locality": "Springfield-PII",
        "postal_code": "10003",
        "first_name": "Janepii",
        "last_name": "Doepii",
    },
    "shipping_address": {"address_line_1": "1 Shipping Lane PII", "postal_code": "10004"},
}
CARD_PII = {
    "last_4": "9029",
    "exp_month": 11,
    "exp_year": 2031,
    "bin": "540988",
    "cardholder_name": "JANE Q DOEPII",
}
PII_STRINGS = [
    "jane.doe.pii@example.com",
    "PII-NOTE",
    "500 Electric Ave PII",
    "Springfield-PII",
    "Janepii",
    "Doepii",
    "1 Shipping Lane PII",
    "JANE Q DOEPII",
    "540988",
]


def _body(event_type: str, pmid: str, event_id: str) -> dict:
    body = copy.deepcopy(json.loads((VECTORS / f"{event_type}.json").read_text())["body"])
    body["merchant_id"] = pmid
    body["event_id"] = event_id
    return body


def _payment_bodies(pmid: str, payment_id: str) -> list[dict]:
    created = _body("payment.created", pmid, f"evt-{uuid.uuid4()}")
    updated = _body("payment.updated", pmid, f"evt-{uuid.uuid4()}")
    for body in (created, updated):
        payment = body["data"]["object"]["payment"]
        body["data"]["id"] = payment["id"] = payment_id
        payment.update(copy.deepcopy(PII))
        payment.setdefault("card_details", {}).setdefault("card", {}).update(CARD_PII)
    updated["data"]["object"]["payment"]["processing_fee"] = [
        {
            "effective_at": "2020-11-22T21:19:01.000Z",
            "type": "INITIAL",
            "amount_money": {"amount": 33, "currency": "USD"},
        }
    ]
    return [created, updated]


def _refund_bodies(pmid: str, payment_id: str, refund_id: str) -> list[dict]:
    bodies = []
    for event_type in ("refund.created", "refund.updated"):
        body = _body(event_type, pmid, f"evt-{uuid.uuid4()}")
        refund = body["data"]["object"]["refund"]
        body["data"]["id"] = refund["id"] = refund_id
        refund["payment_id"] = payment_id
        refund["amount_money"] = {"amount": 60, "currency": "USD"}
        bodies.append(body)
    return bodies


async def test_square_examples_become_ledger_rows_and_canonical_events(
    pipeline_factory, engine, owner_engine
):
    pipe = pipeline_factory()
    merchant_id, pmid = pipe.add_merchant()
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse"):
        pipe.start(name)
    payment_id = f"pay{uuid.uuid4().hex[:20]}"
    refund_id = f"{payment_id}_ref{uuid.uuid4().hex[:12]}"
    bodies = _payment_bodies(pmid, payment_id) + _refund_bodies(pmid, payment_id, refund_id)
    unknown = {
        "merchant_id": pmid,
        "type": "inventory.count.updated",
        "event_id": f"evt-{uuid.uuid4()}",
        "data": {"type": "inventory", "id": "x"},
    }
    for body in [*bodies, unknown, bodies[1]]:  # the last one is a redelivery
        status, _ = pipe.post(json.dumps(body).encode())
        assert status == 200

    # Square's payment.created example is APPROVED (delayed capture): an AUTHORIZATION too.
    rows = await wait_for(lambda: _transactions(engine, merchant_id, 3), timeout=60)
    assert [(r.transaction_type, r.external_id, r.amount_cents, r.currency) for r in rows] == [
        ("AUTHORIZATION", payment_id, 100, "USD"),
        ("PAYMENT", payment_id, 100, "USD"),
        ("REFUND", refund_id, 60, "USD"),
    ]
    rows = rows[1:]
    async with engine.connect() as conn:
        links = (
            await conn.execute(
                text(
                    "SELECT l.original_transaction_id, l.amount_cents FROM sales.refund_links l "
                    "JOIN sales.transactions t ON t.id = l.refund_transaction_id "
                    "WHERE t.merchant_id = :m"
                ),
                {"m": uuid.UUID(merchant_id)},
            )
        ).all()
        fees = (
            await conn.execute(
                text(
                    "SELECT t.transaction_type, f.fee_type, f.amount_cents "
                    "FROM sales.transaction_fees f JOIN sales.transactions t "
                    "ON t.id = f.transaction_id WHERE t.merchant_id = :m "
                    "ORDER BY 1"
                ),
                {"m": uuid.UUID(merchant_id)},
            )
        ).all()
    assert links == [(rows[0].id, 60)]
    assert [tuple(f) for f in fees] == [("PAYMENT", "INITIAL", 33), ("REFUND", "INITIAL", -59)]

    async def ignored() -> list[str]:
        # the unknown event may be parsed in a later batch than the refund
        async with engine.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT l.status FROM sales.ingestion_log l JOIN sales.evidence_records e "
                    "ON e.event_id = l.event_id "
                    "WHERE e.source_event_id = :s AND l.step = 'PARSE'"
                ),
                {"s": unknown["event_id"]},
            )
            return list(found.scalars().all())

    assert await wait_for(ignored, timeout=30) == ["IGNORED"]

    detection = await wait_for(lambda: _canonical(pipe, 2), timeout=30)
    transactions = [d for d in detection if d["kind"] == "transaction" and d["ledger"]]
    assert sorted((d["transaction_type"], d["external_id"]) for d in transactions) == [
        ("AUTHORIZATION", payment_id),
        ("PAYMENT", payment_id),
        ("REFUND", refund_id),
    ]
    refund = next(d for d in transactions if d["transaction_type"] == "REFUND")
    assert refund["original_transaction_id"] == str(rows[0].id)
    assert refund["original_occurred_at"] is not None
    payment = next(d for d in transactions if d["transaction_type"] == "PAYMENT")
    assert len(payment["card"]["fingerprint_hash"]) == 64
    published_payments = [d for d in detection if d.get("external_id") == payment_id]
    assert len(published_payments) == 2  # one per type, the redelivery published nothing

    tailed = pipe.cli(
        "tail", pipe.topic("detection"), "--from-beginning", "--no-follow", "--merchant", pmid
    )
    assert {json.loads(line)["canonical_id"] for line in tailed.stdout.splitlines()} >= {
        payment["canonical_id"],
        refund["canonical_id"],
    }

    everything = json.dumps(detection) + await _dump_ledger(owner_engine, merchant_id)
    for secret in PII_STRINGS:
        assert secret not in everything, secret
    assert (
        "sq-1-Tvruf3vPQxlvI6n0IcKYfBukrcv6IqWr8UyBdViWXU2yzGn5VMJvrsHMKpINMhPmVg" not in everything
    )


async def _transactions(engine, merchant_id, n):
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT * FROM sales.transactions WHERE merchant_id = :m "
                    "ORDER BY transaction_type"
                ),
                {"m": uuid.UUID(merchant_id)},
            )
        ).all()
    return rows if len(rows) >= n else None


async def _canonical(pipe, n):
    records = await read_topic(pipe.settings(), pipe.topic("detection"))
    values = [json.loads(r.value) for r in records]
    ledgered = [v for v in values if v.get("ledger")]
    return values if len(ledgered) >= n + 1 else None


async def _dump_ledger(owner_engine, merchant_id) -> str:
    """Every row of every sales.* and app.* table that belongs to the merchant, as text."""
    out = []
    async with owner_engine.connect() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.columns "
                        "WHERE table_schema IN ('sales', 'app') AND column_name = 'merchant_id'"
                    )
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            if table == "sales.evidence_records":
                continue  # sealed bytes are evidence: kept, encrypted
            rows = (
                await conn.execute(
                    text(f"SELECT * FROM {table} WHERE merchant_id = :m"),
                    {"m": uuid.UUID(merchant_id)},
                )
            ).all()
            out.extend(str(tuple(r)) for r in rows)
    return "\n".join(out)
