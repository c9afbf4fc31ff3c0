"""``canary-stream mcp serve|identity``: the identity MCP server over HTTP or stdio."""

from __future__ import annotations

import uuid

import typer

from canary_stream.cli.common import database, one_line_errors, run, settings

app = typer.Typer(
    help="The identity MCP server (canary-identity), read-only.", no_args_is_help=True
)


@app.command()
@one_line_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int | None = typer.Option(None, "--port", help="Port (default CANARY_MCP_PORT)"),
) -> None:
    """Serve streamable HTTP at /mcp/identity; calls need a bearer token of scope mcp.

    Example: canary-stream mcp serve --port 8092
    """
    from canary_stream.mcp.serve import serve_http

    cfg = settings()
    run(serve_http(cfg, host, port if port is not None else cfg.mcp_port))


@app.command()
@one_line_errors
def identity(
    merchant: str = typer.Option(..., "--merchant", help="Our merchant UUID or Square's id"),
) -> None:
    """Serve over stdio for one merchant (for a local MCP client).

    Example: canary-stream mcp identity --merchant ML123
    """
    from canary_stream.db.merchants import resolve
    from canary_stream.mcp.serve import serve_stdio

    cfg = settings()

    async def merchant_id() -> uuid.UUID:
        async with database(cfg) as engine, engine.connect() as conn:
            return (await resolve(conn, merchant)).merchant_id

    run(serve_stdio(cfg, run(merchant_id())))
