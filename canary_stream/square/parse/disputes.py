"""The dispute family: a record per dispute and state.

Handles ``dispute.created``, ``dispute.state.updated``, the deprecated
``dispute.state.changed`` and the evidence events (``dispute.evidence.created/deleted`` and
their successors ``.added/.removed``), which carry the dispute in its current state. The
dispute sits at ``data.object.dispute`` (or ``data.object.object`` in older payloads).
``occurred_at`` is the dispute's ``updated_at`` (when it reached the state), else its
``created_at``.
"""

from __future__ import annotations

from collections.abc import Sequence

from canary_stream.models.canonical import DisputeEvent
from canary_stream.square.parse.base import ParseContext, ParsedRecord, transaction_id
from canary_stream.square.parse.common import event_location, load_json, webhook_object
from canary_stream.square.parse.records import build, common, row

DISPUTE_STATES = (
    "INQUIRY_EVIDENCE_REQUIRED", "INQUIRY_PROCESSING", "INQUIRY_CLOSED", "EVIDENCE_REQUIRED",
    "PROCESSING", "WON", "LOST", "ACCEPTED",
)  # fmt: skip


def parse_dispute(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """The record of a Square Dispute in its current state."""
    doc = load_json(raw)
    d = webhook_object(doc, "dispute", "object")
    dispute_id = d.opt_text("id") or d.text("dispute_id")
    state = d.enum("state", DISPUTE_STATES)
    reason = d.opt_code("reason")
    amount = d.opt_money("amount_money", ctx.currency)
    disputed = d.opt_child("disputed_payment")
    payment_id = disputed.opt_text("payment_id") if disputed is not None else None
    disputed_txn = transaction_id(ctx.merchant_id, payment_id, "PAYMENT") if payment_id else None
    occurred_at = d.first_time("updated_at", "created_at")
    location_id = d.opt_text("location_id") or event_location(doc)
    event = build(
        DisputeEvent,
        **common(ctx, "dispute", (dispute_id, state), occurred_at, location_id),
        dispute_id=dispute_id,
        state=state,
        reason=reason,
        amount_cents=amount,
        currency=ctx.currency,
        disputed_payment_id=payment_id,
        disputed_transaction_id=disputed_txn,
    )
    primary = row(
        "disputes",
        ("merchant_id", "dispute_id", "state"),
        merchant_id=ctx.merchant_id,
        dispute_id=dispute_id,
        state=state,
        reason=reason,
        amount_cents=amount,
        disputed_transaction_id=disputed_txn,
        occurred_at=occurred_at,
    )
    return [ParsedRecord(canonical=event, rows=(primary,), primary=primary)]
