"""The fake Square app: Square's error shape, bearer auth, injected faults, route families.

An API family is a module with ``add_routes(app)`` listed in :data:`FAMILIES`; its state is
a store on :class:`~canary_stream.square.fake.store.FakeSquareState`.

Faults, for tests and benchmarks (each matching request answers Square's error shape):
- app state: ``state.faults.inject(Fault(503, times=2, retry_after=1))``;
- over HTTP: ``POST /_fake/faults`` with ``{"status": 429, "times": 1, "retry_after": 1,
  "path_prefix": "/v2/webhooks", "delay": 0, "merchant_id": "ML..."}`` (``merchant_id``:
  only calls made with that seller's token); ``DELETE /_fake/faults`` clears them;
- per request: header ``X-Fake-Square-Fault: 500`` or ``429; retry-after=2``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from canary_stream.square.fake import (
    cash_drawers,
    control,
    customers,
    disputes,
    locations,
    loyalty,
    oauth,
    orders,
    payments,
    payouts,
    refunds,
    team,
    webhooks,
)
from canary_stream.square.fake.context import STATE_KEY, authenticate, json_object
from canary_stream.square.fake.errors import SquareFault, bad_value
from canary_stream.square.fake.store import FakeSquareState, Fault

log = logging.getLogger(__name__)

#: Route families served; a new API (orders, payments, locations...) is one more module here.
FAMILIES: tuple[Callable[[web.Application], None], ...] = (
    webhooks.add_routes,
    oauth.add_routes,
    orders.add_routes,
    payments.add_routes,
    refunds.add_routes,
    cash_drawers.add_routes,
    locations.add_routes,
    team.add_routes,
    customers.add_routes,
    loyalty.add_routes,
    disputes.add_routes,
    payouts.add_routes,
    control.add_routes,
)

FAULT_HEADER = "X-Fake-Square-Fault"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _header_fault(value: str) -> Fault:
    """Parse ``X-Fake-Square-Fault: 503`` or ``429; retry-after=2``."""
    status_text, *options = [p.strip() for p in value.split(";")]
    try:
        fault = Fault(status=int(status_text))
        for option in options:
            name, _, number = option.partition("=")
            if name.strip().lower() == "retry-after":
                fault.retry_after = float(number)
            elif name.strip().lower() == "delay":
                fault.delay = float(number)
    except ValueError:
        raise bad_value(FAULT_HEADER, f"Bad {FAULT_HEADER} header `{value}`") from None
    return fault


async def _serve_fault(fault: Fault) -> web.StreamResponse | None:
    """Sleep for the fault's delay, then its error (None if it only delays)."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.status < 400:
        return None
    return SquareFault(
        fault.status, "Injected failure from the fake Square.", retry_after=fault.retry_after
    ).response()


@web.middleware
async def square_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors in Square's shape; bearer auth on ``/v2/`` and ``/_fake/``; injected faults."""
    state = request.app[STATE_KEY]
    try:
        caller = None
        # OAuth endpoints authenticate the application themselves (client secret in the body
        # or ``Authorization: Client SECRET``), as Square's do.
        if request.path not in HEALTH_PATHS and not request.path.startswith("/oauth2/"):
            caller = authenticate(state, request.headers.get("Authorization"))
        if request.path.startswith("/v2/"):
            fault = (
                _header_fault(request.headers[FAULT_HEADER])
                if FAULT_HEADER in request.headers
                else state.faults.take(request.path, caller)
            )
            if fault is not None:
                answer = await _serve_fault(fault)
                if answer is not None:
                    return answer
        return await handler(request)
    except SquareFault as fault:
        return fault.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return SquareFault(exc.status, exc.reason).response()
    except Exception:
        log.exception("fake Square handler failed on %s %s", request.method, request.path)
        return SquareFault(500, "The fake Square failed; see its log.").response()


# Control endpoints (not part of Square) -----------------------------------------------
HEALTH_PATHS = ("/_fake/health", "/_fake/health/ready")


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _inject(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        fault = Fault(
            status=int(body.get("status", 500)),
            times=int(body.get("times", 1)),
            path_prefix=str(body.get("path_prefix", "/v2/")),
            retry_after=None if body.get("retry_after") is None else float(body["retry_after"]),
            delay=float(body.get("delay", 0.0)),
            merchant_id=None if body.get("merchant_id") is None else str(body["merchant_id"]),
        )
    except (TypeError, ValueError):
        raise bad_value("fault", "status, times, retry_after and delay must be numbers") from None
    request.app[STATE_KEY].faults.inject(fault)
    return web.json_response({"pending": len(request.app[STATE_KEY].faults.pending)})


async def _clear(request: web.Request) -> web.Response:
    request.app[STATE_KEY].faults.clear()
    return web.json_response({"pending": 0})


def make_fake_square(state: FakeSquareState) -> web.Application:
    """An aiohttp app serving ``state`` the way Square's REST API would."""
    app = web.Application(middlewares=[square_middleware])
    app[STATE_KEY] = state
    for add_routes in FAMILIES:
        add_routes(app)
    for path in HEALTH_PATHS:  # /_fake/health/ready: what `canary-stream up` waits for
        app.router.add_get(path, _health)
    app.router.add_post("/_fake/faults", _inject)
    app.router.add_delete("/_fake/faults", _clear)
    return app


def serve(state: FakeSquareState, host: str, port: int) -> None:
    """Run the fake in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web.run_app(
        make_fake_square(state),
        host=host,
        port=port,
        access_log=None,
        print=lambda _: print(f"fake Square listening on http://{host}:{port}", flush=True),
    )
