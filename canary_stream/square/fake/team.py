"""Team API: SearchTeamMembers (seller token): status, location and owner filters, cursor."""

from __future__ import annotations

from aiohttp import web

from canary_stream.square.fake import paging
from canary_stream.square.fake.context import json_object, require_merchant
from canary_stream.square.fake.errors import bad_value

DEFAULT_LIMIT = 100
MAX_LIMIT = 200
STATUSES = ("ACTIVE", "INACTIVE")


def add_routes(app: web.Application) -> None:
    """Register the Team endpoints."""
    app.router.add_post("/v2/team-members/search", search_team_members)


async def search_team_members(request: web.Request) -> web.Response:
    """SearchTeamMembers: ``{"team_members": [...], "cursor"?}`` in creation order."""
    merchant = require_merchant(request)
    body = await json_object(request, required=False)
    filt = (body.get("query") or {}).get("filter") or {}
    status = filt.get("status")
    if status is not None and status not in STATUSES:
        raise bad_value("query.filter.status", f"Invalid status `{status}`", "INVALID_ENUM_VALUE")
    locations = filt.get("location_ids")
    known = {loc["id"] for loc in merchant.locations}
    found = [
        t
        for t in merchant.team_members
        if (status is None or t["status"] == status)
        and (filt.get("is_owner") is None or t["is_owner"] == filt["is_owner"])
        and (not locations or known.intersection(locations))
    ]
    answer = paging.page(
        found,
        "team_members",
        kind="team_members",
        params={"m": merchant.merchant_id, "f": filt},
        cursor=body.get("cursor"),
        limit=paging.limit_of(body.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT),
    )
    return web.json_response(answer)
