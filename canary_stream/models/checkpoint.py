"""The checkpoint record on ``canary.checkpoints`` (one per closed Merkle batch).

Keyed by merchant; ``(merchant_id, batch_no)`` is its dedupe key (the topic is
at-least-once). ``checkpoint`` is the C2SP signed note of evidence.md; the other fields
repeat what it commits to, for consumers that do not parse notes. Anyone who keeps these
records can later detect a rewritten history: every later root depends on every earlier one.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from canary_stream.models.wire import HexDigest, RecordType, UtcDatetime, WireModel


class CheckpointRecord(WireModel):
    """A closed batch's signed checkpoint and the values it commits to."""

    RECORD_TYPE: ClassVar[RecordType] = "checkpoint"

    schema_version: int = 1
    merchant_id: UUID
    batch_no: int = Field(ge=1)
    first_seq: int = Field(ge=1)
    last_seq: int = Field(ge=1)
    tree_size: int = Field(ge=1)
    root_hash: HexDigest
    prev_root_hash: HexDigest
    chain_head: HexDigest
    checkpoint: str
    key_name: str
    key_id: str = Field(pattern=r"^[0-9a-f]{8}$")
    closed_at: UtcDatetime

    def kafka_key(self) -> bytes:
        """The merchant id, as every merchant-scoped topic is keyed."""
        return str(self.merchant_id).encode()
