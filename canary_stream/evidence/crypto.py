"""AES-256-GCM column encryption bound to its column, merchant and row (contracts.md).

Blob layout: ``key_id (utf-8) | 0x00 | nonce (12 bytes) | ciphertext‖tag (16-byte tag)``.
Associated data: ``{schema}.{table}.{column}|{merchant_id}|{row_id}``, so a blob copied to
another row, column or merchant fails to decrypt.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from canary_stream.evidence.errors import CryptoError, DecryptError, KeyRingError

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
SEPARATOR = b"\x00"
MAX_KEY_ID_BYTES = 64
#: Shortest possible blob: a one-byte key id, the separator, the nonce and the tag.
MIN_BLOB_SIZE = 1 + len(SEPARATOR) + NONCE_SIZE + TAG_SIZE


def associated_data(column: str, merchant_id: str, row_id: str) -> bytes:
    """The AEAD associated data ``{schema}.{table}.{column}|{merchant_id}|{row_id}``.

    ``merchant_id`` may be empty (application-level rows such as webhook signing keys);
    neither it nor ``column`` may contain ``|``, which keeps the encoding unambiguous.
    """
    parts = column.split(".")
    if len(parts) != 3 or not all(parts) or "|" in column:
        raise CryptoError(f"column must be 'schema.table.column' without '|', got {column!r}")
    if "|" in merchant_id:
        raise CryptoError(f"merchant_id must not contain '|', got {merchant_id!r}")
    if not row_id:
        raise CryptoError("row_id must not be empty")
    return f"{column}|{merchant_id}|{row_id}".encode()


def _encoded_key_id(key_id: str) -> bytes:
    try:
        raw = key_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise KeyRingError(f"key id {key_id!r} is not valid UTF-8") from exc
    if not raw or SEPARATOR in raw or len(raw) > MAX_KEY_ID_BYTES:
        raise KeyRingError(
            f"key id {key_id!r} must be 1-{MAX_KEY_ID_BYTES} UTF-8 bytes without NUL"
        )
    return raw


class KeyRing:
    """Key id → 32-byte key. The last inserted key encrypts; every key decrypts."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise KeyRingError("the encryption key ring is empty")
        self._ciphers: dict[str, AESGCM] = {}
        self._ids: dict[str, bytes] = {}
        for key_id, key in keys.items():
            self._ids[key_id] = _encoded_key_id(key_id)
            if len(key) != KEY_SIZE:
                raise KeyRingError(f"key {key_id!r} has {len(key)} bytes, want {KEY_SIZE}")
            self._ciphers[key_id] = AESGCM(bytes(key))
        self._current = next(reversed(self._ciphers))

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={self.key_ids!r}, current={self._current!r})"

    @property
    def current_key_id(self) -> str:
        """The id of the key that encrypts (the newest)."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """All key ids, oldest first."""
        return tuple(self._ciphers)

    def encrypt(
        self,
        plaintext: bytes,
        *,
        column: str,
        merchant_id: str,
        row_id: str,
        nonce: bytes | None = None,
    ) -> bytes:
        """Encrypt with the newest key; ``nonce`` is random unless given (tests, vectors)."""
        aad = associated_data(column, merchant_id, row_id)
        if nonce is None:
            nonce = os.urandom(NONCE_SIZE)
        elif len(nonce) != NONCE_SIZE:
            raise CryptoError(f"nonce has {len(nonce)} bytes, want {NONCE_SIZE}")
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext, aad)
        return self._ids[self._current] + SEPARATOR + nonce + sealed

    def decrypt(self, blob: bytes, *, column: str, merchant_id: str, row_id: str) -> bytes:
        """Decrypt a blob written for exactly this column, merchant and row."""
        aad = associated_data(column, merchant_id, row_id)
        key_id = key_id_of(blob)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptError(f"unknown key id {key_id!r} for {column} row {row_id!r}")
        start = len(key_id.encode("utf-8")) + len(SEPARATOR)
        nonce, sealed = blob[start : start + NONCE_SIZE], blob[start + NONCE_SIZE :]
        try:
            return cipher.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptError(
                f"authentication failed for {column} merchant {merchant_id!r} row {row_id!r} "
                f"(key {key_id!r}): wrong row, column or merchant, or a corrupted blob"
            ) from None


def key_id_of(blob: bytes) -> str:
    """The key id a blob names, after checking the layout's lengths."""
    end = blob.find(SEPARATOR, 0, MAX_KEY_ID_BYTES + 1)
    if end <= 0:
        raise DecryptError("blob does not start with a key id and a 0x00 separator")
    if len(blob) < end + len(SEPARATOR) + NONCE_SIZE + TAG_SIZE:
        raise DecryptError(f"blob of {len(blob)} bytes is too short for nonce and tag")
    try:
        return blob[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptError("blob key id is not valid UTF-8") from None
