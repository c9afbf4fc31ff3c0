"""The non-payment families and orders: they all happen, and they tell consistent stories."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import islice
from typing import Any

import pytest

from canary_stream.simulate.payloads import SHAPES, Traffic, webhooks
from canary_stream.simulate.stories import DEFAULT_MIX, weights

N = 3000
TRAFFIC = Traffic(7, 3)
HOOKS = list(islice(TRAFFIC, N))
BODIES: list[dict[str, Any]] = [json.loads(h.body) for h in HOOKS]


def obj(body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = next(iter(body["data"]["object"].values()))
    return result


def typed(*event_types: str) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """``(position, body, object)`` of the bodies of these types, in delivery order."""
    return [(i, b, obj(b)) for i, b in enumerate(BODIES) if b["type"] in event_types]


def payments_until(position: int) -> dict[str, dict[str, Any]]:
    """The latest version of every payment delivered before ``position``."""
    return {obj(b)["id"]: obj(b) for b in BODIES[:position] if b["data"]["type"] == "payment"}


def test_every_family_appears_in_a_seeded_run() -> None:
    families = {SHAPES[b["type"]][0] for b in BODIES}
    assert families == {
        "payment", "refund", "order", "customer", "loyalty_account", "loyalty_event",
        "gift_card_activity", "dispute", "payout",
    }  # fmt: skip
    assert {o["type"] for _, _, o in typed("loyalty.event.created")} == {
        "ACCUMULATE_POINTS", "REDEEM_REWARD", "ADJUST_POINTS",
    }  # fmt: skip
    assert {o["type"] for _, _, o in typed("gift_card.activity.created")} == {
        "ACTIVATE", "LOAD", "REDEEM",
    }  # fmt: skip
    assert {o["state"] for _, _, o in typed("dispute.state.updated")} >= {
        "PROCESSING",
        "WON",
        "LOST",
    }
    assert {b["type"] for b in BODIES} >= {
        "customer.created", "customer.updated", "customer.deleted", "payout.sent", "payout.paid",
    }  # fmt: skip
    tenders = [len(o["tenders"]) for o in TRAFFIC.orders.values()]
    assert max(tenders) >= 2 and tenders.count(1) > 0  # split tender, and single-tender orders
    assert any("returns" in o for o in TRAFFIC.orders.values())  # an exchange
    drawer = {
        e["event_type"]
        for m in TRAFFIC.merchants
        for s in TRAFFIC.drawer_shifts(m.merchant_id)
        for e in TRAFFIC.drawer_events(m.merchant_id, s["id"])
    }
    assert drawer == {
        "CASH_TENDER_PAYMENT", "CASH_TENDER_REFUND", "NO_SALE", "PAID_IN", "PAID_OUT",
    }  # fmt: skip


def test_orders_are_thin_and_match_their_payments() -> None:
    created = {o["order_id"]: (i, o) for i, _, o in typed("order.created")}
    completed = 0
    for i, _, thin in typed("order.updated"):
        assert list(thin) == [
            "order_id", "version", "location_id", "state", "created_at", "updated_at",
        ]  # fmt: skip
        order = TRAFFIC.orders[thin["order_id"]]
        first, opened = created[thin["order_id"]]
        assert first < i and opened["state"] == "OPEN" and opened["version"] == 1
        assert (thin["state"], thin["version"]) == ("COMPLETED", order["version"])
        assert order["version"] == 2 + len(order["tenders"])
        assert thin["updated_at"] == order["closed_at"] == order["updated_at"]
        paid = payments_until(i)
        for tender in order["tenders"]:
            p = paid[tender["payment_id"]]
            assert p["status"] == "COMPLETED" and p["order_id"] == order["id"]
            assert tender["amount_money"] == p["total_money"] and tender["id"] == p["id"]
            assert p["location_id"] == order["location_id"]
        net = sum(t["amount_money"]["amount"] for t in order["tenders"])
        assert net == order["net_amounts"]["total_money"]["amount"]
        tips = sum(t.get("tip_money", {}).get("amount", 0) for t in order["tenders"])
        assert order["total_tip_money"]["amount"] == tips
        lines = order["line_items"]
        for li in lines:
            gross = li["base_price_money"]["amount"] * int(li["quantity"])
            assert li["gross_sales_money"]["amount"] == gross
            assert li["total_money"]["amount"] == gross + li["total_tax_money"]["amount"]
        sold = sum(li["total_money"]["amount"] for li in lines)
        assert order["total_money"]["amount"] == sold + tips
        returned = order.get("return_amounts", {}).get("total_money", {}).get("amount", 0)
        assert net == sold + tips - returned > 0
        completed += 1
    assert completed == len(TRAFFIC.orders) > 50


def test_exchanges_return_a_line_of_an_earlier_order() -> None:
    exchanges = [o for o in TRAFFIC.orders.values() if "returns" in o]
    for order in exchanges:
        (ret,) = order["returns"]
        source = TRAFFIC.orders[ret["source_order_id"]]
        (line,) = ret["return_line_items"]
        original = next(
            li for li in source["line_items"] if li["uid"] == line["source_line_item_uid"]
        )
        assert (
            line["total_money"] == original["total_money"]
            and source["closed_at"] < order["created_at"]
        )
    assert exchanges


def test_disputes_reference_earlier_card_payments() -> None:
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, body, d in typed("dispute.created", "dispute.state.updated"):
        if body["type"] == "dispute.created":
            p = payments_until(i)[d["disputed_payment"]["payment_id"]]
            assert p["status"] == "COMPLETED" and p["source_type"] == "CARD"
            assert d["amount_money"] == p["total_money"]
            assert d["card_brand"] == p["card_details"]["card"]["card_brand"]
            assert d["location_id"] == p["location_id"] == body["location_id"]
            assert not history[d["id"]]
        history[d["id"]].append(d)
    paths = set()
    for versions in history.values():
        assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
        paths.add(tuple(v["state"] for v in versions))
    allowed = {
        ("EVIDENCE_REQUIRED", "PROCESSING", "WON"),
        ("EVIDENCE_REQUIRED", "PROCESSING", "LOST"),
        ("EVIDENCE_REQUIRED", "ACCEPTED"),
    }
    assert {p for p in paths if len(p) == 3 or "ACCEPTED" in p} <= allowed
    assert {p for p in paths if len(p) == 3} == allowed - {("EVIDENCE_REQUIRED", "ACCEPTED")}


def test_payouts_are_sent_then_paid() -> None:
    sent: dict[str, dict[str, Any]] = {}
    for _, body, po in typed("payout.sent", "payout.paid", "payout.failed"):
        assert po["amount_money"]["amount"] > 0
        if body["type"] == "payout.sent":
            assert (po["status"], po["version"]) == ("SENT", 1) and po["id"] not in sent
            sent[po["id"]] = po
        else:
            assert sent[po["id"]]["amount_money"] == po["amount_money"]
            assert (po["status"], po["version"]) == (body["type"].split(".")[1].upper(), 2)
    assert sent


def test_gift_card_balances_and_redemptions() -> None:
    balance: dict[str, int] = {}
    for i, _, act in typed("gift_card.activity.created"):
        kind = act["type"]
        details = act[f"{kind.lower()}_activity_details"]
        amount = details["amount_money"]["amount"]
        if kind == "ACTIVATE":
            assert act["gift_card_id"] not in balance
        before = balance.get(act["gift_card_id"], 0)
        balance[act["gift_card_id"]] = before + (-amount if kind == "REDEEM" else amount)
        assert act["gift_card_balance_money"]["amount"] == balance[act["gift_card_id"]] >= 0
        if kind == "REDEEM":
            p = payments_until(i)[details["payment_id"]]
            assert p["card_details"]["card"]["card_brand"] == "SQUARE_GIFT_CARD"
            assert p["total_money"]["amount"] == amount and p["status"] == "COMPLETED"
            assert p["card_details"]["card"]["last_4"] == act["gift_card_gan"][-4:]


def test_loyalty_events_follow_enrolment_and_purchases() -> None:
    accounts: dict[str, dict[str, Any]] = {}
    points: Counter[str] = Counter()
    for i, body, o in typed("loyalty.account.created", "loyalty.event.created"):
        if body["type"] == "loyalty.account.created":
            assert o["balance"] == 0 and o["program_id"] and o["mapping"]["phone_number"]
            accounts[o["id"]] = o
            continue
        account = accounts[o["loyalty_account_id"]]
        if o["type"] == "ACCUMULATE_POINTS":
            p = next(
                p for p in payments_until(i).values()
                if p["order_id"] == o["accumulate_points"]["order_id"]
            )  # fmt: skip
            assert p["customer_id"] == account["customer_id"]
            assert o["accumulate_points"]["points"] == p["amount_money"]["amount"] // 100
            points[account["id"]] += o["accumulate_points"]["points"]
        elif o["type"] == "REDEEM_REWARD":
            points[account["id"]] -= 10
        else:
            points[account["id"]] += o["adjust_points"]["points"]
        assert points[account["id"]] >= 0


def test_customers_live_and_return() -> None:
    versions: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for i, body, c in typed("customer.created", "customer.updated", "customer.deleted"):
        if body["type"] == "customer.created":
            assert c["version"] == 0 and c["id"] not in versions
        else:
            assert c["version"] == versions.get(c["id"], c["version"] - 1) + 1
        versions[c["id"]] = c["version"]
        if body["type"] == "customer.deleted":
            deleted[c["id"]] = i
    by_customer: Counter[str] = Counter()
    for i, _, p in typed("payment.created"):
        if "customer_id" in p:
            by_customer[p["customer_id"]] += 1
            assert i < deleted.get(p["customer_id"], len(BODIES))
    assert deleted and max(by_customer.values()) >= 3  # returning customers


def test_mix_overrides_and_rejects_unknown_names() -> None:
    quiet = webhooks(7, 2, 1500, mix={"dispute": 0, "payout": 0, "customer": 0})
    assert not {h.event_type.split(".")[0] for h in quiet} & {"dispute", "payout", "customer"}
    assert weights(None, None) == DEFAULT_MIX
    with pytest.raises(ValueError, match="unknown story"):
        weights({"salez": 1}, None)
    with pytest.raises(ValueError, match="unknown fraud pattern"):
        weights(None, {"phishing": 1})
    with pytest.raises(ValueError):
        weights(dict.fromkeys(DEFAULT_MIX, 0), None)


ONLY_SALES = {name: 0.0 for name in DEFAULT_MIX if name != "sale"}


def test_card_testing_is_a_burst_of_small_failures_on_one_card() -> None:
    hooks = webhooks(5, 1, 2000, mix=ONLY_SALES, fraud={"card_testing": 1})
    failed: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)  # by fingerprint
    for i, h in enumerate(hooks):
        p = obj(json.loads(h.body))
        if p.get("status") == "FAILED":
            failed[p["card_details"]["card"]["fingerprint"]].append((i, p))
    # Bursts interleave with other stories; those begun early in the sample have ended.
    early = [[p for _, p in burst] for burst in failed.values() if burst[0][0] < 600]
    assert len(early) >= 5
    for attempts in early:
        assert 6 <= len(attempts) <= 15
        assert {p["card_details"]["entry_method"] for p in attempts} == {"KEYED"}
        assert len({p["team_member_id"] for p in attempts}) == 1
        assert all(100 <= p["amount_money"]["amount"] < 600 for p in attempts)


def test_refund_burst_is_one_employee_refunding_in_full() -> None:
    hooks = webhooks(5, 1, 1500, mix=ONLY_SALES, fraud={"refund_burst": 0.2})
    bodies = [json.loads(h.body) for h in hooks]
    refunds = [obj(b) for b in bodies if b["type"] == "refund.created"]
    totals = {
        obj(b)["id"]: obj(b)["total_money"]["amount"] for b in bodies if "payment" in b["type"]
    }
    assert all(r["amount_money"]["amount"] == totals[r["payment_id"]] for r in refunds)
    by_member = Counter(r["team_member_id"] for r in refunds)
    assert max(by_member.values()) >= 3 and len(by_member) < len(refunds) / 2


STAMPS = {"created_at", "updated_at", "closed_at", "enrolled_at", "effective_at"}
STAMPS |= {"authorized_at", "captured_at", "voided_at"}


def stamps(value: Any) -> list[str]:
    """Every past-tense timestamp inside a JSON value (not ``due_at`` or ``arrival_date``)."""
    if isinstance(value, dict):
        return [
            s
            for k, v in value.items()
            for s in ([v] if k in STAMPS and isinstance(v, str) else stamps(v))
        ]
    if isinstance(value, list):
        return [s for v in value for s in stamps(v)]
    return []


@pytest.mark.parametrize("rate", [50.0, 1000.0])
def test_no_object_is_dated_after_its_webhook(rate: float) -> None:
    bodies = (
        BODIES if rate == 50.0 else [json.loads(h.body) for h in webhooks(2, 4, 3000, rate=rate)]
    )
    for body in bodies:
        assert max(stamps(body["data"])) <= body["created_at"], body["type"]
    for order in TRAFFIC.orders.values():
        for tender in order["tenders"]:
            assert order["created_at"] < tender["created_at"] <= order["closed_at"]
