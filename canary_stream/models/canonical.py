"""The canonical event on ``canary.detection`` (square.md): common fields plus one model per kind.

:class:`CanonicalEvent` holds the fields every kind shares; consumers that need only those
(the detect and customers agents' decode step) decode any record with it. The per-kind
models narrow ``kind`` and add their fields; :data:`CanonicalRecord` is the discriminated
union of them all and :func:`decode_canonical` decodes one topic value into the right model.

Money is int64 minor units beside ``currency``; quantities are decimal strings; no field
ever carries personal data (names, emails, phones, addresses, notes, card last 4, expiry,
BIN or the raw card fingerprint). Adding an optional field does not bump ``schema_version``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, TypeAdapter

from canary_stream.models.envelope import SourceType
from canary_stream.models.wire import HexDigest, RecordType, UtcDatetime, WireModel

Kind = Literal[
    "transaction", "loyalty", "dispute", "gift_card", "cash_drawer_shift", "customer", "payout"
]
TransactionType = Literal[
    "AUTHORIZATION", "PAYMENT", "VOID", "REFUND", "SALE", "EXCHANGE", "NO_SALE", "PAID_IN",
    "PAID_OUT",
]  # fmt: skip
TenderType = Literal["CARD", "CASH", "GIFT_CARD", "CHECK", "OTHER"]
LoyaltyEventType = Literal["ENROLL", "ACCUMULATE", "REDEEM", "ADJUST"]
GiftCardActivityType = Literal["LOAD", "ACTIVATE", "REDEEM", "ADJUST"]
ShiftState = Literal["OPEN", "ENDED", "CLOSED"]
CustomerLifecycle = Literal["CREATED", "UPDATED", "DELETED"]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
#: A non-negative decimal with at most five fractional digits (``numeric(19,5)``).
Quantity = Annotated[str, StringConstraints(pattern=r"^\d{1,14}(\.\d{1,5})?$")]


class _Part(BaseModel):
    """A nested value of a canonical event: frozen, unknown fields ignored on read."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Card(_Part):
    """What a card payment says about the card — never last 4, expiry, BIN or the fingerprint."""

    fingerprint_hash: HexDigest | None = None
    fingerprint_key_version: str | None = None
    brand: str | None = None
    entry_method: str | None = None
    card_type: str | None = None
    prepaid: bool | None = None


class Tender(_Part):
    """One tender of a SALE / EXCHANGE (each Square tender is one payment)."""

    payment_id: str
    payment_transaction_id: UUID
    tender_type: TenderType
    amount_cents: int
    card_brand: str | None = None


class LineItem(_Part):
    """One line of a SALE / EXCHANGE; ``returned`` marks the lines of the order's returns."""

    line_uid: str
    catalog_object_id: str | None = None
    name: str | None = None
    quantity: Quantity
    unit_price_cents: int | None = None
    gross_sales_cents: int
    discount_cents: int = 0
    returned: bool = False


class CanonicalEvent(WireModel):
    """One business record parsed from a sealed event: the fields every kind shares."""

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


class TransactionEvent(CanonicalEvent):
    """A ledger transaction (or, with ``ledger=false``, a FAILED payment / unsettled refund)."""

    kind: Literal["transaction"] = "transaction"
    transaction_id: UUID
    external_id: str
    transaction_type: TransactionType
    status: str
    ledger: bool = True
    device_id: str | None = None
    employee_id: str | None = None
    customer_id: str | None = None
    amount_cents: int
    approved_amount_cents: int | None = None
    tip_cents: int | None = None
    fee_cents: int | None = None
    currency: Currency
    delay_action: str | None = None
    delayed_until: UtcDatetime | None = None
    order_id: str | None = None
    original_transaction_id: UUID | None = None
    original_occurred_at: UtcDatetime | None = None
    original_employee_id: str | None = None
    refund_reason: str | None = None
    card: Card | None = None
    shift_id: str | None = None
    tenders: tuple[Tender, ...] = ()
    line_items: tuple[LineItem, ...] = ()


class LoyaltyEvent(CanonicalEvent):
    """A loyalty event; ``square_event_type`` keeps Square's own type for the curious."""

    kind: Literal["loyalty"] = "loyalty"
    loyalty_account_id: str
    loyalty_event: LoyaltyEventType
    points: int
    square_loyalty_event_id: str
    square_event_type: str
    customer_id: str | None = None
    order_id: str | None = None


class DisputeEvent(CanonicalEvent):
    """A dispute in one state (one record per dispute and state)."""

    kind: Literal["dispute"] = "dispute"
    dispute_id: str
    state: str
    reason: str | None = None
    amount_cents: int | None = None
    currency: Currency
    disputed_payment_id: str | None = None
    disputed_transaction_id: UUID | None = None


class GiftCardEvent(CanonicalEvent):
    """A gift-card activity; never the card's GAN."""

    kind: Literal["gift_card"] = "gift_card"
    activity_id: str
    gift_card_id: str
    activity: GiftCardActivityType
    square_activity_type: str
    amount_cents: int | None = None
    currency: Currency


class CashDrawerShiftEvent(CanonicalEvent):
    """A cash-drawer shift in one state (one record per shift and state)."""

    kind: Literal["cash_drawer_shift"] = "cash_drawer_shift"
    shift_id: str
    state: ShiftState
    device_id: str | None = None
    opened_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    opened_cash_cents: int | None = None
    expected_cash_cents: int | None = None
    closed_cash_cents: int | None = None
    currency: Currency
    opening_employee_id: str | None = None
    closing_employee_id: str | None = None


class CustomerEvent(CanonicalEvent):
    """A Square customer was created, updated or deleted (ids only)."""

    kind: Literal["customer"] = "customer"
    customer_id: str
    lifecycle: CustomerLifecycle


class PayoutEvent(CanonicalEvent):
    """A payout in one status; a negative amount is a withdrawal (Square's sign)."""

    kind: Literal["payout"] = "payout"
    payout_id: str
    status: str
    amount_cents: int
    currency: Currency


CanonicalRecord = Annotated[
    TransactionEvent
    | LoyaltyEvent
    | DisputeEvent
    | GiftCardEvent
    | CashDrawerShiftEvent
    | CustomerEvent
    | PayoutEvent,
    Field(discriminator="kind"),
]
"""Any canonical record, told apart by ``kind``."""

_ADAPTER: TypeAdapter[CanonicalRecord] = TypeAdapter(CanonicalRecord)


def decode_canonical(value: bytes | str) -> CanonicalRecord:
    """A ``canary.detection`` value as its per-kind model (raises pydantic's ValidationError)."""
    return _ADAPTER.validate_json(value)


class CanonicalRecordModel(RootModel[CanonicalRecord]):
    """The union as a model, so ``schemas/canonical.schema.json`` describes every kind."""
