"""What the fake Square will serve: orders, cash-drawer shifts and events, pages."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice, pairwise
from typing import Any

import pytest

from canary_stream.simulate import api
from canary_stream.simulate.drawer import OPENING_CASH, SHIFT
from canary_stream.simulate.payloads import Traffic

#: One event every 50 s of business time: 1500 events are about 21 hours (shifts rotate).
SLOW = 0.02


def slow_traffic(count: int = 1500) -> tuple[Traffic, list[dict[str, Any]]]:
    traffic = Traffic(3, 2, rate=SLOW)
    return traffic, [json.loads(h.body) for h in islice(traffic, count)]


TRAFFIC, BODIES = slow_traffic()


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_shifts_rotate_and_keep_their_books() -> None:
    for m in TRAFFIC.merchants:
        for loc in m.locations:
            shifts = TRAFFIC.drawer_shifts(m.merchant_id, loc.id)
            states = [s["state"] for s in shifts]
            assert states[-1] == "OPEN" and states.count("OPEN") == 1
            assert "CLOSED" in states and set(states) <= {"OPEN", "ENDED", "CLOSED"}
            for before, after in pairwise(shifts):
                assert at(before["ended_at"]) - at(before["opened_at"]) == SHIFT
                assert after["opened_at"] == before["ended_at"]
            for summary in shifts:
                shift = TRAFFIC.drawer_shift(m.merchant_id, summary["id"])
                assert shift is not None and shift["location_id"] == loc.id
                moves = {
                    k: shift[k]["amount"]
                    for k in (
                        "opened_cash_money", "cash_payment_money", "cash_refunds_money",
                        "cash_paid_in_money", "cash_paid_out_money",
                    )
                }  # fmt: skip
                assert moves["opened_cash_money"] == OPENING_CASH
                expected = (
                    moves["opened_cash_money"] + moves["cash_payment_money"]
                    - moves["cash_refunds_money"] + moves["cash_paid_in_money"]
                    - moves["cash_paid_out_money"]
                )  # fmt: skip
                assert shift["expected_cash_money"]["amount"] == expected
                if shift["state"] == "CLOSED":
                    assert at(shift["closed_at"]) > at(shift["ended_at"])
                    assert abs(shift["closed_cash_money"]["amount"] - expected) <= 4000
                events = TRAFFIC.drawer_events(m.merchant_id, summary["id"])
                for e in events:
                    assert at(shift["opened_at"]) <= at(e["created_at"])
                    assert "ended_at" not in shift or at(e["created_at"]) <= at(shift["ended_at"])
                paid = sum(
                    e["event_money"]["amount"]
                    for e in events
                    if e["event_type"] == "CASH_TENDER_PAYMENT"
                )
                assert paid == moves["cash_payment_money"]


def test_cash_payments_and_refunds_reach_their_drawer() -> None:
    cash: dict[tuple[str, str], int] = {}
    refunds: dict[tuple[str, str], int] = {}
    paid_back = {}
    for b in BODIES:
        o = next(iter(b["data"]["object"].values()))
        key = (b["merchant_id"], o.get("location_id", ""))
        if b["type"] == "payment.created" and o["source_type"] == "CASH":
            cash[key] = cash.get(key, 0) + o["total_money"]["amount"]
        if b["type"] == "refund.updated" and o["status"] == "COMPLETED":
            if o["destination_type"] == "CASH" and o["id"] not in paid_back:
                paid_back[o["id"]] = True
                refunds[key] = refunds.get(key, 0) + o["amount_money"]["amount"]
    kinds = set()
    for (mid, loc), total in cash.items():
        events = [
            e for s in TRAFFIC.drawer_shifts(mid, loc) for e in TRAFFIC.drawer_events(mid, s["id"])
        ]
        kinds |= {e["event_type"] for e in events}
        got = sum(
            e["event_money"]["amount"] for e in events if e["event_type"] == "CASH_TENDER_PAYMENT"
        )
        back = sum(
            e["event_money"]["amount"] for e in events if e["event_type"] == "CASH_TENDER_REFUND"
        )
        assert (got, back) == (total, refunds.get((mid, loc), 0))
    for m in TRAFFIC.merchants:
        for s in TRAFFIC.drawer_shifts(m.merchant_id):
            kinds |= {e["event_type"] for e in TRAFFIC.drawer_events(m.merchant_id, s["id"])}
    assert kinds >= {"CASH_TENDER_PAYMENT", "CASH_TENDER_REFUND", "NO_SALE", "PAID_OUT"}


def test_pages_walk_every_item_once() -> None:
    m = TRAFFIC.merchants[0]
    loc = m.locations[0].id
    everything = TRAFFIC.drawer_shifts(m.merchant_id, loc)
    walked, cursor = [], None
    while True:
        body = TRAFFIC.drawer_shifts_page(m.merchant_id, loc, cursor=cursor, limit=2)
        walked += body["cash_drawer_shifts"]
        cursor = body.get("cursor")
        if cursor is None:
            break
    assert walked == everything and len(everything) > 2
    later = TRAFFIC.drawer_shifts_page(
        m.merchant_id, loc, begin_time=at(everything[1]["opened_at"]), sort_order="DESC"
    )
    assert later == {"cash_drawer_shifts": everything[:0:-1]}
    window = TRAFFIC.drawer_shifts_page(
        m.merchant_id, loc, begin_time=at(everything[0]["opened_at"]),
        end_time=at(everything[1]["opened_at"]),
    )  # fmt: skip
    assert window == {"cash_drawer_shifts": everything[:1]}
    shift_id = everything[0]["id"]
    events = TRAFFIC.drawer_events(m.merchant_id, shift_id)
    first = TRAFFIC.drawer_events_page(m.merchant_id, shift_id, limit=3)
    assert first["cash_drawer_shift_events"] == events[:3] and "cursor" in first
    rest = TRAFFIC.drawer_events_page(m.merchant_id, shift_id, cursor=first["cursor"], limit=1000)
    assert rest == {"cash_drawer_shift_events": events[3:]}
    assert TRAFFIC.drawer_shifts_page("MLNOBODY", loc) == {"cash_drawer_shifts": []}
    assert TRAFFIC.drawer_events(m.merchant_id, "NO-SUCH-SHIFT") == []
    assert TRAFFIC.drawer_shift(m.merchant_id, "NO-SUCH-SHIFT") is None


def test_cursors_are_opaque_and_checked() -> None:
    assert api.decode_cursor(api.encode_cursor(400)) == 400
    for bad in ("", "!!", api.encode_cursor(3)[:-2] + "zz", "c2ltOi0x"):  # last: "sim:-1"
        with pytest.raises(api.BadCursor):
            api.decode_cursor(bad)
    with pytest.raises(ValueError):
        api.page([], "x", limit=0)
    assert api.page([{"a": 1}], "x", limit=1) == {"x": [{"a": 1}]}


def test_retrieve_order_is_a_copy_scoped_to_its_merchant() -> None:
    a, b = TRAFFIC.merchants
    order_id = TRAFFIC.order_ids(a.merchant_id)[0]
    body = TRAFFIC.retrieve_order(a.merchant_id, order_id)
    assert body == {"order": TRAFFIC.orders[order_id]}
    assert body["order"]["state"] == "COMPLETED"
    body["order"]["state"] = "CHANGED"
    assert TRAFFIC.orders[order_id]["state"] == "COMPLETED"
    assert TRAFFIC.retrieve_order(b.merchant_id, order_id) is None
    assert TRAFFIC.retrieve_order(a.merchant_id, "nope") is None
    with pytest.raises(TypeError):
        TRAFFIC.orders["x"] = {}  # type: ignore[index]


def test_reading_the_api_side_changes_no_webhook() -> None:
    plain = [h.body for h in islice(Traffic(3, 2, rate=SLOW), 600)]
    probed, traffic = [], Traffic(3, 2, rate=SLOW)
    for i, hook in enumerate(islice(traffic, 600)):
        probed.append(hook.body)
        if i % 7 == 0:
            for m in traffic.merchants:
                for s in traffic.drawer_shifts(m.merchant_id):
                    traffic.drawer_events_page(m.merchant_id, s["id"])
                for order_id in traffic.order_ids(m.merchant_id):
                    traffic.retrieve_order(m.merchant_id, order_id)
    assert probed == plain


def test_same_seed_same_orders_and_drawers() -> None:
    other, _ = slow_traffic()
    assert dict(other.orders) == dict(TRAFFIC.orders)
    for m in TRAFFIC.merchants:
        assert other.drawer_shifts(m.merchant_id) == TRAFFIC.drawer_shifts(m.merchant_id)
        for s in TRAFFIC.drawer_shifts(m.merchant_id):
            assert other.drawer_events(m.merchant_id, s["id"]) == TRAFFIC.drawer_events(
                m.merchant_id, s["id"]
            )
