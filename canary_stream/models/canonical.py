"""The canonical event on ``canary.detection`` (square.md): the fields every kind shares.

The per-kind fields (transaction, loyalty, dispute, …) are added with the parsers; consumers
ignore fields they do not know, so adding them does not bump ``schema_version``.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from canary_stream.models.envelope import SourceType
from canary_stream.models.wire import HexDigest, RecordType, UtcDatetime, WireModel

Kind = Literal[
    "transaction", "loyalty", "dispute", "gift_card", "cash_drawer_shift", "customer", "payout"
]


class CanonicalEvent(WireModel):
    """One business record parsed from a sealed event."""

    RECORD_TYPE: ClassVar[RecordType] = "canonical"

    schema_version: int = 1
    canonical_id: UUID
    event_id: UUID
    merchant_id: UUID
    provider: Literal["square"] = "square"
    source_type: SourceType
    source_event_id: str
    source_event_type: str
    event_hash: HexDigest
    received_at: UtcDatetime
    occurred_at: UtcDatetime
    location_id: str | None = None
    kind: Kind
    mode: Literal["live", "backfill"] = "live"
