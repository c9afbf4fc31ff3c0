"""Cursor pagination and query parsing shared by the fake's list and search endpoints.

A cursor is opaque (base64url JSON) and bound to the listing and its filters: reusing it with
other filters answers Square's ``INVALID_CURSOR``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from canary_stream.square.fake.errors import bad_value
from canary_stream.square.fake.store import Json, decode_cursor, encode_cursor


def page(
    items: Sequence[Json],
    key: str,
    *,
    kind: str,
    params: Json,
    cursor: str | None,
    limit: int,
) -> Json:
    """``{key: items[offset:offset+limit], "cursor"?}``; ``{}`` when the page is empty."""
    offset = 0
    if cursor:
        found = decode_cursor(cursor, kind, params)
        if found is None:
            raise bad_value("cursor", "Invalid cursor", "INVALID_CURSOR")
        offset = found
    chunk = list(items[offset : offset + limit])
    answer: Json = {key: chunk} if chunk else {}
    if offset + limit < len(items):
        answer["cursor"] = encode_cursor(kind, offset + limit, params)
    return answer


def limit_of(raw: Any, *, default: int, maximum: int, name: str = "limit") -> int:
    """A page size from a query string or JSON value (above ``maximum`` → ``maximum``)."""
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise bad_value(name, "Expected an integer value", "EXPECTED_INTEGER") from None
    if limit < 1:
        raise bad_value(name, "Must be at least 1", "VALUE_TOO_LOW")
    return min(limit, maximum)


def when(raw: Any, name: str) -> datetime | None:
    """An RFC 3339 timestamp parameter (None when absent)."""
    if raw is None or raw == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise bad_value(name, f"Invalid timestamp `{raw}`", "INVALID_TIME") from None
    if parsed.tzinfo is None:
        raise bad_value(name, f"Timestamp `{raw}` has no offset", "INVALID_TIME")
    return parsed


def sort_order(raw: Any, default: str, name: str = "sort_order") -> str:
    """``ASC`` or ``DESC``."""
    value = default if raw is None or raw == "" else str(raw)
    if value not in ("ASC", "DESC"):
        raise bad_value(name, f"Invalid sort order `{value}`", "INVALID_ENUM_VALUE")
    return value


def in_range(
    stamp: str | None, begin: datetime | None, end: datetime | None, *, end_inclusive: bool = False
) -> bool:
    """Whether ``stamp`` lies in ``[begin, end)`` (``[begin, end]`` if ``end_inclusive``)."""
    if begin is None and end is None:
        return True
    if stamp is None:
        return False
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if begin is not None and t < begin:
        return False
    if end is not None and (t > end if end_inclusive else t >= end):
        return False
    return True


def sorted_by(items: Sequence[Json], field: str, order: str) -> list[Json]:
    """``items`` by ``field`` (then id), ascending or descending."""
    key: Callable[[Json], tuple[str, str]] = lambda x: (str(x.get(field) or ""), str(x["id"]))  # noqa: E731
    return sorted(items, key=key, reverse=order == "DESC")


def query(request: web.Request) -> Json:
    """The query string as a plain dict (last value wins)."""
    return dict(request.query)
