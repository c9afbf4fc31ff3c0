"""Thin order events through the real processes and the fake Square: an order created in
the fake reaches the ingress as signed webhooks, parse queues the thin ``order.*`` events,
the fetch loop calls RetrieveOrder with the merchant's vault token, and the answer comes
back as a sealed POLLING envelope (exact bytes) and exactly one SALE with its line items and
tenders. A 429 storm at one merchant does not hold back another's orders; an order that
cannot be fetched ends as a ``deferred_exhausted`` dead letter, never a silent drop."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from harness import read_topic, wait_for
from sqlalchemy import text
from threaded_fake import APP_TOKEN, ThreadedFake, threaded_fake

from canary_stream.square.fake import Fault

pytestmark = pytest.mark.integration


async def new_order(fake: ThreadedFake, seller: str) -> dict[str, Any]:
    """A sale made in the fake now; its signed webhooks delivered to the subscribers."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{fake.url}/_fake/orders",
            json={"merchant_id": seller, "deliver": True},
            headers={"Authorization": f"Bearer {APP_TOKEN}"},
        ) as r:
            assert r.status == 200, await r.text()
            answer: dict[str, Any] = await r.json()
    assert all(d["status"] == 200 for d in answer["deliveries"]), answer["deliveries"]
    return answer


@pytest.fixture
def fake() -> Iterator[ThreadedFake]:
    with threaded_fake(2) as running:
        yield running


async def _rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


def _connected_pipeline(
    pipeline_factory: Any, fake: ThreadedFake, **overrides: str
) -> tuple[Any, list]:
    pipe = pipeline_factory(
        **fake.pipeline_env(),
        CANARY_FETCH_INTERVAL_SECONDS="0.2",
        CANARY_FETCH_RETRY_BASE_SECONDS="0.5",
        **overrides,
    )
    merchants = []
    for seller in fake.sellers:
        merchant_id, _ = pipe.add_merchant(seller.merchant_id, currency=seller.currency)
        pipe.cli("merchants", "connect", "--merchant", seller.merchant_id, "--fake")
        merchants.append(merchant_id)
    pipe.cli("webhooks", "register")  # the fake's subscription delivers to this ingress
    for name in ("ingress", "seal", "parse"):
        pipe.start(name)
    return pipe, merchants


SALES_SQL = (
    "SELECT t.id, t.external_id, "
    "(SELECT count(*) FROM sales.transaction_line_items li "
    " WHERE li.transaction_id = t.id) AS lines, "
    "(SELECT count(*) FROM sales.transaction_tenders td "
    " WHERE td.transaction_id = t.id) AS tenders "
    "FROM sales.transactions t WHERE t.merchant_id = :m AND t.transaction_type = 'SALE' "
    "AND t.external_id = :o"
)


async def test_an_order_made_in_the_fake_becomes_one_sealed_sale(pipeline_factory, engine, fake):
    pipe, merchants = _connected_pipeline(pipeline_factory, fake)
    seller, merchant_id = fake.sellers[0].merchant_id, uuid.UUID(merchants[0])
    answer = await new_order(fake, seller)
    order = answer["order"]
    thin = [w for w in answer["webhooks"] if w["event_type"].startswith("order.")]
    assert thin  # order.created / order.updated: ids only

    sale = await wait_for(
        lambda: _rows(engine, SALES_SQL, m=merchant_id, o=order["id"]), timeout=90
    )
    assert [(r.lines, r.tenders) for r in sale] == [
        (
            len(order.get("line_items", []))
            + sum(len(ret.get("return_line_items", [])) for ret in order.get("returns", [])),
            len(order.get("tenders", [])),
        )
    ]
    polled = await _rows(
        engine,
        "SELECT source_type, source_event_id, event_type, event_hash FROM sales.evidence_records "
        "WHERE merchant_id = :m AND event_type = 'square.order.retrieved'",
        m=merchant_id,
    )
    assert {(r.source_type, r.source_event_id) for r in polled} == {
        ("POLLING", f"poll:order:{order['id']}:{order['version']}")
    }
    # the envelope carries the exact bytes RetrieveOrder answered
    envelopes = [
        json.loads(r.value)
        for r in await read_topic(pipe.settings(), pipe.topic("events"))
        if json.loads(r.value)["event_type"] == "square.order.retrieved"
    ]
    raw = base64.b64decode(envelopes[0]["raw_payload"])
    assert json.loads(raw)["order"]["id"] == order["id"]
    assert hashlib.sha256(raw).digest() == bytes(polled[0].event_hash)
    # every thin event's fetch is done: the queue empties (a second thin event of the order
    # may be fetched on a later tick)
    await wait_for(lambda: _no_deferrals(engine, merchant_id), timeout=30)


async def test_a_429_storm_at_one_merchant_does_not_hold_back_another(
    pipeline_factory, engine, fake
):
    _, merchants = _connected_pipeline(pipeline_factory, fake)
    stormy, calm = fake.sellers[0].merchant_id, fake.sellers[1].merchant_id
    fake.state.faults.inject(
        Fault(429, times=10_000, path_prefix="/v2/orders", retry_after=1, merchant_id=stormy)
    )
    blocked = (await new_order(fake, stormy))["order"]
    passed = (await new_order(fake, calm))["order"]
    # the storm lasts until the test clears it: the calm merchant's sale lands during it
    await wait_for(
        lambda: _rows(engine, SALES_SQL, m=uuid.UUID(merchants[1]), o=passed["id"]), timeout=60
    )
    waiting = await wait_for(
        lambda: _rows(
            engine,
            "SELECT attempts, last_error FROM sales.parse_deferrals "
            "WHERE merchant_id = :m AND attempts > 0",
            m=uuid.UUID(merchants[0]),
        ),
        timeout=60,
    )
    assert "SquareRateLimited" in waiting[0].last_error
    assert await _rows(engine, SALES_SQL, m=uuid.UUID(merchants[0]), o=blocked["id"]) == []
    fake.state.faults.pending.clear()
    await wait_for(
        lambda: _rows(engine, SALES_SQL, m=uuid.UUID(merchants[0]), o=blocked["id"]), timeout=90
    )


async def test_an_order_that_cannot_be_fetched_is_dead_lettered(pipeline_factory, engine, fake):
    pipe, merchants = _connected_pipeline(pipeline_factory, fake, CANARY_FETCH_MAX_ATTEMPTS="3")
    pipe.add_signature_key()  # this test signs its own thin event
    seller = fake.sellers[0]
    body = {
        "merchant_id": seller.merchant_id,
        "type": "order.created",
        "event_id": str(uuid.uuid4()),
        "created_at": "2026-06-01T10:00:00Z",
        "data": {
            "type": "order_created",
            "id": "ORDER-THAT-DOES-NOT-EXIST",
            "object": {"order_created": {"order_id": "ORDER-THAT-DOES-NOT-EXIST", "version": 1}},
        },
    }
    assert pipe.post(json.dumps(body).encode())[0] == 200

    async def dead() -> Any:
        letters = [
            json.loads(r.value)
            for r in await read_topic(pipe.settings(), pipe.topic("dead-letter"))
        ]
        return [d for d in letters if d["reason"] == "deferred_exhausted"] or None

    letters = await wait_for(dead, timeout=90)
    assert [(d["stage"], d["merchant_id"]) for d in letters] == [("fetch", merchants[0])]
    assert "3 times" in letters[0]["error"] and "SquareNotFound" in letters[0]["error"]
    assert letters[0]["envelope"]["source_event_id"] == body["event_id"]
    await wait_for(lambda: _no_deferrals(engine, uuid.UUID(merchants[0])), timeout=30)


async def _no_deferrals(engine: Any, merchant_id: uuid.UUID) -> bool:
    rows = await _rows(
        engine, "SELECT 1 FROM sales.parse_deferrals WHERE merchant_id = :m", m=merchant_id
    )
    return rows == []
