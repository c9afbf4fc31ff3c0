"""The simulator's payloads: deterministic bytes, Square's shapes, believable stories."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from square.types.payment import Payment
from square.types.payment_refund import PaymentRefund

from canary_stream.simulate.payloads import (
    DEFAULT_START,
    EVENT_TYPES,
    SHAPES,
    Traffic,
    Webhook,
    merchant_ids,
    webhooks,
)

N = 3000
HOOKS: list[Webhook] = webhooks(7, 3, N)
BODIES: list[dict[str, Any]] = [json.loads(h.body) for h in HOOKS]
PAYMENT_STATUSES = {"APPROVED", "COMPLETED", "CANCELED", "FAILED"}
CARD_STATUSES = {"AUTHORIZED", "CAPTURED", "VOIDED", "FAILED"}
REFUND_STATUSES = {"PENDING", "COMPLETED", "FAILED"}
ENTRY_METHODS = {"KEYED", "SWIPED", "EMV", "CONTACTLESS"}
MONEY_FIELDS = ("amount_money", "tip_money", "total_money", "approved_money", "app_fee_money")


def ts(value: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value), value
    return datetime.fromisoformat(value)


def obj(body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = next(iter(body["data"]["object"].values()))
    return result


def of_kind(kind: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(b, obj(b)) for b in BODIES if b["data"]["type"] == kind]


# Merchant ids ----------------------------------------------------------------------------
def test_merchant_ids_fixed_values() -> None:
    assert merchant_ids(7, 2) == ["MLCSWHS6SDVKGY3", "MLR7C5O9HD2038G"]
    assert merchant_ids(1, 3) == ["ML3IYKXY3GUSH8O", "ML6WLHIJEKLHAXR", "MLDY9M7WQSNTOFA"]


def test_merchant_ids_format_prefix_and_distinct() -> None:
    ids = merchant_ids(7, 50)
    assert all(re.fullmatch(r"ML[A-Z0-9]{13}", m) for m in ids)
    assert len(set(ids)) == 50
    assert ids[:2] == merchant_ids(7, 2)
    assert merchant_ids(8, 2) != merchant_ids(7, 2)
    assert merchant_ids(7, 0) == []


# Determinism -----------------------------------------------------------------------------
def test_same_seed_same_bytes() -> None:
    again = webhooks(7, 3, N)
    assert [h.body for h in again] == [h.body for h in HOOKS]
    assert again == HOOKS


def test_first_webhook_fixed_values() -> None:
    first = webhooks(7, 2, 1)[0]
    assert first.merchant_id == "MLCSWHS6SDVKGY3"
    assert first.event_type == "payment.created"
    assert first.event_id == "7e9131ce-5278-4f9f-8df8-06fc61ba8030"
    assert first.object_id == "0WXqaJhmaQmAameQLhI3Ga1tOLwiT"
    assert first.created_at == "2025-01-06T15:00:00.000Z"
    assert first.body.startswith(
        b'{"merchant_id":"MLCSWHS6SDVKGY3","type":"payment.created",'
        b'"event_id":"7e9131ce-5278-4f9f-8df8-06fc61ba8030","created_at":"2025-01-06T15:00:00.000Z",'
        b'"data":{"type":"payment","id":"0WXqaJhmaQmAameQLhI3Ga1tOLwiT","object":{"payment":{'
    )
    assert obj(json.loads(first.body))["amount_money"] == {"amount": 1178, "currency": "USD"}


def test_other_seed_or_start_changes_events_not_merchants() -> None:
    other_seed = webhooks(8, 3, 50)
    assert {h.event_id for h in other_seed}.isdisjoint(h.event_id for h in HOOKS)
    later = webhooks(7, 3, 50, start=DEFAULT_START + timedelta(hours=1))
    assert {h.event_id for h in later}.isdisjoint(h.event_id for h in HOOKS)
    assert {h.merchant_id for h in later} <= set(merchant_ids(7, 3))


def test_stream_is_lazy_and_iterated_once() -> None:
    traffic = Traffic(7, 3)
    stream = iter(traffic)
    assert [next(stream) for _ in range(20)] == HOOKS[:20]
    with pytest.raises(RuntimeError):
        iter(traffic)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Traffic(1, 1, rate=0)
    with pytest.raises(ValueError):
        Traffic(1, [])
    with pytest.raises(ValueError):
        Traffic(1, 1, start=datetime(2025, 1, 1))


# Envelope --------------------------------------------------------------------------------
def test_every_body_is_a_square_webhook() -> None:
    merchants = set(merchant_ids(7, 3))
    for hook, body in zip(HOOKS, BODIES, strict=True):
        assert body["type"] == hook.event_type and hook.event_type in EVENT_TYPES
        kind, key = SHAPES[hook.event_type]
        located = ["location_id"] if kind in ("dispute", "payout") else []
        assert list(body) == ["merchant_id", *located, "type", "event_id", "created_at", "data"]
        assert body["merchant_id"] == hook.merchant_id and hook.merchant_id in merchants
        assert body["event_id"] == hook.event_id and uuid.UUID(hook.event_id).version == 4
        assert list(body["data"]) == ["type", "id", "object"]
        assert body["data"]["type"] == kind and list(body["data"]["object"]) == [key]
        object_id = obj(body)["order_id" if kind == "order" else "id"]
        assert body["data"]["id"] == object_id == hook.object_id
        if located:
            assert body["location_id"] == obj(body)["location_id"]
    assert len({h.event_id for h in HOOKS}) == N


def test_event_times_follow_the_rate() -> None:
    for i, body in enumerate(BODIES[:500]):
        assert ts(body["created_at"]) == DEFAULT_START + timedelta(milliseconds=20 * i)
    fast = webhooks(7, 3, 3, rate=1000)
    assert [h.created_at[-7:] for h in fast] == ["00.000Z", "00.001Z", "00.002Z"]


# Payments --------------------------------------------------------------------------------
def test_payment_shapes() -> None:
    for body, p in of_kind("payment"):
        for name in ("id", "created_at", "updated_at", "location_id", "order_id", "version_token"):
            assert isinstance(p[name], str) and p[name], name
        assert p["status"] in PAYMENT_STATUSES and p["source_type"] in ("CARD", "CASH")
        assert p["employee_id"] == p["team_member_id"]
        for name in MONEY_FIELDS:
            if name in p:
                assert type(p[name]["amount"]) is int and p[name]["currency"] == "USD"
        amount, tip = p["amount_money"]["amount"], p.get("tip_money", {}).get("amount", 0)
        assert 100 <= amount <= 20_000 and tip >= 0
        assert p["total_money"]["amount"] == amount + tip
        assert ts(p["created_at"]) <= ts(p["updated_at"]) <= ts(body["created_at"])
        for fee in p.get("processing_fee", []):
            assert fee["type"] == "INITIAL" and type(fee["amount_money"]["amount"]) is int
            assert fee["amount_money"]["amount"] > 0
        if p["source_type"] == "CASH":
            assert "card_details" not in p and p["status"] == "COMPLETED"
            cash = p["cash_details"]
            given = cash["buyer_supplied_money"]["amount"]
            assert given - cash["change_back_money"]["amount"] == p["total_money"]["amount"]
            continue
        card_payment_shape(p)


def card_payment_shape(p: dict[str, Any]) -> None:
    d = p["card_details"]
    assert d["status"] in CARD_STATUSES and d["entry_method"] in ENTRY_METHODS
    card = d["card"]
    assert re.fullmatch(r"\d{4}", card["last_4"]) and re.fullmatch(r"\d{6}", card["bin"])
    if card["card_brand"] == "SQUARE_GIFT_CARD":  # a GAN: no expiry, prepaid, no fee
        assert "exp_month" not in card and card["bin"].startswith("7783")
        assert card["prepaid_type"] == "PREPAID" and "processing_fee" not in p
    else:
        assert 1 <= card["exp_month"] <= 12 and card["exp_year"] >= 2025
    assert card["fingerprint"].startswith("sq-1-")
    assert card["card_type"] in ("CREDIT", "DEBIT")
    assert card["prepaid_type"] in ("PREPAID", "NOT_PREPAID")
    assert p["delay_action"] == "CANCEL" and p["delay_duration"] in ("PT36H", "PT168H")
    timeline = d["card_payment_timeline"]
    expected = {
        "APPROVED": ("AUTHORIZED", {"authorized_at"}),
        "COMPLETED": ("CAPTURED", {"authorized_at", "captured_at"}),
        "CANCELED": ("VOIDED", {"authorized_at", "voided_at"}),
        "FAILED": ("FAILED", set()),
    }[p["status"]]
    assert (d["status"], set(timeline)) == expected
    order = ("authorized_at", "captured_at", "voided_at")
    stamps = [ts(timeline[k]) for k in order if k in timeline]
    assert stamps == sorted(stamps) and all(ts(p["created_at"]) <= s for s in stamps)
    if p["status"] == "FAILED":
        assert d["errors"][0]["category"] == "PAYMENT_METHOD_ERROR"
        assert "receipt_url" not in p and "approved_money" not in p
    else:
        assert p["receipt_number"] == p["id"][:4]
    if d["entry_method"] == "KEYED":
        assert p["billing_address"]["country"] == "US" and p["delay_duration"] == "PT168H"


def test_versions_of_a_payment_move_forward() -> None:
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for body, p in of_kind("payment"):
        versions[p["id"]].append(p)
        assert (body["type"] == "payment.created") == (len(versions[p["id"]]) == 1)
    allowed = {"APPROVED": {"APPROVED", "COMPLETED", "CANCELED"}, "COMPLETED": {"COMPLETED"}}
    for history in versions.values():
        for before, after in itertools.pairwise(history):
            assert ts(before["updated_at"]) < ts(after["updated_at"])
            assert before["version_token"] != after["version_token"]
            assert after["status"] in allowed[before["status"]]
            assert after["created_at"] == before["created_at"]


def test_the_stories_of_a_store_all_happen() -> None:
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, p in of_kind("payment"):
        versions[p["id"]].append(p)
    paths = {tuple(v["status"] for v in h) for h in versions.values()}
    assert ("APPROVED", "COMPLETED", "COMPLETED") in paths  # delayed capture, then the fee
    assert ("COMPLETED", "COMPLETED") in paths  # first seen COMPLETED, then the fee
    assert ("APPROVED", "CANCELED") in paths  # void
    assert ("FAILED",) in paths  # declined card attempt
    assert any(len(h) >= 3 for h in versions.values())  # several payment.updated versions
    payments = [p for _, p in of_kind("payment")]
    entries = {p["card_details"]["entry_method"] for p in payments if "card_details" in p}
    assert entries == ENTRY_METHODS
    assert any("tip_money" in p for p in payments)
    assert any(p["source_type"] == "CASH" for p in payments)
    assert any("processing_fee" in p for p in payments)
    assert any("refund_ids" in p for p in payments)
    assert {b["merchant_id"] for b in BODIES} == set(merchant_ids(7, 3))


# Refunds ---------------------------------------------------------------------------------
def test_refunds_reference_earlier_completed_payments() -> None:
    completed: dict[str, dict[str, Any]] = {}
    merchant_of: dict[str, str] = {}
    refunds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for body in BODIES:
        o = obj(body)
        if body["data"]["type"] == "payment":
            if o["status"] == "COMPLETED":
                completed[o["id"]] = o
            merchant_of[o["id"]] = body["merchant_id"]
            continue
        if body["data"]["type"] != "refund":
            continue
        assert o["payment_id"] in completed, "refund of a payment not seen COMPLETED before"
        assert merchant_of[o["payment_id"]] == body["merchant_id"]
        assert o["id"].startswith(o["payment_id"] + "_")
        assert o["status"] in REFUND_STATUSES
        assert (body["type"] == "refund.created") == (o["status"] == "PENDING")
        payment = completed[o["payment_id"]]
        assert o["location_id"] == payment["location_id"]
        assert 0 < o["amount_money"]["amount"] <= payment["total_money"]["amount"]
        assert type(o["amount_money"]["amount"]) is int
        assert ts(o["created_at"]) >= ts(payment["created_at"])
        for fee in o.get("processing_fee", []):
            assert fee["amount_money"]["amount"] <= 0
        assert o["reason"] and o["team_member_id"] and o["order_id"] != payment["order_id"]
        refunds[o["id"]].append(o)
    assert refunds, "no refunds in the sample"
    for history in refunds.values():
        assert history[0]["status"] == "PENDING"
        assert all(h["status"] in ("COMPLETED", "FAILED") for h in history[1:])
    # A payment is never refunded beyond its total.
    for p in completed.values():
        assert p.get("refunded_money", {}).get("amount", 0) <= p["total_money"]["amount"]


def test_objects_match_the_square_sdk_models() -> None:
    for body in BODIES:
        if body["data"]["type"] not in ("payment", "refund"):
            continue  # test_shapes checks every family
        o = obj(body)
        model = Payment if body["data"]["type"] == "payment" else PaymentRefund
        parsed = model.model_validate(o)
        assert parsed.id == o["id"]
        known = {f.alias or name for name, f in model.model_fields.items()}
        assert set(o) <= known, set(o) - known
    card = next(o for o in map(obj, BODIES) if "card_details" in o)
    details = Payment.model_validate(card).card_details
    assert details is not None and details.card is not None
    assert details.card.last4 == card["card_details"]["card"]["last_4"]


def currencies(value: Any) -> set[str]:
    """Every ``currency`` anywhere inside a JSON value."""
    if isinstance(value, dict):
        found = {value["currency"]} if "currency" in value else set()
        return found.union(*(currencies(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(currencies(v) for v in value))
    return set()


def test_currency_per_merchant() -> None:
    a, b = merchant_ids(3, 2)
    hooks = webhooks(3, [a, b], 1500, currency={a: "CAD"})
    pairs = {(h.merchant_id, c) for h in hooks for c in currencies(json.loads(h.body))}
    assert pairs == {(a, "CAD"), (b, "USD")}
    assert {h.event_type for h in hooks} >= {"payout.sent", "gift_card.activity.created"}
    march = webhooks(3, [a], 5, start=datetime(2025, 3, 1, tzinfo=UTC))
    assert {h.merchant_id for h in march} == {a}
    assert march[0].created_at == "2025-03-01T00:00:00.000Z"
