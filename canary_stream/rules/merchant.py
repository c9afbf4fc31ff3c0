"""What the rules know about one merchant: zones, business days and the rules in force."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from canary_stream.models.merchant_config import LocationConfig, MerchantConfig
from canary_stream.rules.business_time import business_date, zone
from canary_stream.rules.catalog import CATALOG, RuleSettings, effective


@dataclass(frozen=True)
class MerchantView:
    """A merchant's config as the evaluators read it; built once per config record."""

    merchant_id: UUID
    currency: str = "USD"
    timezone: str = "UTC"
    business_day_start: str = "04:00"
    locations: dict[str, LocationConfig] = field(default_factory=dict)
    rules: dict[str, RuleSettings] = field(default_factory=dict)

    @classmethod
    def of(cls, config: MerchantConfig) -> MerchantView:
        """The view of a config record (every catalog rule, defaults filled in)."""
        stored = {rule_id: rc.model_dump() for rule_id, rc in config.rules.items()}
        return cls(
            merchant_id=config.merchant_id,
            currency=config.currency,
            timezone=config.timezone,
            business_day_start=config.business_day_start,
            locations=dict(config.locations),
            rules={rule_id: effective(rule_id, stored.get(rule_id)) for rule_id in CATALOG},
        )

    @classmethod
    def defaults(cls, merchant_id: UUID) -> MerchantView:
        """A merchant nobody configured: UTC, 04:00 business day, catalog defaults."""
        return cls(
            merchant_id=merchant_id,
            rules={rule_id: effective(rule_id, None) for rule_id in CATALOG},
        )

    def rule(self, rule_id: str) -> RuleSettings:
        """The settings in force for ``rule_id``."""
        return self.rules[rule_id]

    def zone(self, location_id: str | None) -> ZoneInfo:
        """The location's zone, else the merchant's."""
        location = self.locations.get(location_id or "")
        return zone(location.timezone if location and location.timezone else self.timezone)

    def hours(self, location_id: str | None) -> str:
        """The location's business hours, else C-004's threshold."""
        location = self.locations.get(location_id or "")
        if location is not None and location.business_hours:
            return location.business_hours
        hours: str = self.rule("C-004").thresholds["business_hours"]
        return hours

    def business_date(self, at: datetime, location_id: str | None) -> date:
        """The business date of ``at`` at ``location_id``."""
        return business_date(at, self.zone(location_id), self.business_day_start)
