"""What every route module of the fake needs: the state key, the caller, the JSON body."""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from canary_stream.square.fake.errors import SquareFault, unauthorized
from canary_stream.square.fake.store import FakeSquareState

if TYPE_CHECKING:
    from canary_stream.square.fake.merchants import MerchantData

STATE_KEY = web.AppKey("fake_square_state", FakeSquareState)


def state_of(request: web.Request) -> FakeSquareState:
    """The state the app was made with."""
    return request.app[STATE_KEY]


#: What :func:`authenticate` answers for the application's own token.
APPLICATION = "application"


def authenticate(state: FakeSquareState, header: str | None) -> str:
    """Who is calling: ``"application"`` or a merchant id; raises Square's 401 otherwise."""
    if not header:
        raise unauthorized(
            "Your request did not include an `Authorization` http header with an access token."
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("The `Authorization` http header of your request was malformed.")
    bearer = token.strip()
    if hmac.compare_digest(bearer.encode(), state.access_token.encode()):
        return APPLICATION
    merchant_id = state.tokens.get(bearer)
    if merchant_id is not None and merchant_id in state.merchants:
        return merchant_id
    raise unauthorized()


def require_application(request: web.Request) -> None:
    """Application-owned APIs (webhook subscriptions) refuse merchant OAuth tokens."""
    if authenticate(state_of(request), request.headers.get("Authorization")) != APPLICATION:
        raise SquareFault(
            403,
            "Webhook subscriptions can only be managed with the application's access token.",
            code="FORBIDDEN",
        )


def require_merchant(request: web.Request) -> MerchantData:
    """The seller whose OAuth token made the call (seller APIs refuse the application token)."""
    state = state_of(request)
    caller = authenticate(state, request.headers.get("Authorization"))
    if caller == APPLICATION:
        raise SquareFault(
            403,
            "This endpoint needs a seller's OAuth access token, not the application's.",
            code="FORBIDDEN",
        )
    return state.merchants[caller]


async def json_object(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` when empty and not ``required``)."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise SquareFault(400, "Expected a JSON body.", code="EXPECTED_JSON_BODY")
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise SquareFault(400, "The body is not valid JSON.", code="EXPECTED_JSON_BODY") from None
    if not isinstance(doc, dict):
        raise SquareFault(400, "Expected a JSON object.", code="EXPECTED_OBJECT")
    return doc
