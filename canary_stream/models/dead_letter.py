"""Dead-letter records (``canary.dead-letter``) with the closed list of reasons."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import B64Bytes, HexDigest, RecordType, UtcDatetime, WireModel

Reason = Literal[
    "signature_invalid",
    "unparseable",
    "unknown_merchant",
    "hash_mismatch",
    "decode_error",
    "parse_error",
    "deferred_exhausted",
    "foreign_currency",
]
REPLAYABLE: frozenset[str] = frozenset(
    {"unparseable", "unknown_merchant", "parse_error", "deferred_exhausted", "foreign_currency"}
)
Stage = Literal["ingress", "seal", "parse", "fetch", "detect", "customers", "merkle", "escalate"]


class ReceivedBody(WireModel):
    """An authentic body that could not become an envelope, kept so it can be replayed."""

    RECORD_TYPE: ClassVar[RecordType] = "dead-letter"

    event_id: UUID
    event_hash: HexDigest
    raw_payload: B64Bytes
    received_at: UtcDatetime
    signature_key_id: str | None = None


class RejectedRequest(WireModel):
    """Metadata of an unauthenticated request: never any body bytes."""

    RECORD_TYPE: ClassVar[RecordType] = "dead-letter"

    event_hash: HexDigest
    size: int
    remote: str | None
    header_names: list[str]
    key_ids_tried: list[str]


class DeadLetter(WireModel):
    """A record a stage could not process, with a one-line error and what is needed to replay it."""

    RECORD_TYPE: ClassVar[RecordType] = "dead-letter"

    schema_version: int = 1
    stage: Stage
    reason: Reason
    event_id: UUID | None = None
    merchant_id: UUID | None = None
    provider_merchant_id: str | None = None
    error: str
    at: UtcDatetime
    envelope: Envelope | None = None
    body: ReceivedBody | None = None
    request: RejectedRequest | None = None

    @property
    def replayable(self) -> bool:
        """Whether ``replay dead-letters`` may send it back through ``canary.events``."""
        return self.reason in REPLAYABLE

    def kafka_key(self) -> bytes:
        """The merchant id, or ``unknown`` when the record names no merchant."""
        return str(self.merchant_id).encode() if self.merchant_id else b"unknown"
