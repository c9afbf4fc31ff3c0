"""The payout family: a record per payout and status; Square signs the amount."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from square_bodies import M, ctx, money, vector, webhook

from canary_stream.square.parse.base import ForeignCurrency, ParseError, canonical_id
from canary_stream.square.parse.payouts import parse_payout


def payout(status: str, **over) -> dict:
    p = {
        "id": "po_1",
        "status": status,
        "location_id": "LOC1",
        "created_at": "2025-01-06T03:00:00Z",
        "updated_at": "2025-01-07T09:00:00Z",
        "amount_money": money(123456),
        "destination": {"type": "BANK_ACCOUNT", "id": "bact:XYZ"},
        "version": 2,
        "type": "BATCH",
    }
    p.update(over)
    return p


def run(obj: dict, event_type: str = "payout.sent"):
    raw = webhook(event_type, "payout", obj, location_id="LOC1")
    return parse_payout(raw, ctx(raw, event_type))


def test_square_example_withdrawal_is_paid_with_a_negative_amount():
    raw, _ = vector("payout.paid")
    [rec] = parse_payout(raw, ctx(raw, "payout.paid"))
    c = rec.canonical
    assert (c.payout_id, c.status, c.amount_cents, c.currency) == (
        "po_f3c0fb38-a5ce-427d-b858-52b925b72e45",
        "PAID",
        -103,
        "USD",
    )
    assert c.occurred_at == datetime(2022, 3, 24, 3, 7, 9, tzinfo=UTC)
    assert c.location_id == "L88917AVBK2S5"
    assert c.canonical_id == canonical_id(
        M, "payout", "po_f3c0fb38-a5ce-427d-b858-52b925b72e45", "PAID"
    )
    assert rec.primary.key == ("merchant_id", "payout_id", "status")
    assert rec.primary.values == {
        "merchant_id": M,
        "payout_id": "po_f3c0fb38-a5ce-427d-b858-52b925b72e45",
        "status": "PAID",
        "amount_cents": -103,
        "occurred_at": datetime(2022, 3, 24, 3, 7, 9, tzinfo=UTC),
    }


@pytest.mark.parametrize("status", ["SENT", "PAID", "FAILED"])
def test_one_record_per_status(status):
    [rec] = run(payout(status))
    assert rec.canonical.status == status
    assert rec.canonical.occurred_at == datetime(2025, 1, 7, 9, tzinfo=UTC)  # updated_at
    assert rec.canonical.canonical_id == canonical_id(M, "payout", "po_1", status)


def test_payout_without_updated_at_occurs_at_created_at():
    [rec] = run(payout("SENT", updated_at=None))
    assert rec.canonical.occurred_at == datetime(2025, 1, 6, 3, tzinfo=UTC)


def test_malformed_payouts():
    with pytest.raises(ParseError, match=r"payout\.status: unknown value 'IN_TRANSIT'"):
        run(payout("IN_TRANSIT"))
    with pytest.raises(ParseError, match=r"payout\.amount_money: missing"):
        run(payout("SENT", amount_money=None))
    with pytest.raises(ParseError, match=r"payout\.amount_money\.amount: out of range"):
        run(payout("SENT", amount_money=money(-(10**13))))
    with pytest.raises(ForeignCurrency):
        run(payout("SENT", amount_money=money(5, "AUD")))
