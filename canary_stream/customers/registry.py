"""The customer registry's pure core: from one canonical record, the effects to apply.

No I/O: the agent looks up who owns an original payment (``sales.transactions`` through
``sales.refund_links`` for refunds, the disputed payment for disputes) and passes the answer
in as ``owners`` (transaction id → Square customer id). customers.md decides what counts:

- PAYMENT (captured, ``ledger=true``) naming a customer: LTV += amount, count += 1.
- REFUND (COMPLETED, ``ledger=true``) of a payment of a customer: LTV -= refunded amount.
- dispute in state LOST on a payment of a customer: LTV -= disputed amount.
- AUTHORIZATION, VOID, FAILED, PENDING refunds never count; drawer types name no customer.
- first / last seen: min / max business time of the customer's ledger transactions
  (``ledger=true`` records naming the customer, and its refunds and lost disputes).
- ``customer.deleted`` archives; created / updated upsert and re-activate.
- card observations: PAYMENT → one use, FAILED payment → one failure, each identified by
  the payment's transaction id (versions and redeliveries of a payment are one observation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from canary_stream.models.canonical import (
    CanonicalEvent,
    CustomerEvent,
    DisputeEvent,
    TransactionEvent,
)
from canary_stream.square.parse.base import deterministic_id

LedgerKind = Literal["PAYMENT", "REFUND", "DISPUTE_LOST"]
#: Transaction types that carry no customer at all (drawer events).
NO_CUSTOMER_TYPES = frozenset({"NO_SALE", "PAID_IN", "PAID_OUT"})


def customer_uuid(merchant_id: UUID, square_customer_id: str) -> UUID:
    """``customer|{m}|{square_customer_id}`` (contracts.md)."""
    return deterministic_id("customer", merchant_id, square_customer_id)


def card_profile_uuid(merchant_id: UUID, fingerprint_hash: bytes) -> UUID:
    """``card|{m}|{fingerprint_hash hex}``."""
    return deterministic_id("card", merchant_id, fingerprint_hash.hex())


@dataclass(frozen=True)
class CustomerTouch:
    """Upsert a customer; ``seen_at`` widens first / last seen; ``reactivate`` may un-archive."""

    customer_id: UUID
    merchant_id: UUID
    square_customer_id: str
    at: datetime
    seen_at: datetime | None
    reactivate: bool


@dataclass(frozen=True)
class LedgerEntry:
    """One ``app.customer_ledger`` row (inserted at most once per transaction and kind)."""

    merchant_id: UUID
    customer_id: UUID
    transaction_id: UUID
    kind: LedgerKind
    ltv_delta_cents: int
    count_delta: int
    occurred_at: datetime


@dataclass(frozen=True)
class CardObservation:
    """One sighting of a card: a use (captured payment) or a failure (FAILED payment).

    ``transaction_id`` (the payment's) with the outcome is the observation's identity: it is
    counted at most once however often it is delivered (``app.card_observations``).
    """

    profile_id: UUID
    merchant_id: UUID
    fingerprint_hash: bytes
    key_version: str
    brand: str | None
    customer_id: UUID | None
    occurred_at: datetime
    uses: int
    failures: int
    transaction_id: UUID

    @property
    def outcome(self) -> Literal["USE", "FAILURE"]:
        """``USE`` for a captured payment, ``FAILURE`` for a declined one."""
        return "FAILURE" if self.failures else "USE"


@dataclass(frozen=True)
class Archive:
    """``customer.deleted``: archive the row (creating it archived if never seen)."""

    customer_id: UUID
    merchant_id: UUID
    square_customer_id: str
    at: datetime


@dataclass
class Effects:
    """Everything one record (or a batch of them) does to the registry."""

    touches: list[CustomerTouch] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    cards: list[CardObservation] = field(default_factory=list)
    archives: list[Archive] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the record changes nothing."""
        return not (self.touches or self.ledger or self.cards or self.archives)

    def extend(self, other: Effects) -> None:
        """Add another record's effects."""
        self.touches.extend(other.touches)
        self.ledger.extend(other.ledger)
        self.cards.extend(other.cards)
        self.archives.extend(other.archives)


def owner_lookup(record: CanonicalEvent) -> UUID | None:
    """The transaction whose customer the agent must look up for ``record``, if any.

    A completed refund's original payment (the agent prefers ``sales.refund_links``, this
    is the canonical fallback), or a LOST dispute's disputed payment.
    """
    if isinstance(record, TransactionEvent) and _counts_refund(record):
        return record.original_transaction_id
    if isinstance(record, DisputeEvent) and record.state == "LOST":
        return record.disputed_transaction_id
    return None


def _counts_refund(t: TransactionEvent) -> bool:
    return t.transaction_type == "REFUND" and t.ledger and t.status == "COMPLETED"


def _counts_payment(t: TransactionEvent) -> bool:
    return t.transaction_type == "PAYMENT" and t.ledger and t.status != "FAILED"


def _touch(m: UUID, square_id: str, at: datetime, *, seen: bool, react: bool) -> CustomerTouch:
    return CustomerTouch(customer_uuid(m, square_id), m, square_id, at, at if seen else None, react)


def _entry(
    m: UUID, square_id: str, txn: UUID, kind: LedgerKind, ltv: int, count: int, at: datetime
) -> LedgerEntry:
    return LedgerEntry(m, customer_uuid(m, square_id), txn, kind, ltv, count, at)


def _card(t: TransactionEvent) -> CardObservation | None:
    card = t.card
    if card is None or card.fingerprint_hash is None or t.transaction_type != "PAYMENT":
        return None
    failed = t.status == "FAILED"
    if not failed and not t.ledger:
        return None
    digest = bytes.fromhex(card.fingerprint_hash)
    customer = customer_uuid(t.merchant_id, t.customer_id) if t.customer_id else None
    return CardObservation(
        profile_id=card_profile_uuid(t.merchant_id, digest),
        merchant_id=t.merchant_id,
        fingerprint_hash=digest,
        key_version=card.fingerprint_key_version or "",
        brand=card.brand,
        customer_id=customer,
        occurred_at=t.occurred_at,
        uses=0 if failed else 1,
        failures=1 if failed else 0,
        transaction_id=t.transaction_id,
    )


def _transaction_effects(t: TransactionEvent, owners: Mapping[UUID, str]) -> Effects:
    out = Effects()
    m, at = t.merchant_id, t.occurred_at
    if t.transaction_type in NO_CUSTOMER_TYPES:
        return out
    card = _card(t)
    if card is not None:
        out.cards.append(card)
    if t.customer_id and t.ledger:
        out.touches.append(_touch(m, t.customer_id, at, seen=True, react=True))
        if _counts_payment(t):
            out.ledger.append(
                _entry(m, t.customer_id, t.transaction_id, "PAYMENT", t.amount_cents, 1, at)
            )
    original = t.original_transaction_id
    if _counts_refund(t) and original is not None and original in owners:
        owner = owners[original]
        out.touches.append(_touch(m, owner, at, seen=True, react=False))
        out.ledger.append(_entry(m, owner, t.transaction_id, "REFUND", -t.amount_cents, 0, at))
    return out


def _dispute_effects(d: DisputeEvent, owners: Mapping[UUID, str]) -> Effects:
    out = Effects()
    txn = d.disputed_transaction_id
    if d.state != "LOST" or txn is None or txn not in owners or d.amount_cents is None:
        return out
    owner, at = owners[txn], d.occurred_at
    out.touches.append(_touch(d.merchant_id, owner, at, seen=True, react=False))
    out.ledger.append(_entry(d.merchant_id, owner, txn, "DISPUTE_LOST", -d.amount_cents, 0, at))
    return out


def _customer_effects(c: CustomerEvent) -> Effects:
    out = Effects()
    m, at = c.merchant_id, c.occurred_at
    if c.lifecycle == "DELETED":
        out.archives.append(Archive(customer_uuid(m, c.customer_id), m, c.customer_id, at))
    else:
        out.touches.append(_touch(m, c.customer_id, at, seen=False, react=True))
    return out


def effects(record: CanonicalEvent, owners: Mapping[UUID, str]) -> Effects:
    """What ``record`` does to the registry, given the owners of original payments."""
    if isinstance(record, TransactionEvent):
        return _transaction_effects(record, owners)
    if isinstance(record, DisputeEvent):
        return _dispute_effects(record, owners)
    if isinstance(record, CustomerEvent):
        return _customer_effects(record)
    return Effects()
