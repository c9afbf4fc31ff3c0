"""Writes of ``app.alerts``, ``app.cases`` and ``app.case_alerts`` (append-only, idempotent)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.models.alert import Alert, Case

_ALERT_COLUMNS = (
    "alert_id", "merchant_id", "rule_id", "rule_name", "category", "severity", "score", "tier",
    "level", "mode", "subject_key", "employee_id", "location_id", "amount_cents", "currency",
    "canonical_ids", "details", "thresholds", "occurred_at", "fired_at",
)  # fmt: skip


#: What a republished alert takes from its stored row: a later re-tune (mode, thresholds)
#: must not change what a past alert says.
_STORED = (
    "alert_id", "mode", "severity", "score", "level", "canonical_ids", "details", "thresholds",
    "fired_at", "occurred_at",
)  # fmt: skip


async def insert_alerts(conn: AsyncConnection, alerts: Sequence[Alert]) -> list[Alert]:
    """Insert the alerts (``ON CONFLICT DO NOTHING``); return them as stored.

    An alert already stored (a replay) comes back as the table holds it (mode, severity,
    thresholds, ``fired_at``…), so what is republished says what the table says.
    """
    if not alerts:
        return []
    rows = []
    for a in alerts:
        row = a.model_dump(include=set(_ALERT_COLUMNS))
        row["canonical_ids"] = list(a.canonical_ids)
        row["details"] = json.dumps(a.details, sort_keys=True, default=str)
        row["thresholds"] = json.dumps(a.thresholds, sort_keys=True)
        rows.append(row)
    values = ", ".join(
        f":{c}" if c not in ("details", "thresholds") else f"CAST(:{c} AS jsonb)"
        for c in _ALERT_COLUMNS
    )
    await conn.execute(
        text(
            f"INSERT INTO app.alerts ({', '.join(_ALERT_COLUMNS)}) VALUES ({values}) "
            "ON CONFLICT (alert_id) DO NOTHING"
        ),
        rows,
    )
    stored = await conn.execute(
        text(f"SELECT {', '.join(_STORED)} FROM app.alerts WHERE alert_id = ANY(:ids)"),
        {"ids": [a.alert_id for a in alerts]},
    )
    by_id: dict[UUID, Any] = {r.alert_id: r for r in stored}
    return [
        a.model_copy(update={c: getattr(by_id[a.alert_id], c) for c in _STORED[1:]})
        if a.alert_id in by_id
        else a
        for a in alerts
    ]


@dataclass(frozen=True)
class CaseLink:
    """A case as stored and whether this call opened it."""

    case: Case
    opened: bool


async def open_cases(conn: AsyncConnection, cases: Sequence[Case]) -> list[CaseLink]:
    """Open each case unless it exists, link its alert; return the cases as stored."""
    out: list[CaseLink] = []
    for case in cases:
        opened = (
            await conn.execute(
                text(
                    "INSERT INTO app.cases (case_id, merchant_id, rule_id, priority, subject_type, "
                    "subject_id, business_date, opened_at) VALUES (:case_id, :merchant_id, "
                    ":rule_id, :priority, :subject_type, :subject_id, :business_date, :opened_at) "
                    "ON CONFLICT (case_id) DO NOTHING RETURNING case_id"
                ),
                case.model_dump(exclude={"schema_version", "alert_id"}),
            )
        ).first() is not None
        await conn.execute(
            text(
                "INSERT INTO app.case_alerts (case_id, alert_id, merchant_id) "
                "VALUES (:c, :a, :m) ON CONFLICT DO NOTHING"
            ),
            {"c": case.case_id, "a": case.alert_id, "m": case.merchant_id},
        )
        row = (
            await conn.execute(
                text("SELECT priority, opened_at FROM app.cases WHERE case_id = :c"),
                {"c": case.case_id},
            )
        ).one()
        stored = case.model_copy(update={"opened_at": row.opened_at, "priority": row.priority})
        out.append(CaseLink(stored, opened))
    return out
