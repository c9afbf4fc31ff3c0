"""Loyalty API: SearchLoyaltyEvents (seller token), newest first, cursor paginated."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import json_object, require_merchant
from canary_stream.square.fake.store import Json

DEFAULT_LIMIT = 30
MAX_LIMIT = 30


def add_routes(app: web.Application) -> None:
    """Register the Loyalty endpoints."""
    app.router.add_post("/v2/loyalty/events/search", search_loyalty_events)


def _order_ids(event: Json) -> set[str]:
    return {
        str(part["order_id"])
        for part in (event.get("accumulate_points"), event.get("redeem_reward"))
        if isinstance(part, dict) and part.get("order_id")
    }


async def search_loyalty_events(request: web.Request) -> web.Response:
    """SearchLoyaltyEvents: account, type, location, order and date-time filters."""
    merchant = require_merchant(request)
    body = await json_object(request, required=False)
    query = body.get("query") or {}
    filt = query.get("filter") or {}
    account = (filt.get("loyalty_account_filter") or {}).get("loyalty_account_id")
    types = (filt.get("type_filter") or {}).get("types")
    locations = (filt.get("location_filter") or {}).get("location_ids")
    order_id = (filt.get("order_filter") or {}).get("order_id")
    span = (filt.get("date_time_filter") or {}).get("created_at") or {}
    begin = paging.when(span.get("start_at"), "query.filter.date_time_filter.created_at")
    end = paging.when(span.get("end_at"), "query.filter.date_time_filter.created_at")
    found = [
        e
        for e in merchant.loyalty_events
        if (account is None or e.get("loyalty_account_id") == account)
        and (not types or e.get("type") in types)
        and (not locations or e.get("location_id") in locations)
        and (order_id is None or order_id in _order_ids(e))
        and paging.in_range(e.get("created_at"), begin, end, end_inclusive=True)
    ]
    answer = paging.page(
        paging.sorted_by(found, "created_at", "DESC"),
        "events",
        kind="loyalty_events",
        params={"m": merchant.merchant_id, "q": query},
        cursor=body.get("cursor"),
        limit=paging.limit_of(body.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)
