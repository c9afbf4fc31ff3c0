"""Orders API: RetrieveOrder, BatchRetrieveOrders, SearchOrders (seller token)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import json_object, require_merchant
from canary_stream.square.fake.errors import bad_value, not_found
from canary_stream.square.fake.store import Json

SEARCH_DEFAULT_LIMIT = 500
SEARCH_MAX_LIMIT = 1000
BATCH_MAX = 100
SORT_FIELDS = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at", "CLOSED_AT": "closed_at"}


def add_routes(app: web.Application) -> None:
    """Register the Orders endpoints."""
    app.router.add_post("/v2/orders/batch-retrieve", batch_retrieve_orders)
    app.router.add_post("/v2/orders/search", search_orders)
    app.router.add_get("/v2/orders/{id}", retrieve_order)


async def retrieve_order(request: web.Request) -> web.Response:
    """RetrieveOrder: ``{"order": {...}}`` (404 for another seller's order)."""
    merchant = require_merchant(request)
    order = merchant.orders.get(request.match_info["id"])
    if order is None:
        raise not_found("Order", request.match_info["id"])
    return web.json_response({"order": order})


async def batch_retrieve_orders(request: web.Request) -> web.Response:
    """BatchRetrieveOrders: the known ones of ``order_ids`` (unknown ids are left out)."""
    merchant = require_merchant(request)
    body = await json_object(request)
    ids = body.get("order_ids")
    if not isinstance(ids, list) or not ids:
        raise bad_value("order_ids", "Expected a non-empty array", "ARRAY_EMPTY")
    if len(ids) > BATCH_MAX:
        raise bad_value("order_ids", f"At most {BATCH_MAX} ids", "ARRAY_LENGTH_TOO_LONG")
    location = body.get("location_id")
    orders = [
        merchant.orders[i]
        for i in dict.fromkeys(map(str, ids))
        if i in merchant.orders
        and (location is None or merchant.orders[i]["location_id"] == location)
    ]
    return web.json_response({"orders": orders} if orders else {})


def _filtered(orders: list[Json], query: dict[str, Any]) -> list[Json]:
    filt = query.get("filter") or {}
    states = (filt.get("state_filter") or {}).get("states")
    if states:
        orders = [o for o in orders if o["state"] in states]
    dt = filt.get("date_time_filter") or {}
    for name in ("created_at", "updated_at", "closed_at"):
        span = dt.get(name)
        if span:
            begin = paging.when(span.get("start_at"), f"query.filter.date_time_filter.{name}")
            end = paging.when(span.get("end_at"), f"query.filter.date_time_filter.{name}")
            orders = [
                o for o in orders if paging.in_range(o.get(name), begin, end, end_inclusive=True)
            ]
    customers = (filt.get("customer_filter") or {}).get("customer_ids")
    if customers:
        orders = [o for o in orders if o.get("customer_id") in customers]
    return orders


async def search_orders(request: web.Request) -> web.Response:
    """SearchOrders over ``location_ids``: state, date-time and customer filters, sort, cursor."""
    merchant = require_merchant(request)
    body = await json_object(request, required=False)
    locations = body.get("location_ids")
    if not isinstance(locations, list) or not locations:
        raise bad_value("location_ids", "Expected a non-empty array", "ARRAY_EMPTY")
    query = body.get("query") or {}
    sort = query.get("sort") or {}
    field = sort.get("sort_field", "CREATED_AT")
    if field not in SORT_FIELDS:
        raise bad_value(
            "query.sort.sort_field", f"Invalid sort field `{field}`", "INVALID_ENUM_VALUE"
        )
    order = paging.sort_order(sort.get("sort_order"), "DESC", "query.sort.sort_order")
    limit = paging.limit_of(
        body.get("limit"), default=SEARCH_DEFAULT_LIMIT, maximum=SEARCH_MAX_LIMIT
    )
    found = _filtered([o for o in merchant.orders.values() if o["location_id"] in locations], query)
    found = paging.sorted_by(found, SORT_FIELDS[field], order)
    entries = bool(body.get("return_entries"))
    if entries:
        found = [
            {"order_id": o["id"], "version": o["version"], "location_id": o["location_id"]}
            for o in found
        ]
    params: Json = {"m": merchant.merchant_id, "l": locations, "q": query, "e": entries}
    answer = paging.page(
        found,
        "order_entries" if entries else "orders",
        kind="orders",
        params=params,
        cursor=body.get("cursor"),
        limit=limit,
    )
    return web.json_response(answer)
