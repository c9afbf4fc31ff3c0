"""The fake's ``GET`` List endpoints over ``created_at``: Payments, Refunds and Payouts.

Each takes ``begin_time``/``end_time`` (RFC 3339, ``[begin, end)`` on ``created_at``),
``sort_order`` (DESC by default), equality filters of its own, ``cursor`` and ``limit``; the
cursor is bound to every one of those parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import require_merchant
from canary_stream.square.fake.merchants import MerchantData
from canary_stream.square.fake.store import Json

DEFAULT_LIMIT = 100
MAX_LIMIT = 100

#: A query parameter's filter: the record's value it must equal (when the parameter is set).
Filters = Mapping[str, Callable[[Json], object]]


def field(name: str) -> Callable[[Json], object]:
    """The filter on one top-level field of the record."""
    return lambda record: record[name]


def list_created(
    request: web.Request,
    records_of: Callable[[MerchantData], Iterable[Json]],
    key: str,
    filters: Filters,
) -> web.Response:
    """``{key: [...], "cursor"?}``: ``records_of(seller)`` in the window, filtered, one page."""
    merchant = require_merchant(request)
    q = paging.query(request)
    begin, end = (
        paging.when(q.get("begin_time"), "begin_time"),
        paging.when(q.get("end_time"), "end_time"),
    )
    order = paging.sort_order(q.get("sort_order"), "DESC")
    found = [
        r
        for r in records_of(merchant)
        if paging.in_range(r["created_at"], begin, end)
        and all(not q.get(name) or value(r) == q[name] for name, value in filters.items())
    ]
    params = {k: q.get(k) for k in ("begin_time", "end_time", "sort_order", *filters)}
    answer = paging.page(
        paging.sorted_by(found, "created_at", order),
        key,
        kind=key,
        params={"m": merchant.merchant_id, **params},
        cursor=q.get("cursor"),
        limit=paging.limit_of(q.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)
