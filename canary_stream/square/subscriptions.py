"""The application's webhook subscription and its keys in the keyring.

A subscription's keys are stored as ``{subscription_id}.k{n}`` (n = 1, 2, ... per rotation).
Storing a subscription's current key retires its other open keys at ``now + overlap``, so
old and new keys both verify while deliveries signed with the old one drain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from square.types.webhook_subscription import WebhookSubscription

from canary_stream.db.signing_keys import SigningKey, add_key, load_keys, retire_key
from canary_stream.errors import CanaryError
from canary_stream.evidence.crypto import KeyRing


class SubscriptionChoiceError(CanaryError):
    """No (or more than one) Square subscription delivers to the notification URL."""


@dataclass
class StoredKey:
    """What storing a subscription's current key did."""

    key_id: str
    added: bool
    retired: list[str] = field(default_factory=list)
    retired_until: datetime | None = None


def subscription_keys(keys: Sequence[SigningKey], subscription_id: str) -> list[SigningKey]:
    """The keyring entries of one subscription, oldest first."""
    return [k for k in keys if _number(k.key_id, subscription_id) is not None]


def _number(key_id: str, subscription_id: str) -> int | None:
    match = re.fullmatch(re.escape(subscription_id) + r"\.k(\d+)", key_id)
    return int(match.group(1)) if match else None


def next_key_id(keys: Sequence[SigningKey], subscription_id: str) -> str:
    """``{subscription_id}.k{n}`` one past the highest stored."""
    numbers = [_number(k.key_id, subscription_id) or 0 for k in keys]
    return f"{subscription_id}.k{max(numbers, default=0) + 1}"


def pick_subscription(
    subs: Sequence[WebhookSubscription], notification_url: str
) -> WebhookSubscription | None:
    """The one enabled subscription delivering to ``notification_url`` (None if there is none)."""
    found = [s for s in subs if s.notification_url == notification_url and s.enabled is not False]
    if len(found) > 1:
        ids = ", ".join(s.id or "?" for s in found)
        raise SubscriptionChoiceError(
            f"{len(found)} Square subscriptions deliver to {notification_url} ({ids}); "
            "pass --subscription-id"
        )
    return found[0] if found else None


async def store_current_key(
    conn: AsyncConnection,
    ring: KeyRing,
    subscription_id: str,
    notification_url: str,
    secret: str,
    *,
    now: datetime,
    overlap: timedelta,
) -> StoredKey:
    """Make ``secret`` the subscription's open key; retire its other open keys at now + overlap.

    Idempotent: a secret already stored as an open key of the subscription changes nothing.
    Run inside a transaction; concurrent callers for one subscription are serialised.
    """
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"webhook-sub:{subscription_id}"}
    )
    mine = subscription_keys(await load_keys(conn, ring), subscription_id)
    raw = secret.encode("utf-8")
    for key in mine:
        if key.secret == raw and key.active_until is None:
            return StoredKey(key.key_id, added=False)
    key_id = next_key_id(mine, subscription_id)
    await add_key(conn, ring, key_id, notification_url, raw, now)
    until = now + overlap
    stored = StoredKey(key_id, added=True, retired_until=until)
    for key in mine:
        if key.active_until is None or key.active_until > until:
            await retire_key(conn, key.key_id, until)
            stored.retired.append(key.key_id)
    return stored
