"""``canary-stream keys show|rotate``: the checkpoint signing key; re-encrypting secrets.

``rotate`` re-encrypts every mutable secret (webhook signature keys, merchants' OAuth
tokens) under the newest key of ``CANARY_ENCRYPTION_KEYS`` in one transaction. Append-only
rows (sealed raw payloads) are never rewritten: keep their keys in the ring (contracts.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from canary_stream.cli.common import database, one_line_errors, run, settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from canary_stream.evidence.crypto import KeyRing

app = typer.Typer(
    help="The checkpoint signing key (public parts) and re-encryption of stored secrets.",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class Rotated:
    """How many stored secrets a rotation re-encrypted, and under which key."""

    key_id: str
    webhook_signing_keys: int
    oauth_tokens: int


async def rotate_secrets(conn: AsyncConnection, ring: KeyRing) -> Rotated:
    """Re-encrypt every mutable secret under ``ring``'s newest key (caller's transaction)."""
    from canary_stream.db.oauth_tokens import reencrypt_tokens
    from canary_stream.db.signing_keys import reencrypt_secrets

    return Rotated(
        key_id=ring.current_key_id,
        webhook_signing_keys=await reencrypt_secrets(conn, ring),
        oauth_tokens=await reencrypt_tokens(conn, ring),
    )


@app.command()
@one_line_errors
def show(as_json: bool = typer.Option(False, "--json", help="Print a JSON object")) -> None:
    """Print the key name, key id, public key and note verifier key.

    Example: canary-stream keys show
    """
    from canary_stream.evidence.signing import load_checkpoint_key

    cfg = settings()
    key = load_checkpoint_key(
        cfg.checkpoint_key_name,
        cfg.checkpoint_signing_key.get_secret_value(),
        cfg.checkpoint_public_key,
    )
    doc = {
        "key_name": key.name,
        "key_id": key.key_id.hex(),
        "public_key": key.public_b64,
        "verifier_key": key.verifier,
    }
    if as_json:
        print(json.dumps(doc))
        return
    print(f"key name:     {doc['key_name']}")
    print(f"key id:       {doc['key_id']}")
    print(f"public key:   {doc['public_key']}")
    print(f"verifier key: {doc['verifier_key']}")


@app.command()
@one_line_errors
def rotate(as_json: bool = typer.Option(False, "--json", help="Print a JSON object")) -> None:
    """Re-encrypt webhook signature keys and OAuth tokens under the newest encryption key.

    Add the new key last in CANARY_ENCRYPTION_KEYS (keep the old ones: sealed evidence
    stays under them), then run this once; all of it commits or none of it does.

    Example: CANARY_ENCRYPTION_KEYS="k1:...,k2:..." canary-stream keys rotate
    """
    from canary_stream.evidence.crypto import KeyRing

    cfg = settings()
    ring = KeyRing(cfg.encryption_ring())

    async def go() -> Rotated:
        async with database(cfg) as engine, engine.begin() as conn:
            return await rotate_secrets(conn, ring)

    done = run(go())
    if as_json:
        print(
            json.dumps(
                {
                    "key_id": done.key_id,
                    "webhook_signing_keys": done.webhook_signing_keys,
                    "oauth_tokens": done.oauth_tokens,
                }
            )
        )
        return
    print(f"webhook signing key secrets re-encrypted: {done.webhook_signing_keys}")
    print(f"OAuth token pairs re-encrypted:           {done.oauth_tokens}")
    print(f"every stored secret is now under key {done.key_id}")
