"""The auxiliary family: customer lifecycle, gift-card activity and merchant revocation.

(The polled cash-drawer envelopes of this family live in :mod:`.drawers`.)

* ``customer.created/updated/deleted`` → a ``kind=customer`` record (ids only, no rows; the
  customers agent keeps ``app.customers``). ``occurred_at``: the customer's ``created_at``
  (CREATED), ``updated_at`` (UPDATED), the event's ``created_at`` (DELETED).
* ``gift_card.activity.created`` → a ``gift_card_activities`` row: ACTIVATE, LOAD and
  REDEEM as themselves; REFUND, UNLINKED_ACTIVITY_REFUND and TRANSFER_BALANCE_TO (money onto
  the card) → LOAD; TRANSFER_BALANCE_FROM → REDEEM; ADJUST_INCREMENT, ADJUST_DECREMENT,
  CLEAR_BALANCE, IMPORT and IMPORT_REVERSAL → ADJUST; DEACTIVATE, BLOCK and UNBLOCK move no
  money and produce nothing. Never the card's GAN.
* ``oauth.authorization.revoked`` → a :class:`~.actions.MerchantRevoked` for the agent.
"""

from __future__ import annotations

from collections.abc import Sequence

from canary_stream.models.canonical import CustomerEvent, GiftCardEvent
from canary_stream.square.parse.actions import MerchantRevoked
from canary_stream.square.parse.base import ParseContext, ParsedRecord, ParseError
from canary_stream.square.parse.common import (
    Node,
    event_location,
    load_json,
    webhook_object,
)
from canary_stream.square.parse.records import build, common, row

LIFECYCLES = {
    "customer.created": "CREATED",
    "customer.updated": "UPDATED",
    "customer.deleted": "DELETED",
}
#: Square gift-card activity type → ours (None: moves no money, no record).
GIFT_CARD_ACTIVITIES: dict[str, str | None] = {
    "ACTIVATE": "ACTIVATE",
    "LOAD": "LOAD",
    "REDEEM": "REDEEM",
    "REFUND": "LOAD",
    "UNLINKED_ACTIVITY_REFUND": "LOAD",
    "TRANSFER_BALANCE_TO": "LOAD",
    "TRANSFER_BALANCE_FROM": "REDEEM",
    "ADJUST_INCREMENT": "ADJUST",
    "ADJUST_DECREMENT": "ADJUST",
    "CLEAR_BALANCE": "ADJUST",
    "IMPORT": "ADJUST",
    "IMPORT_REVERSAL": "ADJUST",
    "DEACTIVATE": None,
    "BLOCK": None,
    "UNBLOCK": None,
}


def parse_customer(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """The lifecycle record of a Square customer (the event type says which)."""
    lifecycle = LIFECYCLES.get(ctx.event_type)
    if lifecycle is None:
        raise ParseError(f"event type {ctx.event_type[:64]!r} is not a customer event")
    doc = load_json(raw)
    c = webhook_object(doc, "customer")
    customer_id = c.text("id")
    key: tuple[object, ...] = (customer_id, lifecycle)
    if lifecycle == "CREATED":
        occurred_at = c.first_time("created_at", "updated_at")
    elif lifecycle == "UPDATED":
        occurred_at = c.first_time("updated_at", "created_at")
        version = c.opt_integer("version", limit=2**63)
        key = (*key, version if version is not None else occurred_at.isoformat())
    else:
        occurred_at = Node(doc, "").opt_time("created_at") or c.first_time("updated_at")
    event = build(
        CustomerEvent,
        **common(ctx, "customer", key, occurred_at, event_location(doc)),
        customer_id=customer_id,
        lifecycle=lifecycle,
    )
    return [ParsedRecord(canonical=event)]


def parse_gift_card_activity(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """The record of one gift-card activity, or nothing for those that move no money."""
    doc = load_json(raw)
    a = webhook_object(doc, "gift_card_activity")
    square_type = a.enum("type", GIFT_CARD_ACTIVITIES)
    activity = GIFT_CARD_ACTIVITIES[square_type]
    if activity is None:
        return []
    activity_id = a.text("id")
    gift_card_id = a.text("gift_card_id")
    details = a.opt_child(f"{square_type.lower()}_activity_details")
    amount = details.opt_money("amount_money", ctx.currency) if details is not None else None
    occurred_at = a.time("created_at")
    location_id = a.opt_text("location_id") or event_location(doc)
    event = build(
        GiftCardEvent,
        **common(ctx, "gift_card", (activity_id,), occurred_at, location_id),
        activity_id=activity_id,
        gift_card_id=gift_card_id,
        activity=activity,
        square_activity_type=square_type,
        amount_cents=amount,
        currency=ctx.currency,
    )
    primary = row(
        "gift_card_activities",
        ("merchant_id", "activity_id"),
        merchant_id=ctx.merchant_id,
        activity_id=activity_id,
        gift_card_id=gift_card_id,
        activity=activity,
        amount_cents=amount,
        location_id=location_id,
        occurred_at=occurred_at,
    )
    return [ParsedRecord(canonical=event, rows=(primary,), primary=primary)]


def parse_revocation(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """``oauth.authorization.revoked``: a :class:`MerchantRevoked` instruction, no canonical."""
    doc = load_json(raw)
    revocation = webhook_object(doc, "revocation")
    revoked_at = revocation.opt_time("revoked_at") or Node(doc, "").time("created_at")
    action = MerchantRevoked(
        merchant_id=ctx.merchant_id,
        event_id=ctx.event_id,
        revoked_at=revoked_at,
        revoker_type=revocation.opt_code("revoker_type"),
    )
    return [ParsedRecord(canonical=action)]
