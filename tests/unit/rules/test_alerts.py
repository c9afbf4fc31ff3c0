"""Findings to alerts and cases: contracts.md's ids, severity, score, mode, escalation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from rule_records import FIRED, T0, M, dispute, loyalty, txn, view

from canary_stream.models.merchant_config import LocationConfig, RuleConfig
from canary_stream.rules.alerts import alert_mode, alert_of, case_of
from canary_stream.rules.findings import Finding

#: contracts.md, spelled out once more so the test does not trust the code's constant.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:canary-stream:ids:v1")


def finding(rule_id: str = "C-007", **over) -> Finding:
    record = over.pop("record", None) or txn("REFUND", amount=12_345, ext="rf1")
    fields = {
        "rule_id": rule_id,
        "level": 1,
        "subject_key": "employee:E1|day:2026-03-02",
        "record": record,
        "anchor_id": record.canonical_id,
        "anchor_at": record.occurred_at,
        "canonical_ids": (record.canonical_id,),
        "details": {"amount_cents": 12_345},
    }
    return Finding(**{**fields, **over})


def test_alert_id_is_the_contract_formula() -> None:
    f = finding()
    alert = alert_of(f, view(), FIRED)
    name = f"alert|{M}|C-007|employee:E1|day:2026-03-02|{f.anchor_id}|1"
    assert alert.alert_id == uuid.uuid5(NAMESPACE, name)
    # python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "urn:canary-stream:ids:v1"))'
    assert str(NAMESPACE) == "3514bdc7-d5ad-5574-8f7b-958d267683de"


def test_alert_id_depends_on_level_subject_and_anchor_only() -> None:
    v = view()
    base = alert_of(finding(), v, FIRED)
    later = alert_of(finding(details={"other": 1}), v, datetime(2027, 1, 1, tzinfo=UTC))
    assert later.alert_id == base.alert_id
    level2 = alert_of(finding(level=2), v, FIRED)
    other_anchor = alert_of(finding(anchor_id=uuid.UUID(int=7)), v, FIRED)
    other_subject = alert_of(finding(subject_key="location:L1"), v, FIRED)
    assert len({base.alert_id, level2.alert_id, other_anchor.alert_id, other_subject.alert_id}) == 4
    assert level2.alert_id == uuid.uuid5(
        NAMESPACE, f"alert|{M}|C-007|employee:E1|day:2026-03-02|{base.canonical_ids[0]}|2"
    )


def test_alert_fields() -> None:
    record = txn("REFUND", amount=12_345, ext="rf1", location_id="L9")
    alert = alert_of(finding(record=record), view(), FIRED)
    assert alert.model_dump(mode="json") == {
        "schema_version": 1,
        "alert_id": str(alert.alert_id),
        "rule_id": "C-007",
        "rule_name": "HIGH_VALUE_REFUND",
        "category": "REFUND",
        "severity": "high",
        "score": 60,
        "tier": 1,
        "level": 1,
        "mode": "alerting",
        "merchant_id": str(M),
        "location_id": "L9",
        "employee_id": "E1",
        "subject_key": "employee:E1|day:2026-03-02",
        "amount_cents": 12_345,
        "currency": "USD",
        "canonical_ids": [str(record.canonical_id)],
        "details": {"amount_cents": 12_345},
        "thresholds": {"amount_cents": 10_000},
        "occurred_at": "2026-03-02T12:00:00.000000Z",
        "fired_at": "2026-03-02T23:00:00.000000Z",
        "business_date": "2026-03-02",
        "escalates": False,
    }


def test_records_without_money_or_employee() -> None:
    record = loyalty()
    f = finding("C-801", record=record, subject_key="loyalty:A1")
    alert = alert_of(f, view(), FIRED)
    assert (alert.amount_cents, alert.currency, alert.employee_id) == (None, None, None)
    d = dispute()
    alert = alert_of(finding("C-D01", record=d, subject_key="merchant"), view(), FIRED)
    assert (alert.amount_cents, alert.currency, alert.employee_id) == (2500, "USD", None)


def test_canonical_ids_are_distinct_and_sorted() -> None:
    a, b = uuid.UUID(int=2), uuid.UUID(int=1)
    alert = alert_of(finding(canonical_ids=(a, b, a)), view(), FIRED)
    assert alert.canonical_ids == (b, a)


@pytest.mark.parametrize(
    ("severity", "level", "boost", "expected"),
    [
        (None, 1, 0, ("high", 60)),
        (None, 2, 0, ("critical", 80)),
        ("medium", 2, 0, ("high", 60)),
        ("critical", 2, 0, ("critical", 80)),  # no step above critical
        ("critical", 1, 10, ("critical", 90)),
        ("critical", 1, 20, ("critical", 100)),
        ("critical", 2, 50, ("critical", 100)),  # capped
        ("high", 1, 45, ("high", 100)),
        ("info", 1, 0, ("info", 10)),
        ("low", 2, 5, ("medium", 45)),
    ],
)
def test_severity_and_score(severity, level: int, boost: int, expected: tuple) -> None:
    alert = alert_of(finding(severity=severity, level=level, boost=boost), view(), FIRED)
    assert (alert.severity, alert.score) == expected


def test_thresholds_are_the_values_in_force_when_fired() -> None:
    v = view({"C-007": RuleConfig(thresholds={"amount_cents": 5000})})
    alert = alert_of(finding(), v, FIRED)
    retuned = view({"C-007": RuleConfig(thresholds={"amount_cents": 9000})})
    assert alert.thresholds == {"amount_cents": 5000}
    assert alert_of(finding(), retuned, FIRED).thresholds == {"amount_cents": 9000}
    assert alert.thresholds == {"amount_cents": 5000}


@pytest.mark.parametrize(
    ("record_mode", "configured", "expected"),
    [
        ("live", "alerting", "alerting"),
        ("live", "dry_run", "dry_run"),
        ("backfill", "alerting", "backfill"),
        ("backfill", "dry_run", "backfill"),
    ],
)
def test_alert_mode(record_mode: str, configured: str, expected: str) -> None:
    record = txn(mode=record_mode)
    assert alert_mode(record, configured) == expected


def test_case_subject_is_the_employee() -> None:
    alert = alert_of(finding("C-502", severity="critical", escalate=True), view(), FIRED)
    case = case_of(alert)
    assert case is not None
    assert case.model_dump(mode="json") == {
        "schema_version": 1,
        "case_id": str(uuid.uuid5(NAMESPACE, f"case|{M}|C-502|employee:E1|2026-03-02")),
        "merchant_id": str(M),
        "rule_id": "C-502",
        "priority": "critical",
        "subject_type": "employee",
        "subject_id": "E1",
        "business_date": "2026-03-02",
        "opened_at": "2026-03-02T23:00:00.000000Z",
        "alert_id": str(alert.alert_id),
    }


@pytest.mark.parametrize(("location", "subject"), [("L1", "L1"), (None, "unknown")])
def test_case_subject_without_employee_is_the_location(location, subject: str) -> None:
    record = txn("AUTHORIZATION", employee=None, location_id=location, delay_action="CANCEL")
    f = finding("C-009", record=record, subject_key="location:L1", escalate=True)
    case = case_of(alert_of(f, view({"C-009": RuleConfig(mode="alerting")}), FIRED))
    assert case is not None
    assert (case.subject_type, case.subject_id) == ("location", subject)
    assert case.case_id == uuid.uuid5(NAMESPACE, f"case|{M}|C-009|location:{subject}|2026-03-02")


def test_two_alerts_of_one_subject_and_day_share_a_case() -> None:
    v = view()
    one = alert_of(finding("C-502", escalate=True, anchor_at=T0.replace(hour=5)), v, FIRED)
    two = alert_of(
        finding("C-502", escalate=True, anchor_id=uuid.UUID(int=9), anchor_at=T0), v, FIRED
    )
    first, second = case_of(one), case_of(two)
    assert first is not None and second is not None
    assert one.alert_id != two.alert_id
    assert first.case_id == second.case_id


def test_case_date_is_the_local_business_date_of_the_anchor() -> None:
    """02:30 UTC on 2026-03-03 is 21:30 on 03-02 in New York; 03:59 local belongs to 03-02."""
    v = view(locations={"L1": LocationConfig(timezone="America/New_York")})
    late_evening = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    before_start = datetime(2026, 3, 3, 8, 59, tzinfo=UTC)  # 03:59 EST
    after_start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # 04:00 EST
    dates = []
    for anchor_at in (late_evening, before_start, after_start):
        alert = alert_of(finding("C-502", escalate=True, anchor_at=anchor_at), v, FIRED)
        case = case_of(alert)
        assert case is not None
        dates.append((alert.business_date.isoformat(), case.business_date.isoformat()))
    assert dates == [("2026-03-02",) * 2, ("2026-03-02",) * 2, ("2026-03-03",) * 2]


@pytest.mark.parametrize("mode", ["dry_run", "backfill"])
def test_no_case_outside_alerting_mode(mode: str) -> None:
    if mode == "backfill":
        record = txn("REFUND", mode="backfill")
        alert = alert_of(finding("C-502", record=record, escalate=True), view(), FIRED)
    else:
        v = view({"C-502": RuleConfig(mode="dry_run")})
        alert = alert_of(finding("C-502", escalate=True), v, FIRED)
    assert alert.mode == mode
    assert case_of(alert) is None


def test_no_case_for_a_non_escalating_finding() -> None:
    assert case_of(alert_of(finding("C-502"), view(), FIRED)) is None
