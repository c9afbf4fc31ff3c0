"""Refunds API: ListPaymentRefunds (seller token)."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import require_merchant

DEFAULT_LIMIT = 100
MAX_LIMIT = 100


def add_routes(app: web.Application) -> None:
    """Register the Refunds endpoints."""
    app.router.add_get("/v2/refunds", list_payment_refunds)


async def list_payment_refunds(request: web.Request) -> web.Response:
    """ListPaymentRefunds: by ``created_at`` (DESC by default), status/source/location filters."""
    merchant = require_merchant(request)
    q = paging.query(request)
    begin, end = (
        paging.when(q.get("begin_time"), "begin_time"),
        paging.when(q.get("end_time"), "end_time"),
    )
    order = paging.sort_order(q.get("sort_order"), "DESC")
    found = [
        r
        for r in merchant.refunds.values()
        if paging.in_range(r["created_at"], begin, end)
        and (not q.get("location_id") or r["location_id"] == q["location_id"])
        and (not q.get("status") or r["status"] == q["status"])
        and (not q.get("source_type") or r["destination_type"] == q["source_type"])
    ]
    params = {
        k: q.get(k)
        for k in ("begin_time", "end_time", "sort_order", "location_id", "status", "source_type")
    }
    answer = paging.page(
        paging.sorted_by(found, "created_at", order),
        "refunds",
        kind="refunds",
        params={"m": merchant.merchant_id, **params},
        cursor=q.get("cursor"),
        limit=paging.limit_of(q.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)
