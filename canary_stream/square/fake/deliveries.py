"""Deliver webhooks the way Square does: one signed POST per matching subscription.

The signature is Square's (square.md): base64 HMAC-SHA256 keyed with the subscription's
signature key over its notification URL followed by the body. The POST goes to the
state's ``ingress_url`` when set (the ingress as reachable from here), else to the
notification URL itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

from canary_stream.ingress.signature import HEADER, compute_signature
from canary_stream.simulate.payloads import Webhook
from canary_stream.square.fake.store import FakeSquareState, Subscription

TIMEOUT_SECONDS = 10.0
USER_AGENT = "Square Connect v2 (canary-stream fake)"


@dataclass(frozen=True)
class Delivery:
    """One attempted POST: which event to which subscription, and the HTTP status (0: none)."""

    event_id: str
    event_type: str
    subscription_id: str
    status: int
    error: str | None = None


def subscribers(state: FakeSquareState, event_type: str) -> list[Subscription]:
    """Enabled subscriptions that asked for ``event_type``, oldest first."""
    return [s for s in state.iter_subscriptions() if s.enabled and event_type in s.event_types]


def signed_headers(sub: Subscription, body: bytes) -> dict[str, str]:
    """The headers Square sends with a delivery for ``sub``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: compute_signature(sub.notification_url, body, sub.signature_key),
    }


async def deliver(state: FakeSquareState, hooks: Iterable[Webhook]) -> list[Delivery]:
    """POST each webhook (in order) to every subscription that wants it; never raises."""
    out: list[Delivery] = []
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for hook in hooks:
            for sub in subscribers(state, hook.event_type):
                url = state.ingress_url or sub.notification_url
                try:
                    async with session.post(
                        url, data=hook.body, headers=signed_headers(sub, hook.body)
                    ) as resp:
                        await resp.read()
                        out.append(Delivery(hook.event_id, hook.event_type, sub.id, resp.status))
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    out.append(
                        Delivery(hook.event_id, hook.event_type, sub.id, 0, type(exc).__name__)
                    )
    return out
