"""A thin wrapper around Square's official SDK (``squareup``): client factory and the calls we use.

The SDK (Fern-generated, httpx underneath) retries 408/409/429/5xx twice itself, honouring
``Retry-After`` (capped at 60 s); what still fails becomes one of
:mod:`canary_stream.square.errors`. Webhook subscriptions belong to the application: call
them with the application's own access token, never a merchant's OAuth token.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import httpx
from square import AsyncSquare
from square.types.webhook_subscription import WebhookSubscription

from canary_stream.errors import ConfigError
from canary_stream.settings import Settings
from canary_stream.square.errors import SquareRequestError, square_errors

#: ``Square-Version`` sent with every call and given to the subscription (payload shapes).
SQUARE_API_VERSION = "2026-09-16"
#: Seconds one HTTP attempt may take.
TIMEOUT_SECONDS = 30.0

#: The webhook event types canary-stream handles (square.md, parser families).
SUBSCRIBED_EVENT_TYPES: tuple[str, ...] = (
    "payment.created",
    "payment.updated",
    "refund.created",
    "refund.updated",
    "order.created",
    "order.updated",
    "order.fulfillment.updated",
    "dispute.created",
    "dispute.state.updated",
    "dispute.state.changed",
    "dispute.evidence.created",
    "dispute.evidence.deleted",
    "payout.sent",
    "payout.paid",
    "payout.failed",
    "loyalty.account.created",
    "loyalty.account.updated",
    "loyalty.account.deleted",
    "loyalty.event.created",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "gift_card.activity.created",
    "oauth.authorization.revoked",
)


def make_square_client(
    settings: Settings, token: str | None = None, *, httpx_client: httpx.AsyncClient | None = None
) -> AsyncSquare:
    """An SDK client on ``settings.square_base_url``; the application's token unless ``token``."""
    bearer = token if token is not None else settings.square_access_token.get_secret_value()
    if not bearer:
        raise ConfigError(
            "CANARY_SQUARE_ACCESS_TOKEN is empty: set the application's access token "
            "(or run 'canary-stream stack up', which writes one for the local fake Square)"
        )
    return AsyncSquare(
        token=bearer,
        base_url=settings.square_base_url.rstrip("/"),
        timeout=TIMEOUT_SECONDS,
        version=SQUARE_API_VERSION,
        httpx_client=httpx_client,
    )


@contextlib.asynccontextmanager
async def square_client(settings: Settings, token: str | None = None) -> AsyncIterator[AsyncSquare]:
    """:func:`make_square_client` whose HTTP connections are closed on exit."""
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=True) as http:
        yield make_square_client(settings, token, httpx_client=http)


def _required(sub: WebhookSubscription | None, operation: str) -> WebhookSubscription:
    if sub is None or not sub.id:
        raise SquareRequestError(f"Square {operation} answered without a subscription")
    return sub


async def create_subscription(
    client: AsyncSquare,
    notification_url: str,
    event_types: Sequence[str] = SUBSCRIBED_EVENT_TYPES,
    api_version: str = SQUARE_API_VERSION,
    *,
    name: str = "canary-stream",
) -> WebhookSubscription:
    """CreateWebhookSubscription; the answer carries the new ``signature_key``.

    An idempotency key makes the SDK's automatic retries of this POST safe.
    """
    with square_errors("CreateWebhookSubscription"):
        resp = await client.webhooks.subscriptions.create(
            idempotency_key=str(uuid.uuid4()),
            subscription={
                "name": name,
                "event_types": list(event_types),
                "notification_url": notification_url,
                "api_version": api_version,
            },
        )
    return _required(resp.subscription, "CreateWebhookSubscription")


async def list_subscriptions(
    client: AsyncSquare, *, include_disabled: bool = True
) -> list[WebhookSubscription]:
    """ListWebhookSubscriptions, every page (Square leaves ``signature_key`` out of lists)."""
    out: list[WebhookSubscription] = []
    with square_errors("ListWebhookSubscriptions"):
        pager = await client.webhooks.subscriptions.list(include_disabled=include_disabled)
        async for sub in pager:
            out.append(sub)
    return out


async def retrieve_subscription(client: AsyncSquare, subscription_id: str) -> WebhookSubscription:
    """RetrieveWebhookSubscription; carries the current ``signature_key``."""
    with square_errors("RetrieveWebhookSubscription"):
        resp = await client.webhooks.subscriptions.get(subscription_id)
    return _required(resp.subscription, "RetrieveWebhookSubscription")


async def rotate_signature_key(client: AsyncSquare, subscription_id: str) -> str:
    """UpdateWebhookSubscriptionSignatureKey: the new key (Square signs with it at once)."""
    with square_errors("UpdateWebhookSubscriptionSignatureKey"):
        resp = await client.webhooks.subscriptions.update_signature_key(
            subscription_id, idempotency_key=str(uuid.uuid4())
        )
    if not resp.signature_key:
        raise SquareRequestError("Square UpdateWebhookSubscriptionSignatureKey gave no key")
    return resp.signature_key
