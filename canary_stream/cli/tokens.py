"""``canary-stream tokens create|revoke|list``: bearer tokens for proofs, MCP and status."""

from __future__ import annotations

import uuid

import typer
from rich.console import Console
from rich.table import Table

from canary_stream.cli.common import database, one_line_errors, run, settings

app = typer.Typer(help="Create, revoke and list API bearer tokens.", no_args_is_help=True)


@app.command()
@one_line_errors
def create(
    scope: str = typer.Option(..., "--scope", help="proofs, mcp or status"),
    merchant: str | None = typer.Option(
        None, "--merchant", help="Our merchant UUID or Square's id; none = operator token"
    ),
) -> None:
    """Create a token and print it once (only its SHA-256 is stored).

    Example: canary-stream tokens create --scope proofs --merchant ML123
    """
    from canary_stream.db.api_tokens import create_token
    from canary_stream.db.merchants import resolve

    cfg = settings()

    async def go() -> str:
        async with database(cfg) as engine, engine.begin() as conn:
            merchant_id: uuid.UUID | None = None
            if merchant is not None:
                merchant_id = (await resolve(conn, merchant)).merchant_id
            return await create_token(conn, scope, merchant_id)

    print(run(go()))


@app.command()
@one_line_errors
def revoke(
    token: str = typer.Argument(..., help="The token, or 8+ hex characters of its hash"),
) -> None:
    """Revoke a token at once.  Example: canary-stream tokens revoke 3f2a9c01d4e5"""
    from canary_stream.db.api_tokens import revoke_token

    cfg = settings()

    async def go() -> str:
        async with database(cfg) as engine, engine.begin() as conn:
            row = await revoke_token(conn, token)
        who = str(row.merchant_id) if row.merchant_id else "operator"
        return f"revoked {row.hash_prefix} ({row.scope}, {who})"

    print(run(go()))


@app.command("list")
@one_line_errors
def list_() -> None:
    """List tokens by hash prefix (tokens themselves are never stored).

    Example: canary-stream tokens list
    """
    from canary_stream.db.api_tokens import list_tokens

    cfg = settings()

    async def go() -> list:
        async with database(cfg) as engine, engine.connect() as conn:
            return await list_tokens(conn)

    table = Table("hash", "scope", "merchant", "created", "revoked")
    for t in run(go()):
        table.add_row(
            t.hash_prefix,
            t.scope,
            str(t.merchant_id) if t.merchant_id else "operator",
            t.created_at.isoformat(timespec="seconds"),
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "-",
        )
    Console().print(table)
