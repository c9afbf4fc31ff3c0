"""The per-merchant config record on the compacted ``canary.merchant-config`` topic."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from canary_stream.models.wire import RecordType, UtcDatetime, WireModel


class LocationConfig(BaseModel):
    """A location's own time zone and business hours (``None``: the merchant's / C-004's)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    timezone: str | None = None
    business_hours: str | None = None


class RuleConfig(BaseModel):
    """A merchant's settings of one rule; what is absent is the catalog default."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    enabled: bool = True
    mode: Literal["alerting", "dry_run"] | None = None
    thresholds: dict[str, Any] = {}
    allow_lists: dict[str, list[str]] = {}


class MerchantConfig(WireModel):
    """What every process needs to know about a merchant: identity, status, zone, rules.

    rules.md nests ``status``, ``currency``, ``timezone`` and ``business_day_start`` under
    ``merchant``; we keep them at the top level beside the Square ids the ingress needs
    (docs/decisions.md #19). Always the full record, never a partial patch.
    """

    RECORD_TYPE: ClassVar[RecordType] = "config"

    schema_version: int = 1
    merchant_id: UUID
    provider: Literal["square"] = "square"
    provider_merchant_id: str
    status: Literal["active", "inactive"]
    currency: str
    timezone: str
    business_day_start: str = "04:00"
    locations: dict[str, LocationConfig] = {}
    rules: dict[str, RuleConfig] = {}
    updated_at: UtcDatetime
