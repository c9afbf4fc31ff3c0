"""``expected_ledger``: exact values on a hand-checked sample, and cross-checks on a run."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import islice
from typing import Any

from canary_stream.simulate.expected import empty_ledger, expected_api_ledger, expected_ledger
from canary_stream.simulate.payloads import Traffic

A, B = "MLAAAAAAAAAAAAA", "MLBBBBBBBBBBBBB"
T0 = "2025-01-06T15:00:00.000Z"
KINDS = {
    "payment": "payment", "refund": "refund", "dispute": "dispute", "payout": "payout",
    "gift_card": "gift_card_activity", "loyalty": None, "customer": "customer",
}  # fmt: skip
SAMPLE: list[bytes] = []


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def send(event_type: str, obj: dict[str, Any], merchant: str = A, event_id: str = "") -> None:
    """Append a webhook body as Square shapes it (only the fields the ledger reads)."""
    family = event_type.split(".")[0]
    kind = KINDS[family] or ("loyalty_account" if ".account." in event_type else "loyalty_event")
    event_id = event_id or f"evt-{len(SAMPLE)}"
    body = {
        "merchant_id": merchant,
        "type": event_type,
        "event_id": event_id,
        "created_at": T0,
        "data": {"type": kind, "id": obj["id"], "object": {kind: obj}},
    }
    SAMPLE.append(json.dumps(body).encode())


def payment(pid: str, status: str, amount: int, tip: int = 0, **extra: Any) -> dict[str, Any]:
    p = {"id": pid, "status": status, "amount_money": usd(amount)}
    if tip:
        p["tip_money"] = usd(tip)
    p["total_money"] = usd(amount + tip)
    if status != "FAILED":
        p["approved_money"] = usd(amount)
    return {**p, **extra}


def fee(amount: int, at: str) -> dict[str, Any]:
    return {
        "processing_fee": [{"effective_at": at, "type": "INITIAL", "amount_money": usd(amount)}]
    }


# P1: delayed capture — APPROVED, COMPLETED with a tip, the fee, a re-sent fee version.
send("payment.created", payment("P1", "APPROVED", 1000))
send("payment.updated", payment("P1", "COMPLETED", 1000, 200))
send("payment.updated", payment("P1", "COMPLETED", 1000, 200, **fee(46, "T1")))
send(
    "payment.updated",
    payment("P1", "COMPLETED", 1000, 200, refunded_money=usd(300), **fee(46, "T1")),
)
# P2: first seen COMPLETED, with its fee → a PAYMENT only.
send("payment.created", payment("P2", "COMPLETED", 500, **fee(28, "T2")))
# P3: approved, then voided. P7: first seen CANCELED, card VOIDED → a VOID too.
# P5: CANCELED with no sign of an approval → nothing.
send("payment.created", payment("P3", "APPROVED", 700))
send("payment.updated", payment("P3", "CANCELED", 700))
voided = {"card_details": {"status": "VOIDED"}}
send("payment.created", {**payment("P7", "CANCELED", 400), **voided})
send("payment.created", {"id": "P5", "status": "CANCELED", "amount_money": usd(900)})
# P4, P6: declined (P4 seen twice) → canonical only.
send("payment.created", payment("P4", "FAILED", 300))
send("payment.updated", payment("P4", "FAILED", 300))
send("payment.created", payment("P6", "FAILED", 100))
# R1: PENDING → COMPLETED (fee share back) → a re-sent COMPLETED. R2: PENDING → FAILED.
refund = {"id": "R1", "status": "PENDING", "amount_money": usd(300), "payment_id": "P1"}
send("refund.created", refund)
send("refund.updated", {**refund, "status": "COMPLETED", **fee(-12, "T3")})
send("refund.updated", {**refund, "status": "COMPLETED", **fee(-12, "T3")})
send("refund.created", {"id": "R2", "status": "PENDING", "amount_money": usd(100)})
send("refund.updated", {"id": "R2", "status": "FAILED", "amount_money": usd(100)})
# D1: EVIDENCE_REQUIRED → PROCESSING → WON, and WON told twice.
dispute = {"id": "D1", "amount_money": usd(500), "disputed_payment": {"payment_id": "P2"}}
for event_type, state in [
    ("dispute.created", "EVIDENCE_REQUIRED"),
    ("dispute.state.updated", "PROCESSING"),
    ("dispute.state.updated", "WON"),
    ("dispute.state.updated", "WON"),
]:
    send(event_type, {**dispute, "state": state})
send("payout.sent", {"id": "PO1", "status": "SENT", "amount_money": usd(10_000)})
send("payout.paid", {"id": "PO1", "status": "PAID", "amount_money": usd(10_000)})
for n, (kind, amount) in enumerate([("ACTIVATE", 2500), ("LOAD", 1000), ("REDEEM", 700)]):
    details = {f"{kind.lower()}_activity_details": {"amount_money": usd(amount)}}
    send("gift_card.activity.created", {"id": f"G{n}", "type": kind, **details})
send("loyalty.account.created", {"id": "LA1", "balance": 0})
send(
    "loyalty.event.created",
    {"id": "LE1", "type": "ACCUMULATE_POINTS", "accumulate_points": {"points": 12}},
)
send("loyalty.event.created", {"id": "LE2", "type": "REDEEM_REWARD", "redeem_reward": {}})
send(
    "loyalty.event.created", {"id": "LE3", "type": "ADJUST_POINTS", "adjust_points": {"points": -5}}
)
send("customer.created", {"id": "C1", "version": 0})
send("customer.updated", {"id": "C1", "version": 1}, event_id="evt-c1-updated")
send("customer.updated", {"id": "C1", "version": 1}, event_id="evt-c1-updated")  # redelivered
send("customer.deleted", {"id": "C1", "version": 2})
send("payment.created", payment("Q1", "COMPLETED", 999), merchant=B)


def test_hand_checked_sample() -> None:
    ledger = expected_ledger(SAMPLE)
    assert set(ledger) == {A, B}
    assert ledger[A] == {
        "transactions": {
            "AUTHORIZATION": {
                "count": 2,
                "amount": 1700,
                "tip": 0,
                "total": 1700,
                "approved": 1700,
            },
            "PAYMENT": {"count": 2, "amount": 1500, "tip": 200, "total": 1700, "approved": 1500},
            "VOID": {"count": 2, "amount": 1100, "tip": 0, "total": 1100, "approved": 1100},
            "REFUND": {"count": 1, "amount": 300, "tip": 0, "total": 300, "approved": 0},
        },
        "failed_payments": 2,
        "fees": {
            "count": 3,
            "sum": 62,
            "PAYMENT": {"count": 2, "sum": 74},
            "REFUND": {"count": 1, "sum": -12},
        },
        "refund_links": {"count": 1, "sum": 300},
        "disputes": {
            "EVIDENCE_REQUIRED": {"count": 1, "sum": 500},
            "PROCESSING": {"count": 1, "sum": 500},
            "WON": {"count": 1, "sum": 500},
            "LOST": {"count": 0, "sum": 0},
            "ACCEPTED": {"count": 0, "sum": 0},
        },
        "loyalty": {
            "ENROLL": {"count": 1, "points": 0},
            "ACCUMULATE": {"count": 1, "points": 12},
            "REDEEM": {"count": 1, "points": 0},
            "ADJUST": {"count": 1, "points": -5},
        },
        "gift_cards": {
            "ACTIVATE": {"count": 1, "sum": 2500},
            "LOAD": {"count": 1, "sum": 1000},
            "REDEEM": {"count": 1, "sum": 700},
        },
        "payouts": {
            "SENT": {"count": 1, "sum": 10_000},
            "PAID": {"count": 1, "sum": 10_000},
            "FAILED": {"count": 0, "sum": 0},
        },
        "customers": {"CREATED": 1, "UPDATED": 1, "DELETED": 1},
    }
    only_b = empty_ledger()
    only_b["transactions"]["PAYMENT"] = {
        "count": 1, "amount": 999, "tip": 0, "total": 999, "approved": 999,
    }  # fmt: skip
    assert ledger[B] == only_b
    assert expected_ledger(SAMPLE + SAMPLE) == ledger  # redelivery changes nothing
    assert expected_ledger([]) == {}


TRAFFIC = Traffic(7, 3)
HOOKS = list(islice(TRAFFIC, 3000))
LEDGER = expected_ledger(HOOKS)


def test_a_run_agrees_with_the_final_states_of_its_objects() -> None:
    statuses: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    refunds: dict[str, set[str]] = defaultdict(set)
    created: dict[str, int] = defaultdict(int)
    for h in HOOKS:
        body = json.loads(h.body)
        obj = next(iter(body["data"]["object"].values()))
        if body["data"]["type"] == "payment":
            statuses[h.merchant_id][obj["id"]].append(obj["status"])
        elif body["data"]["type"] == "refund" and obj["status"] == "COMPLETED":
            refunds[h.merchant_id].add(obj["id"])
        elif h.event_type == "dispute.created":
            created[h.merchant_id] += 1
    for merchant, payments in statuses.items():
        t = LEDGER[merchant]["transactions"]
        seen = [set(v) for v in payments.values()]
        assert t["PAYMENT"]["count"] == sum("COMPLETED" in s for s in seen)
        assert t["AUTHORIZATION"]["count"] == sum("APPROVED" in s for s in seen)
        assert t["VOID"]["count"] == sum({"APPROVED", "CANCELED"} <= s for s in seen) > 0
        assert LEDGER[merchant]["failed_payments"] == sum("FAILED" in s for s in seen) > 0
        assert t["REFUND"]["count"] == LEDGER[merchant]["refund_links"]["count"]
        assert t["REFUND"]["count"] == len(refunds[merchant]) > 0
        assert LEDGER[merchant]["disputes"]["EVIDENCE_REQUIRED"]["count"] == created[merchant]
        assert (
            LEDGER[merchant]["fees"]["REFUND"]["sum"]
            < 0
            < LEDGER[merchant]["fees"]["PAYMENT"]["sum"]
        )
    assert expected_ledger(h.body for h in HOOKS) == LEDGER


def test_api_ledger_counts_orders_and_drawer_events() -> None:
    api = expected_api_ledger(TRAFFIC)
    updated = sum(h.event_type == "order.updated" for h in HOOKS)
    sales = sum(
        a["transactions"]["SALE"]["count"] + a["transactions"]["EXCHANGE"]["count"]
        for a in api.values()
    )
    assert sales == updated == len(TRAFFIC.orders)
    assert sum(a["tenders"] for a in api.values()) == sum(
        len(o["tenders"]) for o in TRAFFIC.orders.values()
    )
    for m in TRAFFIC.merchants:
        a = api[m.merchant_id]
        events = [
            e
            for s in TRAFFIC.drawer_shifts(m.merchant_id)
            for e in TRAFFIC.drawer_events(m.merchant_id, s["id"])
        ]
        for kind in ("NO_SALE", "PAID_IN", "PAID_OUT"):
            assert a["transactions"][kind]["count"] == sum(e["event_type"] == kind for e in events)
        assert sum(a["cash_drawer_events"].values()) == len(events)
        exchange = a["transactions"]["EXCHANGE"]
        assert exchange["net"] < exchange["total"] or exchange["count"] == 0
