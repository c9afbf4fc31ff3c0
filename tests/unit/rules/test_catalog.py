"""The catalog as data: entries, defaults, validation (one-line errors), effective settings."""

from __future__ import annotations

from typing import Any

import pytest

from canary_stream.errors import ConfigError
from canary_stream.rules.catalog import (
    CATALOG,
    bump,
    effective,
    score,
    spec_for,
    validate_allow_lists,
    validate_thresholds,
)

#: rules.md's tables: id, name, severity, tier, default thresholds.
EXPECTED: dict[str, tuple[str, str, int, dict[str, Any]]] = {
    "C-004": ("AFTER_HOURS_TRANSACTION", "medium", 1, {"business_hours": "06:00-22:00"}),
    "C-007": ("HIGH_VALUE_REFUND", "high", 1, {"amount_cents": 10_000}),
    "C-009": ("SQUARE_DELAY_HOLD", "critical", 1, {}),
    "C-010": ("PARTIAL_AUTHORIZATION", "high", 1, {"variance_cents": 0}),
    "C-011": ("NO_SALE_DETECTED", "high", 1, {"allowed_employee_ids": []}),
    "C-502": (
        "POST_VOID_ALERT",
        "critical",
        1,
        {
            "immediate_max_seconds": 120,
            "watch_max_seconds": 900,
            "suspicious_max_seconds": 28_800,
            "self_refund_score_boost": 10,
        },
    ),
    "C-D01": ("DISPUTE_CREATED", "high", 1, {}),
    "C-D02": ("DISPUTE_LOST", "critical", 1, {}),
    "C-002": ("EXCESSIVE_REFUND_RATE", "high", 2, {"percent": 15, "min_transactions": 5}),
    "C-003": (
        "ROUND_AMOUNT_PATTERN",
        "medium",
        2,
        {"count": 5, "window_seconds": 3600, "round_unit_cents": 1000, "min_amount_cents": 2000},
    ),
    "C-005": ("CARD_VELOCITY", "high", 2, {"count": 5, "window_seconds": 3600}),
    "C-006": ("SPLIT_TENDER_PATTERN", "medium", 2, {"count": 3, "window_seconds": 3600}),
    "C-008": ("MANUAL_ENTRY_SPIKE", "medium", 2, {"count": 5}),
    "C-101": ("NO_SALE_ABUSE", "high", 2, {"count": 5}),
    "C-501": ("HIGH_VOID_RATE", "high", 2, {"count": 5}),
    "C-601": ("GIFT_CARD_LOAD_VELOCITY", "high", 2, {"count": 3, "window_seconds": 3600}),
    "C-801": ("RAPID_POINT_ACCUMULATION", "medium", 2, {"count": 5, "window_seconds": 3600}),
    "C-803": ("CROSS_LOCATION_VELOCITY", "high", 2, {"location_count": 3, "window_seconds": 7200}),
    "C-804": ("ENROLLMENT_FRAUD", "medium", 2, {"count": 10, "window_seconds": 86_400}),
    "C-D03": ("DISPUTE_VELOCITY", "high", 2, {"count": 3, "window_days": 30}),
}


def test_the_catalog_is_rules_md() -> None:
    assert list(CATALOG) == list(EXPECTED)
    for rule_id, (name, severity, tier, defaults) in EXPECTED.items():
        spec = CATALOG[rule_id]
        assert (spec.rule_id, spec.name, spec.severity, spec.tier) == (
            rule_id,
            name,
            severity,
            tier,
        )
        assert spec.defaults() == defaults


def test_modes_escalation_and_shift_rules() -> None:
    assert [r for r, s in CATALOG.items() if s.default_mode == "dry_run"] == ["C-009"]
    assert [r for r, s in CATALOG.items() if s.escalates] == ["C-009", "C-502"]
    assert [r for r, s in CATALOG.items() if s.per_shift] == ["C-002", "C-008", "C-101", "C-501"]


@pytest.mark.parametrize(
    ("rule_id", "values", "message"),
    [
        ("C-007", {"amount_cents": "100"}, "amount_cents must be a whole number, got '100'"),
        ("C-007", {"amount_cents": 1.5}, "amount_cents must be a whole number, got 1.5"),
        ("C-007", {"amount_cents": True}, "amount_cents must be a whole number, got True"),
        ("C-007", {"amount_cents": -1}, "amount_cents must be at least 0, got -1"),
        ("C-005", {"count": 0}, "count must be at least 1, got 0"),
        ("C-005", {"count": 10_001}, "count must be at most 10000, got 10001"),
        (
            "C-005",
            {"window_seconds": 2_592_001},
            "window_seconds must be at most 2592000, got 2592001",
        ),
        ("C-002", {"percent": 101}, "percent must be at most 100, got 101"),
        (
            "C-502",
            {"self_refund_score_boost": 21},
            "self_refund_score_boost must be at most 20, got 21",
        ),
        ("C-D03", {"window_days": 366}, "window_days must be at most 365, got 366"),
        (
            "C-004",
            {"business_hours": "6:00-22:00"},
            "business_hours must look like 06:00-22:00, got '6:00-22:00'",
        ),
        (
            "C-004",
            {"business_hours": "06:00-24:00"},
            "business_hours must look like 06:00-22:00, got '06:00-24:00'",
        ),
        ("C-004", {"business_hours": 6}, "business_hours must look like 06:00-22:00, got 6"),
        (
            "C-011",
            {"allowed_employee_ids": "E1"},
            "allowed_employee_ids must be a list of ids, got 'E1'",
        ),
        (
            "C-011",
            {"allowed_employee_ids": ["E1", ""]},
            "allowed_employee_ids must be a list of ids, got ['E1', '']",
        ),
        ("C-007", {"count": 5}, "C-007 has no threshold 'count' (it has: amount_cents)"),
        ("C-D01", {"count": 5}, "C-D01 has no threshold 'count' (it has: none)"),
    ],
)
def test_validation_errors_are_one_line(rule_id: str, values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_thresholds(CATALOG[rule_id], values)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "values",
    [
        {"immediate_max_seconds": 900},
        {"watch_max_seconds": 120},
        {"watch_max_seconds": 28_800},
        {"suspicious_max_seconds": 900},
        {"immediate_max_seconds": 10, "watch_max_seconds": 5, "suspicious_max_seconds": 20},
    ],
)
def test_post_void_bands_must_be_ordered(values: dict) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_thresholds(CATALOG["C-502"], values)
    assert str(caught.value) == (
        "C-502 needs immediate_max_seconds < watch_max_seconds < suspicious_max_seconds"
    )


def test_valid_values_come_back_typed() -> None:
    assert validate_thresholds(CATALOG["C-502"], {"watch_max_seconds": 600}) == {
        "watch_max_seconds": 600
    }
    assert validate_thresholds(CATALOG["C-011"], {"allowed_employee_ids": ["E2", "E1", "E2"]}) == {
        "allowed_employee_ids": ["E1", "E2"]
    }
    assert validate_thresholds(CATALOG["C-004"], {"business_hours": "18:00-02:00"}) == {
        "business_hours": "18:00-02:00"
    }


def test_parse_command_line_text() -> None:
    spec = CATALOG["C-011"]
    assert spec.threshold("allowed_employee_ids").parse(" E1, E2 ,,") == ["E1", "E2"]
    assert CATALOG["C-007"].threshold("amount_cents").parse("2500") == 2500
    with pytest.raises(ConfigError) as caught:
        CATALOG["C-007"].threshold("amount_cents").parse("25.00")
    assert str(caught.value) == "amount_cents must be a whole number, got '25.00'"
    assert CATALOG["C-004"].threshold("business_hours").parse("09:00-17:00") == "09:00-17:00"


def test_money_thresholds_are_marked() -> None:
    money = sorted(f"{r}.{t.name}" for r, s in CATALOG.items() for t in s.thresholds if t.money)
    assert money == [
        "C-003.min_amount_cents",
        "C-003.round_unit_cents",
        "C-007.amount_cents",
        "C-010.variance_cents",
    ]


def test_allow_lists_validation() -> None:
    assert validate_allow_lists({"employee": ["E2", "E1", "E1"], "card": []}) == {
        "employee": ["E1", "E2"]
    }
    with pytest.raises(ConfigError) as caught:
        validate_allow_lists({"device": ["X"]})
    assert str(caught.value) == (
        "unknown allow-list kind 'device'; choose one of employee, location, card, loyalty, "
        "gift_card"
    )
    with pytest.raises(ConfigError) as caught:
        validate_allow_lists({"employee": "E1"})
    assert str(caught.value) == "allow-list 'employee' must be a list of ids"


def test_spec_for() -> None:
    assert spec_for("c-502").rule_id == "C-502"
    with pytest.raises(ConfigError) as caught:
        spec_for("C-999")
    assert str(caught.value) == "no rule 'C-999' in the catalog (see 'canary-stream rules show')"


def test_effective_defaults() -> None:
    rule = effective("C-009", None)
    assert (rule.enabled, rule.mode, dict(rule.thresholds), dict(rule.allow_lists)) == (
        True,
        "dry_run",
        {},
        {},
    )
    assert effective("C-007", {}).mode == "alerting"


def test_effective_merges_stored_settings() -> None:
    rule = effective(
        "C-005",
        {
            "enabled": False,
            "mode": "dry_run",
            "thresholds": {"count": 7},
            "allow_lists": {"card": ["ab"], "employee": []},
        },
    )
    assert (rule.enabled, rule.mode) == (False, "dry_run")
    assert dict(rule.thresholds) == {"count": 7, "window_seconds": 3600}
    assert dict(rule.allow_lists) == {"card": ("ab",)}
    assert rule.allows("card", "ab") is True
    assert rule.allows("card", "cd") is False
    assert rule.allows("card", None) is False


def test_effective_falls_back_to_defaults_for_values_that_no_longer_validate() -> None:
    rule = effective(
        "C-005", {"thresholds": {"count": 0, "window_seconds": "x", "gone": 1}, "mode": "weird"}
    )
    assert dict(rule.thresholds) == {"count": 5, "window_seconds": 3600}
    assert rule.mode == "alerting"
    assert effective("C-009", {"mode": None}).mode == "dry_run"


@pytest.mark.parametrize(
    ("severity", "steps", "expected"),
    [
        ("info", 1, "low"),
        ("low", 1, "medium"),
        ("medium", 1, "high"),
        ("high", 1, "critical"),
        ("critical", 1, "critical"),
        ("medium", 2, "critical"),
        ("high", 0, "high"),
    ],
)
def test_bump(severity: str, steps: int, expected: str) -> None:
    assert bump(severity, steps) == expected


@pytest.mark.parametrize(
    ("severity", "boost", "expected"),
    [
        ("info", 0, 10),
        ("low", 0, 20),
        ("medium", 0, 40),
        ("high", 0, 60),
        ("critical", 0, 80),
        ("critical", 10, 90),
        ("critical", 20, 100),
        ("critical", 21, 100),
        ("high", 40, 100),
        ("high", 41, 100),
    ],
)
def test_score_is_capped_at_100(severity: str, boost: int, expected: int) -> None:
    assert score(severity, boost) == expected
