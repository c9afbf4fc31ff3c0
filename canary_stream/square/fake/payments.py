"""Payments API: ListPayments and GetPayment (seller token)."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake.context import require_merchant
from canary_stream.square.fake.errors import not_found
from canary_stream.square.fake.listing import Filters, field, list_created
from canary_stream.square.fake.store import Json


def add_routes(app: web.Application) -> None:
    """Register the Payments endpoints."""
    app.router.add_get("/v2/payments", list_payments)
    app.router.add_get("/v2/payments/{id}", get_payment)


def _card(payment: Json) -> Json:
    card: Json = payment.get("card_details", {}).get("card", {})
    return card


async def list_payments(request: web.Request) -> web.Response:
    """ListPayments: by ``created_at`` (DESC unless ``sort_order=ASC``), filters, cursor.

    Unlike Square, no ``begin_time`` means no lower bound (the seeded history may be old),
    and no ``location_id`` means every location.
    """
    filters: Filters = {
        "location_id": field("location_id"),
        "card_brand": lambda p: _card(p).get("card_brand"),
        "last_4": lambda p: _card(p).get("last_4"),
        "total": lambda p: str(p["total_money"]["amount"]),
    }
    return list_created(request, lambda m: m.payments.values(), "payments", filters)


async def get_payment(request: web.Request) -> web.Response:
    """GetPayment: ``{"payment": {...}}``."""
    merchant = require_merchant(request)
    payment = merchant.payments.get(request.match_info["id"])
    if payment is None:
        raise not_found("Payment", request.match_info["id"])
    return web.json_response({"payment": payment})
