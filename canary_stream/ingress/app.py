"""The ingress process: ``POST /webhooks/square`` plus health and metrics, one aiohttp app.

Start order (``cleanup_ctx``, each outliving the ones after it): database engine → producer
→ merchant directory and keyring. The webhook view is in :mod:`canary_stream.ingress.views`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from canary_stream.db.engine import make_engine
from canary_stream.ingress import keys, proofs, status
from canary_stream.ingress.directory import Keyring, MerchantDirectory
from canary_stream.ingress.views import WebhookGate, webhook
from canary_stream.kafka import make_producer, require_topics
from canary_stream.observability.logging import configure_logging
from canary_stream.settings import Settings

log = logging.getLogger("canary.ingress")


def make_app(settings: Settings) -> web.Application:
    """Build the ingress application (nothing connects until it starts)."""
    app = web.Application(client_max_size=settings.ingress_hard_cap_bytes + 1)
    app[keys.SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    app.router.add_post("/webhooks/square", webhook)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/metrics", metrics)
    proofs.setup_proofs(app)
    status.setup_status(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    await require_topics(settings, ["events", "dead-letter", "merchant-config"])
    engine = make_engine(settings)
    producer = make_producer(settings)
    directory = MerchantDirectory(settings, engine)
    keyring = Keyring(settings, engine)
    await producer.start()
    gate = WebhookGate(settings, producer, directory, keyring)
    try:
        await directory.start()
        await keyring.refresh()
        app[keys.ENGINE] = engine
        app[keys.GATE] = gate
        yield
    finally:
        await directory.stop()
        await gate.producer.stop()  # the gate may have replaced the producer it was given
        await engine.dispose()


async def live(request: web.Request) -> web.Response:
    """The process is up."""
    return web.json_response({"status": "live", "app": "ingress"})


async def ready(request: web.Request) -> web.Response:
    """Broker and database reachable, merchant snapshot loaded."""
    gate = request.app[keys.GATE]
    checks = {"merchant_snapshot": gate.directory.loaded.is_set(), "database": False}
    try:
        async with asyncio.timeout(2):
            async with request.app[keys.ENGINE].connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:  # readiness reports, it never raises
        checks["database"] = False
    client = gate.producer.client
    checks["broker"] = bool(client.cluster.brokers())
    ok = all(checks.values())
    return web.json_response(
        {"status": "ready" if ok else "not_ready", "app": "ingress", "checks": checks},
        status=200 if ok else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def serve(settings: Settings) -> None:
    """Run the ingress until interrupted; several may share the port (``reuse_port``)."""
    configure_logging("ingress")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.ingress_host, settings.ingress_port))
    # keepalive_timeout also bounds a client that stalls in its headers (slowloris).
    web.run_app(
        make_app(settings),
        sock=sock,
        print=None,
        access_log=None,
        keepalive_timeout=settings.ingress_read_timeout_seconds,
    )
