"""The payment family: ``payment.created/updated`` and ``refund.created/updated`` (square.md).

One record per (transaction, type), decided from the object alone — the agent's "publish
only when the primary row was inserted" does the rest across many versions:

* APPROVED → AUTHORIZATION (primary: its row); COMPLETED → PAYMENT (primary: its row,
  plus one ``transaction_fees`` row per ``processing_fee`` entry, inserted independently so
  a fee posted on a later version still lands); CANCELED of an approved payment → VOID;
  FAILED → canonical only (PAYMENT, status FAILED, ``ledger=false``); PENDING → nothing.
* A COMPLETED refund → REFUND row + ``refund_links`` row (+ its fee rows); PENDING, REJECTED
  and FAILED refunds → canonical only.

The body may be a webhook (``data.object.payment``) or an API response (``{"payment": …}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from canary_stream.models.canonical import Card
from canary_stream.square.parse.base import ParseContext, ParsedRecord, transaction_id
from canary_stream.square.parse.common import Node, load_json, webhook_object
from canary_stream.square.parse.records import Txn, build, fee_rows, row, transaction_record

PAYMENT_STATUSES = ("APPROVED", "PENDING", "COMPLETED", "CANCELED", "FAILED")
REFUND_STATUSES = ("PENDING", "COMPLETED", "REJECTED", "FAILED")
_PREPAID = {"PREPAID": True, "NOT_PREPAID": False}


def parse_payment(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """Records of one version of a Square Payment."""
    p = webhook_object(load_json(raw), "payment")
    status = p.enum("status", PAYMENT_STATUSES)
    if status == "PENDING":
        return []
    if status == "CANCELED" and not _was_approved(p):
        return []
    details = p.opt_child("card_details")
    timeline = details.opt_child("card_payment_timeline") if details else None
    extra: dict[str, Any] = {
        "card": _card(ctx, details),
        "delay_action": p.opt_code("delay_action"),
        "delayed_until": p.opt_time("delayed_until"),
    }
    if status == "APPROVED":
        when = _timeline(timeline, "authorized_at") or p.time("created_at")
        return [transaction_record(ctx, _txn(ctx, p, "AUTHORIZATION", status, when), **extra)]
    if status == "CANCELED":
        when = _timeline(timeline, "voided_at") or p.time("updated_at")
        txn = _txn(ctx, p, "VOID", status, when)
        auth = _txn(ctx, p, "AUTHORIZATION", "APPROVED", _authorized_at(p, timeline))
        return [
            transaction_record(
                ctx,
                txn,
                original_transaction_id=auth.id(ctx),
                original_occurred_at=auth.occurred_at,
                original_employee_id=auth.employee_id,
                **extra,
            )
        ]
    if status == "FAILED":
        txn = _txn(ctx, p, "PAYMENT", status, p.first_time("updated_at", "created_at"))
        return [transaction_record(ctx, txn, ledger=False, **extra)]
    when = _timeline(timeline, "captured_at") or p.time("updated_at")
    txn = _txn(ctx, p, "PAYMENT", status, when)
    fees, fee_total = fee_rows(ctx, txn.id(ctx), p.children("processing_fee"))
    return [transaction_record(ctx, txn, rows=fees, fee_cents=fee_total, **extra)]


def parse_refund(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """The record of one version of a Square PaymentRefund."""
    r = webhook_object(load_json(raw), "refund")
    status = r.enum("status", REFUND_STATUSES)
    refund_id = r.text("id")
    payment_id = r.opt_text("payment_id")
    reason = r.opt_text("reason")
    txn = Txn(
        external_id=refund_id,
        transaction_type="REFUND",
        status=status,
        occurred_at=r.time("created_at"),
        amount_cents=r.money("amount_money", ctx.currency),
        location_id=r.opt_text("location_id"),
        employee_id=r.opt_text("team_member_id"),
        order_id=r.opt_text("order_id"),
    )
    original = transaction_id(ctx.merchant_id, payment_id, "PAYMENT") if payment_id else None
    extra: dict[str, Any] = {"original_transaction_id": original, "refund_reason": reason}
    if status != "COMPLETED":
        return [transaction_record(ctx, txn, ledger=False, **extra)]
    refund_txn_id = txn.id(ctx)
    fees, fee_total = fee_rows(ctx, refund_txn_id, r.children("processing_fee"))
    links = []
    if original is not None:
        links.append(
            row(
                "refund_links",
                ("refund_transaction_id",),
                refund_transaction_id=refund_txn_id,
                merchant_id=ctx.merchant_id,
                original_transaction_id=original,
                amount_cents=txn.amount_cents,
                reason=reason,
            )
        )
    return [transaction_record(ctx, txn, rows=[*links, *fees], fee_cents=fee_total, **extra)]


def _txn(ctx: ParseContext, p: Node, ttype: str, status: str, when: datetime) -> Txn:
    return Txn(
        external_id=p.text("id"),
        transaction_type=ttype,
        status=status,
        occurred_at=when,
        amount_cents=p.money("amount_money", ctx.currency),
        location_id=p.opt_text("location_id"),
        device_id=_device_id(p),
        employee_id=p.opt_text("team_member_id") or p.opt_text("employee_id"),
        customer_id=p.opt_text("customer_id"),
        order_id=p.opt_text("order_id"),
        approved_amount_cents=p.opt_money("approved_money", ctx.currency),
        tip_cents=p.opt_money("tip_money", ctx.currency),
    )


def _timeline(timeline: Node | None, name: str) -> datetime | None:
    return timeline.opt_time(name) if timeline is not None else None


def _authorized_at(p: Node, timeline: Node | None) -> datetime:
    """When the AUTHORIZATION this payment's VOID cancels occurred (same rule as its row)."""
    return _timeline(timeline, "authorized_at") or p.time("created_at")


def _was_approved(p: Node) -> bool:
    """A CANCELED payment is a VOID only when it was approved first (cards: VOIDED)."""
    details = p.opt_child("card_details")
    if details is not None:
        if details.opt_text("status") == "VOIDED":
            return True
        timeline = details.opt_child("card_payment_timeline")
        if timeline is not None and timeline.opt_time("authorized_at") is not None:
            return True
    return p.get("approved_money") is not None


def _device_id(p: Node) -> str | None:
    for holder in (p, p.opt_child("card_details")):
        device = holder.opt_child("device_details") if holder is not None else None
        if device is not None and device.opt_text("device_id"):
            return device.opt_text("device_id")
    return None


def _card(ctx: ParseContext, details: Node | None) -> Card | None:
    """The card as canonical events carry it: keyed fingerprint hash, never the raw fields."""
    if details is None:
        return None
    card = details.opt_child("card")
    fingerprint = card.opt_text("fingerprint") if card is not None else None
    digest, version = ctx.card_hash(ctx.merchant_id, fingerprint) if fingerprint else (b"", None)
    prepaid = card.opt_code("prepaid_type") if card is not None else None
    return build(
        Card,
        fingerprint_hash=digest.hex() if fingerprint else None,
        fingerprint_key_version=version,
        brand=card.opt_code("card_brand") if card is not None else None,
        entry_method=details.opt_code("entry_method"),
        card_type=card.opt_code("card_type") if card is not None else None,
        prepaid=_PREPAID.get(prepaid) if prepaid else None,
    )
