"""OAuth API (``POST /oauth2/token``, ``POST /oauth2/revoke``) as the SDK's ``o_auth`` calls it.

ObtainToken serves the code flow: ``authorization_code`` trades a code for a pair,
``refresh_token`` trades a refresh token for a new pair. The fake rotates the refresh token
on every refresh (the old one is refused afterwards, like the PKCE flow), so a client that
refreshes twice with the same token is caught. Access tokens last :attr:`OAuthStore.ttl`
from the fake's clock. RevokeToken drops the seller's grant (or only its access tokens).

Codes come from a control endpoint (Square's seller consent screen has no API):
``POST /_fake/oauth/codes`` with ``{"merchant_id": "ML...", "scopes": [...]}`` answers
``{"code": "sq0cgp-..."}``. Tests read counters from ``app[OAUTH_KEY]``. Issued access
tokens go into the state's ``tokens`` (token → merchant id), so the seller APIs accept them
for a merchant the fake serves; RevokeToken takes them out again.

The app's middleware leaves ``/oauth2/`` to these handlers, as Square does: ObtainToken
checks ``client_id`` / ``client_secret`` in the body, RevokeToken ``client_id`` in the body
and ``Authorization: Client SECRET``.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from canary_stream.square.fake.context import json_object, state_of
from canary_stream.square.fake.errors import SquareFault, bad_value
from canary_stream.square.fake.store import Json

TOKEN_PATH = "/oauth2/token"
REVOKE_PATH = "/oauth2/revoke"
CODES_PATH = "/_fake/oauth/codes"
#: Application id of the local stack (the default of ``CANARY_SQUARE_APPLICATION_ID``).
DEFAULT_CLIENT_ID = "sandbox-sq0idb-canary-local"
GRANT_TYPES = ("authorization_code", "refresh_token")


@dataclass
class Grant:
    """One seller's authorisation of the application, with its current tokens."""

    merchant_id: str
    scopes: list[str]
    refresh_token: str
    access_tokens: dict[str, datetime] = field(default_factory=dict)


@dataclass
class OAuthStore:
    """The fake's OAuth state; ``client_secret`` None accepts any non-empty secret."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str | None = None
    ttl: timedelta = timedelta(days=30)
    codes: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    #: Successful ObtainToken calls per ``grant_type``.
    grant_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRANT_TYPES, 0))

    def issue_code(self, merchant_id: str, scopes: list[str]) -> str:
        """An authorisation code, as Square's consent screen would redirect with."""
        code = "sq0cgp-" + secrets.token_urlsafe(24)
        self.codes[code] = (merchant_id, list(scopes))
        return code

    def by_refresh_token(self, refresh_token: str) -> Grant | None:
        for grant in self.grants.values():
            if hmac.compare_digest(grant.refresh_token.encode(), refresh_token.encode()):
                return grant
        return None


OAUTH_KEY = web.AppKey("fake_square_oauth", OAuthStore)


def add_routes(app: web.Application) -> None:
    """Register the OAuth endpoints (a store is made unless the app already has one)."""
    if OAUTH_KEY not in app:
        app[OAUTH_KEY] = OAuthStore()
    app.router.add_post(TOKEN_PATH, obtain_token)
    app.router.add_post(REVOKE_PATH, revoke_token)
    app.router.add_post(CODES_PATH, issue_code)


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(48)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _string(body: Json, name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise bad_value(name, f"Missing required parameter `{name}`.", "MISSING_REQUIRED_PARAMETER")
    if not isinstance(value, str):
        raise bad_value(name, f"Expected `{name}` to be a string.", "EXPECTED_STRING")
    return value


def _check_client(store: OAuthStore, body: Json, *, secret: bool) -> None:
    client_id = _string(body, "client_id")
    if client_id != store.client_id:
        raise SquareFault(401, "Not Authorized: unknown client_id.", code="UNAUTHORIZED")
    if secret:
        given = _string(body, "client_secret")
        if store.client_secret is not None and not hmac.compare_digest(
            given.encode(), store.client_secret.encode()
        ):
            raise SquareFault(401, "Not Authorized: bad client_secret.", code="UNAUTHORIZED")


def _answer(grant: Grant, access_token: str, expires_at: datetime) -> Json:
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_at": _iso(expires_at),
        "merchant_id": grant.merchant_id,
        "refresh_token": grant.refresh_token,
        "short_lived": False,
    }


async def obtain_token(request: web.Request) -> web.Response:
    """ObtainToken: the code flow's ``authorization_code`` and ``refresh_token`` grants."""
    store = request.app[OAUTH_KEY]
    body = await json_object(request)
    _check_client(store, body, secret=True)
    grant_type = _string(body, "grant_type")
    if grant_type not in GRANT_TYPES:
        raise bad_value("grant_type", f"Unsupported grant_type `{grant_type}`.")
    now = state_of(request).now()
    if grant_type == "authorization_code":
        code = _string(body, "code")
        found = store.codes.pop(code, None)
        if found is None:
            raise SquareFault(401, "Authorization code is invalid or already claimed.")
        merchant_id, scopes = found
        grant = store.grants.get(merchant_id)
        if grant is None:
            grant = store.grants[merchant_id] = Grant(merchant_id, scopes, _token("EQAA"))
        else:
            grant.scopes = scopes
            grant.refresh_token = _token("EQAA")
    else:
        found_grant = store.by_refresh_token(_string(body, "refresh_token"))
        if found_grant is None:
            raise SquareFault(401, "The refresh token is invalid, revoked or already used.")
        grant = found_grant
        grant.refresh_token = _token("EQAA")
    access_token = _token("EAAA")
    expires_at = now + store.ttl
    grant.access_tokens[access_token] = expires_at
    state_of(request).tokens[access_token] = grant.merchant_id
    store.grant_counts[grant_type] += 1
    return web.json_response(_answer(grant, access_token, expires_at))


async def revoke_token(request: web.Request) -> web.Response:
    """RevokeToken by ``merchant_id`` or ``access_token``; ``{"success": true}``."""
    store = request.app[OAUTH_KEY]
    body = await json_object(request)
    _check_client(store, body, secret=False)
    given = request.headers.get("Authorization", "").removeprefix("Client ").strip()
    if store.client_secret is not None and not hmac.compare_digest(
        given.encode(), store.client_secret.encode()
    ):
        raise SquareFault(401, "Not Authorized: bad Client authorization.", code="UNAUTHORIZED")
    grant: Grant | None = None
    if body.get("merchant_id"):
        grant = store.grants.get(_string(body, "merchant_id"))
    elif body.get("access_token"):
        token = _string(body, "access_token")
        grant = next((g for g in store.grants.values() if token in g.access_tokens), None)
    else:
        raise bad_value(
            "access_token", "Provide `access_token` or `merchant_id`.", "MISSING_REQUIRED_PARAMETER"
        )
    if grant is None:
        raise SquareFault(404, "No authorization found to revoke.", code="NOT_FOUND")
    for token in grant.access_tokens:
        state_of(request).tokens.pop(token, None)
    grant.access_tokens.clear()
    if not body.get("revoke_only_access_token"):
        del store.grants[grant.merchant_id]
    return web.json_response({"success": True})


async def issue_code(request: web.Request) -> web.Response:
    """Control endpoint: the code a seller's consent would give (not part of Square)."""
    body: dict[str, Any] = await json_object(request)
    merchant_id = _string(body, "merchant_id")
    scopes = body.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise bad_value("scopes", "Expected an array of strings.", "EXPECTED_ARRAY")
    return web.json_response({"code": request.app[OAUTH_KEY].issue_code(merchant_id, scopes)})
