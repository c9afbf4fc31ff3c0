"""``canary-stream webhooks add|list``: the application keyring of signature keys."""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime

import typer

from canary_stream.cli.common import database, fail, one_line_errors, run, settings

app = typer.Typer(
    help="Manage webhook signature keys (the application keyring).", no_args_is_help=True
)


@app.command()
@one_line_errors
def add(
    notification_url: str = typer.Option(
        ..., "--notification-url", help="URL registered with Square"
    ),
    key_id: str | None = typer.Option(None, "--key-id", help="Name for the key (default: derived)"),
) -> None:
    """Store a signature key read from standard input (a subscription made in Square's dashboard).

    Example: printf '%s' "$SIGNATURE_KEY" | canary-stream webhooks add --notification-url https://example.com/webhooks/square
    """
    from canary_stream.db.signing_keys import add_key
    from canary_stream.evidence.crypto import KeyRing

    secret = sys.stdin.buffer.read().strip()
    if not secret:
        raise fail(
            "no signature key on standard input; pipe it in, e.g. printf '%s' \"$KEY\" | ..."
        )
    name = (
        key_id
        or "sq-" + hashlib.sha256(notification_url.encode() + b"\n" + secret).hexdigest()[:12]
    )
    cfg = settings()
    ring = KeyRing(cfg.encryption_ring())

    async def go() -> None:
        async with database(cfg) as engine, engine.begin() as conn:
            await add_key(conn, ring, name, notification_url, secret, datetime.now(UTC))

    try:
        run(go())
    except Exception as exc:
        if "duplicate key" in str(exc) or "UniqueViolation" in type(exc.__cause__ or exc).__name__:
            raise fail(f"key {name} is already in the keyring") from None
        raise
    print(f"added key {name} for {notification_url}")


@app.command("list")
@one_line_errors
def list_() -> None:
    """List the keyring (ids, URLs and active periods; never the secrets).  Example: canary-stream webhooks list"""
    from rich.console import Console
    from rich.table import Table

    from canary_stream.db.signing_keys import load_keys
    from canary_stream.evidence.crypto import KeyRing

    cfg = settings()
    ring = KeyRing(cfg.encryption_ring())

    async def go() -> list:  # type: ignore[type-arg]
        async with database(cfg) as engine, engine.connect() as conn:
            return await load_keys(conn, ring)

    now = datetime.now(UTC)
    table = Table("key_id", "notification_url", "active_from", "active_until", "active")
    for k in run(go()):
        table.add_row(
            k.key_id,
            k.notification_url,
            k.active_from.isoformat(),
            k.active_until.isoformat() if k.active_until else "-",
            "yes" if k.active_at(now) else "no",
        )
    Console().print(table)
