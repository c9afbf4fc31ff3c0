"""C2SP signed-note with Ed25519, as golang.org/x/mod/sumdb/note writes and opens it.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> <base64(key id || signature)>``; the signed message is the text itself.
Key id = first 4 bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from canary_stream.evidence.errors import (
    InvalidNoteSignature,
    MalformedNote,
    NoteError,
    UnverifiedNote,
)

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
KEY_SIZE = 32
SIGNATURE_SIZE = 64
MAX_SIGNATURES = 100


def check_key_name(key_name: str) -> None:
    """A key name is non-empty and has no Unicode space and no ``+``."""
    if not key_name or "+" in key_name or any(ch.isspace() for ch in key_name):
        raise NoteError(f"invalid key name {key_name!r}: empty, or has a space or '+'")


def key_id(key_name: str, public_key: bytes) -> bytes:
    """The 4-byte key id (key hash) of an Ed25519 public key under ``key_name``."""
    if len(public_key) != KEY_SIZE:
        raise NoteError(f"public key has {len(public_key)} bytes, want {KEY_SIZE}")
    material = key_name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:4]


def public_key_from_seed(private_key_seed: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key of a 32-byte private seed."""
    return _private_key(private_key_seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(key_name: str, public_key: bytes) -> str:
    """The verifier key string ``<name>+<key id hex>+<base64(0x01 || public key)>``."""
    check_key_name(key_name)
    encoded = base64.b64encode(bytes([ALG_ED25519]) + public_key).decode("ascii")
    return f"{key_name}+{key_id(key_name, public_key).hex()}+{encoded}"


def _private_key(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != KEY_SIZE:
        raise NoteError(f"private key seed has {len(seed)} bytes, want {KEY_SIZE}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _check_text(text: str, what: str) -> None:
    for ch in text:
        if ch < " " and ch != "\n":
            raise MalformedNote(f"{what} has control character U+{ord(ch):04X}")
        if "\ud800" <= ch <= "\udfff":
            raise MalformedNote(f"{what} is not valid UTF-8")


def sign_note(text: str, key_name: str, private_key_seed: bytes) -> str:
    """``text`` followed by a blank line and one Ed25519 signature line."""
    if not text.endswith("\n"):
        raise MalformedNote("note text must end with a newline")
    _check_text(text, "note text")
    check_key_name(key_name)
    private = _private_key(private_key_seed)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signature = private.sign(text.encode("utf-8"))
    encoded = base64.b64encode(key_id(key_name, public) + signature).decode("ascii")
    return f"{text}\n{SIG_PREFIX}{key_name} {encoded}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Text and ``(name, key id, signature)`` per signature line, checking only the format."""
    _check_text(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("note must end with a newline after its signatures")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has {len(lines)} signature lines, at most {MAX_SIGNATURES}")
    sigs: list[tuple[str, bytes, bytes]] = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise MalformedNote(f"signature line does not start with an em dash: {line[:40]!r}")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        try:
            check_key_name(name)
            raw = base64.b64decode(b64, validate=True)
        except (NoteError, binascii.Error, ValueError):
            raise MalformedNote(f"malformed signature line for {name[:40]!r}") from None
        if not b64 or len(raw) < 5:
            raise MalformedNote(f"signature for {name!r} is too short")
        sigs.append((name, raw[:4], raw[4:]))
    return text, sigs


def verify_note(note: str, key_name: str, public_key: bytes) -> str:
    """The note's text once a signature by ``key_name``/``public_key`` verifies.

    Signatures by other keys are ignored (cosigners). A signature line that names this key
    and id but does not verify raises ``InvalidNoteSignature``; none raises ``UnverifiedNote``.
    """
    check_key_name(key_name)
    text, sigs = split_note(note)
    wanted = key_id(key_name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    verified = False
    for name, kid, signature in sigs:
        if name != key_name or kid != wanted:
            continue
        try:
            verifier.verify(signature, text.encode("utf-8"))
        except InvalidSignature:
            raise InvalidNoteSignature(
                f"signature by {key_name}+{wanted.hex()} does not verify"
            ) from None
        verified = True
    if not verified:
        raise UnverifiedNote(f"note has no signature by {key_name}+{wanted.hex()}")
    return text
