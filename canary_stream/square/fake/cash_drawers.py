"""Cash Drawers API: ListCashDrawerShifts, ListCashDrawerShiftEvents (seller token).

Shifts are listed as ``CashDrawerShiftSummary`` objects, filtered on ``opened_at``
(``begin_time`` inclusive, ``end_time`` exclusive) and sorted by it (ASC by default).
"""

from __future__ import annotations

from aiohttp import web

from canary_stream.simulate.drawer import SUMMARY_FIELDS
from canary_stream.square.fake import paging
from canary_stream.square.fake.context import require_merchant
from canary_stream.square.fake.errors import bad_value, not_found
from canary_stream.square.fake.merchants import MerchantData

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


def add_routes(app: web.Application) -> None:
    """Register the Cash Drawers endpoints."""
    app.router.add_get("/v2/cash-drawers/shifts", list_shifts)
    app.router.add_get("/v2/cash-drawers/shifts/{id}/events", list_shift_events)


def _location(merchant: MerchantData, raw: str | None) -> str:
    if not raw:
        raise bad_value("location_id", "Field must be set", "MISSING_REQUIRED_PARAMETER")
    if raw not in merchant.shifts:
        raise not_found("Location", raw)
    return raw


async def list_shifts(request: web.Request) -> web.Response:
    """ListCashDrawerShifts of one location."""
    merchant = require_merchant(request)
    q = paging.query(request)
    location = _location(merchant, q.get("location_id"))
    begin, end = (
        paging.when(q.get("begin_time"), "begin_time"),
        paging.when(q.get("end_time"), "end_time"),
    )
    order = paging.sort_order(q.get("sort_order"), "ASC")
    summaries = [
        {k: s[k] for k in SUMMARY_FIELDS if k in s}
        for s in merchant.shifts[location]
        if paging.in_range(s["opened_at"], begin, end)
    ]
    params = {k: q.get(k) for k in ("location_id", "begin_time", "end_time", "sort_order")}
    answer = paging.page(
        paging.sorted_by(summaries, "opened_at", order),
        "cash_drawer_shifts",
        kind="cash_drawer_shifts",
        params={"m": merchant.merchant_id, **params},
        cursor=q.get("cursor"),
        limit=paging.limit_of(q.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)


async def list_shift_events(request: web.Request) -> web.Response:
    """ListCashDrawerShiftEvents of one shift, in time order."""
    merchant = require_merchant(request)
    q = paging.query(request)
    location = _location(merchant, q.get("location_id"))
    shift_id = request.match_info["id"]
    if not any(s["id"] == shift_id for s in merchant.shifts[location]):
        raise not_found("CashDrawerShift", shift_id)
    answer = paging.page(
        merchant.shift_events.get(shift_id, []),
        "cash_drawer_shift_events",
        kind="cash_drawer_shift_events",
        params={"m": merchant.merchant_id, "l": location, "s": shift_id},
        cursor=q.get("cursor"),
        limit=paging.limit_of(q.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)
