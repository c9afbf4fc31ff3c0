"""The per-merchant config record on the compacted ``canary.merchant-config`` topic."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from canary_stream.models.wire import RecordType, UtcDatetime, WireModel


class MerchantConfig(WireModel):
    """What every process needs to know about a merchant: identity, status, currency, rules."""

    RECORD_TYPE: ClassVar[RecordType] = "config"

    schema_version: int = 1
    merchant_id: UUID
    provider: Literal["square"] = "square"
    provider_merchant_id: str
    status: Literal["active", "inactive"]
    currency: str
    timezone: str
    business_day_start: str = "04:00"
    rules: dict[str, Any] = {}
    updated_at: UtcDatetime
