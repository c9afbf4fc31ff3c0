"""Polled envelopes (a fetched order, cash-drawer pages) through seal and parse: SALE with line
items and tenders, drawer shifts per state, NO_SALE / PAID_OUT in both drawer events and
transactions. The envelopes are produced as the order fetch loop and the drawer poller do."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
from harness import make_envelope, produce, wait_for
from sqlalchemy import text

pytestmark = pytest.mark.integration
VECTORS = Path(__file__).parents[1] / "vectors" / "square" / "webhooks"


def _vector(name: str) -> dict:
    return copy.deepcopy(json.loads((VECTORS / f"{name}.json").read_text())["body"])


def _polled(merchant_id: str, pmid: str, event_type: str, body: dict, source_event_id: str):
    env = make_envelope(merchant_id, pmid, json.dumps(body).encode(), source_event_id)
    return env.model_copy(update={"event_type": event_type, "source_type": "POLLING"})


async def test_fetched_order_and_drawer_pages_become_ledger_rows(pipeline_factory, engine):
    pipe = pipeline_factory()
    merchant_id, pmid = pipe.add_merchant()
    order = _vector("square.order.retrieved")
    order_id = f"ord{uuid.uuid4().hex[:16]}"
    order["order"].update(
        id=order_id,
        state="COMPLETED",
        closed_at="2026-11-30T10:00:00Z",
        created_at="2026-11-30T09:58:00Z",
        updated_at="2026-11-30T10:00:00Z",
        tenders=[
            {
                "id": "tnd-card",
                "type": "CARD",
                "payment_id": "pay-card",
                "amount_money": {"amount": 5000, "currency": "USD"},
                "card_details": {"card": {"card_brand": "VISA", "last_4": "1111"}},
            },
            {
                "id": "tnd-cash",
                "type": "CASH",
                "payment_id": "pay-cash",
                "amount_money": {"amount": 2599, "currency": "USD"},
            },
        ],
    )
    events = _vector("square.cash_drawer_shift_event.polled")
    events["response"]["cash_drawer_shift_events"] += [
        {
            "id": f"ns-{uuid.uuid4().hex[:8]}",
            "event_type": "NO_SALE",
            "event_money": {"amount": 0, "currency": "USD"},
            "created_at": "2026-11-30T10:05:00Z",
            "team_member_id": "TM-1",
        },
        {
            "id": f"po-{uuid.uuid4().hex[:8]}",
            "event_type": "PAID_OUT",
            "event_money": {"amount": 1500, "currency": "USD"},
            "created_at": "2026-11-30T10:06:00Z",
            "team_member_id": "TM-1",
        },
    ]
    shifts = _vector("square.cash_drawer_shift.polled")
    envelopes = [
        _polled(merchant_id, pmid, "square.order.retrieved", order, f"poll:order:{order_id}:1"),
        _polled(merchant_id, pmid, "square.cash_drawer_shift_event.polled", events, "poll:ev:1"),
        _polled(merchant_id, pmid, "square.cash_drawer_shift.polled", shifts, "poll:shift:1"),
    ]
    pipe.start("seal")
    pipe.start("parse")
    await produce(
        pipe.settings(),
        pipe.topic("events"),
        [(merchant_id.encode(), e.to_bytes()) for e in envelopes],
    )
    m = uuid.UUID(merchant_id)
    # Square's example page has PAID_IN 10000 and PAID_OUT 10000; we added NO_SALE and PAID_OUT.
    rows = await wait_for(lambda: _query(engine, TRANSACTIONS, m, 5), timeout=60)
    assert sorted((r.transaction_type, r.amount_cents) for r in rows) == [
        ("NO_SALE", 0),
        ("PAID_IN", 10000),
        ("PAID_OUT", 1500),
        ("PAID_OUT", 10000),
        ("SALE", 7599),
    ]
    assert [
        (r.line_uid, str(r.quantity), r.gross_sales_cents) for r in await _query(engine, LINES, m)
    ] == [
        ("945986d1-9586-11e6-ad5a-28cfe92138cf", "1.00000", 1599),
        ("a8f4168c-9586-11e6-bdf0-28cfe92138cf", "3.00000", 6000),
    ]
    assert [(r.tender_type, r.amount_cents) for r in await _query(engine, TENDERS, m)] == [
        ("CARD", 5000),
        ("CASH", 2599),
    ]
    drawer = await _query(engine, DRAWER_EVENTS, m)
    assert sorted(r.event_type for r in drawer) == [
        "CASH_TENDER_CANCELLED_PAYMENT",
        "CASH_TENDER_PAYMENT",
        "CASH_TENDER_PAYMENT",
        "CASH_TENDER_REFUND",
        "NO_SALE",
        "PAID_IN",
        "PAID_OUT",
        "PAID_OUT",
    ]
    shifts = await wait_for(lambda: _query(engine, SHIFTS, m, 1), timeout=30)  # a later batch
    assert [(r.state, r.closed_cash_cents) for r in shifts] == [("CLOSED", 9970)]


TRANSACTIONS = (
    "SELECT transaction_type, amount_cents FROM sales.transactions WHERE merchant_id = :m "
    "ORDER BY transaction_type"
)
LINES = (
    "SELECT l.line_uid, l.quantity, l.gross_sales_cents FROM sales.transaction_line_items l "
    "JOIN sales.transactions t ON t.id = l.transaction_id WHERE t.merchant_id = :m ORDER BY 1"
)
TENDERS = (
    "SELECT d.tender_type, d.amount_cents FROM sales.transaction_tenders d "
    "JOIN sales.transactions t ON t.id = d.transaction_id WHERE t.merchant_id = :m ORDER BY 1"
)
DRAWER_EVENTS = "SELECT event_type FROM sales.cash_drawer_events WHERE merchant_id = :m"
SHIFTS = "SELECT state, closed_cash_cents FROM sales.cash_drawer_shifts WHERE merchant_id = :m"


async def _query(engine, sql: str, merchant_id: uuid.UUID, at_least: int = 0):
    async with engine.connect() as conn:
        rows = (await conn.execute(text(sql), {"m": merchant_id})).all()
    return rows if len(rows) >= at_least else None
