"""Payments API: ListPayments and GetPayment (seller token)."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import require_merchant
from canary_stream.square.fake.errors import not_found

DEFAULT_LIMIT = 100
MAX_LIMIT = 100


def add_routes(app: web.Application) -> None:
    """Register the Payments endpoints."""
    app.router.add_get("/v2/payments", list_payments)
    app.router.add_get("/v2/payments/{id}", get_payment)


async def list_payments(request: web.Request) -> web.Response:
    """ListPayments: by ``created_at`` (DESC unless ``sort_order=ASC``), filters, cursor.

    Unlike Square, no ``begin_time`` means no lower bound (the seeded history may be old),
    and no ``location_id`` means every location.
    """
    merchant = require_merchant(request)
    q = paging.query(request)
    begin, end = (
        paging.when(q.get("begin_time"), "begin_time"),
        paging.when(q.get("end_time"), "end_time"),
    )
    order = paging.sort_order(q.get("sort_order"), "DESC")
    found = [
        p
        for p in merchant.payments.values()
        if paging.in_range(p["created_at"], begin, end)
        and (not q.get("location_id") or p["location_id"] == q["location_id"])
        and (
            not q.get("card_brand")
            or p.get("card_details", {}).get("card", {}).get("card_brand") == q["card_brand"]
        )
        and (
            not q.get("last_4")
            or p.get("card_details", {}).get("card", {}).get("last_4") == q["last_4"]
        )
        and (not q.get("total") or str(p["total_money"]["amount"]) == q["total"])
    ]
    params = {
        k: q.get(k)
        for k in (
            "begin_time",
            "end_time",
            "sort_order",
            "location_id",
            "card_brand",
            "last_4",
            "total",
        )
    }
    answer = paging.page(
        paging.sorted_by(found, "created_at", order),
        "payments",
        kind="payments",
        params={"m": merchant.merchant_id, **params},
        cursor=q.get("cursor"),
        limit=paging.limit_of(q.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)


async def get_payment(request: web.Request) -> web.Response:
    """GetPayment: ``{"payment": {...}}``."""
    merchant = require_merchant(request)
    payment = merchant.payments.get(request.match_info["id"])
    if payment is None:
        raise not_found("Payment", request.match_info["id"])
    return web.json_response({"payment": payment})
