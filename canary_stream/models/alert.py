"""Alert (``canary.alerts``, ``record-type: alert``) and case (``canary.cases``) records."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal
from uuid import UUID

from canary_stream.models.wire import RecordType, UtcDatetime, WireModel

AlertMode = Literal["alerting", "dry_run", "backfill"]
SeverityName = Literal["info", "low", "medium", "high", "critical"]


class Alert(WireModel):
    """One fired rule: ids and fields of rules.md, thresholds as in force when it fired."""

    RECORD_TYPE: ClassVar[RecordType] = "alert"

    schema_version: int = 1
    alert_id: UUID
    rule_id: str
    rule_name: str
    category: str
    severity: SeverityName
    score: int
    tier: int
    level: int
    mode: AlertMode
    merchant_id: UUID
    location_id: str | None = None
    employee_id: str | None = None
    subject_key: str
    amount_cents: int | None = None
    currency: str | None = None
    canonical_ids: tuple[UUID, ...]
    details: dict[str, Any] = {}
    thresholds: dict[str, Any] = {}
    occurred_at: UtcDatetime
    fired_at: UtcDatetime
    #: The local business date of ``occurred_at`` (cases are per business date).
    business_date: date
    #: Whether an alerting-mode alert of this rule and band opens a case.
    escalates: bool = False


class Case(WireModel):
    """A case opened (or joined) by an escalating alert; one record per linked alert."""

    RECORD_TYPE: ClassVar[RecordType] = "case"

    schema_version: int = 1
    case_id: UUID
    merchant_id: UUID
    rule_id: str
    priority: SeverityName
    subject_type: Literal["employee", "location"]
    subject_id: str
    business_date: date
    opened_at: UtcDatetime
    alert_id: UUID
