"""Records that are not canonical events, and the test of which records are.

A :class:`ParsedRecord` whose ``canonical`` is a :class:`MerchantRevoked` is an instruction
to the parse agent; one whose ``canonical`` is None carries ledger rows only (drawer events
other than NO_SALE / PAID_IN / PAID_OUT). Neither is ever published to ``canary.detection``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from canary_stream.models.canonical import CanonicalEvent
from canary_stream.square.parse.base import ParsedRecord


@dataclass(frozen=True)
class MerchantRevoked:
    """``oauth.authorization.revoked``: mark the merchant inactive and delete its tokens."""

    merchant_id: uuid.UUID
    event_id: uuid.UUID
    revoked_at: datetime
    revoker_type: str | None


def publishable(record: ParsedRecord) -> CanonicalEvent | None:
    """The canonical event to publish for ``record``, or None when it has none."""
    canonical = record.canonical
    return canonical if isinstance(canonical, CanonicalEvent) else None
