"""Injected detection patterns: layout, what each sends, its expected alerts, and the
background's quiet limits."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from itertools import islice

import pytest

from canary_stream.simulate.patterns import (
    PATTERNS,
    QUIET_MIX,
    ExpectedAlert,
    expected_alerts,
    inject,
    interleave,
    match_alerts,
    parse_ids,
    quiet_problems,
    readdress,
    with_merchant,
)
from canary_stream.simulate.payloads import Traffic
from canary_stream.simulate.world import new_merchant

A, B = "MLAAAAAAAAAAAAA", "MLBBBBBBBBBBBBB"
START = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)


def _world() -> list:
    return [new_merchant(mid, "USD", 5, 2026) for mid in (A, B)]


def _all() -> list:
    return inject(list(PATTERNS), _world(), START, 5)


def test_parse_ids():
    assert parse_ids("c-005, C-502,C-005") == ["C-005", "C-502"]
    assert parse_ids("all") == list(PATTERNS)
    with pytest.raises(ValueError, match="C-999"):
        parse_ids("C-005,C-999")
    assert len(PATTERNS) == 20


def test_patterns_are_dealt_round_robin_and_deterministic():
    first, again = _all(), _all()
    assert [i.merchant_id for i in first] == [A, B] * 10
    assert [h.body for i in first for h in i.webhooks] == [
        h.body for i in again for h in i.webhooks
    ]


def test_each_pattern_sends_its_records_inside_business_hours():
    sent = {
        i.rule_id: Counter(h.event_type for h in i.webhooks)
        + Counter(r.transaction_type for r in i.records(uuid.uuid4(), "USD"))
        for i in _all()
    }
    assert sent["C-005"] == {"payment.created": 5}
    assert sent["C-501"] == {"payment.created": 5, "payment.updated": 5}
    assert sent["C-101"] == {"NO_SALE": 5}
    assert sent["C-006"] == {"SALE": 3}
    assert sent["C-804"] == {"loyalty.account.created": 10}
    assert sent["C-D03"] == {"payment.created": 3, "dispute.created": 3}
    for injection in _all():
        times = [h.created_at for h in injection.webhooks]
        assert times == sorted(times)
        for hook in injection.webhooks:
            assert json.loads(hook.body)["merchant_id"] == injection.merchant_id
            hour = int(hook.created_at[11:13])
            assert (hour == 23) if injection.rule_id == "C-004" else (7 <= hour < 22)


def test_expected_alerts_are_the_patterns_own():
    by_rule = {i.rule_id: i.expected for i in _all()}
    assert [(e.rule_id, e.mode, e.subject) for e in by_rule["C-005"]] == [
        ("C-005", "alerting", "card:*")
    ]
    assert [e.mode for e in by_rule["C-009"]] == ["dry_run"]
    assert Counter(e.rule_id for e in by_rule["C-101"]) == {"C-011": 5, "C-101": 1}
    assert Counter(e.rule_id for e in by_rule["C-D03"]) == {"C-D01": 3, "C-D03": 1}
    assert by_rule["C-101"][-1].subject.startswith("employee:TM")
    assert "|shift:" in by_rule["C-101"][-1].subject
    assert by_rule["C-502"][0].subject.endswith("|day:2026-06-01")
    assert [(e.rule_id, e.subject.split(":")[0]) for e in by_rule["C-006"]] == [
        ("C-006", "employee")
    ]
    assert all(e.level == 1 for e in expected_alerts(_all()))
    assert len(expected_alerts(_all())) == 28


def test_drawer_records_are_canonical_no_sales():
    (c011,) = inject(["C-011"], _world(), START, 5)
    merchant = uuid.uuid4()
    (record,) = c011.records(merchant, "USD")
    assert (record.transaction_type, record.ledger, record.merchant_id) == (
        "NO_SALE",
        True,
        merchant,
    )
    assert record.employee_id == c011.expected[0].subject.split("|")[0].removeprefix("employee:")
    assert c011.records(merchant, "USD") == [record]


def test_match_alerts_counts_each_alert_once():
    want = [
        ExpectedAlert(A, "C-D01", 1, "alerting", "merchant"),
        ExpectedAlert(A, "C-D01", 1, "alerting", "merchant"),
        ExpectedAlert(A, "C-005", 1, "alerting", "card:*"),
    ]
    one = (A, "C-D01", 1, "alerting", "merchant")
    card = (A, "C-005", 1, "alerting", "card:ab12")
    assert match_alerts(want, [one, one, card]) == ([], [])
    assert match_alerts(want, [one, card]) == ([want[0]], [])
    extra = (A, "C-005", 1, "dry_run", "card:ab12")
    assert match_alerts(want, [one, one, card, extra]) == ([], [extra])
    assert match_alerts(want[2:], [(B, *card[1:])]) == ([want[2]], [(B, *card[1:])])


def test_interleave_merges_by_business_time_and_readdress_renames():
    background = list(islice(Traffic(5, [A, B], start=START, rate=0.01, mix=QUIET_MIX), 50))
    merged = list(interleave(background, _all()))
    assert [h.created_at for h in merged] == sorted(h.created_at for h in merged)
    assert len(merged) == 50 + sum(len(i.webhooks) for i in _all())
    moved = with_merchant(_all()[0], "MLZZZZZZZZZZZZZ")
    assert {json.loads(h.body)["merchant_id"] for h in moved.webhooks} == {"MLZZZZZZZZZZZZZ"}
    assert {e.merchant_id for e in moved.expected} == {"MLZZZZZZZZZZZZZ"}
    assert json.loads(readdress(background[0], B).body)["merchant_id"] == B


def test_quiet_background_keeps_its_limits_and_patterns_break_them():
    background = list(islice(Traffic(5, [A, B], start=START, rate=0.007, mix=QUIET_MIX), 300))
    assert quiet_problems(background) == []
    for injection in _all():
        if injection.webhooks:
            assert quiet_problems(injection.webhooks), injection.rule_id
    noisy = list(islice(Traffic(5, [A, B], start=START, rate=0.007), 300))
    assert quiet_problems(noisy)
