"""``canary-stream keys show``: the checkpoint signing key's name, id and public key."""

from __future__ import annotations

import json

import typer

from canary_stream.cli.common import one_line_errors, settings

app = typer.Typer(help="Show the checkpoint signing key (public parts only).", no_args_is_help=True)


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
