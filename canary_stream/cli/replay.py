"""``canary-stream replay dead-letters``."""

from __future__ import annotations

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
