"""The customers agent through the real processes: payments naming a customer, a failed card
attempt, a refund, a dispute LOST and ``customer.deleted`` keep ``app.customers``,
``customer_ledger`` and ``card_profiles`` exact — also after every webhook is redelivered and
every canonical event is delivered to the agent a second time; ``customers rebuild`` agrees."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import produce, read_topic, wait_for
from sqlalchemy import text

from canary_stream.customers.registry import customer_uuid

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).parents[1] / "vectors" / "square" / "webhooks"


#: Personal data of Square's example customer / payment (customer.created, payment.updated).
PII = ("jenkins+smorly@squareup.com", "Smorly", "Jenkins", "+12126668929", "1018 40th Street",
       "1962-03-04", "Oakland", "540988", "9029")  # fmt: skip


def _vector(name: str, pmid: str) -> dict[str, Any]:
    body = copy.deepcopy(json.loads((VECTORS / f"{name}.json").read_text())["body"])
    body["merchant_id"] = pmid
    body["event_id"] = f"evt-{uuid.uuid4()}"
    return body


def _money(cents: int) -> dict[str, Any]:
    return {"amount": cents, "currency": "USD"}


def payment(pmid: str, pid: str, cents: int, at: str, fingerprint: str, **kw: Any) -> dict:
    body = _vector("payment.updated", pmid)
    p = body["data"]["object"]["payment"]
    body["data"]["id"] = p["id"] = pid
    p.pop("order_id", None)
    p.update(
        created_at=at, updated_at=at, amount_money=_money(cents), total_money=_money(cents),
        approved_money=_money(cents),
    )  # fmt: skip
    card = p["card_details"]
    card["card"]["fingerprint"] = fingerprint
    card["card_payment_timeline"] = {"authorized_at": at, "captured_at": at}
    p.update(kw)
    if p["status"] == "FAILED":
        body["type"] = "payment.created"
        card["status"] = "FAILED"
        card.pop("card_payment_timeline")
    return body


def refund(pmid: str, pid: str, cents: int, at: str) -> dict:
    body = _vector("refund.updated", pmid)
    r = body["data"]["object"]["refund"]
    body["data"]["id"] = r["id"] = f"{pid}_ref"
    r.update(payment_id=pid, amount_money=_money(cents), created_at=at, updated_at=at)
    r.pop("order_id", None)
    r["processing_fee"] = []
    return body


def dispute(pmid: str, pid: str, cents: int, at: str) -> dict:
    body = _vector("dispute.state.updated", pmid)
    d = body["data"]["object"]["dispute"]
    body["data"]["id"] = d["id"] = f"dsp{uuid.uuid4().hex[:12]}"
    d.update(
        state="LOST",
        amount_money=_money(cents),
        updated_at=at,
        disputed_payment={"payment_id": pid},
    )
    return body


def customer_event(pmid: str, cid: str, type_: str, at: str) -> dict:
    body = _vector("customer.created", pmid)
    body["type"] = type_
    body["created_at"] = at
    c = body["data"]["object"]["customer"]
    body["data"]["id"] = c["id"] = cid
    return body


def ts(text_: str) -> datetime:
    return datetime.fromisoformat(text_.replace("Z", "+00:00")).astimezone(UTC)


async def _one(engine: Any, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).first()


async def test_registry_is_exact_under_redelivery(pipeline_factory, engine):
    pipe = pipeline_factory()
    merchant_id, pmid = pipe.add_merchant()
    other_id, other_pmid = pipe.add_merchant()
    mid = uuid.UUID(merchant_id)
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse", "customers"):
        pipe.start(name)
    cid = f"CUST{uuid.uuid4().hex[:10].upper()}"
    fingerprint = f"sq-1-{uuid.uuid4().hex}"
    p1, p2 = f"pay{uuid.uuid4().hex[:16]}", f"pay{uuid.uuid4().hex[:16]}"
    bodies = [
        customer_event(pmid, cid, "customer.created", "2026-04-30T08:00:00Z"),
        payment(pmid, p1, 5000, "2026-05-01T10:00:00Z", fingerprint, customer_id=cid),
        payment(
            pmid,
            f"pay{uuid.uuid4().hex[:16]}",
            900,
            "2026-05-02T09:00:00Z",
            fingerprint,
            status="FAILED",
        ),
        payment(pmid, p2, 700, "2026-05-03T10:00:00Z", fingerprint, customer_id=cid),
        refund(pmid, p1, 1200, "2026-05-04T10:00:00Z"),
        dispute(pmid, p1, 3000, "2026-05-06T10:00:00Z"),
        customer_event(pmid, cid, "customer.deleted", "2026-05-07T00:00:00Z"),
        # the same Square customer id and card at another merchant: unrelated rows
        payment(other_pmid, p1, 250, "2026-05-01T11:00:00Z", fingerprint, customer_id=cid),
    ]
    for body in bodies:
        assert pipe.post(json.dumps(body).encode())[0] == 200
    row_sql = "SELECT * FROM app.customers WHERE merchant_id = :m AND square_customer_id = :c"

    async def settled() -> Any:
        row = await _one(engine, row_sql, m=mid, c=cid)
        return row if row is not None and row.db_status == "archived" else None

    await wait_for(settled, timeout=90)

    # Redeliver: every webhook again (seal dedupes) and every canonical event of the merchant
    # straight to the agent again (a consumer-level redelivery / replay).
    for body in bodies:
        assert pipe.post(json.dumps(body).encode())[0] == 200
    settings = pipe.settings()
    records = await read_topic(settings, pipe.topic("detection"))
    detection = [r for r in records if r.key == merchant_id.encode()]
    assert len(detection) >= 7
    again = [(r.key, r.value) for r in detection]
    # and a second canonical event for p2's PAYMENT row carrying another version's time and
    # amount (parse publishes one per version when two land in one batch): the row decides
    second = next(
        json.loads(v)
        for _, v in again
        if json.loads(v).get("external_id") == p2 and json.loads(v)["transaction_type"] == "PAYMENT"
    )
    second.update(occurred_at="2026-05-09T10:00:00Z", amount_cents=9999)
    again.append((merchant_id.encode(), json.dumps(second).encode()))
    await produce(settings, pipe.topic("detection"), again)
    sentinel = f"SENT{uuid.uuid4().hex[:8].upper()}"
    sentinel_body = customer_event(pmid, sentinel, "customer.created", "2026-05-08T00:00:00Z")
    assert pipe.post(json.dumps(sentinel_body).encode())[0] == 200
    await wait_for(lambda: _one(engine, row_sql, m=mid, c=sentinel), timeout=90)

    row = await _one(engine, row_sql, m=mid, c=cid)
    assert row.id == customer_uuid(mid, cid)
    assert (row.lifetime_value_cents, row.transaction_count) == (5000 + 700 - 1200 - 3000, 2)
    assert (row.first_seen_at, row.last_seen_at) == (
        ts("2026-05-01T10:00:00Z"),
        ts("2026-05-06T10:00:00Z"),
    )
    assert (row.db_status, row.db_effective_to) == ("archived", ts("2026-05-07T00:00:00Z"))
    async with engine.connect() as conn:
        ledger = (
            await conn.execute(
                text(
                    "SELECT kind, ltv_delta_cents, count_delta FROM app.customer_ledger "
                    "WHERE merchant_id = :m ORDER BY occurred_at"
                ),
                {"m": mid},
            )
        ).all()
        cards = (
            await conn.execute(
                text("SELECT * FROM app.card_profiles WHERE merchant_id = :m"), {"m": mid}
            )
        ).all()
        count = (
            await conn.execute(
                text("SELECT count(*) FROM app.customers WHERE merchant_id = :m"), {"m": mid}
            )
        ).scalar_one()
    assert [tuple(r) for r in ledger] == [
        ("PAYMENT", 5000, 1),
        ("PAYMENT", 700, 1),
        ("REFUND", -1200, 0),
        ("DISPUTE_LOST", -3000, 0),
    ]
    assert count == 2  # the customer and the sentinel, no duplicates
    assert len(cards) == 1
    card = cards[0]
    assert (card.use_count, card.failed_count, card.card_brand) == (2, 1, "MASTERCARD")
    assert card.customer_id == row.id
    assert (card.first_seen_at, card.last_seen_at) == (
        ts("2026-05-01T10:00:00Z"),
        ts("2026-05-03T10:00:00Z"),
    )
    assert fingerprint.encode() not in card.fingerprint_hash

    other = await wait_for(lambda: _one(engine, row_sql, m=uuid.UUID(other_id), c=cid))
    assert (other.lifetime_value_cents, other.transaction_count, other.db_status) == (
        250,
        1,
        "active",
    )
    other_card = await _one(
        engine, "SELECT * FROM app.card_profiles WHERE merchant_id = :m", m=uuid.UUID(other_id)
    )
    assert other_card.fingerprint_hash != card.fingerprint_hash
    assert other_card.use_count == 1

    dumped = []
    async with engine.connect() as conn:
        for table in ("customers", "customer_ledger", "card_profiles"):
            sql = f"SELECT row_to_json(t)::text FROM app.{table} t WHERE merchant_id = :m"
            dumped += (await conn.execute(text(sql), {"m": mid})).scalars().all()
    for secret in (*PII, fingerprint):
        assert secret not in " ".join(dumped), secret

    for merchant in (merchant_id, other_pmid):
        rebuilt = pipe.cli("customers", "rebuild", "--merchant", merchant, check=False)
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert "0 difference(s)" in rebuilt.stdout
