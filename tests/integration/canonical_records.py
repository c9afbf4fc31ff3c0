"""Canonical records built directly, for tests that feed ``canary.detection`` themselves."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from canary_stream.models.canonical import Card, TransactionEvent
from canary_stream.models.wire import now_utc
from canary_stream.square.parse.base import canonical_id, transaction_id


def transaction(
    merchant_id: str,
    at: datetime,
    transaction_type: str = "PAYMENT",
    *,
    external_id: str | None = None,
    amount_cents: int = 1_234,
    fingerprint_hash: str | None = None,
    mode: str = "live",
    **extra: Any,
) -> TransactionEvent:
    """A ledger transaction as parse would publish it."""
    m = uuid.UUID(merchant_id)
    ext = external_id or f"x{uuid.uuid4().hex[:16]}"
    card = Card(fingerprint_hash=fingerprint_hash, entry_method="EMV") if fingerprint_hash else None
    return TransactionEvent(
        canonical_id=canonical_id(m, "transaction", ext, transaction_type),
        event_id=uuid.uuid4(),
        merchant_id=m,
        source_type="WEBHOOK" if mode == "live" else "BATCH",
        source_event_id=f"ev-{uuid.uuid4()}",
        source_event_type="payment.updated",
        event_hash=hashlib.sha256(ext.encode()).hexdigest(),
        received_at=now_utc(),
        occurred_at=at,
        location_id=extra.pop("location_id", "LOC1"),
        mode=mode,
        transaction_id=transaction_id(m, ext, transaction_type),
        external_id=ext,
        transaction_type=transaction_type,
        status=extra.pop("status", "COMPLETED"),
        amount_cents=amount_cents,
        currency="USD",
        card=card,
        **extra,
    )


def wire(record: TransactionEvent) -> tuple[bytes, bytes]:
    """(key, value) as parse produces it to ``canary.detection``."""
    return str(record.merchant_id).encode(), record.to_bytes()
