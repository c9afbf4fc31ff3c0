"""The ingress envelope (``canary.events``) and the sealed record (``canary.sealed``)."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from canary_stream.models.wire import B64Bytes, HexDigest, RecordType, UtcDatetime, WireModel

SourceType = Literal["WEBHOOK", "POLLING", "BATCH"]


class Envelope(WireModel):
    """One received delivery, raw bytes included, as the ingress (or a poller) produced it."""

    RECORD_TYPE: ClassVar[RecordType] = "envelope"

    schema_version: int = 1
    event_id: UUID
    merchant_id: UUID
    provider_merchant_id: str
    source: Literal["square"] = "square"
    source_event_id: str
    event_type: str
    event_hash: HexDigest
    raw_payload: B64Bytes
    received_at: UtcDatetime
    parse_failed: bool = False
    oversize: bool = False
    source_type: SourceType = "WEBHOOK"
    signature_key_id: str | None = None


class SealedEnvelope(Envelope):
    """An envelope with its place in the merchant's hash chain."""

    RECORD_TYPE: ClassVar[RecordType] = "sealed"

    seq: int
    chain_hash: HexDigest
    prev_chain_hash: HexDigest | None
    sealed_at: UtcDatetime
