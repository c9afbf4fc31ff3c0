"""Business time: local clocks, business days and business hours of a merchant's locations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The IANA zone called ``name``; UTC when it is missing or unknown."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def clock(text: str) -> time:
    """``HH:MM`` as a time of day."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def business_date(at: datetime, tz: ZoneInfo, day_start: str) -> date:
    """The local date of ``at - business_day_start``: a sale at 02:00 belongs to yesterday."""
    start = clock(day_start)
    local = at.astimezone(tz) - timedelta(hours=start.hour, minutes=start.minute)
    return local.date()


def business_day_end(day: date, tz: ZoneInfo, day_start: str) -> datetime:
    """The UTC instant at which business day ``day`` ends (the next day's start)."""
    start = clock(day_start)
    local = datetime.combine(day + timedelta(days=1), start, tzinfo=tz)
    return local.astimezone(UTC)


def within_hours(at: datetime, tz: ZoneInfo, hours: str) -> bool:
    """Whether ``at``'s local time is inside ``HH:MM-HH:MM`` (start inclusive, end exclusive).

    The end may be before the start: ``18:00-02:00`` runs past midnight.
    """
    opening, closing = (clock(part) for part in hours.split("-"))
    local = at.astimezone(tz).time().replace(tzinfo=None)
    if opening == closing:
        return True
    if opening < closing:
        return opening <= local < closing
    return local >= opening or local < closing
