"""Which canonical events the parse agent publishes for a batch (pure part of the agent)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agents.parse import first_observations
from canary_stream.models.canonical import CanonicalEvent
from canary_stream.square.parse.base import LedgerRow, ParsedRecord

AT = datetime(2026, 11, 30, tzinfo=UTC)


def event(n: int) -> CanonicalEvent:
    return CanonicalEvent(
        canonical_id=uuid.UUID(int=1),
        event_id=uuid.UUID(int=n),
        merchant_id=uuid.UUID(int=9),
        source_type="WEBHOOK",
        source_event_id=f"e{n}",
        source_event_type="payment.updated",
        event_hash="ab" * 32,
        received_at=AT,
        occurred_at=AT,
        kind="transaction",
    )


ROW = LedgerRow(
    "sales.transactions",
    {"merchant_id": 9, "external_id": "p", "transaction_type": "PAYMENT"},
    ("merchant_id", "external_id", "transaction_type"),
)
IDENTITY = ("sales.transactions", (9, "p", "PAYMENT"))


def test_two_versions_of_one_record_in_a_batch_publish_once():
    records = [
        (None, ParsedRecord(event(1), (ROW,), ROW)),
        (None, ParsedRecord(event(2), (ROW,), ROW)),
    ]
    assert [e.event_id.int for e in first_observations(records, {IDENTITY})] == [1]  # type: ignore[arg-type]


def test_a_row_that_already_existed_publishes_nothing_and_rowless_records_always_publish():
    records = [(None, ParsedRecord(event(1), (ROW,), ROW)), (None, ParsedRecord(event(3)))]
    assert [e.event_id.int for e in first_observations(records, set())] == [3]  # type: ignore[arg-type]
    assert first_observations([(None, ParsedRecord(None, (ROW,)))], {IDENTITY}) == []  # type: ignore[list-item]
