"""The loyalty family: ``loyalty.account.created/updated/deleted`` and ``loyalty.event.created``.

Square's loyalty event types map onto the four of square.md (``square_event_type`` keeps
Square's own): ACCUMULATE_POINTS and ACCUMULATE_PROMOTION_POINTS → ACCUMULATE (+points);
REDEEM_REWARD → REDEEM (0 points: they left the balance when the reward was created);
CREATE_REWARD → ADJUST (-points), DELETE_REWARD → ADJUST (+points), ADJUST_POINTS → ADJUST
(signed), EXPIRE_POINTS → ADJUST (-points), OTHER → ADJUST (signed). A created account is an
ENROLL (its ``square_loyalty_event_id`` is ``enroll:{account_id}``); account updates and
deletions carry no loyalty event and produce nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from canary_stream.models.canonical import LoyaltyEvent
from canary_stream.square.parse.base import ParseContext, ParsedRecord
from canary_stream.square.parse.common import event_location, load_json, webhook_object
from canary_stream.square.parse.records import build, common, row

#: Square type → (our type, the detail object holding ``points``, sign applied).
EVENT_TYPES: dict[str, tuple[str, str | None, int]] = {
    "ACCUMULATE_POINTS": ("ACCUMULATE", "accumulate_points", 1),
    "ACCUMULATE_PROMOTION_POINTS": ("ACCUMULATE", "accumulate_promotion_points", 1),
    "REDEEM_REWARD": ("REDEEM", None, 0),
    "CREATE_REWARD": ("ADJUST", "create_reward", -1),
    "DELETE_REWARD": ("ADJUST", "delete_reward", 1),
    "ADJUST_POINTS": ("ADJUST", "adjust_points", 0),
    "EXPIRE_POINTS": ("ADJUST", "expire_points", -1),
    "OTHER": ("ADJUST", "other_event", 0),
}
#: Points beyond this are absurd.
MAX_POINTS = 10**9


def parse_loyalty_event(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """The record of one Square LoyaltyEvent."""
    doc = load_json(raw)
    e = webhook_object(doc, "loyalty_event")
    square_type = e.enum("type", EVENT_TYPES)
    ours, detail_name, sign = EVENT_TYPES[square_type]
    points, order_id = 0, None
    if detail_name is not None:
        detail = e.child(detail_name)
        points = detail.integer("points", limit=MAX_POINTS)
        points = abs(points) * sign if sign else points
        order_id = detail.opt_text("order_id")
    elif (redeem := e.opt_child("redeem_reward")) is not None:
        order_id = redeem.opt_text("order_id")
    return [
        _record(
            ctx,
            event_id=e.text("id"),
            account_id=e.text("loyalty_account_id"),
            ours=ours,
            square_type=square_type,
            points=points,
            occurred_at=e.time("created_at"),
            location_id=e.opt_text("location_id") or event_location(doc),
            order_id=order_id,
        )
    ]


def parse_account_created(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """A new loyalty account is an ENROLL."""
    doc = load_json(raw)
    account = webhook_object(doc, "loyalty_account")
    account_id = account.text("id")
    return [
        _record(
            ctx,
            event_id=f"enroll:{account_id}",
            account_id=account_id,
            ours="ENROLL",
            square_type="ACCOUNT_CREATED",
            points=0,
            occurred_at=account.first_time("enrolled_at", "created_at"),
            location_id=event_location(doc),
            customer_id=account.opt_text("customer_id"),
        )
    ]


def parse_account_change(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """Account updates and deletions: validated, no record (balances move by loyalty events)."""
    webhook_object(load_json(raw), "loyalty_account").text("id")
    return []


def _record(
    ctx: ParseContext,
    *,
    event_id: str,
    account_id: str,
    ours: str,
    square_type: str,
    points: int,
    occurred_at: datetime,
    location_id: str | None,
    order_id: str | None = None,
    customer_id: str | None = None,
) -> ParsedRecord:
    event = build(
        LoyaltyEvent,
        **common(ctx, "loyalty", (event_id,), occurred_at, location_id),
        loyalty_account_id=account_id,
        loyalty_event=ours,
        points=points,
        square_loyalty_event_id=event_id,
        square_event_type=square_type,
        customer_id=customer_id,
        order_id=order_id,
    )
    primary = row(
        "loyalty_events",
        ("merchant_id", "square_loyalty_event_id"),
        merchant_id=ctx.merchant_id,
        square_loyalty_event_id=event_id,
        loyalty_account_id=account_id,
        event_type=ours,
        points=points,
        location_id=location_id,
        occurred_at=occurred_at,
    )
    return ParsedRecord(canonical=event, rows=(primary,), primary=primary)
