"""The local fake Square: webhook-subscription shapes, pagination, auth, faults, and the SDK
wrapper (canary_stream.square.client) driven against it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from canary_stream.errors import ConfigError
from canary_stream.settings import Settings
from canary_stream.square import client as sq
from canary_stream.square.errors import (
    SquareAuthError,
    SquareNotFound,
    SquareRequestError,
    SquareUnavailable,
)
from canary_stream.square.fake import FakeSquareState, Fault, make_fake_square
from canary_stream.square.fake.store import WebhookStore

TOKEN = "test-application-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "/v2/webhooks/subscriptions"
URL = "https://example.test/webhooks/square"
SUBSCRIPTION_FIELDS = {
    "id",
    "name",
    "enabled",
    "event_types",
    "notification_url",
    "api_version",
    "signature_key",
    "created_at",
    "updated_at",
}


@pytest.fixture
def state() -> FakeSquareState:
    return FakeSquareState(access_token=TOKEN)


@pytest.fixture
async def http(state: FakeSquareState) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_fake_square(state))) as client:
        yield client


async def _create(http: TestClient[Any, Any], **fields: Any) -> dict[str, Any]:
    sub = {"notification_url": URL, "event_types": ["payment.created"], **fields}
    resp = await http.post(BASE, json={"subscription": sub}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["subscription"]


def _error(doc: dict[str, Any]) -> dict[str, Any]:
    assert set(doc) == {"errors"} and len(doc["errors"]) == 1
    return doc["errors"][0]


# Shapes -------------------------------------------------------------------------------
async def test_create_returns_square_subscription_with_signature_key(http):
    sub = await _create(http, name="canary", api_version="2024-01-18")
    assert set(sub) == SUBSCRIPTION_FIELDS
    assert sub["id"].startswith("wbhk_") and len(sub["id"]) == 37
    assert len(sub["signature_key"]) == 22
    assert sub["enabled"] is True
    assert sub["event_types"] == ["payment.created"]
    assert sub["notification_url"] == URL
    assert sub["api_version"] == "2024-01-18"
    assert sub["created_at"] == sub["updated_at"]
    datetime.strptime(sub["created_at"], "%Y-%m-%d %H:%M:%S +0000 UTC")


async def test_create_defaults_api_version_to_the_square_version_header(http):
    resp = await http.post(
        BASE,
        json={"subscription": {"notification_url": URL, "event_types": ["refund.created"]}},
        headers={**AUTH, "Square-Version": "2025-10-16"},
    )
    assert (await resp.json())["subscription"]["api_version"] == "2025-10-16"


@pytest.mark.parametrize(
    ("subscription", "field", "code"),
    [
        (
            {"event_types": ["payment.created"]},
            "subscription.notification_url",
            "MISSING_REQUIRED_PARAMETER",
        ),
        (
            {"notification_url": "not a url", "event_types": ["payment.created"]},
            "subscription.notification_url",
            "INVALID_VALUE",
        ),
        ({"notification_url": URL, "event_types": []}, "subscription.event_types", "ARRAY_EMPTY"),
        (
            {"notification_url": URL, "event_types": ["Payment Created"]},
            "subscription.event_types",
            "INVALID_ARRAY_VALUE",
        ),
        (
            {"notification_url": URL, "event_types": ["payment.created"], "name": "x" * 65},
            "subscription.name",
            "VALUE_TOO_LONG",
        ),
    ],
)
async def test_create_validates_like_square(http, subscription, field, code):
    resp = await http.post(BASE, json={"subscription": subscription}, headers=AUTH)
    assert resp.status == 400
    err = _error(await resp.json())
    assert (err["category"], err["code"], err["field"]) == ("INVALID_REQUEST_ERROR", code, field)


async def test_create_is_idempotent_per_key(http, state):
    sub: dict[str, Any] = {"notification_url": URL, "event_types": ["payment.created"]}
    body = {"idempotency_key": "k-1", "subscription": sub}
    first = await (await http.post(BASE, json=body, headers=AUTH)).json()
    again = await (await http.post(BASE, json=body, headers=AUTH)).json()
    assert first == again and len(state.webhooks.subscriptions) == 1
    sub["event_types"] = ["payment.updated"]
    resp = await http.post(BASE, json=body, headers=AUTH)
    assert resp.status == 400
    assert _error(await resp.json())["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_retrieve_carries_key_and_unknown_id_is_404(http):
    sub = await _create(http)
    got = await (await http.get(f"{BASE}/{sub['id']}", headers=AUTH)).json()
    assert got == {"subscription": sub}
    resp = await http.get(f"{BASE}/wbhk_nope", headers=AUTH)
    assert resp.status == 404
    err = _error(await resp.json())
    assert (err["category"], err["code"]) == ("INVALID_REQUEST_ERROR", "NOT_FOUND")


async def test_list_omits_keys_and_paginates_with_cursors(http):
    made = [await _create(http, name=f"s{i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        doc = await (await http.get(BASE, params=params, headers=AUTH)).json()
        pages += 1
        assert all("signature_key" not in s for s in doc["subscriptions"])
        seen += [s["id"] for s in doc["subscriptions"]]
        cursor = doc.get("cursor")
        if cursor is None:
            break
    assert pages == 3 and seen == [s["id"] for s in made]
    desc = await (await http.get(BASE, params={"sort_order": "DESC"}, headers=AUTH)).json()
    assert [s["id"] for s in desc["subscriptions"]] == seen[::-1]


async def test_list_rejects_foreign_cursor_and_bad_params(http):
    await _create(http)
    for params, code in [
        ({"cursor": "garbage"}, "INVALID_CURSOR"),
        ({"sort_order": "SIDEWAYS"}, "INVALID_ENUM_VALUE"),
        ({"limit": "0"}, "VALUE_TOO_LOW"),
        ({"include_disabled": "maybe"}, "EXPECTED_BOOLEAN"),
    ]:
        resp = await http.get(BASE, params=params, headers=AUTH)
        assert resp.status == 400, params
        assert _error(await resp.json())["code"] == code


async def test_empty_list_is_an_empty_object(http):
    assert await (await http.get(BASE, headers=AUTH)).json() == {}


async def test_update_disable_then_list_and_delete(http):
    sub = await _create(http)
    resp = await http.put(
        f"{BASE}/{sub['id']}",
        json={"subscription": {"enabled": False, "name": "off"}},
        headers=AUTH,
    )
    updated = (await resp.json())["subscription"]
    assert updated["enabled"] is False and updated["name"] == "off"
    assert "signature_key" not in updated
    assert await (await http.get(BASE, headers=AUTH)).json() == {}
    listed = await (await http.get(BASE, params={"include_disabled": "true"}, headers=AUTH)).json()
    assert [s["id"] for s in listed["subscriptions"]] == [sub["id"]]
    resp = await http.delete(f"{BASE}/{sub['id']}", headers=AUTH)
    assert resp.status == 200 and await resp.json() == {}
    assert (await http.get(f"{BASE}/{sub['id']}", headers=AUTH)).status == 404


async def test_signature_key_rotation_replaces_the_key(http):
    sub = await _create(http)
    url = f"{BASE}/{sub['id']}/signature-key"
    body = {"idempotency_key": "rot-1"}
    rotated = await (await http.post(url, json=body, headers=AUTH)).json()
    assert set(rotated) == {"signature_key"} and rotated["signature_key"] != sub["signature_key"]
    assert await (await http.post(url, json=body, headers=AUTH)).json() == rotated
    current = await (await http.get(f"{BASE}/{sub['id']}", headers=AUTH)).json()
    assert current["subscription"]["signature_key"] == rotated["signature_key"]
    assert (await http.post(f"{BASE}/wbhk_nope/signature-key", json={}, headers=AUTH)).status == 404


# Auth ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
    ],
)
async def test_requests_without_the_application_token_get_401(http, state, headers):
    resp = await http.get(BASE, headers=headers)
    assert resp.status == 401
    err = _error(await resp.json())
    assert (err["category"], err["code"]) == ("AUTHENTICATION_ERROR", "UNAUTHORIZED")
    assert TOKEN not in await resp.text()
    post = await http.post(
        BASE,
        json={"subscription": {"notification_url": URL, "event_types": ["payment.created"]}},
        headers=headers,
    )
    assert post.status == 401 and not state.webhooks.subscriptions


async def test_health_needs_no_token_and_unknown_routes_answer_square_errors(http):
    assert (await http.get("/_fake/health")).status == 200
    missing = await http.get("/v2/nothing/here", headers=AUTH)
    assert missing.status == 404 and _error(await missing.json())["code"] == "NOT_FOUND"
    wrong = await http.patch(BASE, headers=AUTH)
    assert wrong.status == 405 and _error(await wrong.json())["code"] == "METHOD_NOT_ALLOWED"
    bad = await http.post(BASE, data=b"{not json", headers=AUTH)
    assert bad.status == 400 and _error(await bad.json())["code"] == "EXPECTED_JSON_BODY"


# Faults -------------------------------------------------------------------------------
async def test_injected_faults_from_state_then_recover(http, state):
    state.faults.inject(Fault(500, times=2))
    for _ in range(2):
        resp = await http.get(BASE, headers=AUTH)
        assert resp.status == 500
        err = _error(await resp.json())
        assert (err["category"], err["code"]) == ("API_ERROR", "INTERNAL_SERVER_ERROR")
    assert (await http.get(BASE, headers=AUTH)).status == 200


async def test_injected_fault_only_hits_its_path_prefix(http, state):
    state.faults.inject(Fault(503, path_prefix="/v2/orders"))
    assert (await http.get(BASE, headers=AUTH)).status == 200
    assert len(state.faults.pending) == 1


async def test_fault_header_and_control_endpoint(http):
    resp = await http.get(BASE, headers={**AUTH, "X-Fake-Square-Fault": "429; retry-after=3"})
    assert resp.status == 429 and resp.headers["Retry-After"] == "3"
    err = _error(await resp.json())
    assert (err["category"], err["code"]) == ("RATE_LIMIT_ERROR", "RATE_LIMITED")
    ctl = await http.post("/_fake/faults", json={"status": 502, "times": 1}, headers=AUTH)
    assert await ctl.json() == {"pending": 1}
    assert (await http.get(BASE, headers=AUTH)).status == 502
    assert (await http.get(BASE, headers=AUTH)).status == 200
    await http.post("/_fake/faults", json={"status": 500, "times": 5}, headers=AUTH)
    await http.delete("/_fake/faults", headers=AUTH)
    assert (await http.get(BASE, headers=AUTH)).status == 200


# The SDK wrapper against the fake -----------------------------------------------------
@pytest.fixture
async def settings(http) -> Settings:
    return Settings(
        _env_file=None,
        square_base_url=str(http.make_url("/")),
        square_access_token=TOKEN,
    )


async def test_sdk_create_list_retrieve_rotate(settings, state):
    async with sq.square_client(settings) as client:
        sub = await sq.create_subscription(client, URL, sq.SUBSCRIBED_EVENT_TYPES)
        assert sub.signature_key and sub.event_types == list(sq.SUBSCRIBED_EVENT_TYPES)
        assert sub.api_version == sq.SQUARE_API_VERSION
        listed = await sq.list_subscriptions(client)
        assert [s.id for s in listed] == [sub.id] and listed[0].signature_key is None
        assert sub.id is not None
        new_key = await sq.rotate_signature_key(client, sub.id)
        assert new_key != sub.signature_key
        assert (await sq.retrieve_subscription(client, sub.id)).signature_key == new_key


async def test_sdk_pager_follows_cursors(settings, state):
    store: WebhookStore = state.webhooks
    for i in range(105):
        store.create(
            notification_url=f"{URL}/{i}",
            event_types=["payment.created"],
            name=None,
            enabled=True,
            api_version="2026-09-16",
            now=datetime.now(UTC),
        )
    async with sq.square_client(settings) as client:
        assert len(await sq.list_subscriptions(client)) == 105


async def test_sdk_errors_become_one_error_type_per_class(settings, state):
    async with sq.square_client(settings, token="wrong") as client:
        with pytest.raises(SquareAuthError) as auth:
            await sq.list_subscriptions(client)
    assert "401" in str(auth.value) and "wrong" not in str(auth.value)
    async with sq.square_client(settings) as client:
        with pytest.raises(SquareNotFound):
            await sq.retrieve_subscription(client, "wbhk_missing")
        with pytest.raises(SquareRequestError) as bad:
            await sq.create_subscription(client, "not a url", ["payment.created"])
        assert bad.value.code == "INVALID_VALUE" and "\n" not in str(bad.value)


async def test_sdk_retries_honour_retry_after_then_give_up(settings, state):
    async with sq.square_client(settings) as client:
        state.faults.inject(Fault(503, times=1, retry_after=1))
        started = time.monotonic()
        assert await sq.list_subscriptions(client) == []
        assert time.monotonic() - started >= 0.9
        state.faults.inject(Fault(429, times=3, retry_after=1))
        with pytest.raises(SquareUnavailable) as exc:
            await sq.list_subscriptions(client)
    assert exc.value.retriable and exc.value.status == 429 and exc.value.retry_after == 1


async def test_unreachable_square_is_unavailable():
    cfg = Settings(_env_file=None, square_base_url="http://127.0.0.1:9", square_access_token=TOKEN)
    async with sq.square_client(cfg) as client:
        with pytest.raises(SquareUnavailable) as exc:
            await sq.list_subscriptions(client)
    assert "127.0.0.1:9" in str(exc.value)


def test_client_needs_a_token():
    cfg = Settings(_env_file=None, square_access_token="")
    with pytest.raises(ConfigError):
        sq.make_square_client(cfg)
