"""Queries of ``app.merchants``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.errors import NotFound
from canary_stream.models.merchant_config import LocationConfig, MerchantConfig, RuleConfig
from canary_stream.models.wire import now_utc

_COLUMNS = (
    "id, provider_merchant_id, status, currency, timezone, "
    "to_char(business_day_start, 'HH24:MI') AS business_day_start, updated_at"
)


def _base_config(row: object) -> MerchantConfig:
    m = row._mapping  # type: ignore[attr-defined]
    updated: datetime = m["updated_at"] or now_utc()
    return MerchantConfig(
        merchant_id=m["id"],
        provider_merchant_id=m["provider_merchant_id"],
        status=m["status"],
        currency=m["currency"],
        timezone=m["timezone"],
        business_day_start=m["business_day_start"],
        updated_at=updated,
    )


async def _config(conn: AsyncConnection, row: object) -> MerchantConfig:
    """The full config record: the merchant row, its locations and its rule settings."""
    config = _base_config(row)
    params = {"m": config.merchant_id}
    locations = await conn.execute(
        text(
            "SELECT square_location_id, timezone, business_hours FROM app.merchant_locations "
            "WHERE merchant_id = :m ORDER BY square_location_id"
        ),
        params,
    )
    rules = await conn.execute(
        text(
            "SELECT rule_id, enabled, mode, thresholds, allow_lists, updated_at "
            "FROM app.merchant_rule_settings WHERE merchant_id = :m ORDER BY rule_id"
        ),
        params,
    )
    rule_rows = list(rules)
    newest = max([config.updated_at, *(r.updated_at for r in rule_rows)])
    return config.model_copy(
        update={
            "locations": {
                r.square_location_id: LocationConfig(
                    timezone=r.timezone, business_hours=r.business_hours
                )
                for r in locations
                if r.timezone or r.business_hours
            },
            "rules": {
                r.rule_id: RuleConfig(
                    enabled=r.enabled,
                    mode=r.mode,
                    thresholds=r.thresholds,
                    allow_lists=r.allow_lists,
                )
                for r in rule_rows
            },
            "updated_at": newest,
        }
    )


async def add_merchant(
    conn: AsyncConnection, provider_merchant_id: str, currency: str, timezone: str
) -> tuple[MerchantConfig, bool]:
    """Insert (or find) the merchant; returns its config and whether it was created."""
    row = (
        await conn.execute(
            text(
                "INSERT INTO app.merchants (id, provider, provider_merchant_id, status, currency, "
                "timezone, updated_at) VALUES (:id, 'square', :pid, 'active', :cur, :tz, now()) "
                f"ON CONFLICT (provider, provider_merchant_id) DO NOTHING RETURNING {_COLUMNS}"
            ),
            {"id": uuid.uuid4(), "pid": provider_merchant_id, "cur": currency, "tz": timezone},
        )
    ).first()
    if row is not None:
        return await _config(conn, row), True
    found = await by_provider_id(conn, provider_merchant_id)
    assert found is not None
    return found, False


async def by_provider_id(conn: AsyncConnection, provider_merchant_id: str) -> MerchantConfig | None:
    """The merchant with this Square merchant id, active or not."""
    row = (
        await conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM app.merchants "
                "WHERE provider = 'square' AND provider_merchant_id = :pid"
            ),
            {"pid": provider_merchant_id},
        )
    ).first()
    return await _config(conn, row) if row is not None else None


async def resolve(conn: AsyncConnection, merchant: str) -> MerchantConfig:
    """Find a merchant by our UUID or Square's merchant id; ``NotFound`` otherwise."""
    try:
        merchant_uuid = uuid.UUID(merchant)
    except ValueError:
        found = await by_provider_id(conn, merchant)
    else:
        row = (
            await conn.execute(
                text(f"SELECT {_COLUMNS} FROM app.merchants WHERE id = :id"), {"id": merchant_uuid}
            )
        ).first()
        if row is not None:
            found = await _config(conn, row)
        else:
            found = await by_provider_id(conn, merchant)
    if found is None:
        raise NotFound(f"no merchant {merchant!r} (see 'canary-stream merchants list')")
    return found


async def all_merchants(conn: AsyncConnection) -> list[MerchantConfig]:
    """Every merchant, oldest first."""
    rows = await conn.execute(text(f"SELECT {_COLUMNS} FROM app.merchants ORDER BY created_at, id"))
    return [await _config(conn, r) for r in rows]


async def deactivate(conn: AsyncConnection, merchant_id: uuid.UUID) -> MerchantConfig | None:
    """Mark a merchant inactive and delete its OAuth tokens; return its new config."""
    row = (
        await conn.execute(
            text(
                "UPDATE app.merchants SET status = 'inactive', updated_at = now() WHERE id = :id "
                f"RETURNING {_COLUMNS}"
            ),
            {"id": merchant_id},
        )
    ).first()
    await conn.execute(
        text("DELETE FROM app.square_oauth_tokens WHERE merchant_id = :id"), {"id": merchant_id}
    )
    return await _config(conn, row) if row is not None else None
