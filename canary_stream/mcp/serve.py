"""The two transports of ``canary-identity``: streamable HTTP (bearer token) and stdio (flag).

Over HTTP every tool call authenticates the request's ``Authorization: Bearer`` token
(``app.api_tokens``, scope ``mcp``, a merchant token); a missing, unknown, revoked or
other-scope token makes the call an ``unauthorized`` tool error. Over stdio the merchant is
the one the operator named on the command line.
"""

from __future__ import annotations

from uuid import UUID

from mcp.server.mcpserver import Context, MCPServer
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from canary_stream.db.api_tokens import authenticate
from canary_stream.db.engine import make_engine
from canary_stream.mcp.server import IdentityError, MerchantScope, build_server
from canary_stream.settings import Settings, decode_key_ring

HTTP_PATH = "/mcp/identity"
SCOPE = "mcp"


def card_keys(cfg: Settings) -> dict[str, bytes]:
    """The card hash key ring (every version; empty when unset)."""
    return decode_key_ring(cfg.card_hash_keys.get_secret_value(), what="CANARY_CARD_HASH_KEYS")


def fixed_scope(merchant_id: UUID) -> MerchantScope:
    """Every call speaks for ``merchant_id`` (stdio)."""

    async def scope(ctx: Context) -> UUID:
        return merchant_id

    return scope


def bearer_scope(engine: AsyncEngine) -> MerchantScope:
    """Every call speaks for the merchant of its bearer token (HTTP)."""

    async def scope(ctx: Context) -> UUID:
        headers = ctx.headers or {}
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise IdentityError("unauthorized")
        async with engine.connect() as conn:
            identity = await authenticate(conn, token, SCOPE)
        if identity is None or identity.merchant_id is None:
            raise IdentityError("unauthorized")
        return identity.merchant_id

    return scope


async def serve_stdio(cfg: Settings, merchant_id: UUID) -> None:
    """Serve over stdin / stdout for one merchant until the client closes."""
    engine = make_engine(cfg, pool_size=2, max_overflow=0, application_name="canary-mcp")
    try:
        await build_server(engine, card_keys(cfg), fixed_scope(merchant_id)).run_stdio_async()
    finally:
        await engine.dispose()


def http_server(engine: AsyncEngine, cfg: Settings) -> MCPServer:
    """The server whose calls are scoped by bearer tokens, with ``/health`` routes (no data)."""
    server = build_server(engine, card_keys(cfg), bearer_scope(engine))

    @server.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @server.custom_route("/health/ready", methods=["GET"])
    async def ready(request: Request) -> Response:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, OSError):
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return server


async def serve_http(cfg: Settings, host: str, port: int) -> None:
    """Serve streamable HTTP at ``/mcp/identity`` until stopped."""
    import uvicorn

    engine = make_engine(cfg, application_name="canary-mcp")
    try:
        app = http_server(engine, cfg).streamable_http_app(
            streamable_http_path=HTTP_PATH, stateless_http=True, host=host
        )
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        await uvicorn.Server(config).serve()
    finally:
        await engine.dispose()
