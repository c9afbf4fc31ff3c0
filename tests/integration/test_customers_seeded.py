"""A seeded day of simulated traffic through ingress, seal, parse and customers: every
``app.customers`` row of both merchants — lifetime value, count and first / last seen in
business time — equals the figures computed independently from the generated webhooks
(:mod:`canary_stream.simulate.expected_customers`), and ``customers rebuild`` finds no
difference."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from harness import read_topic, wait_for
from sqlalchemy import text

from canary_stream.simulate.expected_customers import ExpectedCustomer, expected_customers
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


def _covers(want: dict[str, ExpectedCustomer]) -> bool:
    """Whether a merchant's day exercises what is checked: paying customers, customers seen at
    several times, and rows only lifecycle events created."""
    return (
        any(v.transaction_count > 0 for v in want.values())
        and any(v.first_seen_at != v.last_seen_at for v in want.values())
        and any(v.first_seen_at is None for v in want.values())
    )


def covering_day() -> tuple[list[str], list[Any], dict[str, dict[str, ExpectedCustomer]]]:
    """Fresh merchant ids (the database is shared between runs) whose seeded day covers every
    case; the traffic depends on the ids, and a few per cent of pairs lack a lifecycle-only
    customer, so draw again until both merchants cover."""
    for _ in range(50):
        pmids = [f"MLCUS{uuid.uuid4().hex[:10].upper()}" for _ in range(2)]
        hooks = seeded_day(pmids)
        expected = expected_customers(hooks)
        if all(_covers(expected.get(pmid, {})) for pmid in pmids):
            return pmids, hooks, expected
    raise AssertionError("no pair of merchant ids in 50 draws gives a covering day")


async def test_a_seeded_day_keeps_customers_exact(pipeline_factory, engine):
    pipe = pipeline_factory()
    pmids, hooks, expected = covering_day()
    ours = {pmid: pipe.add_merchant(pmid)[0] for pmid in pmids}
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse", "customers"):
        pipe.start(name)
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
    # parse logs before it publishes: read the topic until two reads agree and customers has
    # logged every event on it
    seen: list[int] = []

    async def caught_up() -> bool:
        detection = await read_topic(pipe.settings(), pipe.topic("detection"))
        seen.append(len({json.loads(r.value)["event_id"] for r in detection}))
        stable = len(seen) > 1 and seen[-1] == seen[-2]
        return stable and await _logged(engine, merchant_ids, "CUSTOMERS", seen[-1])

    await wait_for(caught_up, 180, 1)

    for pmid, merchant_id in ours.items():
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT square_customer_id, lifetime_value_cents, transaction_count, "
                    "first_seen_at, last_seen_at FROM app.customers WHERE merchant_id = :m"
                ),
                {"m": uuid.UUID(merchant_id)},
            )
            have = {r[0]: ExpectedCustomer(r[1], r[2], r[3], r[4]) for r in rows}
        assert have == expected[pmid], pmid
        rebuilt = pipe.cli("customers", "rebuild", "--merchant", merchant_id, check=False)
        assert rebuilt.returncode == 0, rebuilt.stdout[-2000:] + rebuilt.stderr
        assert "0 difference(s)" in rebuilt.stdout


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
