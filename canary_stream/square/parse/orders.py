"""The order family: ``square.order.retrieved``, the RetrieveOrder response ``{"order": {…}}``.

A COMPLETED order with line items is a SALE — an EXCHANGE when it also carries returns —
with one ``transaction_line_items`` row per line (returned lines flagged) and one
``transaction_tenders`` row per tender, pointing at the tender's PAYMENT transaction.
Orders in any other state, and completed orders made only of returns (the order Square
creates for a refund, already ledgered as REFUND), produce nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from canary_stream.models.canonical import LineItem, Tender
from canary_stream.square.parse.base import LedgerRow, ParseContext, ParsedRecord, transaction_id
from canary_stream.square.parse.common import Node, load_json
from canary_stream.square.parse.records import Txn, build, row, transaction_record

ORDER_STATES = ("OPEN", "COMPLETED", "CANCELED", "DRAFT")
#: Square tender type → our tender vocabulary.
TENDER_TYPES = {
    "CARD": "CARD",
    "THIRD_PARTY_CARD": "CARD",
    "CASH": "CASH",
    "SQUARE_GIFT_CARD": "GIFT_CARD",
    "NO_SALE": "OTHER",
    "BANK_ACCOUNT": "OTHER",
    "WALLET": "OTHER",
    "BUY_NOW_PAY_LATER": "OTHER",
    "SQUARE_ACCOUNT": "OTHER",
    "OTHER": "OTHER",
}


def parse_order(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """The SALE / EXCHANGE record of a fetched order, or nothing."""
    order = Node(load_json(raw), "").child("order")
    if order.enum("state", ORDER_STATES) != "COMPLETED":
        return []
    sold = order.children("line_items")
    returns = order.children("returns")
    if not sold:
        return []
    txn = Txn(
        external_id=order.text("id"),
        transaction_type="EXCHANGE" if returns else "SALE",
        status="COMPLETED",
        occurred_at=order.time("closed_at"),
        amount_cents=order.opt_money("total_money", ctx.currency) or 0,
        location_id=order.opt_text("location_id"),
        customer_id=order.opt_text("customer_id"),
        order_id=order.text("id"),
        tip_cents=order.opt_money("total_tip_money", ctx.currency),
    )
    owner = txn.id(ctx)
    returned = [li for r in returns for li in r.children("return_line_items")]
    lines = [_line(ctx, li, i, returned=i >= len(sold)) for i, li in enumerate([*sold, *returned])]
    tenders = [_tender(ctx, t) for t in order.children("tenders")]
    rows: list[LedgerRow] = []
    seen_lines: set[str] = set()
    for line in lines:
        if line.line_uid not in seen_lines:
            seen_lines.add(line.line_uid)
            rows.append(_line_row(ctx, owner, line))
    seen_tenders: set[uuid.UUID] = set()
    for tender in tenders:
        if tender.payment_transaction_id not in seen_tenders:
            seen_tenders.add(tender.payment_transaction_id)
            rows.append(_tender_row(ctx, owner, tender))
    return [
        transaction_record(ctx, txn, rows=rows, tenders=tuple(tenders), line_items=tuple(lines))
    ]


def _line(ctx: ParseContext, li: Node, index: int, *, returned: bool) -> LineItem:
    cur = ctx.currency
    li.quantity("quantity")  # validated: a decimal string that fits numeric(19,5)
    gross = li.opt_money("gross_return_money" if returned else "gross_sales_money", cur)
    if gross is None:
        gross = li.opt_money("total_money", cur) or 0
    return build(
        LineItem,
        line_uid=li.opt_text("uid") or f"line:{index}",
        catalog_object_id=li.opt_text("catalog_object_id"),
        name=li.opt_text("name"),
        quantity=li.text("quantity"),
        unit_price_cents=li.opt_money("base_price_money", cur),
        gross_sales_cents=gross,
        discount_cents=li.opt_money("total_discount_money", cur) or 0,
        returned=returned,
    )


def _tender(ctx: ParseContext, t: Node) -> Tender:
    kind = t.enum("type", TENDER_TYPES)
    payment_id = t.opt_text("payment_id") or t.text("id")
    card = t.opt_child("card_details")
    card_obj = card.opt_child("card") if card is not None else None
    return build(
        Tender,
        payment_id=payment_id,
        payment_transaction_id=transaction_id(ctx.merchant_id, payment_id, "PAYMENT"),
        tender_type=TENDER_TYPES[kind],
        amount_cents=t.opt_money("amount_money", ctx.currency) or 0,
        card_brand=card_obj.opt_code("card_brand") if card_obj is not None else None,
    )


def _line_row(ctx: ParseContext, owner: uuid.UUID, line: LineItem) -> LedgerRow:
    return row(
        "transaction_line_items",
        ("transaction_id", "line_uid"),
        transaction_id=owner,
        merchant_id=ctx.merchant_id,
        line_uid=line.line_uid,
        catalog_object_id=line.catalog_object_id,
        name=line.name,
        quantity=Decimal(line.quantity),
        unit_price_cents=line.unit_price_cents,
        gross_sales_cents=line.gross_sales_cents,
        discount_cents=line.discount_cents,
        returned=line.returned,
    )


def _tender_row(ctx: ParseContext, owner: uuid.UUID, tender: Tender) -> LedgerRow:
    return row(
        "transaction_tenders",
        ("transaction_id", "payment_transaction_id"),
        transaction_id=owner,
        merchant_id=ctx.merchant_id,
        payment_transaction_id=tender.payment_transaction_id,
        tender_type=tender.tender_type,
        amount_cents=tender.amount_cents,
        card_brand=tender.card_brand,
    )
