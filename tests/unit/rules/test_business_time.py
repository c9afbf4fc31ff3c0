"""Business time: zones, business dates and days, business hours (wrapping past midnight)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from rule_records import M, view

from canary_stream.models.merchant_config import LocationConfig, RuleConfig
from canary_stream.rules.business_time import (
    business_date,
    business_day_end,
    clock,
    within_hours,
    zone,
)
from canary_stream.rules.merchant import MerchantView

UTC_ZONE = zone("UTC")
NY = zone("America/New_York")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        (None, "UTC"),
        ("", "UTC"),
        ("Mars/Olympus", "UTC"),
        ("../etc", "UTC"),
    ],
)
def test_zone(name: str | None, key: str) -> None:
    assert zone(name).key == key


def test_clock() -> None:
    assert clock("04:00") == time(4, 0)
    assert clock("23:59") == time(23, 59)


@pytest.mark.parametrize(
    ("at", "tz", "start", "expected"),
    [
        (utc(2026, 3, 2, 3, 59, 59), UTC_ZONE, "04:00", date(2026, 3, 1)),
        (utc(2026, 3, 2, 4, 0, 0), UTC_ZONE, "04:00", date(2026, 3, 2)),
        (utc(2026, 3, 2, 0, 0, 0), UTC_ZONE, "00:00", date(2026, 3, 2)),
        (utc(2026, 3, 2, 8, 59, 59), NY, "04:00", date(2026, 3, 1)),  # 03:59:59 EST
        (utc(2026, 3, 2, 9, 0, 0), NY, "04:00", date(2026, 3, 2)),
        # across the spring-forward change (2026-03-08 02:00 EST -> 03:00 EDT)
        (utc(2026, 3, 8, 7, 59, 59), NY, "04:00", date(2026, 3, 7)),  # 03:59:59 EDT
        (utc(2026, 3, 8, 8, 0, 0), NY, "04:00", date(2026, 3, 8)),  # 04:00 EDT
        (utc(2026, 3, 2, 9, 29, 59), NY, "04:30", date(2026, 3, 1)),
        (utc(2026, 3, 2, 9, 30, 0), NY, "04:30", date(2026, 3, 2)),
    ],
)
def test_business_date(at: datetime, tz, start: str, expected: date) -> None:
    assert business_date(at, tz, start) == expected


def test_business_day_end() -> None:
    assert business_day_end(date(2026, 3, 1), UTC_ZONE, "04:00") == utc(2026, 3, 2, 4, 0)
    assert business_day_end(date(2026, 3, 2), NY, "04:00") == utc(2026, 3, 3, 9, 0)
    assert business_day_end(date(2026, 3, 7), NY, "04:00") == utc(2026, 3, 8, 8, 0)  # EDT


@pytest.mark.parametrize(
    ("hours", "local", "inside"),
    [
        ("06:00-22:00", (5, 59, 59), False),
        ("06:00-22:00", (6, 0, 0), True),
        ("06:00-22:00", (21, 59, 59), True),
        ("06:00-22:00", (22, 0, 0), False),
        ("18:00-02:00", (17, 59, 59), False),
        ("18:00-02:00", (18, 0, 0), True),
        ("18:00-02:00", (0, 0, 0), True),
        ("18:00-02:00", (1, 59, 59), True),
        ("18:00-02:00", (2, 0, 0), False),
        ("09:00-09:00", (3, 0, 0), True),
    ],
)
def test_within_hours(hours: str, local: tuple[int, int, int], inside: bool) -> None:
    at = utc(2026, 3, 2, *local)
    assert within_hours(at, UTC_ZONE, hours) is inside
    # the same local time in New York (EST, UTC-5)
    assert within_hours(utc(2026, 3, 2, *local).replace(tzinfo=NY), NY, hours) is inside


def test_merchant_view_zones_hours_and_dates() -> None:
    v = view(
        {"C-004": RuleConfig(thresholds={"business_hours": "07:00-23:00"})},
        timezone="Europe/Berlin",
        business_day_start="05:00",
        locations={
            "NY": LocationConfig(timezone="America/New_York", business_hours="18:00-02:00"),
            "HQ": LocationConfig(),
        },
    )
    assert [v.zone(x).key for x in ("NY", "HQ", "XX", None)] == [
        "America/New_York",
        "Europe/Berlin",
        "Europe/Berlin",
        "Europe/Berlin",
    ]
    assert [v.hours(x) for x in ("NY", "HQ", None)] == ["18:00-02:00", "07:00-23:00", "07:00-23:00"]
    at = utc(2026, 3, 2, 3, 30)  # 22:30 EST on 03-01; 04:30 CET on 03-02
    assert v.business_date(at, "NY") == date(2026, 3, 1)
    assert v.business_date(at, "HQ") == date(2026, 3, 1)  # before 05:00 CET
    assert v.business_date(utc(2026, 3, 2, 4, 0), "HQ") == date(2026, 3, 2)


def test_merchant_view_defaults() -> None:
    v = MerchantView.defaults(M)
    assert (v.timezone, v.business_day_start, v.currency) == ("UTC", "04:00", "USD")
    assert len(v.rules) == 20
    assert v.rule("C-009").mode == "dry_run"
    assert v.hours("L1") == "06:00-22:00"
