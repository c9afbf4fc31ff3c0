"""``canary-stream db upgrade|downgrade``: schema migrations, run as the owner role."""

from __future__ import annotations

import typer

from canary_stream.db import migrate
from canary_stream.errors import CanaryError
from canary_stream.settings import get_settings

app = typer.Typer(help="Database schema migrations (run as the owner role).", no_args_is_help=True)


def _fail(exc: CanaryError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _confirmed(revision: str) -> bool:
    try:
        return typer.confirm(
            f"Downgrade to {revision}? Tables it drops lose their rows, evidence included.",
            err=True,
        )
    except typer.Abort:  # no terminal to answer on
        return False


@app.command()
def upgrade(
    revision: str = typer.Option("head", "--revision", "-r", help="Target revision."),
) -> None:
    """Upgrade the schema (default: to the newest revision)."""
    try:
        at = migrate.upgrade(get_settings(), revision)
    except CanaryError as exc:
        raise _fail(exc) from None
    typer.echo(f"database at revision {at or 'base'}")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Target revision; 'base' drops every table."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Downgrade the schema to REVISION, dropping what later revisions created (data included)."""
    if not yes and not _confirmed(revision):
        typer.echo("error: downgrade not confirmed (pass --yes)", err=True)
        raise typer.Exit(1)
    try:
        at = migrate.downgrade(get_settings(), revision)
    except CanaryError as exc:
        raise _fail(exc) from None
    typer.echo(f"database at revision {at or 'base'}")
