"""The fake Square's OAuth API (``/oauth2/token``, ``/oauth2/revoke``) driven through the
official SDK's ``o_auth`` client, as the token vault calls it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from square import AsyncSquare
from square.core.api_error import ApiError

from canary_stream.square.fake import FakeSquareState, make_fake_square
from canary_stream.square.fake.oauth import OAUTH_KEY, OAuthStore

APP_TOKEN = "test-application-token"
CLIENT_ID = "sq0idp-test-app"
CLIENT_SECRET = "sq0csp-test-secret"
#: RevokeToken authenticates the application: ``Authorization: Client SECRET``.
CLIENT_AUTH: Any = {"additional_headers": {"Authorization": f"Client {CLIENT_SECRET}"}}
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SELLER = "MLTESTSELLER01"
AUTH = {"Authorization": f"Bearer {APP_TOKEN}"}


@pytest.fixture
def state() -> FakeSquareState:
    return FakeSquareState(access_token=APP_TOKEN, clock=lambda: T0)


@pytest.fixture
async def http(state: FakeSquareState) -> AsyncIterator[TestClient[Any, Any]]:
    app = make_fake_square(state)
    app[OAUTH_KEY] = OAuthStore(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def square(http: TestClient[Any, Any]) -> AsyncIterator[AsyncSquare]:
    async with httpx.AsyncClient() as raw:
        yield AsyncSquare(
            token=APP_TOKEN, base_url=str(http.make_url("")).rstrip("/"), httpx_client=raw
        )


def _store(http: TestClient[Any, Any]) -> OAuthStore:
    assert isinstance(http.server, TestServer)
    return http.server.app[OAUTH_KEY]


async def _code(http: TestClient[Any, Any], scopes: list[str]) -> str:
    resp = await http.post(
        "/_fake/oauth/codes", json={"merchant_id": SELLER, "scopes": scopes}, headers=AUTH
    )
    assert resp.status == 200
    return str((await resp.json())["code"])


async def _connect(http: TestClient[Any, Any], square: AsyncSquare) -> Any:
    return await square.o_auth.obtain_token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant_type="authorization_code",
        code=await _code(http, ["ORDERS_READ", "PAYMENTS_READ"]),
    )


async def test_authorization_code_grant_answers_a_pair(http, square, state):
    resp = await _connect(http, square)
    assert resp.access_token.startswith("EAAA") and len(resp.access_token) == 68
    assert resp.refresh_token.startswith("EQAA") and len(resp.refresh_token) == 68
    assert (resp.token_type, resp.expires_at, resp.merchant_id, resp.short_lived) == (
        "bearer",
        "2026-12-30T12:00:00Z",
        SELLER,
        False,
    )
    assert state.tokens[resp.access_token] == SELLER
    assert _store(http).grant_counts == {"authorization_code": 1, "refresh_token": 0}
    assert _store(http).grants[SELLER].scopes == ["ORDERS_READ", "PAYMENTS_READ"]


async def test_a_code_is_claimed_once(http, square):
    code = await _code(http, [])
    await square.o_auth.obtain_token(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="authorization_code", code=code
    )
    with pytest.raises(ApiError) as caught:
        await square.o_auth.obtain_token(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            grant_type="authorization_code",
            code=code,
        )
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "errors": [
            {
                "category": "AUTHENTICATION_ERROR",
                "code": "UNAUTHORIZED",
                "detail": "Authorization code is invalid or already claimed.",
            }
        ]
    }


async def test_refresh_grant_rotates_the_refresh_token(http, square, state):
    first = await _connect(http, square)
    state.clock = lambda: datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    second = await square.o_auth.obtain_token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant_type="refresh_token",
        refresh_token=first.refresh_token,
    )
    assert second.expires_at == "2026-12-31T08:30:00Z"
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert _store(http).grant_counts == {"authorization_code": 1, "refresh_token": 1}
    # the old access token stays valid until it expires, like Square's
    assert state.tokens[first.access_token] == state.tokens[second.access_token] == SELLER
    with pytest.raises(ApiError) as caught:
        await square.o_auth.obtain_token(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            grant_type="refresh_token",
            refresh_token=first.refresh_token,
        )
    assert caught.value.status_code == 401
    assert caught.value.body["errors"][0]["detail"] == (
        "The refresh token is invalid, revoked or already used."
    )
    assert _store(http).grant_counts["refresh_token"] == 1


@pytest.mark.parametrize(
    ("fields", "status", "code", "detail"),
    [
        ({"client_secret": "wrong"}, 401, "UNAUTHORIZED", "Not Authorized: bad client_secret."),
        ({"client_id": "other"}, 401, "UNAUTHORIZED", "Not Authorized: unknown client_id."),
        ({"grant_type": "migration_token"}, 400, "INVALID_VALUE",
         "Unsupported grant_type `migration_token`."),
        ({"refresh_token": None}, 400, "MISSING_REQUIRED_PARAMETER",
         "Missing required parameter `refresh_token`."),
    ],
)  # fmt: skip
async def test_obtain_token_refuses_bad_requests(http, fields, status, code, detail):
    body = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": "EQAAnope",
        **fields,
    }
    resp = await http.post("/oauth2/token", json=body, headers=AUTH)
    assert resp.status == status
    err = (await resp.json())["errors"][0]
    assert (err["code"], err["detail"]) == (code, detail)


async def test_revoke_drops_the_grant_and_its_tokens(http, square, state):
    pair = await _connect(http, square)
    with pytest.raises(ApiError) as refused:  # the bearer token is not the application's secret
        await square.o_auth.revoke_token(client_id=CLIENT_ID, merchant_id=SELLER)
    assert refused.value.status_code == 401
    resp = await square.o_auth.revoke_token(
        client_id=CLIENT_ID, merchant_id=SELLER, request_options=CLIENT_AUTH
    )
    assert resp.success is True
    assert SELLER not in _store(http).grants and pair.access_token not in state.tokens
    with pytest.raises(ApiError) as caught:
        await square.o_auth.obtain_token(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            grant_type="refresh_token",
            refresh_token=pair.refresh_token,
        )
    assert caught.value.status_code == 401


async def test_revoke_only_the_access_token_keeps_the_refresh_token(http, square, state):
    pair = await _connect(http, square)
    resp = await square.o_auth.revoke_token(
        client_id=CLIENT_ID,
        access_token=pair.access_token,
        revoke_only_access_token=True,
        request_options=CLIENT_AUTH,
    )
    assert resp.success is True
    assert pair.access_token not in state.tokens
    again = await square.o_auth.obtain_token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant_type="refresh_token",
        refresh_token=pair.refresh_token,
    )
    assert again.merchant_id == SELLER


async def test_revoke_unknown_seller_is_404(square):
    with pytest.raises(ApiError) as caught:
        await square.o_auth.revoke_token(
            client_id=CLIENT_ID, merchant_id="MLNOBODY", request_options=CLIENT_AUTH
        )
    assert caught.value.status_code == 404
