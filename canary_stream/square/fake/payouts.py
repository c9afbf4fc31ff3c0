"""Payouts API: ListPayouts (seller token), by ``created_at`` (DESC by default)."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake.listing import field, list_created


def add_routes(app: web.Application) -> None:
    """Register the Payouts endpoints."""
    app.router.add_get("/v2/payouts", list_payouts)


async def list_payouts(request: web.Request) -> web.Response:
    """ListPayouts: ``location_id``, ``status``, ``begin_time``/``end_time`` on ``created_at``."""
    filters = {"location_id": field("location_id"), "status": field("status")}
    return list_created(request, lambda m: m.payouts.values(), "payouts", filters)
