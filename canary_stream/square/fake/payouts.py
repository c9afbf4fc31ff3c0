"""Payouts API: ListPayouts (seller token), by ``created_at`` (DESC by default)."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import require_merchant

DEFAULT_LIMIT = 100
MAX_LIMIT = 100


def add_routes(app: web.Application) -> None:
    """Register the Payouts endpoints."""
    app.router.add_get("/v2/payouts", list_payouts)


async def list_payouts(request: web.Request) -> web.Response:
    """ListPayouts: ``location_id``, ``status``, ``begin_time``/``end_time`` on ``created_at``."""
    merchant = require_merchant(request)
    q = paging.query(request)
    begin, end = (
        paging.when(q.get("begin_time"), "begin_time"),
        paging.when(q.get("end_time"), "end_time"),
    )
    order = paging.sort_order(q.get("sort_order"), "DESC")
    found = [
        p
        for p in merchant.payouts.values()
        if paging.in_range(p["created_at"], begin, end)
        and (not q.get("location_id") or p["location_id"] == q["location_id"])
        and (not q.get("status") or p["status"] == q["status"])
    ]
    params = {
        k: q.get(k) for k in ("location_id", "status", "begin_time", "end_time", "sort_order")
    }
    answer = paging.page(
        paging.sorted_by(found, "created_at", order),
        "payouts",
        kind="payouts",
        params={"m": merchant.merchant_id, **params},
        cursor=q.get("cursor"),
        limit=paging.limit_of(q.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)
