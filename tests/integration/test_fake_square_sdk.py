"""Every Square call canary-stream makes, through ``AsyncSquare`` (our SquareClient), against
the fake Square on a loopback port: seeded values, cursor pages, exact response bytes,
per-merchant 429 and 5xx, and a sale created at run time whose signed webhooks reach a
receiver while the API serves the same order.

The fake runs in-process (an aiohttp runner): it is itself the local stand-in for Square,
so no stack process is needed here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from canary_stream.ingress.signature import HEADER, compute_signature
from canary_stream.settings import Settings
from canary_stream.simulate.drawer import SUMMARY_FIELDS
from canary_stream.square import client as sq
from canary_stream.square.client import Page, RateLimiter, SquareClient, every_page
from canary_stream.square.errors import SquareNotFound, SquareRateLimited, SquareServerError
from canary_stream.square.fake import FakeSquareState, Fault, make_fake_square
from canary_stream.square.fake.merchants import MerchantData, seed_merchants

APP_TOKEN = "fake-application-token"
SEED = 1
NOTIFICATION_URL = "https://canary.example.test/webhooks/square"
T = TypeVar("T")


@dataclass
class Sent:
    """What the fake's handlers answered, in order (path with query, status, body bytes)."""

    answers: list[tuple[str, int, bytes]] = field(default_factory=list)

    @property
    def last(self) -> tuple[str, int, bytes]:
        return self.answers[-1]


@dataclass
class Fake:
    url: str
    state: FakeSquareState
    sent: Sent
    a: MerchantData
    b: MerchantData


@pytest.fixture(scope="module")
def seeded() -> list[MerchantData]:
    return seed_merchants(SEED, 2, events=3000)


@pytest.fixture
async def fake(seeded: list[MerchantData]) -> AsyncIterator[Fake]:
    state = FakeSquareState(access_token=APP_TOKEN)
    for merchant in seeded:
        state.add_merchant(merchant)
    sent = Sent()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if isinstance(response, web.Response) and isinstance(response.body, bytes):
            sent.answers.append((request.path_qs, response.status, response.body))
        return response

    app = make_fake_square(state)
    app.middlewares.append(record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Fake(f"http://{host}:{port}", state, sent, seeded[0], seeded[1])
    finally:
        await runner.cleanup()


@pytest.fixture
def token_calls() -> list[str]:
    return []


@pytest.fixture
async def client(fake: Fake, token_calls: list[str]) -> AsyncIterator[SquareClient]:
    async def access_token(merchant_id: str) -> str:  # the vault's shape
        token_calls.append(merchant_id)
        return fake.state.token_of(merchant_id)

    settings = Settings(_env_file=None, square_base_url=fake.url, square_access_token=APP_TOKEN)
    # A wide budget: these tests make hundreds of calls (the 100/min pace has its own test).
    limiter = RateLimiter(calls_per_minute=100_000, burst=1_000)
    async with SquareClient(settings, access_token, limiter=limiter) as square:
        yield square


def exact(fake: Fake, page: Page[Any] | sq.Fetched[Any]) -> Any:
    """The page's bytes are exactly what the fake sent for that request; its JSON."""
    path, status, body = fake.sent.last
    assert (page.path, page.status, page.raw) == (path, status, body)
    return json.loads(page.raw)


async def all_pages(
    fake: Fake, fetch: Callable[[str | None], Awaitable[Page[T]]]
) -> tuple[list[T], int]:
    """Every item over every page (each page's bytes checked), and the number of pages."""
    items: list[T] = []
    pages = 0
    async for page in every_page(fetch):
        exact(fake, page)
        items.extend(page.items)
        pages += 1
    return items, pages


def newest_first(objects: list[dict[str, Any]], field: str = "created_at") -> list[str]:
    return [o["id"] for o in sorted(objects, key=lambda o: (o[field], o["id"]), reverse=True)]


# Orders -------------------------------------------------------------------------------
async def test_retrieve_order_exact_bytes_and_values(fake, client, token_calls):
    a = fake.a
    exchange = next(o for o in a.orders.values() if o.get("returns"))
    fetched = await client.retrieve_order(a.merchant_id, exchange["id"])
    assert exact(fake, fetched) == {"order": exchange}
    assert fetched.path == f"/v2/orders/{exchange['id']}"
    assert fetched.data.id == exchange["id"]
    assert fetched.data.state == "COMPLETED"
    assert [li.name for li in fetched.data.line_items or []] == [
        li["name"] for li in exchange["line_items"]
    ]
    returned = fetched.data.returns[0].return_line_items[0]  # type: ignore[index]
    assert (
        returned.source_line_item_uid
        == (exchange["returns"][0]["return_line_items"][0]["source_line_item_uid"])
    )
    assert fetched.data.total_money.amount == exchange["total_money"]["amount"]  # type: ignore[union-attr]
    assert token_calls == [a.merchant_id]

    split = next(o for o in a.orders.values() if len(o["tenders"]) >= 2)
    fetched = await client.retrieve_order(a.merchant_id, split["id"])
    assert [t.payment_id for t in fetched.data.tenders or []] == [
        t["payment_id"] for t in split["tenders"]
    ]
    assert sum(t.amount_money.amount for t in fetched.data.tenders or []) == sum(  # type: ignore[misc, union-attr]
        t["amount_money"]["amount"] for t in split["tenders"]
    )

    with pytest.raises(SquareNotFound) as caught:  # another seller's order
        await client.retrieve_order(fake.b.merchant_id, exchange["id"])
    assert caught.value.status == 404 and caught.value.code == "NOT_FOUND"


async def test_batch_retrieve_and_search_orders(fake, client):
    a = fake.a
    ids = list(a.orders)[:3]
    fetched = await client.batch_retrieve_orders(a.merchant_id, [*ids, "NO_SUCH_ORDER"])
    assert exact(fake, fetched) == {"orders": [a.orders[i] for i in ids]}
    assert [o.id for o in fetched.data] == ids

    locations = [loc["id"] for loc in a.locations]
    found, pages = await all_pages(
        fake, lambda c: client.search_orders(a.merchant_id, locations, cursor=c, limit=7)
    )
    assert [o.id for o in found] == newest_first(list(a.orders.values()))
    assert pages == -(-len(a.orders) // 7) and pages >= 2

    closed = sorted(o["closed_at"] for o in a.orders.values())
    query: Any = {
        "filter": {
            "state_filter": {"states": ["COMPLETED"]},
            "date_time_filter": {"closed_at": {"start_at": closed[2], "end_at": closed[-3]}},
        },
        "sort": {"sort_field": "CLOSED_AT", "sort_order": "ASC"},
    }
    page = await client.search_orders(a.merchant_id, locations, query=query)
    exact(fake, page)
    assert [o.closed_at for o in page.items] == closed[2:-2]
    assert page.cursor is None


# Payments and refunds -----------------------------------------------------------------
async def test_list_and_get_payments(fake, client):
    a = fake.a
    # The SDK's model parsing costs ~15 ms per payment: page through the newest 60 only.
    since = sorted(p["created_at"] for p in a.payments.values())[-60]
    found, pages = await all_pages(
        fake, lambda c: client.list_payments(a.merchant_id, begin_time=since, cursor=c, limit=25)
    )
    assert [p.id for p in found] == newest_first(
        [p for p in a.payments.values() if p["created_at"] >= since]
    )
    assert len(found) == 60 and pages == 3
    card = next(p for p in a.payments.values() if "card_details" in p and p["created_at"] >= since)
    got = next(p for p in found if p.id == card["id"])
    assert got.card_details.card.fingerprint == card["card_details"]["card"]["fingerprint"]  # type: ignore[union-attr]
    assert got.card_details.entry_method == card["card_details"]["entry_method"]  # type: ignore[union-attr]

    fetched = await client.get_payment(a.merchant_id, card["id"])
    assert exact(fake, fetched) == {"payment": card}
    assert fetched.data.total_money.amount == card["total_money"]["amount"]  # type: ignore[union-attr]

    loc = a.locations[0]["id"]
    page = await client.list_payments(
        a.merchant_id, location_id=loc, sort_order="ASC", limit=5, begin_time=card["created_at"]
    )
    expected = sorted(
        (p for p in a.payments.values() if p["location_id"] == loc),
        key=lambda p: (p["created_at"], p["id"]),
    )
    expected = [p for p in expected if p["created_at"] >= card["created_at"]][:5]
    assert exact(fake, page)["payments"] == expected


async def test_list_refunds(fake, client):
    b = fake.b
    found, pages = await all_pages(
        fake, lambda c: client.list_refunds(b.merchant_id, cursor=c, limit=4)
    )
    assert [r.id for r in found] == newest_first(list(b.refunds.values()))
    assert pages >= 2
    assert {r.payment_id for r in found} <= set(b.payments)
    completed = await client.list_refunds(b.merchant_id, status="COMPLETED")
    assert [r.id for r in completed.items] == newest_first(
        [r for r in b.refunds.values() if r["status"] == "COMPLETED"]
    )


# Cash drawers -------------------------------------------------------------------------
async def test_cash_drawer_shifts_and_events(fake, client):
    seen_types: set[str] = set()
    for merchant in (fake.a, fake.b):
        for location_id, shifts in merchant.shifts.items():
            found, pages = await all_pages(
                fake,
                lambda c, loc=location_id, mid=merchant.merchant_id: client.list_cash_drawer_shifts(
                    mid, loc, cursor=c, limit=1
                ),
            )
            assert [s.id for s in found] == [s["id"] for s in shifts]
            assert pages == len(shifts)
            assert [s.state for s in found] == [s["state"] for s in shifts]
            assert all(s.expected_cash_money is not None for s in found)
            for shift in shifts:
                events, _ = await all_pages(
                    fake,
                    lambda c, loc=location_id, sid=shift["id"], mid=merchant.merchant_id: (
                        client.list_cash_drawer_shift_events(mid, loc, sid, cursor=c, limit=10)
                    ),
                )
                expected = merchant.shift_events[shift["id"]]
                assert [e.id for e in events] == [e["id"] for e in expected]
                assert [e.event_money.amount for e in events] == [  # type: ignore[union-attr]
                    e["event_money"]["amount"] for e in expected
                ]
                seen_types.update(e.event_type or "" for e in events)
    assert {"NO_SALE", "PAID_IN", "PAID_OUT", "CASH_TENDER_PAYMENT"} <= seen_types

    location_id, shifts = next(iter(fake.a.shifts.items()))
    page = await client.list_cash_drawer_shifts(fake.a.merchant_id, location_id, sort_order="DESC")
    body = exact(fake, page)
    assert body == {
        "cash_drawer_shifts": [
            {k: s[k] for k in SUMMARY_FIELDS if k in s} for s in reversed(shifts)
        ]
    }


# Seller setup: locations, team, customers ---------------------------------------------
async def test_locations_team_customers(fake, client):
    a = fake.a
    page = await client.list_locations(a.merchant_id)
    assert exact(fake, page) == {"locations": a.locations}
    assert [loc.id for loc in page.items] == [loc["id"] for loc in a.locations]
    assert {loc.id for loc in page.items} == {loc.id for loc in a.world.locations}
    assert {loc.timezone for loc in page.items} <= {
        "America/Los_Angeles",
        "America/Chicago",
        "America/Denver",
    }

    ids, pages = await all_pages(
        fake, lambda c: client.search_team_member_ids(a.merchant_id, cursor=c, limit=2)
    )
    assert ids == [t["id"] for t in a.team_members]
    assert pages == -(-len(a.team_members) // 2)
    active = await client.search_team_member_ids(a.merchant_id, status="ACTIVE")
    assert active.items == a.world.team

    customers, pages = await all_pages(
        fake,
        lambda c: client.list_customers(
            a.merchant_id, sort_field="CREATED_AT", sort_order="ASC", cursor=c, limit=10
        ),
    )
    expected = sorted(a.customers.values(), key=lambda c: (c["created_at"], c["id"]))
    assert [c.id for c in customers] == [c["id"] for c in expected]
    assert [c.email_address for c in customers] == [c.get("email_address") for c in expected]
    assert set(a.customers) == set(a.world.customers)
    assert pages == -(-len(expected) // 10) and pages >= 2


# Loyalty, disputes, payouts -----------------------------------------------------------
async def test_loyalty_disputes_payouts(fake, client):
    b = fake.b
    events, pages = await all_pages(
        fake, lambda c: client.search_loyalty_events(b.merchant_id, cursor=c, limit=5)
    )
    assert [e.id for e in events] == newest_first(b.loyalty_events)
    assert pages >= 2
    account = b.loyalty_events[0]["loyalty_account_id"]
    page = await client.search_loyalty_events(
        b.merchant_id, query={"filter": {"loyalty_account_filter": {"loyalty_account_id": account}}}
    )
    assert [e.id for e in page.items] == newest_first(
        [e for e in b.loyalty_events if e["loyalty_account_id"] == account]
    )

    disputes, _ = await all_pages(fake, lambda c: client.list_disputes(b.merchant_id, cursor=c))
    assert [d.id for d in disputes] == newest_first(list(b.disputes.values()))
    assert {d.disputed_payment.payment_id for d in disputes} <= set(b.payments)  # type: ignore[union-attr]

    payouts, pages = await all_pages(
        fake, lambda c: client.list_payouts(b.merchant_id, cursor=c, limit=2)
    )
    assert [p.id for p in payouts] == newest_first(list(b.payouts.values()))
    assert [p.amount_money.amount for p in payouts] == [  # type: ignore[union-attr]
        b.payouts[p.id or ""]["amount_money"]["amount"] for p in payouts
    ]
    assert pages >= 2


async def test_webhook_subscriptions_with_application_token(fake):
    settings = Settings(_env_file=None, square_base_url=fake.url, square_access_token=APP_TOKEN)
    async with sq.square_client(settings) as app_client:
        sub = await sq.create_subscription(app_client, NOTIFICATION_URL)
        listed = await sq.list_subscriptions(app_client)
    assert [s.id for s in listed] == [sub.id]
    assert sub.signature_key == fake.state.webhooks.subscriptions[sub.id or ""].signature_key


# Failures, per merchant ---------------------------------------------------------------
async def test_429_for_one_merchant_does_not_touch_another(fake, client):
    a, b = fake.a, fake.b
    fake.state.faults.inject(Fault(429, times=3, retry_after=1, merchant_id=a.merchant_id))
    order_b = next(iter(b.orders))

    finished: list[str] = []

    async def run(name: str, call: Awaitable[Any]) -> Any:
        try:
            result = await call
        except SquareRateLimited as exc:
            result = exc
        finished.append(name)
        return result

    limited, fetched = await asyncio.gather(
        run("a", client.list_payments(a.merchant_id, limit=1)),
        run("b", client.retrieve_order(b.merchant_id, order_b)),
    )
    assert isinstance(limited, SquareRateLimited)
    assert (limited.status, limited.code, limited.retry_after) == (429, "RATE_LIMITED", 1.0)
    assert fake.state.faults.pending == []  # three attempts: the call and two SDK retries
    # b's order came back while a still waited out its Retry-After (two retries, 1 s each)
    assert fetched.data.id == order_b and finished == ["b", "a"]
    page = await client.list_payments(a.merchant_id, limit=1)  # a's storm is over
    assert [p.id for p in page.items] == newest_first(list(a.payments.values()))[:1]


async def test_5xx_retried_by_the_sdk_then_our_error(fake, client):
    a = fake.a
    order_id = next(iter(a.orders))
    fake.state.faults.inject(Fault(500, times=2, merchant_id=a.merchant_id))
    fetched = await client.retrieve_order(a.merchant_id, order_id)
    assert exact(fake, fetched) == {"order": a.orders[order_id]}

    fake.state.faults.inject(Fault(503, times=3, merchant_id=a.merchant_id))
    with pytest.raises(SquareServerError) as caught:
        await client.retrieve_order(a.merchant_id, order_id)
    assert (caught.value.status, caught.value.code) == (503, "SERVICE_UNAVAILABLE")
    assert caught.value.retriable is True
    assert fake.state.faults.pending == []


async def test_every_attempt_is_paced_per_merchant(fake):
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    now = [0.0]
    limiter = RateLimiter(calls_per_minute=100, burst=2, clock=lambda: now[0], sleep=no_sleep)
    settings = Settings(_env_file=None, square_base_url=fake.url, square_access_token=APP_TOKEN)
    a, b = fake.a, fake.b
    async with SquareClient(settings, fake.state.token_of(a.merchant_id), limiter=limiter) as c:
        fake.state.faults.inject(Fault(500, times=1, merchant_id=a.merchant_id))
        await c.list_locations(a.merchant_id)  # 2 attempts: the burst
        await c.list_locations(a.merchant_id)  # owes one token: waits 60/98 s
    assert waits == [pytest.approx(60 / 98)]
    assert limiter.reserve(b.merchant_id) == 0.0


# Sales made at run time ---------------------------------------------------------------
async def test_created_order_is_signed_to_ingress_and_served(fake, client):
    received: list[tuple[str, bytes, str]] = []

    async def ingress(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((json.loads(body)["type"], body, request.headers[HEADER]))
        return web.json_response({})

    receiver = web.Application()
    receiver.router.add_post("/webhooks/square", ingress)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.state.ingress_url = f"http://{host}:{port}/webhooks/square"
    try:
        sub = fake.state.webhooks.create(
            notification_url=NOTIFICATION_URL,
            event_types=["order.created", "order.updated", "payment.created"],
            name=None,
            enabled=True,
            api_version=sq.SQUARE_API_VERSION,
            now=fake.state.now(),
        )
        a = fake.a
        headers = {"Authorization": f"Bearer {APP_TOKEN}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{fake.url}/_fake/orders",
                json={"merchant_id": a.merchant_id, "deliver": True},
                headers=headers,
            ) as resp:
                assert resp.status == 200, await resp.text()
                created = await resp.json()
    finally:
        await runner.cleanup()
    order = created["order"]
    tenders = order["tenders"]
    wanted = ["order.created", *["payment.created"] * len(tenders), "order.updated"]
    assert [t for t, _, _ in received] == wanted
    for _, body, signature in received:
        assert signature == compute_signature(NOTIFICATION_URL, body, sub.signature_key)
    assert {d["status"] for d in created["deliveries"]} == {200}
    first = json.loads(received[0][1])
    assert first["merchant_id"] == a.merchant_id
    assert first["data"]["object"]["order_created"]["order_id"] == order["id"]

    fetched = await client.retrieve_order(a.merchant_id, order["id"])
    assert exact(fake, fetched) == {"order": order}
    assert fetched.data.state == "COMPLETED" and fetched.data.location_id in {
        loc.id for loc in a.world.locations
    }
    for tender in tenders:
        payment = await client.get_payment(a.merchant_id, tender["payment_id"])
        assert payment.data.order_id == order["id"]
        assert payment.data.status == "COMPLETED"
