"""``canary-stream replay dead-letters``."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from canary_stream.cli.common import database, fail, one_line_errors, run, settings

app = typer.Typer(help="Send records back through the pipeline.", no_args_is_help=True)


@app.command("dead-letters")
@one_line_errors
def dead_letters(
    reason: str = typer.Option(..., help="Replayable reason, e.g. unknown_merchant"),
    merchant: str | None = typer.Option(None, help="Only this merchant (UUID or Square id)"),
) -> None:
    """Replay dead letters through canary.events, keeping event_id and received_at.

    Example: canary-stream replay dead-letters --reason unknown_merchant
    """
    from canary_stream.db.merchants import resolve
    from canary_stream.dead_letters import envelope_for, read_dead_letters, replay
    from canary_stream.models.dead_letter import REPLAYABLE

    if reason not in REPLAYABLE:
        raise fail(
            f"reason {reason!r} is not replayable; choose one of {', '.join(sorted(REPLAYABLE))}"
        )
    cfg = settings()

    async def go() -> tuple[int, int]:
        letters = [d for d in await read_dead_letters(cfg) if d.reason == reason]
        async with database(cfg) as engine:
            if merchant is not None:
                async with engine.connect() as conn:
                    wanted = (await resolve(conn, merchant)).merchant_id
                kept = []
                for letter in letters:
                    env = await envelope_for(letter, engine, cfg)
                    if env is not None and env.merchant_id == wanted:
                        kept.append(letter)
                letters = kept
            result = await replay(letters, engine, cfg)
        return result.replayed, result.still_unusable

    replayed, unusable = run(go())
    print(f"replayed {replayed} dead letter(s); {unusable} still unusable")


@app.command("parse")
@one_line_errors
def parse(
    merchant: str = typer.Option(..., help="Our merchant UUID or Square's merchant id"),
    since: datetime | None = typer.Option(None, help="Only events received at or after (UTC)"),
    until: datetime | None = typer.Option(None, help="Only events received before (UTC)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only print the difference"),
    republish: bool = typer.Option(False, "--republish", help="Publish canonical events again"),
) -> None:
    """Re-run the parsers over a merchant's sealed bytes (never re-seals).

    Example: canary-stream replay parse --merchant ML123 --dry-run
    """
    from rich.progress import Progress

    from canary_stream.db.merchants import resolve
    from canary_stream.replay_parse import ReplayReport, replay_parse

    cfg = settings()

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    async def go() -> ReplayReport:
        async with database(cfg) as engine:
            async with engine.connect() as conn:
                merchant_id = (await resolve(conn, merchant)).merchant_id
            with Progress(transient=True) as bar:
                task = bar.add_task("re-parsing", total=None)
                return await replay_parse(
                    cfg,
                    engine,
                    merchant_id,
                    since=utc(since),
                    until=utc(until),
                    dry_run=dry_run,
                    republish=republish,
                    progress=lambda n: bar.update(task, completed=n),
                )

    report = run(go())
    for line in report.missing:
        print(f"missing   {line}")
    for line in report.different:
        print(f"different {line}")
    for line in report.failed:
        print(f"failed    {line}")
    verb = "would insert" if dry_run else "inserted"
    count = len(report.missing) if dry_run else report.inserted
    print(
        f"{report.events} events, {report.records} records, {report.rows} rows; "
        f"{verb} {count}; {len(report.different)} different; {len(report.failed)} failed"
        + (f"; republished {report.republished}" if republish else "")
    )
