"""The checkpoint key from its settings strings, and public keys given on a command line."""

from __future__ import annotations

import base64

import pytest

from canary_stream.evidence.signing import SigningKeyError, load_checkpoint_key, parse_public_key

SEED_B64 = base64.b64encode(bytes(range(32))).decode()
PUBLIC = bytes.fromhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
PUBLIC_B64 = base64.b64encode(PUBLIC).decode()


def test_from_seed() -> None:
    key = load_checkpoint_key("canary-stream", SEED_B64)
    assert key.public_key == PUBLIC
    assert key.key_id.hex() == "bac97b74"
    assert key.verifier == "canary-stream+bac97b74+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    assert key.require_seed() == bytes(range(32))
    assert "seed" not in repr(key)


def test_public_only() -> None:
    key = load_checkpoint_key("canary-stream", "", PUBLIC_B64)
    assert key.public_key == PUBLIC and key.seed is None
    with pytest.raises(SigningKeyError, match="CANARY_CHECKPOINT_SIGNING_KEY is empty"):
        key.require_seed()


@pytest.mark.parametrize(
    ("name", "seed", "public", "message"),
    [
        ("canary-stream", "", "", "no checkpoint key"),
        ("canary-stream", "not base64!", "", "SIGNING_KEY is not valid base64"),
        ("canary-stream", base64.b64encode(bytes(31)).decode(), "", "must decode to 32 bytes"),
        ("canary-stream", SEED_B64, base64.b64encode(bytes(32)).decode(), "is not the public key"),
        ("canary stream", SEED_B64, "", "CANARY_CHECKPOINT_KEY_NAME"),
        ("a+b", SEED_B64, "", "CANARY_CHECKPOINT_KEY_NAME"),
    ],
)
def test_invalid(name: str, seed: str, public: str, message: str) -> None:
    with pytest.raises(SigningKeyError, match=message) as info:
        load_checkpoint_key(name, seed, public)
    assert SEED_B64 not in str(info.value)


def test_parse_public_key_forms() -> None:
    assert parse_public_key(PUBLIC_B64) == (None, PUBLIC)
    verifier = load_checkpoint_key("canary-stream", SEED_B64).verifier
    assert parse_public_key(verifier) == ("canary-stream", PUBLIC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("canary-stream+00000000+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "does not match"),
        ("canary-stream+bac97b74+A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=", "not an Ed25519"),
        ("something else", "base64 of 32 bytes or a verifier key"),
    ],
)
def test_parse_public_key_rejects(text: str, message: str) -> None:
    with pytest.raises(SigningKeyError, match=message):
        parse_public_key(text)
