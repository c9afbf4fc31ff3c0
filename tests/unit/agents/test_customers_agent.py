"""Which card observations of a batch move the counts (the customers agent's markers)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agents.customers import _flag_new
from canary_stream.customers.registry import effects
from canary_stream.models.canonical import TransactionEvent

M = uuid.uuid4()
AT = datetime(2026, 3, 1, tzinfo=UTC)


def payment(event_id: uuid.UUID, customer: str | None = None, status: str = "COMPLETED"):
    return TransactionEvent(
        canonical_id=uuid.uuid4(), event_id=event_id, merchant_id=M, source_type="BATCH",
        source_event_id="s", source_event_type="square.payments.listed", event_hash="0" * 64,
        received_at=AT, occurred_at=AT, transaction_id=uuid.uuid4(), external_id="p",
        transaction_type="PAYMENT", status=status, ledger=status != "FAILED",
        customer_id=customer, amount_cents=100, currency="USD",
        card={"fingerprint_hash": "cd" * 32, "fingerprint_key_version": "c1"},
    )  # fmt: skip


def _pairs(records):
    return [(r, c) for r in records for c in effects(r, {}).cards]


def test_a_page_of_anonymous_cards_counts_each_record_once() -> None:
    page = uuid.uuid4()
    a, b = payment(page), payment(page, status="FAILED")
    flags = _flag_new(_pairs([a, b, a]), set(), {(page, "SUCCESS")})
    assert [new for _, new in flags] == [True, True, False]  # the duplicate of a counts once
    assert [new for _, new in _flag_new(_pairs([a, b]), set(), set())] == [False, False]


def test_a_customers_payment_is_keyed_on_its_ledger_row() -> None:
    event = uuid.uuid4()
    p = payment(event, customer="C1")
    inserted = {(p.transaction_id, "PAYMENT")}
    assert [n for _, n in _flag_new(_pairs([p]), inserted, set())] == [True]
    assert [n for _, n in _flag_new(_pairs([p]), set(), {(event, "SUCCESS")})] == [False]
