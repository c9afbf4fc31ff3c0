"""The ``canary-stream`` console script: one module per command group."""

from __future__ import annotations

import importlib
import json

import typer
from rich.console import Console
from rich.table import Table

from canary_stream.cli.common import fail, one_line_errors, run, settings

app = typer.Typer(
    help="canary-stream: Square webhooks → sealed evidence → sales ledger → alerts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Command groups: (module under canary_stream.cli, group name).
GROUPS = [
    ("stack", "stack"),
    ("db", "db"),
    ("topics", "topics"),
    ("merchants", "merchants"),
    ("webhooks", "webhooks"),
    ("verify", "verify"),
    ("dead_letters", "dead-letters"),
    ("replay", "replay"),
    ("simulate", "simulate"),
    ("fake_square", "fake-square"),
    ("keys", "keys"),
    ("tokens", "tokens"),
    ("proof", "proof"),
    ("customers", "customers"),
    ("mcp", "mcp"),
    ("identities", "identities"),
    ("rules", "rules"),
]
for module_name, group in GROUPS:
    module = importlib.import_module(f"canary_stream.cli.{module_name}")
    app.add_typer(module.app, name=group)


app.command("tail")(importlib.import_module("canary_stream.cli.tail").tail)
app.command("lag")(importlib.import_module("canary_stream.cli.lag").lag)


@app.command()
@one_line_errors
def worker(
    app_name: str = typer.Option(..., "--app", help="seal, parse, detect or customers"),
) -> None:
    """Run one stage app in the foreground.  Example: canary-stream worker --app seal"""
    from canary_stream.worker import run_worker

    run_worker(app_name, settings())


@app.command()
@one_line_errors
def ingress() -> None:
    """Run the webhook ingress in the foreground.  Example: canary-stream ingress"""
    from canary_stream.ingress.app import serve

    serve(settings())


@app.command()
@one_line_errors
def up(
    wait: float = typer.Option(90.0, help="Seconds to wait for every /health/ready"),
) -> None:
    """Start the ingress and the four stage apps in the background.  Example: canary-stream up"""
    from canary_stream.kafka import check_topics
    from canary_stream.processes import start_all, status_all
    from canary_stream.readiness import wait_ready

    cfg = settings()
    problems = run(check_topics(cfg))
    if problems:
        raise fail("; ".join(p.line() for p in problems))
    start_all(cfg)
    pending = wait_ready(cfg, timeout=wait)
    _print_ps(status_all(cfg))
    if pending:
        raise fail(f"not ready after {wait:.0f}s: {', '.join(pending)} (see 'canary-stream logs')")


@app.command()
@one_line_errors
def down() -> None:
    """Stop what 'canary-stream up' started (by pid file).  Example: canary-stream down"""
    from canary_stream.processes import stop_all

    stopped = stop_all(settings())
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command()
@one_line_errors
def ps(as_json: bool = typer.Option(False, "--json", help="Print a JSON list")) -> None:
    """Show the application processes.  Example: canary-stream ps --json"""
    from canary_stream.processes import status_all

    statuses = status_all(settings())
    if as_json:
        print(json.dumps([s.as_dict() for s in statuses]))
    else:
        _print_ps(statuses)


def _print_ps(statuses: list) -> None:
    table = Table("name", "pid", "alive", "url")
    for s in statuses:
        table.add_row(s.name, str(s.pid or "-"), "yes" if s.alive else "no", s.url)
    Console().print(table)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
