"""Writes of ``app.merchant_rule_settings`` and location business hours (``rules set|reset``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_UPSERT = text(
    "INSERT INTO app.merchant_rule_settings "
    "(merchant_id, rule_id, enabled, mode, thresholds, allow_lists, updated_at) "
    "VALUES (:m, :rule, :enabled, :mode, CAST(:thresholds AS jsonb), CAST(:allow AS jsonb), "
    "now()) "
    "ON CONFLICT (merchant_id, rule_id) DO UPDATE SET enabled = EXCLUDED.enabled, "
    "mode = EXCLUDED.mode, thresholds = EXCLUDED.thresholds, "
    "allow_lists = EXCLUDED.allow_lists, updated_at = now()"
)


async def stored(conn: AsyncConnection, merchant_id: uuid.UUID, rule_id: str) -> dict[str, Any]:
    """The merchant's stored settings of ``rule_id`` (empty when it uses the defaults)."""
    row = (
        await conn.execute(
            text(
                "SELECT enabled, mode, thresholds, allow_lists FROM app.merchant_rule_settings "
                "WHERE merchant_id = :m AND rule_id = :rule"
            ),
            {"m": merchant_id, "rule": rule_id},
        )
    ).first()
    return dict(row._mapping) if row is not None else {}


async def save(
    conn: AsyncConnection,
    merchant_id: uuid.UUID,
    rule_id: str,
    *,
    enabled: bool,
    mode: str | None,
    thresholds: dict[str, Any],
    allow_lists: dict[str, list[str]],
) -> None:
    """Store the whole setting of one rule (validated by the caller)."""
    await conn.execute(
        _UPSERT,
        {
            "m": merchant_id,
            "rule": rule_id,
            "enabled": enabled,
            "mode": mode,
            "thresholds": json.dumps(thresholds, sort_keys=True),
            "allow": json.dumps(allow_lists, sort_keys=True),
        },
    )


async def reset(conn: AsyncConnection, merchant_id: uuid.UUID, rule_id: str | None) -> int:
    """Back to the defaults: one rule, or every rule when ``rule_id`` is None."""
    result = await conn.execute(
        text(
            "DELETE FROM app.merchant_rule_settings WHERE merchant_id = :m "
            "AND (CAST(:rule AS text) IS NULL OR rule_id = :rule)"
        ),
        {"m": merchant_id, "rule": rule_id},
    )
    return int(result.rowcount or 0)


async def set_location_hours(
    conn: AsyncConnection, merchant_id: uuid.UUID, location_id: str, hours: str | None
) -> None:
    """Set (``None``: clear) a location's business hours, creating the location row if new."""
    await conn.execute(
        text(
            "INSERT INTO app.merchant_locations (merchant_id, square_location_id, business_hours) "
            "VALUES (:m, :loc, :hours) ON CONFLICT (merchant_id, square_location_id) "
            "DO UPDATE SET business_hours = EXCLUDED.business_hours"
        ),
        {"m": merchant_id, "loc": location_id, "hours": hours},
    )
