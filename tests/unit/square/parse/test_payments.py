"""The payment family against Square's examples and every ledger rule of square.md."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from square_bodies import (
    EVENT_ID,
    FINGERPRINT_HASH,
    M,
    ctx,
    money,
    payment,
    refund,
    vector,
    webhook,
)

from canary_stream.models.canonical import Card, TransactionEvent
from canary_stream.square.parse.base import (
    ForeignCurrency,
    ParseError,
    canonical_id,
    deterministic_id,
    transaction_id,
)
from canary_stream.square.parse.payments import parse_payment, parse_refund

SQ_PAYMENT = "hYy9pRFVxpDsO1FB05SunFWUe9JZY"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def run_payment(obj: dict, event_type: str = "payment.updated", **over):
    raw = webhook(event_type, "payment", obj)
    return parse_payment(raw, ctx(raw, event_type, **over))


def run_refund(obj: dict, event_type: str = "refund.updated", **over):
    raw = webhook(event_type, "refund", obj)
    return parse_refund(raw, ctx(raw, event_type, **over))


# Square's own examples ----------------------------------------------------------------------
def test_square_payment_created_example_is_an_authorization():
    raw, _ = vector("payment.created")
    [rec] = parse_payment(raw, ctx(raw, "payment.created"))
    auth_id = transaction_id(M, SQ_PAYMENT, "AUTHORIZATION")
    # uuid5(uuid5(NAMESPACE_URL, "urn:canary-stream:ids:v1"),
    #       "txn|0f8fad5b-d9cb-469f-a165-70867728950e|hYy9pRFVxpDsO1FB05SunFWUe9JZY|AUTHORIZATION")
    assert auth_id == uuid.UUID("a5ca339f-93bb-5ee3-bdad-32a1422ee3cb")
    assert rec.primary is rec.rows[0]
    assert rec.rows == (rec.primary,)
    assert rec.primary.table == "sales.transactions"
    assert rec.primary.key == ("merchant_id", "external_id", "transaction_type")
    assert rec.primary.values == {
        "id": auth_id,
        "merchant_id": M,
        "external_id": SQ_PAYMENT,
        "transaction_type": "AUTHORIZATION",
        "status": "APPROVED",
        "transaction_date": t("2020-11-22T21:16:51.198Z"),
        "location_id": "S8GWD5R9QB376",
        "device_id": None,
        "employee_id": None,
        "customer_id": None,
        "order_id": "03O3USaPaAaFnI6kkwB1JxGgBsUZY",
        "amount_cents": 100,
        "approved_amount_cents": 100,
        "tip_cents": None,
        "currency": "USD",
        "source_type": "WEBHOOK",
        "event_id": EVENT_ID,
    }
    c = rec.canonical
    assert isinstance(c, TransactionEvent)
    assert c.canonical_id == canonical_id(M, "transaction", SQ_PAYMENT, "AUTHORIZATION")
    assert c.canonical_id == deterministic_id(
        "canon", M, "transaction", SQ_PAYMENT, "AUTHORIZATION"
    )
    assert c.occurred_at == t("2020-11-22T21:16:51.198Z")
    assert c.delay_action == "CANCEL"
    assert c.delayed_until == t("2020-11-29T21:16:51.086Z")
    assert c.ledger is True
    assert c.source_event_type == "payment.created"
    assert c.card == Card(
        fingerprint_hash=FINGERPRINT_HASH,
        fingerprint_key_version="k1",
        brand="MASTERCARD",
        entry_method="KEYED",
        card_type="CREDIT",
        prepaid=False,
    )


def test_square_payment_updated_example_is_a_payment_only():
    raw, _ = vector("payment.updated")
    [rec] = parse_payment(raw, ctx(raw, "payment.updated"))
    c = rec.canonical
    assert (c.transaction_type, c.status) == ("PAYMENT", "COMPLETED")
    assert c.transaction_id == transaction_id(M, SQ_PAYMENT, "PAYMENT")
    assert c.occurred_at == t("2020-11-22T21:19:00.832Z")  # captured_at, not updated_at
    assert rec.primary.values["transaction_date"] == c.occurred_at
    assert c.fee_cents is None
    assert rec.rows == (rec.primary,)


def test_square_refund_examples_pending_then_completed():
    raw, _ = vector("refund.created")
    [pending] = parse_refund(raw, ctx(raw, "refund.created"))
    raw2, _ = vector("refund.updated")
    [done] = parse_refund(raw2, ctx(raw2, "refund.updated"))
    original = transaction_id(M, "KkAkhdMsgzn59SM8A89WgKwekxLZY", "PAYMENT")
    assert (pending.canonical.status, pending.canonical.ledger) == ("PENDING", False)
    assert pending.rows == () and pending.primary is None
    assert pending.canonical.original_transaction_id == original
    refund_txn = done.canonical.transaction_id
    assert [r.table for r in done.rows] == [
        "sales.transactions",
        "sales.refund_links",
        "sales.transaction_fees",
    ]
    assert done.rows[1].values == {
        "refund_transaction_id": refund_txn,
        "merchant_id": M,
        "original_transaction_id": original,
        "amount_cents": 1000,
        "reason": None,
    }
    assert done.rows[2].values == {
        "transaction_id": refund_txn,
        "merchant_id": M,
        "fee_type": "INITIAL",
        "effective_at": t("2020-02-06T23:27:31.000Z"),
        "amount_cents": -59,
        "currency": "USD",
    }
    assert done.canonical.fee_cents == -59
    assert done.canonical.occurred_at == t("2020-02-06T21:27:41.836Z")  # refund created_at
    # PENDING and COMPLETED are one refund: one canonical_id, so a rule fires once per refund.
    assert pending.canonical.canonical_id == done.canonical.canonical_id


# The ledger model ----------------------------------------------------------------------------
def test_approved_card_payment_is_an_authorization_with_every_field():
    [rec] = run_payment(payment("APPROVED", tip_money=money(300)), "payment.created")
    c = rec.canonical
    assert c.transaction_type == "AUTHORIZATION"
    assert c.occurred_at == t("2025-01-06T15:00:01.000Z")  # authorized_at
    assert (c.employee_id, c.customer_id, c.device_id) == ("TM1", "CUST1", "DEVICE1")
    assert (c.amount_cents, c.approved_amount_cents, c.tip_cents) == (2500, 2500, 300)
    assert c.card.entry_method == "EMV" and c.card.prepaid is False


def test_authorization_without_timeline_occurs_at_created_at():
    p = payment("APPROVED")
    del p["card_details"]["card_payment_timeline"]
    [rec] = run_payment(p)
    assert rec.canonical.occurred_at == t("2025-01-06T15:00:00.500Z")


def test_completed_yields_payment_only_and_never_an_authorization():
    p = payment("COMPLETED", updated_at="2025-01-06T17:00:00.000Z")
    p["card_details"]["status"] = "CAPTURED"
    p["card_details"]["card_payment_timeline"]["captured_at"] = "2025-01-06T16:59:59.000Z"
    records = run_payment(p)
    assert [r.canonical.transaction_type for r in records] == ["PAYMENT"]
    assert records[0].canonical.occurred_at == t("2025-01-06T16:59:59.000Z")


def test_payment_without_captured_at_occurs_at_updated_at():
    p = payment("COMPLETED", source_type="CASH", updated_at="2025-01-06T15:02:00.000Z")
    del p["card_details"]
    [rec] = run_payment(p)
    assert rec.canonical.occurred_at == t("2025-01-06T15:02:00.000Z")
    assert rec.canonical.card is None


def test_fee_on_a_later_version_rides_with_the_same_payment_row():
    first = payment("COMPLETED")
    first["card_details"]["card_payment_timeline"]["captured_at"] = "2025-01-06T15:00:02.000Z"
    later = json.loads(json.dumps(first))
    later["updated_at"] = "2025-01-06T15:05:00.000Z"
    later["processing_fee"] = [
        {"effective_at": "2025-01-06T17:00:02.000Z", "type": "INITIAL", "amount_money": money(80)},
        {
            "effective_at": "2025-01-07T00:00:00.000Z",
            "type": "ADJUSTMENT",
            "amount_money": money(-5),
        },
    ]
    [a] = run_payment(first)
    [b] = run_payment(later)
    assert b.primary.values == a.primary.values  # the row conflicts; first observation wins
    pay_id = transaction_id(M, "PAY1", "PAYMENT")
    assert [r.values for r in b.rows[1:]] == [
        {
            "transaction_id": pay_id,
            "merchant_id": M,
            "fee_type": "INITIAL",
            "effective_at": t("2025-01-06T17:00:02.000Z"),
            "amount_cents": 80,
            "currency": "USD",
        },
        {
            "transaction_id": pay_id,
            "merchant_id": M,
            "fee_type": "ADJUSTMENT",
            "effective_at": t("2025-01-07T00:00:00.000Z"),
            "amount_cents": -5,
            "currency": "USD",
        },
    ]
    assert b.rows[1].key == ("transaction_id", "fee_type", "effective_at")
    assert b.canonical.fee_cents == 75
    assert b.primary is b.rows[0]


def test_canceled_after_approval_is_a_void_pointing_at_the_authorization():
    p = payment("CANCELED", updated_at="2025-01-06T15:10:00.000Z")
    p["card_details"]["status"] = "VOIDED"
    p["card_details"]["card_payment_timeline"]["voided_at"] = "2025-01-06T15:09:59.000Z"
    [rec] = run_payment(p)
    c = rec.canonical
    assert (c.transaction_type, c.status) == ("VOID", "CANCELED")
    assert c.occurred_at == t("2025-01-06T15:09:59.000Z")
    assert c.original_transaction_id == transaction_id(M, "PAY1", "AUTHORIZATION")
    assert c.original_occurred_at == t("2025-01-06T15:00:01.000Z")
    assert c.original_employee_id == "TM1"
    assert rec.primary.values["id"] == transaction_id(M, "PAY1", "VOID")


def test_void_without_voided_at_occurs_at_updated_at():
    p = payment("CANCELED", updated_at="2025-01-06T15:10:00.000Z")
    p["card_details"]["status"] = "VOIDED"
    [rec] = run_payment(p)
    assert rec.canonical.occurred_at == t("2025-01-06T15:10:00.000Z")


def test_canceled_without_approval_is_nothing():
    p = payment("CANCELED", source_type="EXTERNAL")
    del p["card_details"], p["approved_money"]
    assert run_payment(p) == []


def test_failed_payment_is_canonical_only():
    p = payment("FAILED", updated_at="2025-01-06T15:00:03.000Z")
    p["card_details"]["status"] = "FAILED"
    del p["approved_money"]
    [rec] = run_payment(p)
    c = rec.canonical
    assert (c.transaction_type, c.status, c.ledger) == ("PAYMENT", "FAILED", False)
    assert rec.rows == () and rec.primary is None
    assert c.occurred_at == t("2025-01-06T15:00:03.000Z")
    assert c.card.fingerprint_hash == FINGERPRINT_HASH  # card testing counts failures per card


def test_pending_payment_is_nothing():
    assert run_payment(payment("PENDING"), "payment.created") == []


def test_pending_refund_is_canonical_only_with_reason_and_original():
    [rec] = run_refund(refund("PENDING"), "refund.created")
    c = rec.canonical
    assert (c.transaction_type, c.status, c.ledger) == ("REFUND", "PENDING", False)
    assert (c.refund_reason, c.employee_id, c.amount_cents) == ("Returned goods", "TM2", 1000)
    assert c.original_transaction_id == transaction_id(M, "PAY1", "PAYMENT")
    assert c.original_occurred_at is None and c.original_employee_id is None
    assert rec.rows == () and rec.primary is None


@pytest.mark.parametrize("status", ["REJECTED", "FAILED"])
def test_unsettled_refunds_are_canonical_only(status):
    [rec] = run_refund(refund(status))
    assert (rec.canonical.status, rec.canonical.ledger, rec.rows) == (status, False, ())


def test_completed_refund_is_a_refund_row_and_a_link():
    [rec] = run_refund(refund("COMPLETED"))
    refund_txn = transaction_id(M, "PAY1_R1", "REFUND")
    assert rec.primary.values["id"] == refund_txn
    assert rec.primary.values["transaction_date"] == t("2025-01-06T16:00:00.000Z")
    assert rec.primary.values["employee_id"] == "TM2"
    assert rec.rows[1].table == "sales.refund_links"
    assert rec.rows[1].key == ("refund_transaction_id",)
    assert rec.rows[1].values == {
        "refund_transaction_id": refund_txn,
        "merchant_id": M,
        "original_transaction_id": transaction_id(M, "PAY1", "PAYMENT"),
        "amount_cents": 1000,
        "reason": "Returned goods",
    }


def test_unlinked_refund_has_no_link_row():
    r = refund("COMPLETED", unlinked=True)
    del r["payment_id"]
    [rec] = run_refund(r)
    assert [row.table for row in rec.rows] == ["sales.transactions"]
    assert rec.canonical.original_transaction_id is None


# Foreign currency and malformed objects ---------------------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        {"amount_money": money(2500, "EUR")},
        {"approved_money": money(2500, "CAD")},
        {"tip_money": money(1, "GBP")},
    ],
)
def test_foreign_currency_is_quarantined(change):
    with pytest.raises(ForeignCurrency, match=r"is not USD"):
        run_payment(payment("APPROVED", **change))


def test_foreign_currency_fee_and_refund():
    fee = {
        "effective_at": "2025-01-06T17:00:02Z",
        "type": "INITIAL",
        "amount_money": money(8, "EUR"),
    }
    p = payment("COMPLETED", processing_fee=[fee])
    with pytest.raises(ForeignCurrency, match=r"processing_fee\[0\]\.amount_money\.currency"):
        run_payment(p)
    with pytest.raises(ForeignCurrency):
        run_refund(refund("COMPLETED", amount_money=money(1000, "JPY")))
    assert ForeignCurrency.reason == "foreign_currency"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount_money": None}, "data.object.payment.amount_money: missing"),
        ({"amount_money": money("2500")}, "amount_money.amount: expected an integer, got str"),
        ({"amount_money": money(25.0)}, "amount_money.amount: expected an integer, got float"),
        ({"amount_money": money(True)}, "amount_money.amount: expected an integer, got bool"),
        ({"amount_money": money(-1)}, "amount_money.amount: negative amount"),
        ({"amount_money": money(10**12 + 1)}, "amount_money.amount: out of range"),
        ({"amount_money": "25.00"}, "amount_money: expected an object, got str"),
        ({"status": "SETTLED"}, "data.object.payment.status: unknown value 'SETTLED'"),
        ({"status": 1}, "data.object.payment.status: expected a string, got int"),
        ({"id": None}, "data.object.payment.id: missing"),
        ({"card_details": []}, "card_details: expected an object, got list"),
        ({"delayed_until": "tomorrow"}, "delayed_until: expected an RFC 3339 timestamp"),
        ({"delayed_until": "2025-01-08T03:00:00"}, "delayed_until: timestamp without a UTC offset"),
        ({"delay_action": "cancel later"}, "delay_action: not an enumeration value"),
    ],
)
def test_malformed_payments_name_the_field(change, message):
    obj = payment("APPROVED")
    obj.update(change)
    with pytest.raises(ParseError) as info:
        run_payment(obj)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.reason == "parse_error"


def test_missing_created_at_when_the_rule_needs_it():
    p = payment("APPROVED", created_at=None)
    del p["card_details"]["card_payment_timeline"]
    with pytest.raises(ParseError, match=r"data\.object\.payment\.created_at: missing"):
        run_payment(p)


def test_malformed_fee_and_refund():
    fee = {"effective_at": "2025-01-06T17:00:02Z", "type": "SURCHARGE", "amount_money": money(1)}
    p = payment("COMPLETED", processing_fee=[fee])
    with pytest.raises(ParseError, match=r"processing_fee\[0\]\.type: unknown value 'SURCHARGE'"):
        run_payment(p)
    with pytest.raises(ParseError, match=r"refund\.status: unknown value 'DONE'"):
        run_refund(refund("DONE"))
    with pytest.raises(ParseError, match=r"refund\.amount_money\.amount: negative amount"):
        run_refund(refund("COMPLETED", amount_money=money(-1000)))


def test_api_response_shape_parses_like_the_webhook():
    raw = json.dumps({"payment": payment("APPROVED")}).encode()
    [rec] = parse_payment(raw, ctx(raw, "payment.updated", source_type="POLLING"))
    assert rec.canonical.transaction_type == "AUTHORIZATION"
    assert rec.primary.values["source_type"] == "POLLING"
