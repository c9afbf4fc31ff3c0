"""A seeded day of simulated traffic through ingress, seal, parse and customers: each known
customer's lifetime value and count equal the figures computed here independently from the
generated webhooks, and ``customers rebuild`` finds no difference (first / last seen too)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from harness import read_topic, wait_for
from sqlalchemy import text

from canary_stream.simulate.payloads import Traffic
from canary_stream.simulate.runner import send_one

pytestmark = pytest.mark.integration

DAY_START = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
RATE = 0.02


def seeded_day(merchants: list[str]) -> list[Any]:
    hooks = []
    end = DAY_START + timedelta(days=1)
    for hook in Traffic(20261103, merchants, start=DAY_START, rate=RATE):
        if datetime.fromisoformat(hook.created_at.replace("Z", "+00:00")) >= end:
            break
        hooks.append(hook)
    return hooks


def expected_customers(hooks: list[Any]) -> dict[str, dict[str, tuple[int, int]]]:
    """``{square merchant: {square customer: (LTV, count)}}`` from the webhooks alone."""
    ltv: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    owner: dict[tuple[str, str], str | None] = {}  # (merchant, payment id) → customer
    done: set[tuple[str, ...]] = set()
    for hook in hooks:
        body = json.loads(hook.body)
        m, data = str(body["merchant_id"]), body["data"]
        obj = next(iter(data["object"].values()))
        amount = int((obj.get("amount_money") or {}).get("amount", 0))
        if data["type"] == "payment" and obj.get("status") == "COMPLETED":
            if (m, "pay", obj["id"]) in done:
                continue
            done.add((m, "pay", obj["id"]))
            owner[(m, obj["id"])] = obj.get("customer_id")
            if obj.get("customer_id"):
                ltv[m][obj["customer_id"]][0] += amount
                ltv[m][obj["customer_id"]][1] += 1
        elif data["type"] == "refund" and obj.get("status") == "COMPLETED":
            customer = owner.get((m, obj.get("payment_id")))
            if customer and (m, "ref", obj["id"]) not in done:
                done.add((m, "ref", obj["id"]))
                ltv[m][customer][0] -= amount
        elif body["type"].startswith("dispute.") and obj.get("state") == "LOST":
            pid = (obj.get("disputed_payment") or {}).get("payment_id")
            customer = owner.get((m, pid))
            if customer and (m, "lost", pid) not in done:
                done.add((m, "lost", pid))
                ltv[m][customer][0] -= amount
    return {m: {c: (v[0], v[1]) for c, v in cs.items()} for m, cs in ltv.items()}


async def test_a_seeded_day_keeps_customers_exact(pipeline_factory, engine):
    pipe = pipeline_factory()
    pmids = [f"MLCUS{uuid.uuid4().hex[:10].upper()}" for _ in range(2)]
    ours = {pmid: pipe.add_merchant(pmid)[0] for pmid in pmids}
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse", "customers"):
        pipe.start(name)
    hooks = seeded_day(pmids)
    async with aiohttp.ClientSession() as session:
        statuses = [
            await send_one(
                session, pipe.notification_url, h.body, pipe.signature_key, pipe.notification_url
            )
            for h in hooks
        ]
    assert set(statuses) == {200}
    merchant_ids = [uuid.UUID(m) for m in ours.values()]
    await wait_for(lambda: _logged(engine, merchant_ids, "PARSE", len(hooks)), 180, 1)
    detection = await read_topic(pipe.settings(), pipe.topic("detection"))
    events = {json.loads(r.value)["event_id"] for r in detection}
    await wait_for(lambda: _logged(engine, merchant_ids, "CUSTOMERS", len(events)), 180, 1)

    expected = expected_customers(hooks)
    for pmid, merchant_id in ours.items():
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT square_customer_id, lifetime_value_cents, transaction_count "
                    "FROM app.customers WHERE merchant_id = :m AND transaction_count > 0"
                ),
                {"m": uuid.UUID(merchant_id)},
            )
            have = {r[0]: (r[1], r[2]) for r in rows}
        want = {c: v for c, v in expected.get(pmid, {}).items() if v[1] > 0}
        assert want, pmid  # the day has paying customers
        assert have == want, pmid
        rebuilt = pipe.cli("customers", "rebuild", "--merchant", merchant_id, check=False)
        assert rebuilt.returncode == 0, rebuilt.stdout[-2000:] + rebuilt.stderr


async def _logged(engine: Any, merchant_ids: list[uuid.UUID], step: str, n: int) -> bool:
    async with engine.connect() as conn:
        done = (
            await conn.execute(
                text(
                    "SELECT count(DISTINCT event_id) FROM sales.ingestion_log "
                    "WHERE step = :s AND merchant_id = ANY(:m)"
                ),
                {"s": step, "m": merchant_ids},
            )
        ).scalar_one()
    return bool(done >= n)
