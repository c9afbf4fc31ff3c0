"""Polled drawer pages: shifts per state; drawer events (NO_SALE, PAID_IN, PAID_OUT ledgered)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from square_bodies import M, ctx, encode, money, vector

from canary_stream.square.parse.base import ParseError, canonical_id, transaction_id
from canary_stream.square.parse.drawers import parse_shift_events, parse_shifts

SHIFTS = "square.cash_drawer_shift.polled"
EVENTS = "square.cash_drawer_shift_event.polled"
SHIFT_ID = "DCC99978-09A6-4926-849F-300BE9C5793A"


def test_square_example_closed_shift():
    raw, _ = vector(SHIFTS)
    [rec] = parse_shifts(raw, ctx(raw, SHIFTS, source_type="POLLING"))
    c = rec.canonical
    assert (c.shift_id, c.state, c.occurred_at) == (
        SHIFT_ID,
        "CLOSED",
        datetime(2019, 11, 22, 0, 44, 49, tzinfo=UTC),
    )
    assert (c.opened_cash_cents, c.expected_cash_cents, c.closed_cash_cents) == (10000, 10000, 9970)
    assert c.canonical_id == canonical_id(M, "cash_drawer_shift", SHIFT_ID, "CLOSED")
    assert rec.primary.key == ("merchant_id", "square_shift_id", "state")
    assert rec.primary.values == {
        "merchant_id": M,
        "square_shift_id": SHIFT_ID,
        "location_id": None,
        "state": "CLOSED",
        "device_id": None,
        "opened_at": datetime(2019, 11, 22, 0, 42, 54, tzinfo=UTC),
        "ended_at": datetime(2019, 11, 22, 0, 44, 49, tzinfo=UTC),
        "closed_at": datetime(2019, 11, 22, 0, 44, 49, tzinfo=UTC),
        "opened_cash_cents": 10000,
        "expected_cash_cents": 10000,
        "closed_cash_cents": 9970,
        "opening_employee_id": None,
        "closing_employee_id": None,
    }
    assert "Misplaced some change" not in c.model_dump_json()


def test_full_shift_objects_carry_device_and_employees_and_open_occurs_at_opened_at():
    shift = {
        "id": "S2",
        "state": "OPEN",
        "opened_at": "2025-01-06T08:00:00Z",
        "opened_cash_money": money(20000),
        "device": {"id": "DEV1", "name": "Front"},
        "location_id": "LOC1",
        "opening_team_member_id": "TM1",
    }
    raw = encode({"cash_drawer_shifts": [shift], "cursor": "abc"})
    [rec] = parse_shifts(raw, ctx(raw, SHIFTS))
    c = rec.canonical
    assert (c.state, c.occurred_at) == ("OPEN", datetime(2025, 1, 6, 8, tzinfo=UTC))
    assert (c.device_id, c.location_id, c.opening_employee_id) == ("DEV1", "LOC1", "TM1")


def test_empty_page_is_no_record():
    raw = encode({})
    assert parse_shifts(raw, ctx(raw, SHIFTS)) == []


def test_square_example_events_are_rows_and_paid_in_out_are_transactions():
    raw, _ = vector(EVENTS)
    records = parse_shift_events(raw, ctx(raw, EVENTS, source_type="POLLING"))
    assert [r.canonical is None for r in records] == [True] * 4 + [False] * 2
    for rec in records[:4]:
        assert [r.table for r in rec.rows] == ["sales.cash_drawer_events"] and rec.primary is None
    paid_in = records[4]
    ext = "8C66E60E-FDCF-4EEF-A98D-3B14B7ED5CBE"
    c = paid_in.canonical
    assert (c.transaction_type, c.status, c.amount_cents, c.shift_id) == (
        "PAID_IN",
        "COMPLETED",
        10000,
        SHIFT_ID,
    )
    assert c.transaction_id == transaction_id(M, ext, "PAID_IN")
    assert (c.location_id, c.employee_id) == ("S8GWD5R9QB376", None)  # "" team member → None
    assert c.occurred_at == datetime(2019, 11, 22, 0, 44, 18, tzinfo=UTC)
    assert paid_in.primary is paid_in.rows[0]
    assert paid_in.rows[1].key == ("merchant_id", "square_event_id")
    assert paid_in.rows[1].values == {
        "merchant_id": M,
        "square_event_id": ext,
        "square_shift_id": SHIFT_ID,
        "event_type": "PAID_IN",
        "amount_cents": 10000,
        "employee_id": None,
        "occurred_at": datetime(2019, 11, 22, 0, 44, 18, tzinfo=UTC),
    }
    assert records[5].canonical.transaction_type == "PAID_OUT"
    assert "Transfer" not in repr([r.rows for r in records])


def test_no_sale_is_a_zero_amount_transaction_with_its_employee():
    body = {
        "shift_id": "S1",
        "location_id": "LOC1",
        "response": {
            "cash_drawer_shift_events": [
                {
                    "id": "E1",
                    "event_type": "NO_SALE",
                    "created_at": "2025-01-06T23:30:00Z",
                    "team_member_id": "TM7",
                    "description": "opened for change",
                }
            ]
        },
    }
    raw = encode(body)
    [rec] = parse_shift_events(raw, ctx(raw, EVENTS))
    c = rec.canonical
    assert (c.transaction_type, c.amount_cents, c.employee_id, c.shift_id) == (
        "NO_SALE",
        0,
        "TM7",
        "S1",
    )
    assert rec.rows[1].values["amount_cents"] is None
    assert rec.primary.values["amount_cents"] == 0


def test_malformed_drawer_pages():
    raw, _ = vector(EVENTS)
    body = json.loads(raw)
    del body["shift_id"]
    raw = encode(body)
    with pytest.raises(ParseError, match=r"^shift_id: missing$"):
        parse_shift_events(raw, ctx(raw, EVENTS))
    raw = encode({"shift_id": "S", "cash_drawer_shift_events": []})
    with pytest.raises(ParseError, match=r"^response: missing$"):
        parse_shift_events(raw, ctx(raw, EVENTS))
    swipe = {"id": "E", "event_type": "SWIPE", "created_at": "2025-01-06T23:30:00Z"}
    bad = {"shift_id": "S", "response": {"cash_drawer_shift_events": [swipe]}}
    raw = encode(bad)
    with pytest.raises(ParseError, match=r"cash_drawer_shift_events\[0\]\.event_type: unknown"):
        parse_shift_events(raw, ctx(raw, EVENTS))
    raw = encode({"cash_drawer_shifts": [{"id": "S", "state": "CLOSED"}]})
    with pytest.raises(ParseError, match=r"^cash_drawer_shifts\[0\]\.closed_at: missing$"):
        parse_shifts(raw, ctx(raw, SHIFTS))
