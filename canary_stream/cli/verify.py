"""``canary-stream verify chain``."""

from __future__ import annotations

import typer

from canary_stream.cli.common import database, fail, one_line_errors, run, settings

app = typer.Typer(help="Verify evidence: chains (and, later, proofs).", no_args_is_help=True)


@app.command()
@one_line_errors
def chain(
    merchant: str = typer.Option(
        ..., "--merchant", help="Our merchant UUID or Square's merchant id"
    ),
) -> None:
    """Walk a merchant's chain from seq 1 and check every hash and link.

    Example: canary-stream verify chain --merchant ML123
    """
    from rich.progress import Progress

    from canary_stream.db.merchants import resolve
    from canary_stream.evidence.crypto import KeyRing
    from canary_stream.verify import ChainVerdict, verify_chain

    cfg = settings()
    ring = KeyRing(cfg.encryption_ring())

    async def go() -> ChainVerdict:
        async with database(cfg) as engine:
            async with engine.connect() as conn:
                found = await resolve(conn, merchant)
            with Progress(transient=True) as bar:
                task = bar.add_task("verifying", total=None)
                return await verify_chain(
                    engine, ring, found.merchant_id, lambda n: bar.update(task, completed=n)
                )

    verdict = run(go())
    if not verdict.ok:
        raise fail(f"chain of {verdict.merchant_id} broken at {verdict.first_break}")
    print(
        f"chain of {verdict.merchant_id} ok: {verdict.checked} links verified, "
        f"head seq {verdict.head_seq}"
    )
