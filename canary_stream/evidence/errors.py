"""Errors of the evidence package: encryption, the hash chain, Merkle proofs, signed notes."""

from __future__ import annotations

from canary_stream.errors import CanaryError, ConfigError


class EvidenceError(CanaryError):
    """Root of the evidence package's errors; none of them is helped by a retry."""


class KeyRingError(ConfigError, EvidenceError):
    """The encryption key ring is empty or holds a malformed key id or key; fix the settings."""


class CryptoError(EvidenceError):
    """Column encryption was called with invalid arguments (nonce, column name, ids)."""


class DecryptError(CryptoError):
    """A stored ciphertext did not decrypt: bad layout, unknown key id or failed authentication.

    The message names the key id and the row, never key material or plaintext.
    """


class ChainError(EvidenceError):
    """A hash-chain value has the wrong length or a sequence number is invalid."""


class ProofError(EvidenceError):
    """An inclusion proof is malformed: index, size, leaf-hash or proof length is wrong."""


class RootMismatch(ProofError):
    """A well-formed proof leads to a root other than the expected one."""

    def __init__(self, expected: bytes, computed: bytes) -> None:
        self.expected = expected
        self.computed = computed
        super().__init__(f"computed root {computed.hex()} does not match expected {expected.hex()}")


class NoteError(EvidenceError):
    """A signed note could not be produced or trusted."""


class MalformedNote(NoteError):
    """The note text or a signature line breaks the signed-note format."""


class InvalidNoteSignature(NoteError):
    """A signature line claims the expected key but its Ed25519 signature does not verify."""


class UnverifiedNote(NoteError):
    """The note is well formed but carries no signature by the expected key."""


class CheckpointError(EvidenceError):
    """A checkpoint body is malformed or its fields are inconsistent."""
