"""The payout family: ``payout.sent``, ``payout.paid``, ``payout.failed`` — a record per status.

``occurred_at`` is the payout's ``updated_at`` (when it reached the status), else its
``created_at``. Square signs payouts: a negative amount is a withdrawal, so the amount may be
negative here (still bounded and in the merchant's currency).
"""

from __future__ import annotations

from collections.abc import Sequence

from canary_stream.models.canonical import PayoutEvent
from canary_stream.square.parse.base import ParseContext, ParsedRecord
from canary_stream.square.parse.common import load_json, webhook_object
from canary_stream.square.parse.records import build, common, row

PAYOUT_STATUSES = ("SENT", "FAILED", "PAID")


def parse_payout(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """The record of one Square Payout in its current status."""
    p = webhook_object(load_json(raw), "payout")
    payout_id = p.text("id")
    status = p.enum("status", PAYOUT_STATUSES)
    amount = p.money("amount_money", ctx.currency, signed=True)
    occurred_at = p.first_time("updated_at", "created_at")
    event = build(
        PayoutEvent,
        **common(ctx, "payout", (payout_id, status), occurred_at, p.opt_text("location_id")),
        payout_id=payout_id,
        status=status,
        amount_cents=amount,
        currency=ctx.currency,
    )
    primary = row(
        "payouts",
        ("merchant_id", "payout_id", "status"),
        merchant_id=ctx.merchant_id,
        payout_id=payout_id,
        status=status,
        amount_cents=amount,
        occurred_at=occurred_at,
    )
    return [ParsedRecord(canonical=event, rows=(primary,), primary=primary)]
