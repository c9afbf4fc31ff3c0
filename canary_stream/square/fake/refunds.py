"""Refunds API: ListPaymentRefunds (seller token)."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake.listing import field, list_created


def add_routes(app: web.Application) -> None:
    """Register the Refunds endpoints."""
    app.router.add_get("/v2/refunds", list_payment_refunds)


async def list_payment_refunds(request: web.Request) -> web.Response:
    """ListPaymentRefunds: by ``created_at`` (DESC by default), status/source/location filters."""
    filters = {
        "location_id": field("location_id"),
        "status": field("status"),
        "source_type": field("destination_type"),
    }
    return list_created(request, lambda m: m.refunds.values(), "refunds", filters)
