"""Locations API: ListLocations (seller token; every location, alphabetically, one page)."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake.context import require_merchant


def add_routes(app: web.Application) -> None:
    """Register the Locations endpoints."""
    app.router.add_get("/v2/locations", list_locations)


async def list_locations(request: web.Request) -> web.Response:
    """ListLocations: ``{"locations": [...]}``."""
    return web.json_response({"locations": require_merchant(request).locations})
