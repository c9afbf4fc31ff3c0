"""A thin wrapper around Square's official SDK (``squareup``): client factory and the calls we use.

The SDK (Fern-generated, httpx underneath) retries 408/409/429/5xx twice itself, honouring
``Retry-After`` (capped at 60 s); what still fails becomes one of
:mod:`canary_stream.square.errors`. Webhook subscriptions belong to the application: call
them with the application's own access token, never a merchant's OAuth token.

Seller calls go through :class:`SquareClient`: one ``AsyncSquare`` on one httpx client, the
merchant's token fetched per call from a token source (the vault's ``access_token``), every
HTTP attempt (SDK retries included) paced by a per-merchant :class:`RateLimiter`, and each
answer returned with the exact body bytes httpx read (:class:`Fetched`, :class:`Page`) for
POLLING / BATCH envelopes. The call's merchant, token and captured responses travel in a
context variable, so concurrent calls for different merchants never mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, TypeVar

import httpx
from square import AsyncSquare
from square.environment import SquareEnvironment
from square.requests.loyalty_event_query import LoyaltyEventQueryParams
from square.requests.search_orders_query import SearchOrdersQueryParams
from square.types.cash_drawer_shift_event import CashDrawerShiftEvent
from square.types.cash_drawer_shift_summary import CashDrawerShiftSummary
from square.types.customer import Customer
from square.types.dispute import Dispute
from square.types.location import Location
from square.types.loyalty_event import LoyaltyEvent
from square.types.order import Order
from square.types.payment import Payment
from square.types.payment_refund import PaymentRefund
from square.types.payout import Payout
from square.types.webhook_subscription import WebhookSubscription

from canary_stream.errors import CanaryError, ConfigError
from canary_stream.settings import Settings
from canary_stream.square.errors import (
    SquareBadResponse,
    SquareNotFound,
    SquareRequestError,
    square_errors,
)

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


#: Names ``CANARY_SQUARE_BASE_URL`` may take instead of a URL.
ENVIRONMENTS = {
    "production": SquareEnvironment.PRODUCTION.value,
    "sandbox": SquareEnvironment.SANDBOX.value,
}


def resolve_base_url(value: str) -> str:
    """``production`` / ``sandbox`` → Square's URL; anything else is a URL (the local fake)."""
    url = ENVIRONMENTS.get(value.strip().lower(), value.strip())
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"CANARY_SQUARE_BASE_URL must be 'production', 'sandbox' or an http(s) URL, "
            f"not {value!r}"
        )
    return url.rstrip("/")


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
        base_url=resolve_base_url(settings.square_base_url),
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


# Per-merchant pacing ------------------------------------------------------------------
#: Square calls one merchant may receive in any minute (square.md).
CALLS_PER_MINUTE = 100
#: Calls a merchant may make at once after being idle (the bucket's capacity).
BURST = 10


@dataclass
class TokenBucket:
    """A token bucket with reservations; pure (the caller passes ``now``, in seconds).

    In any window of ``t`` seconds it grants at most ``capacity + rate * t`` calls, so
    ``capacity=10, rate=90/60`` keeps every minute at or under 100 calls.
    """

    capacity: float
    rate: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, capacity: float, rate: float, now: float) -> TokenBucket:
        if capacity < 1 or rate <= 0:
            raise ValueError(f"capacity must be ≥ 1 and rate > 0, got {capacity} and {rate}")
        return cls(capacity=capacity, rate=rate, tokens=capacity, updated=now)

    def reserve(self, now: float) -> float:
        """Take one token (owing it if none is left): seconds to wait before the call."""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class RateLimiter:
    """One :class:`TokenBucket` per merchant; ``acquire`` sleeps for the caller's turn.

    Reservations are taken in call order, so waiting callers go first come, first served;
    one merchant's queue never delays another merchant's calls.
    """

    def __init__(
        self,
        calls_per_minute: int = CALLS_PER_MINUTE,
        burst: int = BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= burst < calls_per_minute:
            raise ValueError(f"burst must be within 1..{calls_per_minute - 1}, got {burst}")
        self.capacity = float(burst)
        self.rate = (calls_per_minute - burst) / 60.0
        self._clock, self._sleep = clock, sleep
        self._buckets: dict[str, TokenBucket] = {}

    def reserve(self, merchant_id: str) -> float:
        """Reserve one call for ``merchant_id`` now: seconds until it may go."""
        now = self._clock()
        bucket = self._buckets.get(merchant_id)
        if bucket is None:
            bucket = self._buckets[merchant_id] = TokenBucket.full(self.capacity, self.rate, now)
        return bucket.reserve(now)

    async def acquire(self, merchant_id: str) -> None:
        """Wait until ``merchant_id`` may make one more call."""
        wait = self.reserve(merchant_id)
        if wait > 0:
            await self._sleep(wait)


# Seller calls -------------------------------------------------------------------------
#: The vault's ``access_token(merchant_id)``: a merchant's current OAuth access token.
TokenSource = Callable[[str], Awaitable[str]]
T = TypeVar("T")


class SquareClientStopped(CanaryError):
    """A call on a :class:`SquareClient` that is not started (or already stopped)."""


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """One answer: the SDK's typed value and the exact body bytes httpx read."""

    data: T
    raw: bytes
    status: int
    #: Request path and query (no host, no headers: never a token).
    path: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list or search: its items, the cursor of the next page, the exact bytes."""

    items: list[T]
    cursor: str | None
    raw: bytes
    status: int
    path: str


@dataclass
class _Call:
    merchant_id: str
    token: str
    responses: list[httpx.Response] = field(default_factory=list)


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("square_call", default=None)


def _call_token() -> str:
    call = _CALL.get()
    if call is None:
        raise SquareClientStopped("a Square request was made outside a SquareClient call")
    return call.token


async def _on_request(limiter: RateLimiter, request: httpx.Request) -> None:
    call = _CALL.get()
    if call is not None:
        await limiter.acquire(call.merchant_id)


async def _on_response(response: httpx.Response) -> None:
    call = _CALL.get()
    if call is not None:
        await response.aread()
        call.responses.append(response)


class SquareClient:
    """Seller API calls for any merchant, on one SDK client (``async with`` or start/stop).

    ``access_token`` is either a token source (``await access_token(merchant_id)``, called
    once per call) or one fixed token for every merchant (tests, a single seller).
    ``max_retries`` is the SDK's own retry count for 408/429/5xx.
    """

    def __init__(
        self,
        settings: Settings,
        access_token: TokenSource | str,
        *,
        limiter: RateLimiter | None = None,
        max_retries: int = 2,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = resolve_base_url(settings.square_base_url)
        self.limiter = limiter or RateLimiter()
        self.max_retries = max_retries
        self.timeout = timeout
        self._tokens = access_token
        self._http: httpx.AsyncClient | None = None
        self._sdk: AsyncSquare | None = None

    async def start(self) -> None:
        """Open the HTTP connection pool (idempotent)."""
        if self._http is not None:
            return
        limiter = self.limiter

        async def on_request(request: httpx.Request) -> None:
            await _on_request(limiter, request)

        self._http = httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=True,
            event_hooks={"request": [on_request], "response": [_on_response]},
        )
        self._sdk = AsyncSquare(
            token=_call_token,
            base_url=self.base_url,
            timeout=self.timeout,
            version=SQUARE_API_VERSION,
            httpx_client=self._http,
        )

    async def stop(self) -> None:
        """Close the connections (idempotent)."""
        http, self._http, self._sdk = self._http, None, None
        if http is not None:
            await http.aclose()

    async def __aenter__(self) -> SquareClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _token(self, merchant_id: str) -> str:
        if isinstance(self._tokens, str):
            return self._tokens
        return await self._tokens(merchant_id)

    async def _run(
        self, merchant_id: str, operation: str, call: Callable[[AsyncSquare], Awaitable[T]]
    ) -> tuple[T, httpx.Response]:
        """``call`` for ``merchant_id`` with its token; the value and the final 2xx response."""
        if self._sdk is None:
            raise SquareClientStopped(f"Square {operation} on a SquareClient that is not started")
        sdk = self._sdk
        state = _Call(merchant_id, await self._token(merchant_id))
        reset = _CALL.set(state)
        try:
            with square_errors(operation):
                value = await call(sdk)
        finally:
            _CALL.reset(reset)
        last = state.responses[-1] if state.responses else None
        if last is None or not 200 <= last.status_code < 300:
            raise SquareBadResponse(f"Square {operation} returned without a 2xx answer")
        return value, last

    @property
    def _options(self) -> dict[str, int]:
        return {"max_retries": self.max_retries}

    @staticmethod
    def _path(response: httpx.Response) -> str:
        return response.request.url.raw_path.decode("ascii", "replace")

    def _fetched(self, value: T, response: httpx.Response) -> Fetched[T]:
        return Fetched(value, response.content, response.status_code, self._path(response))

    def _page(self, items: list[T] | None, cursor: str | None, r: httpx.Response) -> Page[T]:
        return Page(list(items or []), cursor or None, r.content, r.status_code, self._path(r))

    # Orders ---------------------------------------------------------------------------
    async def retrieve_order(self, merchant_id: str, order_id: str) -> Fetched[Order]:
        """RetrieveOrder (``GET /v2/orders/{id}``); :class:`SquareNotFound` when unknown."""
        resp, http = await self._run(
            merchant_id,
            "RetrieveOrder",
            lambda sdk: sdk.orders.get(order_id, request_options=self._options),
        )
        if resp.order is None:
            raise SquareNotFound(f"Square RetrieveOrder answered without order {order_id}")
        return self._fetched(resp.order, http)

    async def batch_retrieve_orders(
        self, merchant_id: str, order_ids: Sequence[str], *, location_id: str | None = None
    ) -> Fetched[list[Order]]:
        """BatchRetrieveOrders (up to 100 ids; unknown ids are simply absent)."""
        resp, http = await self._run(
            merchant_id,
            "BatchRetrieveOrders",
            lambda sdk: sdk.orders.batch_get(
                order_ids=list(order_ids),
                location_id=location_id,
                request_options=self._options,
            ),
        )
        return self._fetched(list(resp.orders or []), http)

    async def search_orders(
        self,
        merchant_id: str,
        location_ids: Sequence[str],
        *,
        query: SearchOrdersQueryParams | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Order]:
        """SearchOrders, one page (``query``: Square's filter and sort)."""
        resp, http = await self._run(
            merchant_id,
            "SearchOrders",
            lambda sdk: sdk.orders.search(
                location_ids=list(location_ids),
                query=query,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        return self._page(resp.orders, resp.cursor, http)

    # Payments and refunds -------------------------------------------------------------
    async def get_payment(self, merchant_id: str, payment_id: str) -> Fetched[Payment]:
        """GetPayment."""
        resp, http = await self._run(
            merchant_id,
            "GetPayment",
            lambda sdk: sdk.payments.get(payment_id, request_options=self._options),
        )
        if resp.payment is None:
            raise SquareNotFound(f"Square GetPayment answered without payment {payment_id}")
        return self._fetched(resp.payment, http)

    async def list_payments(
        self,
        merchant_id: str,
        *,
        begin_time: str | None = None,
        end_time: str | None = None,
        sort_order: str | None = None,
        location_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Payment]:
        """ListPayments, one page (``begin_time``/``end_time``: RFC 3339, on ``created_at``)."""
        pager, http = await self._run(
            merchant_id,
            "ListPayments",
            lambda sdk: sdk.payments.list(
                begin_time=begin_time,
                end_time=end_time,
                sort_order=sort_order,
                location_id=location_id,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        return self._page(pager.items, pager.response.cursor, http)

    async def list_refunds(
        self,
        merchant_id: str,
        *,
        begin_time: str | None = None,
        end_time: str | None = None,
        sort_order: str | None = None,
        location_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[PaymentRefund]:
        """ListPaymentRefunds, one page."""
        pager, http = await self._run(
            merchant_id,
            "ListPaymentRefunds",
            lambda sdk: sdk.refunds.list(
                begin_time=begin_time,
                end_time=end_time,
                sort_order=sort_order,
                location_id=location_id,
                status=status,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        return self._page(pager.items, pager.response.cursor, http)

    # Cash drawers ---------------------------------------------------------------------
    async def list_cash_drawer_shifts(
        self,
        merchant_id: str,
        location_id: str,
        *,
        begin_time: str | None = None,
        end_time: str | None = None,
        sort_order: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[CashDrawerShiftSummary]:
        """ListCashDrawerShifts of one location, one page (filtered and sorted on ``opened_at``)."""
        pager, http = await self._run(
            merchant_id,
            "ListCashDrawerShifts",
            lambda sdk: sdk.cash_drawers.shifts.list(
                location_id=location_id,
                begin_time=begin_time,
                end_time=end_time,
                sort_order=sort_order,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        return self._page(pager.items, pager.response.cursor, http)

    async def list_cash_drawer_shift_events(
        self,
        merchant_id: str,
        location_id: str,
        shift_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[CashDrawerShiftEvent]:
        """ListCashDrawerShiftEvents of one shift, one page."""
        pager, http = await self._run(
            merchant_id,
            "ListCashDrawerShiftEvents",
            lambda sdk: sdk.cash_drawers.shifts.list_events(
                shift_id,
                location_id=location_id,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        return self._page(pager.items, pager.response.cursor, http)

    # Seller setup ---------------------------------------------------------------------
    async def list_locations(self, merchant_id: str) -> Page[Location]:
        """ListLocations (every location, one page, ``cursor`` always None)."""
        resp, http = await self._run(
            merchant_id,
            "ListLocations",
            lambda sdk: sdk.locations.list(request_options=self._options),
        )
        return self._page(resp.locations, None, http)

    async def search_team_member_ids(
        self,
        merchant_id: str,
        *,
        status: str | None = None,
        location_ids: Sequence[str] | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[str]:
        """SearchTeamMembers, one page of team-member ids (``status``: ACTIVE or INACTIVE)."""
        filt: dict[str, object] = {}
        if status is not None:
            filt["status"] = status
        if location_ids:
            filt["location_ids"] = list(location_ids)
        resp, http = await self._run(
            merchant_id,
            "SearchTeamMembers",
            lambda sdk: sdk.team_members.search(
                query={"filter": filt} if filt else None,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        ids = [m.id for m in resp.team_members or [] if m.id]
        return self._page(ids, resp.cursor, http)

    async def list_customers(
        self,
        merchant_id: str,
        *,
        sort_field: str | None = None,
        sort_order: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Customer]:
        """ListCustomers, one page (``sort_field`` DEFAULT or CREATED_AT)."""
        pager, http = await self._run(
            merchant_id,
            "ListCustomers",
            lambda sdk: sdk.customers.list(
                sort_field=sort_field,
                sort_order=sort_order,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        return self._page(pager.items, pager.response.cursor, http)

    # Loyalty, disputes, payouts -------------------------------------------------------
    async def search_loyalty_events(
        self,
        merchant_id: str,
        *,
        query: LoyaltyEventQueryParams | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[LoyaltyEvent]:
        """SearchLoyaltyEvents, one page, newest first (``limit`` at most 30)."""
        resp, http = await self._run(
            merchant_id,
            "SearchLoyaltyEvents",
            lambda sdk: sdk.loyalty.search_events(
                query=query, cursor=cursor, limit=limit, request_options=self._options
            ),
        )
        return self._page(resp.events, resp.cursor, http)

    async def list_disputes(
        self,
        merchant_id: str,
        *,
        states: str | None = None,
        location_id: str | None = None,
        cursor: str | None = None,
    ) -> Page[Dispute]:
        """ListDisputes, one page (Square fixes the page size)."""
        pager, http = await self._run(
            merchant_id,
            "ListDisputes",
            lambda sdk: sdk.disputes.list(
                states=states,
                location_id=location_id,
                cursor=cursor,
                request_options=self._options,
            ),
        )
        return self._page(pager.items, pager.response.cursor, http)

    async def list_payouts(
        self,
        merchant_id: str,
        *,
        location_id: str | None = None,
        status: str | None = None,
        begin_time: str | None = None,
        end_time: str | None = None,
        sort_order: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Payout]:
        """ListPayouts, one page."""
        pager, http = await self._run(
            merchant_id,
            "ListPayouts",
            lambda sdk: sdk.payouts.list(
                location_id=location_id,
                status=status,
                begin_time=begin_time,
                end_time=end_time,
                sort_order=sort_order,
                cursor=cursor,
                limit=limit,
                request_options=self._options,
            ),
        )
        return self._page(pager.items, pager.response.cursor, http)


async def every_page(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> AsyncIterator[Page[T]]:
    """Each page of a listing, following cursors: ``fetch(cursor)`` makes one call.

    Example: ``every_page(lambda c: client.list_payments(mid, cursor=c, limit=100))``.
    """
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        yield page
        if page.cursor is None:
            return
        cursor = page.cursor
