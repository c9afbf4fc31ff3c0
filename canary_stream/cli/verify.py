"""``canary-stream verify chain``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from canary_stream.cli.common import database, fail, one_line_errors, run, settings

app = typer.Typer(
    help="Verify evidence: a merchant's chain, or a proof bundle offline.", no_args_is_help=True
)


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


@app.command("proof")
@one_line_errors
def proof_(
    bundle: Path = typer.Argument(..., help="A bundle written by 'canary-stream proof'"),
    public_key: str | None = typer.Option(
        None,
        "--public-key",
        help="Trusted key: base64 of the 32-byte Ed25519 key, or the verifier key "
        "name+id+key that 'canary-stream keys show' prints",
    ),
) -> None:
    """Check a proof bundle offline: bytes, chain link, inclusion, root, chain head, signature.

    Example: canary-stream verify proof proof.json --public-key canary-stream+1bbb1983+AQ...
    """
    from canary_stream.evidence.bundle import BundleInvalid, verify_bundle_bytes
    from canary_stream.evidence.signing import parse_public_key

    name, key = parse_public_key(public_key) if public_key is not None else (None, None)
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {bundle}: {exc.strerror}") from None
    try:
        verdict = verify_bundle_bytes(data, public_key=key, key_name=name)
    except BundleInvalid as exc:
        raise fail(f"proof rejected: {exc}") from None
    print(verdict.describe())
    if key is None:
        print(
            "note: verified with the bundle's own public key; pin the key you trust "
            "with --public-key",
            file=sys.stderr,
        )
