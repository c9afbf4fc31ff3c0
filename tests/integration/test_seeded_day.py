"""A seeded day of simulated traffic through the real ingress, seal and parse: the ledger's row
counts and sums per type equal the figures computed independently from the generated traffic
(canary_stream.simulate.expected, which shares no code with the parsers)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from harness import read_topic, wait_for
from sqlalchemy import text

from canary_stream.simulate.expected import expected_ledger
from canary_stream.simulate.payloads import Traffic
from canary_stream.simulate.runner import send_one

pytestmark = pytest.mark.integration

DAY_START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
RATE = 0.03  # webhooks per second of business time: about 2,600 in the day


def seeded_day(merchants: list[str]) -> list:
    hooks = []
    end = DAY_START + timedelta(days=1)
    for hook in Traffic(20261102, merchants, start=DAY_START, rate=RATE):
        if datetime.fromisoformat(hook.created_at.replace("Z", "+00:00")) >= end:
            break
        hooks.append(hook)
    return hooks


async def test_a_seeded_day_matches_the_independent_ledger(pipeline_factory, engine):
    pipe = pipeline_factory()
    pmids = [f"MLDAY{uuid.uuid4().hex[:10].upper()}" for _ in range(2)]
    ours = {pmid: pipe.add_merchant(pmid)[0] for pmid in pmids}
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse"):
        pipe.start(name)
    hooks = seeded_day(pmids)
    assert len(hooks) > 2000
    async with aiohttp.ClientSession() as session:
        statuses = [
            await send_one(
                session, pipe.notification_url, h.body, pipe.signature_key, pipe.notification_url
            )
            for h in hooks  # in order: Square's order per object
        ]
    assert set(statuses) == {200}
    await wait_for(
        lambda: _parsed(engine, list(ours.values()), len(hooks)), timeout=180, interval=1
    )

    expected = expected_ledger(hooks)
    detection = [
        json.loads(r.value) for r in await read_topic(pipe.settings(), pipe.topic("detection"))
    ]
    for pmid, merchant_id in ours.items():
        want, have = expected[pmid], await _ledger(engine, uuid.UUID(merchant_id))
        for ttype in ("AUTHORIZATION", "PAYMENT", "VOID", "REFUND"):
            assert have["transactions"].get(ttype, (0, 0, 0)) == (
                want["transactions"][ttype]["count"],
                want["transactions"][ttype]["amount"],
                want["transactions"][ttype]["tip"],
            ), (pmid, ttype)
        assert have["fees"] == (want["fees"]["count"], want["fees"]["sum"])
        assert have["refund_links"] == (want["refund_links"]["count"], want["refund_links"]["sum"])
        for name, table in (
            ("disputes", "disputes"),
            ("gift_cards", "gift_cards"),
            ("payouts", "payouts"),
        ):
            assert have[table] == {
                k: (v["count"], v["sum"]) for k, v in want[name].items() if v["count"]
            }, (pmid, name)
        assert have["loyalty"] == {
            k: (v["count"], v["points"]) for k, v in want["loyalty"].items() if v["count"]
        }
        failed = {
            d["external_id"]
            for d in detection
            if d["merchant_id"] == merchant_id
            and d["kind"] == "transaction"
            and d["status"] == "FAILED"
            and d["transaction_type"] == "PAYMENT"
        }
        assert len(failed) == want["failed_payments"]


FEES = (
    "SELECT count(*), coalesce(sum(f.amount_cents), 0) FROM sales.transaction_fees f "
    "JOIN sales.transactions t ON t.id = f.transaction_id WHERE t.merchant_id = :m"
)
LINKS = (
    "SELECT count(*), coalesce(sum(l.amount_cents), 0) FROM sales.refund_links l "
    "JOIN sales.transactions t ON t.id = l.refund_transaction_id WHERE t.merchant_id = :m"
)


async def _parsed(engine, merchant_ids, n):
    async with engine.connect() as conn:
        done = (
            await conn.execute(
                text(
                    "SELECT count(DISTINCT l.event_id) FROM sales.ingestion_log l "
                    "WHERE l.step = 'PARSE' AND l.merchant_id = ANY(:m)"
                ),
                {"m": [uuid.UUID(m) for m in merchant_ids]},
            )
        ).scalar_one()
    return done >= n


async def _ledger(engine, m: uuid.UUID) -> dict:
    async with engine.connect() as conn:

        async def grouped(sql: str) -> dict:
            return {r[0]: tuple(r[1:]) for r in await conn.execute(text(sql), {"m": m})}

        return {
            "transactions": await grouped(
                "SELECT transaction_type, count(*), sum(amount_cents), coalesce(sum(tip_cents), 0) "
                "FROM sales.transactions WHERE merchant_id = :m GROUP BY 1"
            ),
            "fees": tuple(
                (
                    await conn.execute(
                        text(FEES),
                        {"m": m},
                    )
                ).one()
            ),
            "refund_links": tuple(
                (
                    await conn.execute(
                        text(LINKS),
                        {"m": m},
                    )
                ).one()
            ),
            "disputes": await grouped(
                "SELECT state, count(*), sum(amount_cents) FROM sales.disputes "
                "WHERE merchant_id = :m GROUP BY 1"
            ),
            "gift_cards": await grouped(
                "SELECT activity, count(*), sum(amount_cents) FROM sales.gift_card_activities "
                "WHERE merchant_id = :m GROUP BY 1"
            ),
            "payouts": await grouped(
                "SELECT status, count(*), sum(amount_cents) FROM sales.payouts "
                "WHERE merchant_id = :m GROUP BY 1"
            ),
            "loyalty": await grouped(
                "SELECT event_type, count(*), coalesce(sum(points), 0) FROM sales.loyalty_events "
                "WHERE merchant_id = :m GROUP BY 1"
            ),
        }
