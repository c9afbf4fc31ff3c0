"""What every parser takes and returns. Parsers are pure: bytes and context in, records out.

A parser returns one :class:`ParsedRecord` per business record. Each holds the canonical
event to publish and the ledger rows to insert (``ON CONFLICT DO NOTHING`` on the row's
natural key). The canonical event of a record with a ``primary`` row is published only when
that row was actually inserted — that is how "one record per (transaction, type) across
many ``payment.updated`` versions" holds; a record without a primary row (a FAILED payment,
a PENDING refund) is published every time it is parsed and consumers dedupe on its
``canonical_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from canary_stream.errors import PermanentError

#: ``uuid5(NAMESPACE_URL, "urn:canary-stream:ids:v1")`` (contracts.md).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:canary-stream:ids:v1")


def deterministic_id(*parts: object) -> uuid.UUID:
    """``uuid5(NS, "|".join(parts))`` — the one id function of contracts.md."""
    return uuid.uuid5(ID_NAMESPACE, "|".join(str(p) for p in parts))


def transaction_id(merchant_id: uuid.UUID, external_id: str, transaction_type: str) -> uuid.UUID:
    """``txn|{m}|{external_id}|{transaction_type}``."""
    return deterministic_id("txn", merchant_id, external_id, transaction_type)


def canonical_id(merchant_id: uuid.UUID, kind: str, *natural_key: object) -> uuid.UUID:
    """``canon|{m}|{kind}|{natural key}``."""
    return deterministic_id("canon", merchant_id, kind, *natural_key)


class ParseError(PermanentError):
    """A handled event type whose object is malformed: quarantined, never retried."""

    reason = "parse_error"


class ForeignCurrency(PermanentError):
    """Money in a currency other than the merchant's: quarantined, never converted."""

    reason = "foreign_currency"


@dataclass(frozen=True)
class CardHasher:
    """``HMAC-SHA256(card key, merchant_id ":" fingerprint)`` with the newest key (customers.md)."""

    keys: Mapping[str, bytes]

    def __call__(self, merchant_id: uuid.UUID, fingerprint: str) -> tuple[bytes, str]:
        """The keyed hash of a Square card fingerprint and the key version used."""
        version, key = list(self.keys.items())[-1]
        message = f"{merchant_id}:{fingerprint}".encode()
        return hmac.new(key, message, hashlib.sha256).digest(), version


@dataclass(frozen=True)
class ParseContext:
    """Everything a parser may know besides the bytes (no clock, no I/O)."""

    merchant_id: uuid.UUID
    currency: str
    event_id: uuid.UUID
    source_type: Literal["WEBHOOK", "POLLING", "BATCH"]
    source_event_id: str
    event_type: str
    event_hash: str
    received_at: datetime
    card_hash: Callable[[uuid.UUID, str], tuple[bytes, str]]
    mode: Literal["live", "backfill"] = "live"


@dataclass(frozen=True)
class LedgerRow:
    """One row to insert into ``table`` (schema-qualified); ``key`` names its unique columns."""

    table: str
    values: dict[str, Any]
    key: tuple[str, ...]


@dataclass(frozen=True)
class ParsedRecord:
    """A business record: the canonical event and its ledger rows."""

    canonical: Any  # a canary_stream.models.canonical model
    rows: Sequence[LedgerRow] = field(default_factory=tuple)
    #: The row whose insertion means "first observation"; None = publish on every parse.
    primary: LedgerRow | None = None


Parser = Callable[[bytes, ParseContext], Sequence[ParsedRecord]]
