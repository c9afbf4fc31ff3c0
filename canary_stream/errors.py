"""One error tree; every class says whether a retry can help and, if not, its dead-letter reason."""

from __future__ import annotations

from typing import ClassVar


class CanaryError(Exception):
    """Root of every error canary-stream raises on purpose."""

    retriable: ClassVar[bool] = False
    reason: ClassVar[str | None] = None


class ConfigError(CanaryError):
    """A setting is missing or invalid; the operator fixes the environment."""


class StackError(CanaryError):
    """The local stack could not be started, stopped or reached."""


class TopicError(CanaryError):
    """A topic is missing or has the wrong partition count or cleanup policy."""


class TransientError(CanaryError):
    """Database, broker or API trouble that a retry may clear; the partition waits."""

    retriable = True


class PermanentError(CanaryError):
    """Bad data: retrying cannot help, so the record is dead-lettered with ``reason``."""

    reason = "decode_error"


class DecodeError(PermanentError):
    """A record did not decode into its pydantic model."""

    reason = "decode_error"


class HashMismatch(PermanentError):
    """The envelope's ``event_hash`` does not match the SHA-256 of its raw payload."""

    reason = "hash_mismatch"


class NotFound(CanaryError):
    """Something asked for does not exist (or belongs to another merchant: same answer)."""
