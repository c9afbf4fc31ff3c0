"""``canary-stream proof EVENT_ID [--out FILE]``: write an event's proof bundle."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import typer

from canary_stream.cli.common import database, fail, one_line_errors, run, settings

#: A one-command group (so ``cli/main.GROUPS`` can register it): options may follow the id.
app = typer.Typer(
    help="Write the proof bundle of one event (docs/proof-format.md).",
    subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
)


@app.callback(invoke_without_command=True)
@one_line_errors
def proof(
    event_id: str = typer.Argument(..., help="The event's UUID (our event_id)"),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout"),
) -> None:
    """Write the self-contained proof bundle of EVENT_ID (operator access: any merchant).

    Example: canary-stream proof 0190d3a2-7b4c-7def-8a12-3456789abcde --out proof.json
    """
    from canary_stream.db.inscriptions import load_bundle
    from canary_stream.evidence.crypto import KeyRing
    from canary_stream.evidence.signing import load_checkpoint_key

    cfg = settings()
    try:
        wanted = uuid.UUID(event_id)
    except ValueError:
        raise fail(f"{event_id!r} is not a UUID") from None
    ring = KeyRing(cfg.encryption_ring())
    key = load_checkpoint_key(
        cfg.checkpoint_key_name,
        cfg.checkpoint_signing_key.get_secret_value(),
        cfg.checkpoint_public_key,
    )

    async def go() -> bytes:
        async with database(cfg) as engine, engine.connect() as conn:
            return (await load_bundle(conn, ring, key, wanted)).to_bytes()

    data = run(go())
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        print(f"wrote {out} ({len(data)} bytes)", file=sys.stderr)
