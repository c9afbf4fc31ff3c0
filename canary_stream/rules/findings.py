"""What an evaluator returns: a rule fired for a subject, anchored on a record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from canary_stream.models.canonical import CanonicalEvent
from canary_stream.rules.catalog import Severity


@dataclass(frozen=True)
class Finding:
    """One alert to raise; :func:`canary_stream.rules.alerts.alert_of` makes it a record.

    ``record`` is the record being evaluated (its employee, location and amount go on the
    alert); ``anchor_id`` / ``anchor_at`` are the earliest qualifying record's.
    """

    rule_id: str
    level: int
    subject_key: str
    record: CanonicalEvent
    anchor_id: UUID
    anchor_at: datetime
    canonical_ids: tuple[UUID, ...]
    details: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    boost: int = 0
    escalate: bool = False
