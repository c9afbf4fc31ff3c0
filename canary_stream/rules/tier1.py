"""The eight Tier 1 rules: pure functions of one canonical event and the merchant's settings.

No database, no table, no I/O. Each evaluator takes the record (already narrowed to its
kind) and the merchant view and returns its findings; :func:`evaluate` runs every enabled
rule and drops findings about allow-listed subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from canary_stream.models.canonical import CanonicalEvent, DisputeEvent, TransactionEvent
from canary_stream.rules.business_time import within_hours
from canary_stream.rules.catalog import RuleSettings
from canary_stream.rules.findings import Finding
from canary_stream.rules.merchant import MerchantView
from canary_stream.square.parse.base import canonical_id

#: Ledger transaction types C-004 looks at.
AFTER_HOURS_TYPES = frozenset({"PAYMENT", "REFUND", "VOID", "NO_SALE", "PAID_IN", "PAID_OUT"})
#: Dispute states a dispute starts in (Square): its first record.
INITIAL_DISPUTE_STATES = frozenset({"EVIDENCE_REQUIRED", "INQUIRY_EVIDENCE_REQUIRED"})

Evaluator = Callable[[CanonicalEvent, MerchantView, RuleSettings], list[Finding]]


def subject_of(record: CanonicalEvent, view: MerchantView) -> str:
    """A Tier 1 alert's subject: the employee's business day, else the location, else merchant."""
    employee = getattr(record, "employee_id", None)
    if employee:
        day = view.business_date(record.occurred_at, record.location_id)
        return f"employee:{employee}|day:{day.isoformat()}"
    if record.location_id:
        return f"location:{record.location_id}"
    return "merchant"


def _finding(
    rule_id: str,
    record: CanonicalEvent,
    view: MerchantView,
    details: dict[str, Any],
    *,
    anchor_id: UUID | None = None,
    subject_key: str | None = None,
    **extra: Any,
) -> Finding:
    anchor = anchor_id or record.canonical_id
    return Finding(
        rule_id=rule_id,
        level=1,
        subject_key=subject_key or subject_of(record, view),
        record=record,
        anchor_id=anchor,
        anchor_at=record.occurred_at,
        canonical_ids=(record.canonical_id,),
        details=details,
        **extra,
    )


def _ledger(record: CanonicalEvent, *types: str) -> TransactionEvent | None:
    if isinstance(record, TransactionEvent) and record.ledger and record.transaction_type in types:
        return record
    return None


def after_hours(record: CanonicalEvent, view: MerchantView, rule: RuleSettings) -> list[Finding]:
    """C-004: a ledger record outside the location's business hours (local time)."""
    txn = _ledger(record, *AFTER_HOURS_TYPES)
    if txn is None:
        return []
    tz = view.zone(txn.location_id)
    hours = view.hours(txn.location_id)
    if within_hours(txn.occurred_at, tz, hours):
        return []
    local = txn.occurred_at.astimezone(tz).strftime("%H:%M:%S")
    details = {"local_time": local, "timezone": tz.key, "business_hours": hours}
    return [_finding("C-004", txn, view, details)]


def high_value_refund(
    record: CanonicalEvent, view: MerchantView, rule: RuleSettings
) -> list[Finding]:
    """C-007: a PENDING or COMPLETED refund of at least ``amount_cents`` (once per refund)."""
    if not (
        isinstance(record, TransactionEvent)
        and record.transaction_type == "REFUND"
        and record.status in ("PENDING", "COMPLETED")
    ):
        return []
    limit = rule.thresholds["amount_cents"]
    if record.amount_cents < limit:
        return []
    return [_finding("C-007", record, view, {"amount_cents": record.amount_cents})]


def _authorization_id(txn: TransactionEvent) -> UUID:
    """The canonical id of the payment's AUTHORIZATION: one anchor per payment."""
    return canonical_id(txn.merchant_id, "transaction", txn.external_id, "AUTHORIZATION")


def delay_hold(record: CanonicalEvent, view: MerchantView, rule: RuleSettings) -> list[Finding]:
    """C-009: an AUTHORIZATION carrying ``delay_action``, once per payment."""
    if not (
        isinstance(record, TransactionEvent)
        and record.transaction_type == "AUTHORIZATION"
        and record.delay_action
    ):
        return []
    details: dict[str, Any] = {"delay_action": record.delay_action}
    if record.delayed_until is not None:
        details["delayed_until"] = record.delayed_until.isoformat()
    return [
        _finding("C-009", record, view, details, anchor_id=_authorization_id(record), escalate=True)
    ]


def partial_authorization(
    record: CanonicalEvent, view: MerchantView, rule: RuleSettings
) -> list[Finding]:
    """C-010: approved below requested by more than ``variance_cents``, once per payment."""
    if not (
        isinstance(record, TransactionEvent)
        and record.transaction_type in ("AUTHORIZATION", "PAYMENT")
        and record.approved_amount_cents is not None
    ):
        return []
    shortfall = record.amount_cents - record.approved_amount_cents
    if shortfall <= rule.thresholds["variance_cents"]:
        return []
    details = {
        "requested_cents": record.amount_cents,
        "approved_cents": record.approved_amount_cents,
        "shortfall_cents": shortfall,
    }
    return [_finding("C-010", record, view, details, anchor_id=_authorization_id(record))]


def no_sale(record: CanonicalEvent, view: MerchantView, rule: RuleSettings) -> list[Finding]:
    """C-011: a NO_SALE by an employee not on ``allowed_employee_ids``."""
    txn = _ledger(record, "NO_SALE")
    if txn is None or txn.employee_id in rule.thresholds["allowed_employee_ids"]:
        return []
    return [_finding("C-011", txn, view, {"shift_id": txn.shift_id})]


def post_void(record: CanonicalEvent, view: MerchantView, rule: RuleSettings) -> list[Finding]:
    """C-502: a VOID or REFUND of a known original, by the gap since the original."""
    if not (
        isinstance(record, TransactionEvent)
        and record.transaction_type in ("VOID", "REFUND")
        and record.original_occurred_at is not None
    ):
        return []
    t = rule.thresholds
    gap = (record.occurred_at - record.original_occurred_at).total_seconds()
    if gap < t["immediate_max_seconds"] or gap >= t["suspicious_max_seconds"]:
        return []
    suspicious = gap >= t["watch_max_seconds"]
    same = record.employee_id is not None and record.employee_id == record.original_employee_id
    details = {
        "gap_seconds": gap,
        "band": "SUSPICIOUS" if suspicious else "WATCH",
        "self_refund": same,
    }
    return [
        _finding(
            "C-502",
            record,
            view,
            details,
            severity="critical" if suspicious else "high",
            boost=t["self_refund_score_boost"] if same else 0,
            escalate=suspicious,
        )
    ]


def is_new_dispute(record: CanonicalEvent) -> bool:
    """The first record of a dispute: ``dispute.created``, or a polled / backfilled dispute."""
    if not isinstance(record, DisputeEvent):
        return False
    if record.source_event_type == "dispute.created":
        return True
    return record.source_type != "WEBHOOK" and record.state in INITIAL_DISPUTE_STATES


def dispute_created(
    record: CanonicalEvent, view: MerchantView, rule: RuleSettings
) -> list[Finding]:
    """C-D01: the first record of a dispute."""
    if not isinstance(record, DisputeEvent) or not is_new_dispute(record):
        return []
    anchor = canonical_id(record.merchant_id, "dispute", record.dispute_id, "CREATED")
    details = {"dispute_id": record.dispute_id, "state": record.state, "reason": record.reason}
    return [_finding("C-D01", record, view, details, anchor_id=anchor, subject_key="merchant")]


def dispute_lost(record: CanonicalEvent, view: MerchantView, rule: RuleSettings) -> list[Finding]:
    """C-D02: a dispute reaching LOST."""
    if not isinstance(record, DisputeEvent) or record.state != "LOST":
        return []
    details = {"dispute_id": record.dispute_id}
    return [_finding("C-D02", record, view, details, subject_key="merchant")]


TIER1: dict[str, Evaluator] = {
    "C-004": after_hours,
    "C-007": high_value_refund,
    "C-009": delay_hold,
    "C-010": partial_authorization,
    "C-011": no_sale,
    "C-502": post_void,
    "C-D01": dispute_created,
    "C-D02": dispute_lost,
}


def allowed(finding: Finding, rule: RuleSettings) -> bool:
    """Whether the finding is about an allow-listed employee, location or subject."""
    record = finding.record
    if rule.allows("employee", getattr(record, "employee_id", None)):
        return True
    if rule.allows("location", record.location_id):
        return True
    kind, _, ident = finding.subject_key.partition(":")
    return kind in ("card", "loyalty", "gift_card") and rule.allows(kind, ident.split("|")[0])


def evaluate(record: CanonicalEvent, view: MerchantView) -> Sequence[Finding]:
    """Every enabled Tier 1 rule's findings for ``record``, allow-listed subjects dropped."""
    found: list[Finding] = []
    for rule_id, evaluator in TIER1.items():
        rule = view.rule(rule_id)
        if not rule.enabled:
            continue
        found.extend(f for f in evaluator(record, view, rule) if not allowed(f, rule))
    return found
