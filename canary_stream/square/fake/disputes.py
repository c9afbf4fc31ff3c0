"""Disputes API: ListDisputes (seller token), newest first, fixed page size."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import require_merchant

#: Square's ListDisputes takes no ``limit``; it answers pages of this size.
PAGE_SIZE = 50
#: States ListDisputes returns when ``states`` is not given (Square: the open ones).
OPEN_STATES = ("INQUIRY_EVIDENCE_REQUIRED", "INQUIRY_PROCESSING", "EVIDENCE_REQUIRED", "PROCESSING")


def add_routes(app: web.Application) -> None:
    """Register the Disputes endpoints."""
    app.router.add_get("/v2/disputes", list_disputes)


async def list_disputes(request: web.Request) -> web.Response:
    """ListDisputes: ``states`` (comma-separated; default every state) and ``location_id``.

    Square defaults to the open states; the fake lists every state unless told, so an
    initial sync sees closed disputes too (documented in docs/fake-square.md).
    """
    merchant = require_merchant(request)
    q = paging.query(request)
    states = [s for s in (q.get("states") or "").split(",") if s]
    found = [
        d
        for d in merchant.disputes.values()
        if (not states or d["state"] in states)
        and (not q.get("location_id") or d.get("location_id") == q["location_id"])
    ]
    answer = paging.page(
        paging.sorted_by(found, "created_at", "DESC"),
        "disputes",
        kind="disputes",
        params={"m": merchant.merchant_id, "s": states, "l": q.get("location_id")},
        cursor=q.get("cursor"),
        limit=PAGE_SIZE,
    )
    return web.json_response(answer)
