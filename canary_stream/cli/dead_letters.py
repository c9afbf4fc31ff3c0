"""``canary-stream dead-letters list``."""

from __future__ import annotations

import json

import typer

from canary_stream.cli.common import one_line_errors, run, settings

app = typer.Typer(help="Inspect dead letters.", no_args_is_help=True)


@app.command("list")
@one_line_errors
def list_(
    reason: str | None = typer.Option(None, help="Only this reason, e.g. unparseable"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table"),
) -> None:
    """List dead letters (never their bytes).

    Example: canary-stream dead-letters list --reason unparseable
    """
    from rich.console import Console
    from rich.table import Table

    from canary_stream.dead_letters import read_dead_letters

    letters = [
        d for d in run(read_dead_letters(settings())) if reason is None or d.reason == reason
    ]
    rows = [
        {
            "at": d.model_dump(mode="json")["at"],
            "stage": d.stage,
            "reason": d.reason,
            "event_id": str(d.event_id) if d.event_id else None,
            "merchant_id": str(d.merchant_id) if d.merchant_id else None,
            "replayable": d.replayable,
            "error": d.error,
        }
        for d in letters
    ]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table("at", "stage", "reason", "event_id", "merchant_id", "replayable", "error")
    for row in rows:
        table.add_row(*[str(row[k] if row[k] is not None else "-") for k in table_columns()])
    Console().print(table)
    print(f"{len(rows)} dead letter(s)")


def table_columns() -> list[str]:
    """The columns of the table view, in order."""
    return ["at", "stage", "reason", "event_id", "merchant_id", "replayable", "error"]
