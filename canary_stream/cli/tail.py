"""``canary-stream tail TOPIC [--merchant M] [--from-beginning]``."""

from __future__ import annotations

import asyncio
import json

import typer

from canary_stream.cli.common import database, one_line_errors, settings


@one_line_errors
def tail(
    topic: str = typer.Argument(..., help="Full topic name, e.g. canary.detection"),
    merchant: str | None = typer.Option(None, help="Only this merchant (UUID or Square id)"),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Start at the oldest"),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Keep waiting for new records"),
    with_meta: bool = typer.Option(False, "--meta", help="Wrap values with partition and offset"),
) -> None:
    """Print records as JSON lines (Ctrl-C stops).

    Example: canary-stream tail canary.detection --from-beginning --merchant ML123
    """
    from canary_stream.db.merchants import resolve
    from canary_stream.tail import tail as tail_topic

    cfg = settings()

    async def go() -> None:
        merchant_id = None
        if merchant is not None:
            async with database(cfg) as engine, engine.connect() as conn:
                merchant_id = str((await resolve(conn, merchant)).merchant_id)
        async for item in tail_topic(
            cfg, topic, merchant_id=merchant_id, from_beginning=from_beginning, follow=follow
        ):
            print(json.dumps(item if with_meta else item["value"]), flush=True)

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass
