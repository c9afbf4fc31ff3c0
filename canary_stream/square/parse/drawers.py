"""Polled cash-drawer pages (auxiliary family): shifts and shift events.

``square.cash_drawer_shift.polled`` — the exact ListCashDrawerShifts response
``{"cash_drawer_shifts": [...], "cursor": ...}``: one ``cash_drawer_shift`` record per shift
in its current state (a ``cash_drawer_shifts`` row per observed state). ``occurred_at``:
``opened_at`` (OPEN), ``ended_at`` (ENDED), ``closed_at`` (CLOSED), else ``updated_at``.

``square.cash_drawer_shift_event.polled`` — Square's shift events do not name their shift,
so the poller wraps the exact ListCashDrawerShiftEvents response::

    {"shift_id": "<square shift id>", "location_id": "<square location id or null>",
     "response": {"cash_drawer_shift_events": [...], "cursor": ...}}

Every event becomes a ``cash_drawer_events`` row; NO_SALE, PAID_IN and PAID_OUT are also
``transactions`` rows with a ``kind=transaction`` record (primary: the transaction row).
The other event types (cash tenders, refunds, cancellations) are rows only: their record's
``canonical`` is None and the agent publishes nothing for them. Descriptions (free text
typed by staff) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from canary_stream.models.canonical import CashDrawerShiftEvent
from canary_stream.square.parse.base import LedgerRow, ParseContext, ParsedRecord
from canary_stream.square.parse.common import Node, load_json
from canary_stream.square.parse.records import Txn, build, common, row, transaction_record

SHIFT_STATES = {"OPEN": "opened_at", "ENDED": "ended_at", "CLOSED": "closed_at"}
DRAWER_EVENT_TYPES = (
    "NO_SALE", "CASH_TENDER_PAYMENT", "OTHER_TENDER_PAYMENT", "CASH_TENDER_CANCELLED_PAYMENT",
    "OTHER_TENDER_CANCELLED_PAYMENT", "CASH_TENDER_REFUND", "OTHER_TENDER_REFUND", "PAID_IN",
    "PAID_OUT",
)  # fmt: skip
#: Drawer event types that are also ledger transactions.
DRAWER_TRANSACTIONS = ("NO_SALE", "PAID_IN", "PAID_OUT")


def parse_shifts(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """One record per shift of a ListCashDrawerShifts page."""
    page = Node(load_json(raw), "")
    return [_shift(ctx, s) for s in page.children("cash_drawer_shifts")]


def parse_shift_events(raw: bytes, ctx: ParseContext) -> Sequence[ParsedRecord]:
    """One record per event of a wrapped ListCashDrawerShiftEvents page."""
    wrapper = Node(load_json(raw), "")
    shift_id = wrapper.text("shift_id")
    location_id = wrapper.opt_text("location_id")
    page = wrapper.child("response")
    return [
        _drawer_event(ctx, e, shift_id, location_id)
        for e in page.children("cash_drawer_shift_events")
    ]


def _shift(ctx: ParseContext, s: Node) -> ParsedRecord:
    shift_id = s.text("id")
    state = s.enum("state", SHIFT_STATES)
    occurred_at = s.first_time(SHIFT_STATES[state], "updated_at")
    cur = ctx.currency
    device = s.opt_child("device")
    values = {
        "device_id": device.opt_text("id") if device is not None else None,
        "opened_at": s.opt_time("opened_at"),
        "ended_at": s.opt_time("ended_at"),
        "closed_at": s.opt_time("closed_at"),
        "opened_cash_cents": s.opt_money("opened_cash_money", cur),
        "expected_cash_cents": s.opt_money("expected_cash_money", cur, signed=True),
        "closed_cash_cents": s.opt_money("closed_cash_money", cur),
        "opening_employee_id": s.opt_text("opening_team_member_id"),
        "closing_employee_id": s.opt_text("closing_team_member_id")
        or s.opt_text("ending_team_member_id"),
    }
    location_id = s.opt_text("location_id")
    event = build(
        CashDrawerShiftEvent,
        **common(ctx, "cash_drawer_shift", (shift_id, state), occurred_at, location_id),
        shift_id=shift_id,
        state=state,
        currency=cur,
        **values,
    )
    primary = row(
        "cash_drawer_shifts",
        ("merchant_id", "square_shift_id", "state"),
        merchant_id=ctx.merchant_id,
        square_shift_id=shift_id,
        location_id=location_id,
        state=state,
        **values,
    )
    return ParsedRecord(canonical=event, rows=(primary,), primary=primary)


def _drawer_event(
    ctx: ParseContext, e: Node, shift_id: str, location_id: str | None
) -> ParsedRecord:
    event_id = e.text("id")
    event_type = e.enum("event_type", DRAWER_EVENT_TYPES)
    amount = e.opt_money("event_money", ctx.currency)
    employee_id = e.opt_text("team_member_id") or e.opt_text("employee_id")
    occurred_at = e.time("created_at")
    drawer_row: LedgerRow = row(
        "cash_drawer_events",
        ("merchant_id", "square_event_id"),
        merchant_id=ctx.merchant_id,
        square_event_id=event_id,
        square_shift_id=shift_id,
        event_type=event_type,
        amount_cents=amount,
        employee_id=employee_id,
        occurred_at=occurred_at,
    )
    if event_type not in DRAWER_TRANSACTIONS:
        return ParsedRecord(canonical=None, rows=(drawer_row,))
    txn = Txn(
        external_id=event_id,
        transaction_type=event_type,
        status="COMPLETED",
        occurred_at=occurred_at,
        amount_cents=amount or 0,
        location_id=location_id,
        employee_id=employee_id,
    )
    return transaction_record(ctx, txn, rows=(drawer_row,), shift_id=shift_id)
