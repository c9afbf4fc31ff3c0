"""Key naming and subscription choice for ``webhooks register|rotate`` (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from square.types.webhook_subscription import WebhookSubscription

from canary_stream.db.signing_keys import SigningKey
from canary_stream.square.subscriptions import (
    SubscriptionChoiceError,
    next_key_id,
    pick_subscription,
    subscription_keys,
)

URL = "https://example.test/webhooks/square"


def _key(key_id: str) -> SigningKey:
    return SigningKey(key_id, URL, b"secret", datetime(2026, 1, 1, tzinfo=UTC), None)


def test_key_ids_count_up_per_subscription():
    keys = [
        _key("wbhk_a.k1"),
        _key("wbhk_a.k2"),
        _key("wbhk_ab.k7"),
        _key("sq-123"),
        _key("wbhk_a.k10"),
    ]
    assert [k.key_id for k in subscription_keys(keys, "wbhk_a")] == [
        "wbhk_a.k1",
        "wbhk_a.k2",
        "wbhk_a.k10",
    ]
    assert next_key_id(subscription_keys(keys, "wbhk_a"), "wbhk_a") == "wbhk_a.k11"
    assert next_key_id([], "wbhk_new") == "wbhk_new.k1"


def test_pick_subscription_by_url_ignoring_disabled():
    subs = [
        WebhookSubscription(id="wbhk_off", notification_url=URL, enabled=False),
        WebhookSubscription(id="wbhk_other", notification_url=URL + "/x", enabled=True),
        WebhookSubscription(id="wbhk_on", notification_url=URL, enabled=True),
    ]
    found = pick_subscription(subs, URL)
    assert found is not None and found.id == "wbhk_on"
    assert pick_subscription(subs, "https://nowhere.test/") is None
    subs.append(WebhookSubscription(id="wbhk_twin", notification_url=URL, enabled=True))
    with pytest.raises(SubscriptionChoiceError, match="wbhk_on, wbhk_twin"):
        pick_subscription(subs, URL)
