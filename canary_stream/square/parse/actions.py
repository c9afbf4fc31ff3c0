"""Records that are instructions to the parse agent rather than canonical events.

A :class:`ParsedRecord` whose ``canonical`` is one of these is never published to
``canary.detection``; the agent acts on it instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class MerchantRevoked:
    """``oauth.authorization.revoked``: mark the merchant inactive and delete its tokens."""

    merchant_id: uuid.UUID
    event_id: uuid.UUID
    revoked_at: datetime
    revoker_type: str | None
