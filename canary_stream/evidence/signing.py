"""The checkpoint signing key: name, Ed25519 seed (only where checkpoints are signed), id.

Settings carry the seed as base64 of 32 bytes (``CANARY_CHECKPOINT_SIGNING_KEY``); a
process that only serves proofs may carry just the public key
(``CANARY_CHECKPOINT_PUBLIC_KEY``, base64 of 32 bytes). Nothing here reads settings: the
caller passes the strings.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from canary_stream.evidence.errors import EvidenceError, NoteError
from canary_stream.evidence.note import (
    KEY_SIZE,
    check_key_name,
    key_id,
    public_key_from_seed,
    verifier_key,
)

#: Length of the base64 text of a raw 32-byte key (a verifier key is always longer).
RAW_KEY_B64_LENGTH = 44


class SigningKeyError(EvidenceError):
    """The checkpoint key is missing or malformed; fix the settings (never shows key bytes)."""


def _decode(what: str, text: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{what} is not valid base64") from None
    if len(raw) != KEY_SIZE:
        raise SigningKeyError(f"{what} must decode to {KEY_SIZE} bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class CheckpointKey:
    """A named Ed25519 key; ``seed`` is None where only verification is needed."""

    name: str
    public_key: bytes
    seed: bytes | None = field(default=None, repr=False)

    @property
    def key_id(self) -> bytes:
        """The signed-note key id: first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)."""
        return key_id(self.name, self.public_key)

    @property
    def verifier(self) -> str:
        """``<name>+<key id hex>+<base64(0x01 ‖ public key)>`` (the note verifier key)."""
        return verifier_key(self.name, self.public_key)

    @property
    def public_b64(self) -> str:
        """The raw public key, base64."""
        return base64.b64encode(self.public_key).decode("ascii")

    def require_seed(self) -> bytes:
        """The private seed, or ``SigningKeyError`` when this process has only the public key."""
        if self.seed is None:
            raise SigningKeyError(
                "CANARY_CHECKPOINT_SIGNING_KEY is empty: checkpoints cannot be signed "
                "('canary-stream stack up' writes a local key)"
            )
        return self.seed


def load_checkpoint_key(name: str, seed_b64: str, public_b64: str = "") -> CheckpointKey:
    """The key from its settings strings; the public key is derived from the seed when given.

    Both given and disagreeing is an error; neither given is an error.
    """
    try:
        check_key_name(name)
    except NoteError as exc:
        raise SigningKeyError(f"CANARY_CHECKPOINT_KEY_NAME: {exc}") from None
    seed = _decode("CANARY_CHECKPOINT_SIGNING_KEY", seed_b64) if seed_b64.strip() else None
    public = _decode("CANARY_CHECKPOINT_PUBLIC_KEY", public_b64) if public_b64.strip() else None
    if seed is not None:
        derived = public_key_from_seed(seed)
        if public is not None and public != derived:
            raise SigningKeyError(
                "CANARY_CHECKPOINT_PUBLIC_KEY is not the public key of "
                "CANARY_CHECKPOINT_SIGNING_KEY"
            )
        return CheckpointKey(name=name, public_key=derived, seed=seed)
    if public is None:
        raise SigningKeyError(
            "no checkpoint key: set CANARY_CHECKPOINT_SIGNING_KEY (or, to only serve proofs, "
            "CANARY_CHECKPOINT_PUBLIC_KEY); 'canary-stream stack up' writes a local one"
        )
    return CheckpointKey(name=name, public_key=public)


def parse_public_key(text: str) -> tuple[str | None, bytes]:
    """A public key given on a command line: raw base64, or a verifier key ``name+id+base64``.

    Returns ``(name or None, public key)``; a verifier key whose id does not match its key
    is rejected.
    """
    text = text.strip()
    if len(text) == RAW_KEY_B64_LENGTH:
        return None, _decode("public key", text)
    name, _, rest = text.partition("+")
    hex_id, _, b64 = rest.partition("+")
    if name and hex_id and b64:
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise SigningKeyError("verifier key: key part is not base64") from None
        if len(raw) != KEY_SIZE + 1 or raw[0] != 0x01:
            raise SigningKeyError("verifier key: not an Ed25519 key (0x01 ‖ 32 bytes)")
        public = raw[1:]
        if key_id(name, public).hex() != hex_id.lower():
            raise SigningKeyError(f"verifier key: id {hex_id} does not match name and key")
        return name, public
    raise SigningKeyError("public key must be base64 of 32 bytes or a verifier key name+id+key")
