"""The twelve Tier 2 rules through the detect agent's loop, at exact timestamps.

Every rule runs the same matrix (rules.md "What the tests must show for every rule"):
threshold, just below, window edges, allow-list, disabled, dry_run, backfill, replay, crash
replay, restart, out-of-order, late, level 2. Rule-specific cases follow the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rule_records import (
    CARD_HASH,
    FIRED,
    T0,
    Detector,
    M,
    at,
    card,
    dispute,
    gift_card,
    ident,
    loyalty,
    tenders,
    txn,
    view,
)

from canary_stream.models.canonical import CanonicalEvent
from canary_stream.models.merchant_config import LocationConfig, RuleConfig
from canary_stream.rules.alerts import case_of
from canary_stream.rules.catalog import CATALOG, bump
from canary_stream.rules.tier2 import TIER2, shift_subject


@dataclass(frozen=True)
class Rule:
    """How to make the i-th qualifying record of a rule's default subject."""

    rule_id: str
    make: Callable[[int, float], CanonicalEvent]
    n: int  # records to level 1
    window: float | None  # None: the shift
    subject: str
    allow: tuple[str, str] | None  # (allow-list kind, id) that silences it


def _refund_rate(i: int, s: float) -> CanonicalEvent:
    kind = "REFUND" if i == 0 else "PAYMENT"
    return txn(kind, at(s), ext=f"t{i}", shift_id="S1")


RULES = [
    Rule("C-002", _refund_rate, 5, None, "employee:E1|shift:S1", ("employee", "E1")),
    Rule(
        "C-003",
        lambda i, s: txn("PAYMENT", at(s), ext=f"p{i}", amount=2000 + 1000 * i),
        5,
        3600,
        "employee:E1",
        ("employee", "E1"),
    ),
    Rule(
        "C-005",
        lambda i, s: txn("PAYMENT", at(s), ext=f"p{i}", employee=f"E{i}", card=card()),
        5,
        3600,
        f"card:{CARD_HASH}",
        ("card", CARD_HASH),
    ),
    Rule(
        "C-006",
        lambda i, s: txn("SALE", at(s), ext=f"o{i}", tenders=tenders(1000, 500)),
        3,
        3600,
        "employee:E1",
        ("employee", "E1"),
    ),
    Rule(
        "C-008",
        lambda i, s: txn("PAYMENT", at(s), ext=f"k{i}", card=card("KEYED"), shift_id="S1"),
        5,
        None,
        "employee:E1|shift:S1",
        ("employee", "E1"),
    ),
    Rule(
        "C-101",
        lambda i, s: txn("NO_SALE", at(s), ext=f"n{i}", amount=0, shift_id="S1"),
        5,
        None,
        "employee:E1|shift:S1",
        ("employee", "E1"),
    ),
    Rule(
        "C-501",
        lambda i, s: txn("VOID", at(s), ext=f"v{i}", shift_id="S1"),
        5,
        None,
        "employee:E1|shift:S1",
        ("employee", "E1"),
    ),
    Rule(
        "C-601",
        lambda i, s: gift_card("LOAD" if i else "ACTIVATE", at(s), aid=f"g{i}"),
        3,
        3600,
        "gift_card:G1",
        ("gift_card", "G1"),
    ),
    Rule(
        "C-801",
        lambda i, s: loyalty("ACCUMULATE", at(s), eid=f"l{i}"),
        5,
        3600,
        "loyalty:A1",
        ("loyalty", "A1"),
    ),
    Rule(
        "C-803",
        lambda i, s: loyalty("REDEEM", at(s), eid=f"r{i}", location_id=f"L{i + 1}"),
        3,
        7200,
        "loyalty:A1",
        ("loyalty", "A1"),
    ),
    Rule(
        "C-804",
        lambda i, s: loyalty("ENROLL", at(s), eid=f"e{i}", account=f"A{i}"),
        10,
        86_400,
        "location:L1",
        ("location", "L1"),
    ),
    Rule(
        "C-D03",
        lambda i, s: dispute(f"D{i}", "EVIDENCE_REQUIRED", at(s)),
        3,
        30 * 86_400,
        "merchant",
        ("location", "L1"),
    ),
]
BY_ID = {rule.rule_id: rule for rule in RULES}
STEP = 60.0


def test_matrix_covers_every_tier2_rule() -> None:
    assert sorted(BY_ID) == sorted(TIER2)
    assert [r.window for r in RULES] == [
        None,
        3600,
        3600,
        3600,
        None,
        None,
        None,
        3600,
        3600,
        7200,
        86_400,
        2_592_000,
    ]


def records(rule: Rule, count: int, step: float = STEP, start: float = 0) -> list[CanonicalEvent]:
    return [rule.make(i, start + i * step) for i in range(count)]


def fired(per_record: list[list]) -> list[tuple[int, int]]:
    """(index of the record, level) of every alert."""
    return [(i, a.level) for i, alerts in enumerate(per_record) for a in alerts]


def by_rule(rules: list[Rule] = RULES) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("rule", rules, ids=[r.rule_id for r in rules])


WINDOWED = [r for r in RULES if r.window is not None]
SHIFT = [r for r in RULES if r.window is None]


@by_rule()
def test_fires_at_the_threshold(rule: Rule) -> None:
    recs = records(rule, rule.n)
    out = Detector(view()).feed(recs, rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1)]
    alert = out[-1][0]
    spec = CATALOG[rule.rule_id]
    anchor = recs[0].canonical_id
    assert alert.alert_id == ident("alert", M, rule.rule_id, rule.subject, anchor, 1)
    assert alert.severity == spec.severity
    assert alert.score == {"medium": 40, "high": 60}[spec.severity]
    assert (alert.tier, alert.level, alert.mode) == (2, 1, "alerting")
    assert alert.subject_key == rule.subject
    assert alert.occurred_at == T0
    assert alert.fired_at == FIRED
    assert alert.canonical_ids == tuple(sorted((r.canonical_id for r in recs), key=str))
    measured = 20.0 if rule.rule_id == "C-002" else float(rule.n)
    details = {
        "measured": measured,
        "threshold": 15.0 if rule.rule_id == "C-002" else float(rule.n),
        "records": rule.n,
        "late": False,
    }
    if rule.window is not None:
        details["window_seconds"] = rule.window
    assert alert.details == details
    assert alert.thresholds == spec.defaults()
    assert alert.escalates is False
    assert case_of(alert) is None  # no Tier 2 rule escalates


@by_rule()
def test_silent_just_below_the_threshold(rule: Rule) -> None:
    out = Detector(view()).feed(records(rule, rule.n - 1), rule.rule_id)
    assert fired(out) == []


@by_rule(WINDOWED)
@pytest.mark.parametrize(
    ("span", "fires"),
    [(-1, True), (0, True), (0.000001, False), (1, False)],
    ids=["inside", "edge", "edge+1us", "outside"],
)
def test_window_boundary(rule: Rule, span: float, fires: bool) -> None:
    """n records spread over W - 1 s and exactly W fire (ends included); W + 1 µs or 1 s not."""
    assert rule.window is not None
    recs = records(rule, rule.n - 1)
    recs.append(rule.make(rule.n - 1, rule.window + span))
    out = Detector(view()).feed(recs, rule.rule_id)
    assert fired(out) == ([(rule.n - 1, 1)] if fires else [])


@by_rule(WINDOWED)
def test_window_slides(rule: Rule) -> None:
    """The first record falls out after W; one more inside W of the second fires."""
    assert rule.window is not None
    recs = records(rule, rule.n - 1)
    recs.append(rule.make(rule.n - 1, rule.window + 1))  # first is now out
    recs.append(rule.make(rule.n, rule.window + 2))  # records 1..n are within W
    out = Detector(view()).feed(recs, rule.rule_id)
    assert fired(out) == [(rule.n, 1)]
    assert out[-1][0].occurred_at == recs[1].occurred_at
    assert out[-1][0].canonical_ids == tuple(sorted((r.canonical_id for r in recs[1:]), key=str))


@by_rule(SHIFT)
def test_shift_boundary(rule: Rule) -> None:
    """The last record in another shift does not count with the first n - 1."""
    recs = records(rule, rule.n - 1)
    other = rule.make(rule.n - 1, rule.n * STEP).model_copy(update={"shift_id": "S2"})
    out = Detector(view()).feed([*recs, other], rule.rule_id)
    assert fired(out) == []


@by_rule(SHIFT)
@pytest.mark.parametrize(("last", "fires"), [(86_399, True), (86_400, False)])
def test_business_day_boundary(rule: Rule, last: float, fires: bool) -> None:
    """Without a shift id the key is the business day: 04:00 local in the location's zone.

    L1 is in New York (EST, UTC-5): the day 2026-03-02 runs 09:00Z to 09:00Z next day.
    """
    v = view(locations={"L1": LocationConfig(timezone="America/New_York")})
    day_start = 9 * 3600 - 12 * 3600  # 09:00Z relative to T0 (12:00Z)
    recs = [
        r.model_copy(update={"shift_id": None}) for r in records(rule, rule.n - 1, start=day_start)
    ]
    recs.append(rule.make(rule.n - 1, day_start + last).model_copy(update={"shift_id": None}))
    out = Detector(v).feed(recs, rule.rule_id)
    if fires:
        assert fired(out) == [(rule.n - 1, 1)]
        assert out[-1][0].subject_key == "employee:E1|day:2026-03-02"
    else:
        assert fired(out) == []


@by_rule()
def test_allow_listed_subject_is_silent(rule: Rule) -> None:
    assert rule.allow is not None
    kind, value = rule.allow
    v = view({rule.rule_id: RuleConfig(allow_lists={kind: [value]})})
    out = Detector(v).feed(records(rule, 2 * rule.n), rule.rule_id)
    assert fired(out) == []


@by_rule()
def test_disabled_rule_is_silent_and_keeps_no_state(rule: Rule) -> None:
    detector = Detector(view({rule.rule_id: RuleConfig(enabled=False)}))
    out = detector.feed(records(rule, 2 * rule.n), rule.rule_id)
    assert fired(out) == []
    assert [key for key in detector.states if key[0] == rule.rule_id] == []


@by_rule()
def test_dry_run_alert_is_stored_but_not_escalated(rule: Rule) -> None:
    v = view({rule.rule_id: RuleConfig(mode="dry_run")})
    out = Detector(v).feed(records(rule, rule.n), rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1)]
    assert out[-1][0].mode == "dry_run"
    assert case_of(out[-1][0]) is None


@by_rule()
def test_backfill_records_give_backfill_alerts(rule: Rule) -> None:
    recs = [r.model_copy(update={"mode": "backfill"}) for r in records(rule, rule.n)]
    out = Detector(view()).feed(recs, rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1)]
    assert out[-1][0].mode == "backfill"
    assert case_of(out[-1][0]) is None


@by_rule()
def test_each_record_delivered_twice_counts_once(rule: Rule) -> None:
    detector = Detector(view())
    recs = records(rule, rule.n)
    out = detector.feed([r for r in recs for _ in (0, 1)], rule.rule_id)
    assert fired(out) == [(2 * rule.n - 2, 1)]
    before = dict(detector.states)
    assert fired(detector.feed(recs, rule.rule_id)) == []  # the whole run again
    assert detector.states == before


@by_rule()
def test_replay_after_a_crash_gives_the_same_alert_ids(rule: Rule) -> None:
    """A batch whose state was never written (crash) replays to the same alerts."""
    detector = Detector(view())
    recs = records(rule, 2 * rule.n)
    detector.batch(recs[: rule.n - 1])
    crashed = detector.batch(recs[rule.n - 1 :], commit=False)
    replayed = detector.batch(recs[rule.n - 1 :])
    ids = [a.alert_id for a in replayed if a.rule_id == rule.rule_id]
    assert [a.alert_id for a in crashed if a.rule_id == rule.rule_id] == ids
    assert len(ids) == (1 if rule.rule_id == "C-002" else 2)  # C-002's run stays at 10 %
    assert fired(detector.feed(recs, rule.rule_id)) == []


@by_rule()
def test_counting_continues_after_a_restart(rule: Rule) -> None:
    detector = Detector(view())
    recs = records(rule, 2 * rule.n)
    first = detector.feed(recs[: rule.n - 1], rule.rule_id)
    detector.restart()
    rest = detector.feed(recs[rule.n - 1 :], rule.rule_id)
    expected = [(rule.n - 1, 1), (2 * rule.n - 1, 2)]
    if rule.rule_id == "C-002":
        expected = expected[:1]  # 1 refund in 10: level 2 needs 30 %
    assert fired([*first, *rest]) == expected


@by_rule()
def test_out_of_order_records_inside_the_window(rule: Rule) -> None:
    recs = records(rule, rule.n)
    shuffled = [*recs[1:][::-1], recs[0]]
    out = Detector(view()).feed(shuffled, rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1)]
    alert = out[-1][0]
    assert alert.occurred_at == T0  # the earliest by occurred_at anchors
    assert alert.alert_id == ident("alert", M, rule.rule_id, rule.subject, recs[0].canonical_id, 1)
    assert alert.canonical_ids == tuple(sorted((r.canonical_id for r in recs), key=str))


@by_rule()
def test_late_records_are_counted_and_flagged(rule: Rule) -> None:
    """Records more than the lateness behind the key's newest still count, ``late: true``."""
    lateness = 86_400.0
    if rule.window is None:
        newest = rule.make(rule.n - 1, lateness + 3600)
        late = records(rule, rule.n - 1)
        members = [*late, newest]
    else:
        newest = rule.make(rule.n, max(rule.window, lateness) + min(rule.window, lateness) / 2)
        late = records(rule, rule.n)
        members = late
    out = Detector(view(), lateness=lateness).feed([newest, *late], rule.rule_id)
    assert fired(out) == [(len(late), 1)]
    alert = out[-1][0]
    assert alert.details["late"] is True
    assert alert.details["records"] == rule.n
    assert alert.canonical_ids == tuple(sorted((r.canonical_id for r in members), key=str))


@by_rule()
def test_records_within_lateness_are_not_late(rule: Rule) -> None:
    newest = rule.make(rule.n - 1, (rule.n - 1) * STEP)
    out = Detector(view(), lateness=3600).feed([newest, *records(rule, rule.n - 1)], rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1)]
    assert out[-1][0].details["late"] is False


@by_rule([r for r in RULES if r.rule_id != "C-002"])
def test_level_two_at_twice_the_threshold(rule: Rule) -> None:
    recs = records(rule, 2 * rule.n + 2)
    out = Detector(view()).feed(recs, rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1), (2 * rule.n - 1, 2)]  # quiet between and after
    alert = out[2 * rule.n - 1][0]
    spec = CATALOG[rule.rule_id]
    assert (
        alert.severity
        == bump(spec.severity)
        == {"medium": "high", "high": "critical"}[spec.severity]
    )
    assert alert.score == {"medium": 60, "high": 80}[spec.severity]
    assert alert.alert_id == ident("alert", M, rule.rule_id, rule.subject, recs[0].canonical_id, 2)
    assert alert.details["threshold"] == 2.0 * rule.n
    assert alert.details["measured"] == 2.0 * rule.n
    assert alert.canonical_ids == tuple(
        sorted((r.canonical_id for r in recs[: 2 * rule.n]), key=str)
    )


@by_rule(WINDOWED)
def test_a_new_window_fires_again(rule: Rule) -> None:
    """Quiet for the rest of the window; a run anchored more than W later is a new episode."""
    assert rule.window is not None
    first = records(rule, rule.n)
    second = [rule.make(rule.n + i, rule.window + 1 + i * STEP) for i in range(rule.n)]
    out = Detector(view()).feed([*first, *second], rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1), (2 * rule.n - 1, 1)]
    assert out[-1][0].occurred_at == second[0].occurred_at


@by_rule(SHIFT)
def test_a_shift_fires_level_one_once(rule: Rule) -> None:
    """Shift rules stay quiet for the rest of the shift (however long it runs)."""
    if rule.rule_id == "C-002":
        # 20 % at 5 records, down to 1/15 = 6.7 %, back up to 3/17 = 17.6 %: still quiet
        more = [txn("PAYMENT", at(3600 + i), ext=f"x{i}", shift_id="S1") for i in range(10)]
        more += [txn("REFUND", at(7200 + i), ext=f"y{i}", shift_id="S1") for i in range(2)]
        recs = [*records(rule, rule.n), *more]
    else:
        recs = records(rule, 2 * rule.n - 1, step=3600)
    out = Detector(view()).feed(recs, rule.rule_id)
    assert fired(out) == [(rule.n - 1, 1)]


# --- C-002: a rate, once the shift has min_transactions -------------------------------------


def _shift_txns(kinds: str, start: float = 0) -> list[CanonicalEvent]:
    """``P`` / ``R`` letters as payments and refunds of E1 in shift S1, a minute apart."""
    return [
        txn("REFUND" if k == "R" else "PAYMENT", at(start + i * STEP), ext=f"c{i}", shift_id="S1")
        for i, k in enumerate(kinds)
    ]


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ("P" * 17 + "RRR", [(19, 1)]),  # 3 / 20 = 15 %: at the threshold
        ("P" * 18 + "RRR", []),  # 3 / 21 = 14.3 %: just below
        ("RRRR", []),  # 100 % but only 4 transactions
        ("RRRRP", [(4, 1), (4, 2)]),  # eligible at the 5th: 80 %, both levels at once
        ("PPPPPPRR", [(7, 1)]),  # 2 / 8 = 25 %
        ("PPPPR", [(4, 1)]),  # 20 %
    ],
)
def test_refund_rate_threshold_and_min_transactions(kinds: str, expected: list) -> None:
    out = Detector(view()).feed(_shift_txns(kinds), "C-002")
    assert fired(out) == expected


def test_refund_rate_min_transactions_is_tunable() -> None:
    v = view({"C-002": RuleConfig(thresholds={"min_transactions": 10, "percent": 50})})
    out = Detector(v).feed(_shift_txns("R" * 9 + "P"), "C-002")
    assert fired(out) == [(9, 1)]  # 90 % once 10 are in; level 2 would need 100 %
    assert out[9][0].details == {"measured": 90.0, "threshold": 50.0, "records": 10, "late": False}
    assert out[9][0].thresholds == {"percent": 50, "min_transactions": 10}


def test_refund_rate_level_two_at_twice_the_percent() -> None:
    """17 P + 3 R = 15 % (level 1); quiet at 26.1 % and 29.2 %; 8 / 25 = 32 % is level 2."""
    recs = _shift_txns("P" * 17 + "RRR" + "RRRRR")
    out = Detector(view()).feed(recs, "C-002")
    assert fired(out) == [(19, 1), (24, 2)]
    level2 = out[24][0]
    assert (level2.severity, level2.score) == ("critical", 80)
    assert level2.details == {"measured": 32.0, "threshold": 30.0, "records": 25, "late": False}
    anchor = recs[0].canonical_id
    assert level2.alert_id == ident("alert", M, "C-002", "employee:E1|shift:S1", anchor, 2)


def test_refund_rate_counts_only_ledger_payments_and_refunds_with_an_employee() -> None:
    recs = [
        *_shift_txns("PPPP"),
        txn("REFUND", at(1000), ext="nl", shift_id="S1", ledger=False, status="PENDING"),
        txn("VOID", at(1001), ext="vd", shift_id="S1"),
        txn("REFUND", at(1002), ext="ne", shift_id="S1", employee=None),
    ]
    assert fired(Detector(view()).feed(recs, "C-002")) == []


# --- shift keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shift_id", "location", "occurred", "expected"),
    [
        ("S9", "L1", at(0), "employee:E1|shift:S9"),
        (None, "L1", at(0), "employee:E1|day:2026-03-02"),
        # 03:59:59 UTC belongs to the previous business day (04:00 start, merchant zone UTC)
        (None, "L1", T0.replace(hour=3, minute=59, second=59), "employee:E1|day:2026-03-01"),
        (None, "L1", T0.replace(hour=4), "employee:E1|day:2026-03-02"),
        # L2 is in Los Angeles (UTC-8): 11:59:59Z is 03:59:59 local, still 2026-03-01
        (None, "L2", T0.replace(hour=11, minute=59, second=59), "employee:E1|day:2026-03-01"),
        (None, "L2", T0.replace(hour=12), "employee:E1|day:2026-03-02"),
        # L3 has no zone of its own: the merchant's (Tokyo, UTC+9): 18:59:59Z is 03:59:59
        (None, "L3", T0.replace(hour=18, minute=59, second=59), "employee:E1|day:2026-03-02"),
        (None, "L3", T0.replace(hour=19), "employee:E1|day:2026-03-03"),
    ],
)
def test_shift_subject(shift_id: str | None, location: str, occurred, expected: str) -> None:
    v = view(
        timezone="Asia/Tokyo",
        locations={
            "L1": LocationConfig(timezone="UTC"),
            "L2": LocationConfig(timezone="America/Los_Angeles"),
            "L3": LocationConfig(business_hours="08:00-20:00"),
        },
    )
    record = txn("VOID", occurred, shift_id=shift_id, location_id=location)
    assert shift_subject(record, v) == expected


def test_shift_subject_uses_business_day_start() -> None:
    v = view(business_day_start="06:30")
    assert shift_subject(txn("VOID", T0.replace(hour=6, minute=29)), v) == (
        "employee:E1|day:2026-03-01"
    )
    assert shift_subject(txn("VOID", T0.replace(hour=6, minute=30)), v) == (
        "employee:E1|day:2026-03-02"
    )
    assert shift_subject(txn("VOID", T0, employee=None), v) is None


@pytest.mark.parametrize("rule_id", ["C-008", "C-101", "C-501"])
def test_shift_rules_count_per_employee(rule_id: str) -> None:
    rule = BY_ID[rule_id]
    recs = records(rule, 4)
    other = rule.make(4, 300).model_copy(update={"employee_id": "E2"})
    assert fired(Detector(view()).feed([*recs, other], rule_id)) == []


# --- what qualifies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "qualifies"),
    [(2000, True), (3000, True), (1000, False), (2500, False), (1999, False), (0, False)],
)
def test_round_amount_qualifies(amount: int, qualifies: bool) -> None:
    v = view()
    record = txn("PAYMENT", amount=amount)
    expected = [("employee:E1", "")] if qualifies else []
    assert TIER2["C-003"].qualify(record, v, v.rule("C-003")) == expected


def test_round_amount_units_are_tunable() -> None:
    v = view({"C-003": RuleConfig(thresholds={"round_unit_cents": 500, "min_amount_cents": 500})})
    assert TIER2["C-003"].qualify(txn(amount=500), v, v.rule("C-003")) == [("employee:E1", "")]
    assert TIER2["C-003"].qualify(txn(amount=750), v, v.rule("C-003")) == []
    assert TIER2["C-003"].qualify(txn("REFUND", amount=5000), v, v.rule("C-003")) == []


def test_card_velocity_counts_failed_attempts_but_not_other_unsettled_payments() -> None:
    v = view()
    rule = v.rule("C-005")
    failed = txn(card=card(), ledger=False, status="FAILED")
    pending = txn(card=card(), ledger=False, status="APPROVED")
    assert TIER2["C-005"].qualify(failed, v, rule) == [(f"card:{CARD_HASH}", "")]
    assert TIER2["C-005"].qualify(pending, v, rule) == []
    assert TIER2["C-005"].qualify(txn(card=card(fingerprint_hash=None)), v, rule) == []
    assert TIER2["C-005"].qualify(txn(), v, rule) == []
    recs = [
        txn("PAYMENT", at(i * STEP), ext=f"f{i}", card=card(), ledger=False, status="FAILED")
        for i in range(5)
    ]
    assert fired(Detector(v).feed(recs, "C-005")) == [(4, 1)]


def test_split_tender_needs_two_tenders_on_a_sale() -> None:
    v = view()
    rule = v.rule("C-006")
    assert TIER2["C-006"].qualify(txn("SALE", tenders=tenders(100, 200)), v, rule) == [
        ("employee:E1", "")
    ]
    assert TIER2["C-006"].qualify(txn("SALE", tenders=tenders(100)), v, rule) == []
    assert TIER2["C-006"].qualify(txn("PAYMENT", tenders=tenders(100, 200)), v, rule) == []


def test_manual_entry_needs_a_keyed_card_payment() -> None:
    v = view()
    rule = v.rule("C-008")
    subject = [("employee:E1|day:2026-03-02", "")]
    assert TIER2["C-008"].qualify(txn(card=card("KEYED")), v, rule) == subject
    assert TIER2["C-008"].qualify(txn(card=card("EMV")), v, rule) == []
    assert TIER2["C-008"].qualify(txn(), v, rule) == []


def test_gift_card_counts_loads_and_activations_only() -> None:
    v = view()
    rule = v.rule("C-601")
    for activity, expected in [
        ("LOAD", [("gift_card:G1", "")]),
        ("ACTIVATE", [("gift_card:G1", "")]),
        ("REDEEM", []),
        ("ADJUST", []),
    ]:
        assert TIER2["C-601"].qualify(gift_card(activity), v, rule) == expected


def test_loyalty_rules_qualify() -> None:
    v = view()
    assert TIER2["C-801"].qualify(loyalty("ACCUMULATE"), v, v.rule("C-801")) == [("loyalty:A1", "")]
    assert TIER2["C-801"].qualify(loyalty("REDEEM"), v, v.rule("C-801")) == []
    assert TIER2["C-803"].qualify(loyalty("ADJUST", location_id="L7"), v, v.rule("C-803")) == [
        ("loyalty:A1", "L7")
    ]
    assert TIER2["C-803"].qualify(loyalty(location_id=None), v, v.rule("C-803")) == []
    assert TIER2["C-804"].qualify(loyalty("ENROLL"), v, v.rule("C-804")) == [("location:L1", "")]
    assert TIER2["C-804"].qualify(loyalty("ACCUMULATE"), v, v.rule("C-804")) == []


def test_dispute_velocity_counts_new_disputes_only() -> None:
    v = view()
    rule = v.rule("C-D03")
    assert TIER2["C-D03"].qualify(dispute(), v, rule) == [("merchant", "D1")]
    updated = dispute("D1", "UNDER_REVIEW", event_type="dispute.state.updated")
    assert TIER2["C-D03"].qualify(updated, v, rule) == []
    polled = dispute("D2", "EVIDENCE_REQUIRED", event_type="poll", source_type="POLLING")
    assert TIER2["C-D03"].qualify(polled, v, rule) == [("merchant", "D2")]


# --- C-803: distinct locations ----------------------------------------------------------


def test_cross_location_counts_distinct_locations_not_records() -> None:
    recs = [
        loyalty("REDEEM", at(i * STEP), eid=f"x{i}", location_id=loc)
        for i, loc in enumerate(["L1", "L2", "L1", "L2", "L1", "L2", "L3"])
    ]
    out = Detector(view()).feed(recs, "C-803")
    assert fired(out) == [(6, 1)]
    alert = out[6][0]
    assert alert.details == {
        "measured": 3.0,
        "threshold": 3.0,
        "records": 7,
        "late": False,
        "window_seconds": 7200.0,
    }
    assert alert.location_id == "L3"


def test_cross_location_window_edge() -> None:
    """Three locations over 7199 s fire; over 7201 s they do not."""
    for last, expected in [(7199, [(2, 1)]), (7201, [])]:
        recs = [
            loyalty("REDEEM", at(0), eid="a", location_id="L1"),
            loyalty("REDEEM", at(3600), eid="b", location_id="L2"),
            loyalty("REDEEM", at(last), eid="c", location_id="L3"),
        ]
        assert fired(Detector(view()).feed(recs, "C-803")) == expected


def test_cross_location_accounts_are_separate() -> None:
    recs = [
        loyalty("REDEEM", at(i), eid=f"y{i}", account=f"A{i}", location_id=f"L{i}")
        for i in range(3)
    ]
    assert fired(Detector(view()).feed(recs, "C-803")) == []


def test_window_days_of_dispute_velocity_is_tunable() -> None:
    v = view({"C-D03": RuleConfig(thresholds={"window_days": 1, "count": 2})})
    on_edge = [dispute("D1", when=at(0)), dispute("D2", when=at(86_400))]
    assert fired(Detector(v).feed(on_edge, "C-D03")) == [(1, 1)]
    outside = [dispute("D1", when=at(0)), dispute("D2", when=at(86_401))]
    assert fired(Detector(v).feed(outside, "C-D03")) == []


def test_window_seconds_is_tunable_and_recorded_on_the_alert() -> None:
    v = view({"C-801": RuleConfig(thresholds={"window_seconds": 60, "count": 2})})
    recs = [loyalty(when=at(0), eid="a"), loyalty(when=at(60), eid="b")]
    out = Detector(v).feed(recs, "C-801")
    assert fired(out) == [(1, 1)]
    assert out[1][0].thresholds == {"count": 2, "window_seconds": 60}
    assert out[1][0].details["window_seconds"] == 60.0
    late = [loyalty(when=at(0), eid="a"), loyalty(when=at(61), eid="b")]
    assert fired(Detector(v).feed(late, "C-801")) == []


def test_dispute_velocity_counts_each_dispute_once() -> None:
    """An inquiry that becomes a chargeback is seen as new twice (created, then polled in
    EVIDENCE_REQUIRED); C-D01 alerts once per dispute, and C-D03 counts it once."""
    recs = [
        dispute("D1", "INQUIRY_EVIDENCE_REQUIRED", at(0)),
        dispute("D1", "EVIDENCE_REQUIRED", at(60), event_type="poll", source_type="POLLING"),
        dispute("D2", "EVIDENCE_REQUIRED", at(120)),
        dispute("D3", "EVIDENCE_REQUIRED", at(180)),
    ]
    detector = Detector(view())
    out = detector.feed(recs, "C-D03")
    assert fired(out) == [(3, 1)]
    assert out[3][0].details == {
        "measured": 3.0,
        "threshold": 3.0,
        "records": 4,
        "late": False,
        "window_seconds": 2_592_000.0,
    }
    assert out[3][0].canonical_ids == tuple(sorted((r.canonical_id for r in recs), key=str))
