"""The dispute family: a record per dispute and state, including deprecated shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from square_bodies import M, ctx, encode, vector, webhook

from canary_stream.square.parse.base import ParseError, canonical_id, transaction_id
from canary_stream.square.parse.disputes import parse_dispute


def test_square_example_state_updated_won():
    raw, _ = vector("dispute.state.updated")
    [rec] = parse_dispute(raw, ctx(raw, "dispute.state.updated"))
    c = rec.canonical
    paid = transaction_id(M, "fbmsaEOpoARDKxiSGH1fqPuqoqFZY", "PAYMENT")
    assert (c.dispute_id, c.state, c.reason, c.amount_cents) == (
        "ORSEVtZAJxb37RA1EiGw",
        "WON",
        "AMOUNT_DIFFERS",
        8801,
    )
    assert (c.disputed_payment_id, c.disputed_transaction_id) == (
        "fbmsaEOpoARDKxiSGH1fqPuqoqFZY",
        paid,
    )
    assert c.occurred_at == datetime(2020, 2, 19, 21, 34, 41, 851000, tzinfo=UTC)
    assert c.canonical_id == canonical_id(M, "dispute", "ORSEVtZAJxb37RA1EiGw", "WON")
    assert rec.primary.key == ("merchant_id", "dispute_id", "state")
    assert rec.primary.values == {
        "merchant_id": M,
        "dispute_id": "ORSEVtZAJxb37RA1EiGw",
        "state": "WON",
        "reason": "AMOUNT_DIFFERS",
        "amount_cents": 8801,
        "disputed_transaction_id": paid,
        "occurred_at": datetime(2020, 2, 19, 21, 34, 41, 851000, tzinfo=UTC),
    }


def square_dispute(**over) -> dict:
    raw, _ = vector("dispute.state.updated")
    d = json.loads(raw)["data"]["object"]["dispute"]
    d.update(over)
    return d


@pytest.mark.parametrize(
    "event_type",
    [
        "dispute.created",
        "dispute.state.changed",
        "dispute.evidence.created",
        "dispute.evidence.added",
    ],
)
def test_deprecated_object_object_shape_and_dispute_id(event_type):
    d = square_dispute(state="EVIDENCE_REQUIRED")
    d["dispute_id"] = d.pop("id")
    body = {
        "merchant_id": "X",
        "type": event_type,
        "event_id": "e",
        "created_at": "2020-02-19T21:24:54Z",
        "data": {"type": "dispute", "id": d["dispute_id"], "object": {"object": d}},
    }
    raw = encode(body)
    [rec] = parse_dispute(raw, ctx(raw, event_type))
    assert (rec.canonical.dispute_id, rec.canonical.state) == (
        "ORSEVtZAJxb37RA1EiGw",
        "EVIDENCE_REQUIRED",
    )


def test_dispute_without_payment_or_amount():
    d = square_dispute(state="INQUIRY_EVIDENCE_REQUIRED")
    del d["disputed_payment"], d["amount_money"]
    raw = webhook("dispute.created", "dispute", d)
    [rec] = parse_dispute(raw, ctx(raw, "dispute.created"))
    assert rec.canonical.disputed_transaction_id is None and rec.canonical.amount_cents is None


def test_malformed_disputes():
    raw = webhook("dispute.created", "dispute", square_dispute(state="ESCALATED"))
    with pytest.raises(ParseError, match=r"dispute\.state: unknown value 'ESCALATED'"):
        parse_dispute(raw, ctx(raw, "dispute.created"))
    d = square_dispute()
    del d["id"]
    raw = webhook("dispute.created", "dispute", d)
    with pytest.raises(ParseError, match=r"dispute\.dispute_id: missing"):
        parse_dispute(raw, ctx(raw, "dispute.created"))
    raw = encode({"data": {"object": {"payment": {}}}})
    with pytest.raises(ParseError, match=r"data\.object\.dispute: missing"):
        parse_dispute(raw, ctx(raw, "dispute.created"))
