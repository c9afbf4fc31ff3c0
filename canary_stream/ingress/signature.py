"""Square webhook signature (square.md): base64 HMAC-SHA256 over ``notification_url + body``.

The notification URL is configuration, never read from the request. The body is the raw
bytes as received (they need not be UTF-8). A signature key is used as the UTF-8 bytes of
the string Square shows, exactly as Square's SDK does (it is not base64-decoded).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

HEADER = "x-square-hmacsha256-signature"


def _key_bytes(key: bytes | str) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


def _digest(notification_url: str, body: bytes, key: bytes) -> bytes:
    return base64.b64encode(
        hmac.new(key, notification_url.encode("utf-8") + body, hashlib.sha256).digest()
    )


def compute_signature(notification_url: str, body: bytes, key: bytes | str) -> str:
    """The header value Square would send for ``body`` delivered to ``notification_url``."""
    return _digest(notification_url, body, _key_bytes(key)).decode("ascii")


def verify_signature(
    header: str | None,
    notification_url: str,
    body: bytes,
    keys: Sequence[tuple[str, bytes]],
) -> str | None:
    """The id of the key whose signature equals ``header``, or None.

    Every key is computed and compared with ``hmac.compare_digest`` (no early exit), so the
    time taken does not reveal which key matched. An empty key never matches: anyone can
    compute an HMAC under it. If several keys match, the first listed wins.
    """
    if not header:
        return None
    try:
        presented = header.encode("ascii")
    except UnicodeEncodeError:
        return None
    matched: str | None = None
    for key_id, key in keys:
        equal = hmac.compare_digest(_digest(notification_url, body, key), presented)
        if equal and key and matched is None:
            matched = key_id
    return matched
