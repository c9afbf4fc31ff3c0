"""The registry's pure core: exact effects per canonical record (customers.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from canary_stream.customers.registry import (
    Archive,
    CardObservation,
    CustomerTouch,
    LedgerEntry,
    card_profile_uuid,
    customer_uuid,
    effects,
    owner_lookup,
)
from canary_stream.models.canonical import (
    CustomerEvent,
    DisputeEvent,
    PayoutEvent,
    TransactionEvent,
)
from canary_stream.square.parse.base import deterministic_id

M = uuid.UUID("11111111-1111-1111-1111-111111111111")
T1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PAY = uuid.UUID("22222222-2222-2222-2222-222222222222")
REF = uuid.UUID("33333333-3333-3333-3333-333333333333")
FP = "ab" * 32
CUST = customer_uuid(M, "CUST1")


def _common(kind: str, at: datetime) -> dict[str, Any]:
    return {
        "canonical_id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "merchant_id": M,
        "source_type": "WEBHOOK",
        "source_event_id": "evt",
        "source_event_type": "payment.updated",
        "event_hash": "0" * 64,
        "received_at": at,
        "occurred_at": at,
        "kind": kind,
    }


def txn(ttype: str = "PAYMENT", **kw: Any) -> TransactionEvent:
    data = {
        **_common("transaction", kw.pop("at", T1)),
        "transaction_id": PAY,
        "external_id": "pay1",
        "transaction_type": ttype,
        "status": "COMPLETED",
        "amount_cents": 1250,
        "currency": "USD",
        **kw,
    }
    return TransactionEvent.model_validate(data)


def test_ids_are_the_contract_ids() -> None:
    assert customer_uuid(M, "CUST1") == deterministic_id("customer", M, "CUST1")
    assert card_profile_uuid(M, bytes.fromhex(FP)) == deterministic_id("card", M, FP)


def test_captured_payment_counts_and_observes_the_card() -> None:
    card = {"fingerprint_hash": FP, "fingerprint_key_version": "c1", "brand": "VISA"}
    out = effects(txn(customer_id="CUST1", card=card), {})
    assert out.touches == [CustomerTouch(CUST, M, "CUST1", T1, T1, True)]
    assert out.ledger == [LedgerEntry(M, CUST, PAY, "PAYMENT", 1250, 1, T1)]
    assert out.cards == [
        CardObservation(
            card_profile_uuid(M, bytes.fromhex(FP)), M, bytes.fromhex(FP), "c1", "VISA", CUST,
            T1, 1, 0, PAY,
        )
    ]  # fmt: skip
    assert out.cards[0].outcome == "USE"
    assert out.archives == []


def test_payment_without_customer_observes_the_card_only() -> None:
    out = effects(txn(card={"fingerprint_hash": FP, "fingerprint_key_version": "c1"}), {})
    assert out.touches == [] and out.ledger == []
    assert [(c.customer_id, c.uses, c.failures, c.brand) for c in out.cards] == [(None, 1, 0, None)]


def test_failed_payment_is_a_card_failure_never_a_ledger_entry() -> None:
    card = {"fingerprint_hash": FP, "fingerprint_key_version": "c1"}
    out = effects(txn(status="FAILED", ledger=False, customer_id="CUST1", card=card), {})
    assert out.ledger == [] and out.touches == []
    assert [(c.uses, c.failures, c.customer_id) for c in out.cards] == [(0, 1, CUST)]
    assert [(c.transaction_id, c.outcome) for c in out.cards] == [(PAY, "FAILURE")]


def test_authorization_and_void_never_count_but_name_the_customer() -> None:
    for ttype in ("AUTHORIZATION", "VOID"):
        card = {"fingerprint_hash": FP, "fingerprint_key_version": "c1"}
        out = effects(txn(ttype, status="APPROVED", customer_id="CUST1", card=card), {})
        assert out.ledger == [] and out.cards == []
        assert out.touches == [CustomerTouch(CUST, M, "CUST1", T1, T1, True)]


def test_drawer_events_carry_no_customer() -> None:
    for ttype in ("NO_SALE", "PAID_IN", "PAID_OUT"):
        assert effects(txn(ttype, customer_id="CUST1"), {}).empty


def test_completed_refund_debits_the_original_payments_customer() -> None:
    refund = txn(
        "REFUND", transaction_id=REF, external_id="ref1", amount_cents=400, at=T2,
        original_transaction_id=PAY,
    )  # fmt: skip
    assert owner_lookup(refund) == PAY
    out = effects(refund, {PAY: "CUST1"})
    assert out.ledger == [LedgerEntry(M, CUST, REF, "REFUND", -400, 0, T2)]
    assert out.touches == [CustomerTouch(CUST, M, "CUST1", T2, T2, False)]
    assert effects(refund, {}).empty  # the original has no customer


def test_pending_refund_never_counts() -> None:
    pending = txn(
        "REFUND", transaction_id=REF, status="PENDING", ledger=False, amount_cents=400,
        original_transaction_id=PAY,
    )  # fmt: skip
    assert owner_lookup(pending) is None
    assert effects(pending, {PAY: "CUST1"}).empty


def dispute(state: str, amount: int | None = 700) -> DisputeEvent:
    return DisputeEvent.model_validate(
        {
            **_common("dispute", T2),
            "dispute_id": "d1",
            "state": state,
            "amount_cents": amount,
            "currency": "USD",
            "disputed_payment_id": "pay1",
            "disputed_transaction_id": PAY,
        }
    )


def test_lost_dispute_debits_the_customer_once_per_payment() -> None:
    assert owner_lookup(dispute("LOST")) == PAY
    out = effects(dispute("LOST"), {PAY: "CUST1"})
    assert out.ledger == [LedgerEntry(M, CUST, PAY, "DISPUTE_LOST", -700, 0, T2)]
    for state in ("EVIDENCE_REQUIRED", "WON", "ACCEPTED"):
        assert owner_lookup(dispute(state)) is None
        assert effects(dispute(state), {PAY: "CUST1"}).empty
    assert effects(dispute("LOST", None), {PAY: "CUST1"}).empty


def customer(lifecycle: str) -> CustomerEvent:
    return CustomerEvent.model_validate(
        {**_common("customer", T2), "customer_id": "CUST1", "lifecycle": lifecycle}
    )


def test_customer_lifecycle() -> None:
    assert effects(customer("DELETED"), {}).archives == [Archive(CUST, M, "CUST1", T2)]
    for lifecycle in ("CREATED", "UPDATED"):
        out = effects(customer(lifecycle), {})
        assert out.touches == [CustomerTouch(CUST, M, "CUST1", T2, None, True)]
        assert out.ledger == [] and out.archives == []


def test_other_kinds_change_nothing() -> None:
    payout = PayoutEvent.model_validate(
        {**_common("payout", T1), "payout_id": "po", "status": "PAID", "amount_cents": 5,
         "currency": "USD"}
    )  # fmt: skip
    assert effects(payout, {}).empty
