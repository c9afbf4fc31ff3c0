"""Findings become alert records; escalating alerts become cases (ids of contracts.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canary_stream.models.alert import Alert, AlertMode, Case
from canary_stream.models.canonical import CanonicalEvent
from canary_stream.rules.catalog import bump, score
from canary_stream.rules.findings import Finding
from canary_stream.rules.merchant import MerchantView
from canary_stream.square.parse.base import deterministic_id


def alert_mode(record: CanonicalEvent, configured: str) -> AlertMode:
    """``backfill`` for BATCH records, else the rule's configured mode."""
    if record.mode == "backfill":
        return "backfill"
    return "dry_run" if configured == "dry_run" else "alerting"


def alert_of(finding: Finding, view: MerchantView, fired_at: datetime) -> Alert:
    """The alert record of ``finding`` under the merchant's settings in force."""
    rule = view.rule(finding.rule_id)
    spec = rule.spec
    severity = finding.severity or spec.severity
    if finding.level > 1:
        severity = bump(severity, finding.level - 1)
    record = finding.record
    alert_id = deterministic_id(
        "alert", record.merchant_id, spec.rule_id, finding.subject_key, finding.anchor_id,
        finding.level,
    )  # fmt: skip
    amount: Any = getattr(record, "amount_cents", None)
    currency: Any = getattr(record, "currency", None)
    return Alert(
        alert_id=alert_id,
        rule_id=spec.rule_id,
        rule_name=spec.name,
        category=spec.category,
        severity=severity,
        score=score(severity, finding.boost),
        tier=spec.tier,
        level=finding.level,
        mode=alert_mode(record, rule.mode),
        merchant_id=record.merchant_id,
        location_id=record.location_id,
        employee_id=getattr(record, "employee_id", None),
        subject_key=finding.subject_key,
        amount_cents=amount,
        currency=currency,
        canonical_ids=tuple(sorted(set(finding.canonical_ids), key=str)),
        details=dict(finding.details),
        thresholds=dict(rule.thresholds),
        occurred_at=finding.anchor_at,
        fired_at=fired_at,
        business_date=view.business_date(finding.anchor_at, record.location_id),
        escalates=finding.escalate,
    )


def case_of(alert: Alert) -> Case | None:
    """The case an alert opens or joins: alerting mode and an escalating rule/band only."""
    if alert.mode != "alerting" or not alert.escalates:
        return None
    if alert.employee_id:
        subject_type, subject_id = "employee", alert.employee_id
    else:
        subject_type, subject_id = "location", alert.location_id or "unknown"
    case_id = deterministic_id(
        "case", alert.merchant_id, alert.rule_id, f"{subject_type}:{subject_id}",
        alert.business_date.isoformat(),
    )  # fmt: skip
    return Case(
        case_id=case_id,
        merchant_id=alert.merchant_id,
        rule_id=alert.rule_id,
        priority=alert.severity,
        subject_type=subject_type,
        subject_id=subject_id,
        business_date=alert.business_date,
        opened_at=alert.fired_at,
        alert_id=alert.alert_id,
    )
