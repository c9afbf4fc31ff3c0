"""Control endpoints of the fake (not Square's): its sellers, and sales made at run time.

- ``GET /_fake/merchants`` (application token): each seeded seller's id, access token,
  name, currency and location ids.
- ``POST /_fake/orders`` with ``{"merchant_id": "ML...", "deliver": true}`` (the
  application token, or the seller's own token and no ``merchant_id``): one more completed
  order and its payments; with ``deliver`` the signed webhooks of the story
  (``order.created``, ``payment.created``/``updated``, ``order.updated``) are POSTed to the
  subscribers (see :mod:`canary_stream.square.fake.deliveries`).
"""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from canary_stream.square.fake.context import (
    APPLICATION,
    authenticate,
    json_object,
    require_application,
    state_of,
)
from canary_stream.square.fake.deliveries import deliver
from canary_stream.square.fake.errors import bad_value, not_found
from canary_stream.square.fake.store import Json


def add_routes(app: web.Application) -> None:
    """Register the control endpoints."""
    app.router.add_get("/_fake/merchants", list_merchants)
    app.router.add_post("/_fake/orders", create_order)


async def list_merchants(request: web.Request) -> web.Response:
    """The seeded sellers and the token that reads each one's data."""
    require_application(request)
    state = state_of(request)
    merchants = [
        {
            "merchant_id": m.merchant_id,
            "access_token": state.token_of(m.merchant_id),
            "name": m.world.name,
            "currency": m.currency,
            "location_ids": [loc["id"] for loc in m.locations],
        }
        for m in state.merchants.values()
    ]
    return web.json_response({"merchants": merchants})


async def create_order(request: web.Request) -> web.Response:
    """Tell one more order story for a seller; deliver its webhooks if asked."""
    state = state_of(request)
    caller = authenticate(state, request.headers.get("Authorization"))
    body = await json_object(request, required=False)
    merchant_id = body.get("merchant_id") if caller == APPLICATION else caller
    if not isinstance(merchant_id, str) or not merchant_id:
        raise bad_value("merchant_id", "Field must be set", "MISSING_REQUIRED_PARAMETER")
    merchant = state.merchants.get(merchant_id)
    if merchant is None:
        raise not_found("Merchant", merchant_id)
    order, hooks = merchant.new_order(state.now())
    payment_ids = {t["payment_id"] for t in order.get("tenders", [])}
    answer: Json = {
        "order": order,
        "payments": [merchant.payments[p] for p in sorted(payment_ids)],
        "webhooks": [
            {"event_id": h.event_id, "event_type": h.event_type, "object_id": h.object_id}
            for h in hooks
        ],
    }
    if body.get("deliver"):
        answer["deliveries"] = [asdict(d) for d in await deliver(state, hooks)]
    return web.json_response(answer)
