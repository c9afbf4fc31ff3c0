"""``canary-stream lag``: consumer lag of every stage group (see :mod:`canary_stream.lag`)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import typer

from canary_stream.cli.common import one_line_errors, run, settings

if TYPE_CHECKING:
    from rich.table import Table

    from canary_stream.lag import LagRow


@one_line_errors
def lag(
    group: list[str] = typer.Option(
        [], "--group", "-g", help="Only this consumer group (repeatable), e.g. canary-seal"
    ),
    watch: bool = typer.Option(False, "--watch", help="Refresh every --interval seconds"),
    interval: float = typer.Option(2.0, help="Seconds between refreshes with --watch"),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of rows"),
) -> None:
    """Committed offset, log-end offset and lag (messages, seconds) per group and partition.

    Example: canary-stream lag --group canary-seal --json
    """
    from rich.console import Console
    from rich.table import Table

    from canary_stream.lag import collect_lag

    cfg = settings()
    console = Console()
    try:
        while True:
            rows = run(collect_lag(cfg, list(group) or None))
            if as_json:
                print(json.dumps([r.as_dict() for r in rows]), flush=True)
            else:
                if watch:
                    console.clear()
                console.print(_table(rows, Table))
                total = sum(r.lag for r in rows)
                print(f"{len(rows)} partition(s), total lag {total} message(s)")
            if not watch:
                return
            time.sleep(interval)
    except KeyboardInterrupt:  # --watch ends with Ctrl-C
        return


def _table(rows: list[LagRow], table_type: type[Table]) -> Table:
    table = table_type("group", "topic", "partition", "committed", "log_end", "lag", "lag_s")
    for r in rows:
        committed = "-" if r.committed is None else str(r.committed)
        table.add_row(
            r.group,
            r.topic,
            str(r.partition),
            committed,
            str(r.log_end),
            str(r.lag),
            f"{r.lag_seconds:.1f}",
        )
    return table
