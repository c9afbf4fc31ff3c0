"""``canary-stream merchants add|list``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from canary_stream.cli.common import database, one_line_errors, run, settings

app = typer.Typer(help="Onboard and list merchants.", no_args_is_help=True)


@app.command()
@one_line_errors
def add(
    square_merchant_id: str = typer.Option(
        ..., "--square-merchant-id", help="Square's merchant id"
    ),
    currency: str = typer.Option("USD", help="ISO 4217 currency of the merchant"),
    timezone: str = typer.Option("UTC", help="IANA time zone, e.g. America/New_York"),
) -> None:
    """Add a merchant and print its UUID.

    Example: canary-stream merchants add --square-merchant-id ML123
    """
    from canary_stream import topics
    from canary_stream.db.merchants import add_merchant
    from canary_stream.kafka import publish

    cfg = settings()

    async def go() -> str:
        async with database(cfg) as engine, engine.begin() as conn:
            config, _ = await add_merchant(conn, square_merchant_id, currency.upper(), timezone)
        await publish(
            cfg, cfg.topic(topics.MERCHANT_CONFIG), str(config.merchant_id).encode(), [config]
        )
        return str(config.merchant_id)

    print(run(go()))


@app.command("list")
@one_line_errors
def list_() -> None:
    """List every merchant.  Example: canary-stream merchants list"""
    from canary_stream.db.merchants import all_merchants

    cfg = settings()

    async def go() -> list:
        async with database(cfg) as engine, engine.connect() as conn:
            return await all_merchants(conn)

    table = Table("merchant_id", "square_merchant_id", "status", "currency", "timezone")
    for m in run(go()):
        table.add_row(str(m.merchant_id), m.provider_merchant_id, m.status, m.currency, m.timezone)
    Console().print(table)
