"""Customers API: ListCustomers (seller token), by creation or name, cursor paginated."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import require_merchant
from canary_stream.square.fake.errors import bad_value
from canary_stream.square.fake.store import Json

DEFAULT_LIMIT = 100
MAX_LIMIT = 100


def add_routes(app: web.Application) -> None:
    """Register the Customers endpoints."""
    app.router.add_get("/v2/customers", list_customers)


def _name(c: Json) -> str:
    return f"{c.get('given_name', '')} {c.get('family_name', '')}".strip().lower()


async def list_customers(request: web.Request) -> web.Response:
    """ListCustomers: ``sort_field`` CREATED_AT or DEFAULT (by name), ``count`` adds the total."""
    merchant = require_merchant(request)
    q = paging.query(request)
    field = q.get("sort_field") or "DEFAULT"
    if field not in ("DEFAULT", "CREATED_AT"):
        raise bad_value("sort_field", f"Invalid sort field `{field}`", "INVALID_ENUM_VALUE")
    order = paging.sort_order(q.get("sort_order"), "ASC")
    everyone = list(merchant.customers.values())
    if field == "CREATED_AT":
        ordered = paging.sorted_by(everyone, "created_at", order)
    else:
        ordered = sorted(everyone, key=lambda c: (_name(c), c["id"]), reverse=order == "DESC")
    answer = paging.page(
        ordered,
        "customers",
        kind="customers",
        params={"m": merchant.merchant_id, "f": field, "o": order},
        cursor=q.get("cursor"),
        limit=paging.limit_of(q.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    if q.get("count") == "true":
        answer["count"] = len(ordered)
    return web.json_response(answer)
