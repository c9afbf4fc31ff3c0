"""The fake Square's seller APIs over plain HTTP: seeding, tokens, cursors, per-merchant faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from canary_stream.simulate.payloads import merchant_ids
from canary_stream.square.fake import FakeSquareState, make_fake_square
from canary_stream.square.fake.merchants import MerchantData, seed_merchants
from canary_stream.square.fake.store import merchant_token

APP = "test-application-token"


@pytest.fixture(scope="module")
def seeded() -> list[MerchantData]:
    return seed_merchants(7, 2, events=600)


@pytest.fixture
async def http(
    seeded: list[MerchantData],
) -> AsyncIterator[tuple[TestClient[Any, Any], FakeSquareState]]:
    state = FakeSquareState(access_token=APP)
    for merchant in seeded:
        state.add_merchant(merchant)
    async with TestClient(TestServer(make_fake_square(state))) as client:
        yield client, state


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_seeding_is_the_simulators_world_and_deterministic(seeded):
    assert [m.merchant_id for m in seeded] == merchant_ids(7, 2)
    again = seed_merchants(7, 2, events=600)
    assert [m.payments for m in again] == [m.payments for m in seeded]
    assert [m.locations for m in again] == [m.locations for m in seeded]
    for m in seeded:
        assert {loc["id"] for loc in m.locations} == {loc.id for loc in m.world.locations}
        assert [loc["name"] for loc in m.locations] == sorted(loc["name"] for loc in m.locations)
        assert [t["id"] for t in m.team_members][:-1] == m.world.team
        assert [t["status"] for t in m.team_members][-1] == "INACTIVE"
        assert all(p["location_id"] in m.shifts for p in m.payments.values())


def test_merchant_tokens_are_fixed_per_merchant():
    assert merchant_token("ML1") == merchant_token("ML1") != merchant_token("ML2")
    assert merchant_token("ML1").startswith("EAAAl") and len(merchant_token("ML1")) == 48


async def test_seller_data_needs_the_sellers_token(http, seeded):
    client, _ = http
    resp = await client.get("/v2/locations", headers=bearer(APP))
    assert resp.status == 403
    assert (await resp.json())["errors"][0]["code"] == "FORBIDDEN"
    resp = await client.get("/v2/locations", headers=bearer("EAAAl-unknown"))
    assert resp.status == 401
    b = seeded[1]
    resp = await client.get("/v2/locations", headers=bearer(merchant_token(b.merchant_id)))
    assert (await resp.json()) == {"locations": b.locations}


async def test_cursor_is_bound_to_its_query(http, seeded):
    client, _ = http
    a = seeded[0]
    headers = bearer(merchant_token(a.merchant_id))
    first = await (await client.get("/v2/payments?limit=2", headers=headers)).json()
    assert len(first["payments"]) == 2 and first["cursor"]
    resp = await client.get(
        f"/v2/payments?limit=2&sort_order=ASC&cursor={first['cursor']}", headers=headers
    )
    assert resp.status == 400
    assert (await resp.json())["errors"][0] == {
        "category": "INVALID_REQUEST_ERROR",
        "code": "INVALID_CURSOR",
        "detail": "Invalid cursor",
        "field": "cursor",
    }
    other = bearer(merchant_token(seeded[1].merchant_id))
    resp = await client.get(f"/v2/payments?limit=2&cursor={first['cursor']}", headers=other)
    assert resp.status == 400


async def test_fault_for_one_merchant_over_http(http, seeded):
    client, state = http
    a, b = seeded
    resp = await client.post(
        "/_fake/faults",
        json={"status": 429, "times": 1, "retry_after": 2, "merchant_id": a.merchant_id},
        headers=bearer(APP),
    )
    assert (await resp.json()) == {"pending": 1}
    resp = await client.get("/v2/locations", headers=bearer(merchant_token(b.merchant_id)))
    assert resp.status == 200
    resp = await client.get("/v2/locations", headers=bearer(merchant_token(a.merchant_id)))
    assert (resp.status, resp.headers["Retry-After"]) == (429, "2")
    assert (await resp.json())["errors"][0]["code"] == "RATE_LIMITED"
    assert state.faults.pending == []


async def test_merchants_listing_and_created_order(http, seeded):
    client, _ = http
    listing = await (await client.get("/_fake/merchants", headers=bearer(APP))).json()
    assert [(m["merchant_id"], m["access_token"]) for m in listing["merchants"]] == [
        (m.merchant_id, merchant_token(m.merchant_id)) for m in seeded
    ]
    a = seeded[0]
    before = len(a.orders)
    resp = await client.post(
        "/_fake/orders", json={}, headers=bearer(merchant_token(a.merchant_id))
    )
    created = await resp.json()
    assert resp.status == 200 and "deliveries" not in created
    order = created["order"]
    assert len(a.orders) == before + 1 and a.orders[order["id"]] == order
    assert [p["id"] for p in created["payments"]] == sorted(
        t["payment_id"] for t in order["tenders"]
    )
    types = [w["event_type"] for w in created["webhooks"]]
    assert types[0] == "order.created" and types[-1] == "order.updated"
    resp = await client.post("/_fake/orders", json={}, headers=bearer(APP))
    assert resp.status == 400
