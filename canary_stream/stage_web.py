"""``/health/live``, ``/health/ready`` and ``/metrics`` on every stage app's Faust web server."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

if TYPE_CHECKING:
    from canary_stream.apps import StageContext


async def readiness(app: faust.App, ctx: StageContext) -> dict[str, bool]:
    """Each readiness condition of operations.md and whether it holds."""
    checks: dict[str, bool] = {}
    try:
        async with asyncio.timeout(2):
            async with ctx.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:  # readiness reports, it never raises
        checks["database"] = False
    consumer: Any = app.consumer
    try:
        assigned = bool(consumer.assignment())
    except Exception:
        assigned = False
    checks["partitions_assigned"] = assigned
    checks["broker"] = assigned and not app.rebalancing
    recovery: Any = cast(Any, app.tables).recovery
    checks["tables_recovered"] = bool(recovery.completed.is_set()) and not recovery.in_recovery
    for name, holds in ctx.ready_checks.items():
        checks[name] = holds()
    return checks


def install_health(app: faust.App, ctx: StageContext) -> None:
    """Register the health and metrics views of a stage app."""

    @app.page("/health/live")
    class Live(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "live", "app": app.conf.id})

    @app.page("/health/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            checks = await readiness(app, ctx)
            ok = all(checks.values())
            return self.json(
                {"status": "ready" if ok else "not_ready", "app": app.conf.id, "checks": checks},
                status=200 if ok else 503,
            )

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
