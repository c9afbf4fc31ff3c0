"""Canonical events and ledger rows built from parsed values: ids, common fields, row shapes.

Table names are schema-qualified; every row carries ``merchant_id``; a row's ``key`` is the
natural unique key of its table (data-model.md), the conflict target of the agent's
``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from canary_stream.models.canonical import TransactionEvent
from canary_stream.square.parse.base import (
    LedgerRow,
    ParseContext,
    ParsedRecord,
    ParseError,
    canonical_id,
    transaction_id,
)
from canary_stream.square.parse.common import Node

M = TypeVar("M", bound=BaseModel)

TRANSACTIONS = "sales.transactions"
TRANSACTION_KEY = ("merchant_id", "external_id", "transaction_type")


def row(table: str, key: tuple[str, ...], **values: Any) -> LedgerRow:
    """A ledger row of ``sales.<table>``."""
    return LedgerRow(table=f"sales.{table}", values=values, key=key)


def build(model: type[M], **fields: Any) -> M:
    """Validate a canonical model; a failure is a :class:`ParseError` (one line)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParseError(f"canonical {model.__name__}.{where}: {first['msg']}") from None


def common(
    ctx: ParseContext,
    kind: str,
    key: Sequence[object],
    occurred_at: datetime,
    location_id: str | None,
) -> dict[str, Any]:
    """The fields every canonical event shares; ``key`` is the record's natural key."""
    return {
        "canonical_id": canonical_id(ctx.merchant_id, kind, *key),
        "event_id": ctx.event_id,
        "merchant_id": ctx.merchant_id,
        "source_type": ctx.source_type,
        "source_event_id": ctx.source_event_id,
        "source_event_type": ctx.event_type,
        "event_hash": ctx.event_hash,
        "received_at": ctx.received_at,
        "occurred_at": occurred_at,
        "location_id": location_id,
        "kind": kind,
        "mode": ctx.mode,
    }


@dataclass(frozen=True)
class Txn:
    """The values a ``sales.transactions`` row and its canonical event share."""

    external_id: str
    transaction_type: str
    status: str
    occurred_at: datetime
    amount_cents: int
    location_id: str | None = None
    device_id: str | None = None
    employee_id: str | None = None
    customer_id: str | None = None
    order_id: str | None = None
    approved_amount_cents: int | None = None
    tip_cents: int | None = None

    def id(self, ctx: ParseContext) -> uuid.UUID:
        """``transaction_id(m, external_id, transaction_type)``."""
        return transaction_id(ctx.merchant_id, self.external_id, self.transaction_type)


def transaction_row(ctx: ParseContext, txn: Txn) -> LedgerRow:
    """The ``sales.transactions`` row of ``txn`` (every column of the table)."""
    return row(
        "transactions",
        TRANSACTION_KEY,
        id=txn.id(ctx),
        merchant_id=ctx.merchant_id,
        external_id=txn.external_id,
        transaction_type=txn.transaction_type,
        status=txn.status,
        transaction_date=txn.occurred_at,
        location_id=txn.location_id,
        device_id=txn.device_id,
        employee_id=txn.employee_id,
        customer_id=txn.customer_id,
        order_id=txn.order_id,
        amount_cents=txn.amount_cents,
        approved_amount_cents=txn.approved_amount_cents,
        tip_cents=txn.tip_cents,
        currency=ctx.currency,
        source_type=ctx.source_type,
        event_id=ctx.event_id,
    )


def transaction_record(
    ctx: ParseContext,
    txn: Txn,
    *,
    ledger: bool = True,
    rows: Sequence[LedgerRow] = (),
    **extra: Any,
) -> ParsedRecord:
    """A ``kind=transaction`` record; with ``ledger`` its row is the primary, else no rows."""
    fields = asdict(txn)
    occurred_at = fields.pop("occurred_at")
    location_id = fields.pop("location_id")
    key = (txn.external_id, txn.transaction_type)
    event = build(
        TransactionEvent,
        **common(ctx, "transaction", key, occurred_at, location_id),
        **fields,
        transaction_id=txn.id(ctx),
        ledger=ledger,
        currency=ctx.currency,
        **extra,
    )
    if not ledger:
        return ParsedRecord(canonical=event)
    primary = transaction_row(ctx, txn)
    return ParsedRecord(canonical=event, rows=(primary, *rows), primary=primary)


def fee_rows(
    ctx: ParseContext, owner: uuid.UUID, fees: Sequence[Node]
) -> tuple[list[LedgerRow], int | None]:
    """``transaction_fees`` rows of Square ``processing_fee`` entries, and their signed sum.

    One row per (fee type, effective_at); a repeat of the same pair within one object is
    dropped. The amounts may be negative (Square returns fees with refunds).
    """
    rows: list[LedgerRow] = []
    seen: set[tuple[str, datetime]] = set()
    total: int | None = None
    for fee in fees:
        fee_type = fee.enum("type", ("INITIAL", "ADJUSTMENT"))
        effective_at = fee.time("effective_at")
        amount = fee.money("amount_money", ctx.currency, signed=True)
        if (fee_type, effective_at) in seen:
            continue
        seen.add((fee_type, effective_at))
        total = (total or 0) + amount
        rows.append(
            row(
                "transaction_fees",
                ("transaction_id", "fee_type", "effective_at"),
                transaction_id=owner,
                merchant_id=ctx.merchant_id,
                fee_type=fee_type,
                effective_at=effective_at,
                amount_cents=amount,
                currency=ctx.currency,
            )
        )
    return rows, total
