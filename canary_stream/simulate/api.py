"""Response bodies of the Square API calls the fake Square will serve from simulated traffic.

Pure: lists in, JSON-ready dicts out. Cursors are opaque strings (base64url of an
offset), as Square's are; a page carries ``cursor`` only when more items follow.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from canary_stream.simulate.world import Json

#: Square's default and maximum page sizes for the Cash Drawers API.
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


class BadCursor(ValueError):
    """A cursor this module did not issue (the API answers 400)."""


def encode_cursor(offset: int) -> str:
    """The opaque cursor of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(f"sim:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset inside ``cursor``; :class:`BadCursor` when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(cursor) from None
    if prefix != "sim" or offset < 0:
        raise BadCursor(cursor)
    return offset


def page(
    items: Sequence[Json], key: str, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Json:
    """``{key: items[offset:offset+limit]}`` plus ``cursor`` when more follow."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be within 1..{MAX_LIMIT}, got {limit}")
    start = decode_cursor(cursor) if cursor else 0
    body: Json = {key: list(items[start : start + limit])}
    if start + limit < len(items):
        body["cursor"] = encode_cursor(start + limit)
    return body


def retrieve_order(order: Json) -> Json:
    """The RetrieveOrder response body: ``{"order": {...}}``."""
    return {"order": order}
