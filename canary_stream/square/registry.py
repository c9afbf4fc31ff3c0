"""The parser registry: ``(source, event_type)`` → a pure parser. Adding a type is an entry here.

A parser takes the raw bytes of a sealed event and its :class:`ParseContext` and returns
:class:`ParsedRecord` s; it raises :class:`ParseError` / :class:`ForeignCurrency` on a
malformed object (the parse stage quarantines that event). Types not listed are IGNORED.
"""

from __future__ import annotations

from canary_stream.square.parse import (
    auxiliary,
    disputes,
    drawers,
    loyalty,
    orders,
    payments,
    payouts,
)
from canary_stream.square.parse.base import Parser

SOURCE = "square"

#: Registered parsers, by family (square.md, "Parser families").
PARSERS: dict[tuple[str, str], Parser] = {
    # payment
    (SOURCE, "payment.created"): payments.parse_payment,
    (SOURCE, "payment.updated"): payments.parse_payment,
    (SOURCE, "refund.created"): payments.parse_refund,
    (SOURCE, "refund.updated"): payments.parse_refund,
    # order (the fetched order; order.* webhooks are thin and deferred, never parsed)
    (SOURCE, "square.order.retrieved"): orders.parse_order,
    # loyalty
    (SOURCE, "loyalty.account.created"): loyalty.parse_account_created,
    (SOURCE, "loyalty.account.updated"): loyalty.parse_account_change,
    (SOURCE, "loyalty.account.deleted"): loyalty.parse_account_change,
    (SOURCE, "loyalty.event.created"): loyalty.parse_loyalty_event,
    # payout
    (SOURCE, "payout.sent"): payouts.parse_payout,
    (SOURCE, "payout.paid"): payouts.parse_payout,
    (SOURCE, "payout.failed"): payouts.parse_payout,
    # dispute
    (SOURCE, "dispute.created"): disputes.parse_dispute,
    (SOURCE, "dispute.state.updated"): disputes.parse_dispute,
    (SOURCE, "dispute.state.changed"): disputes.parse_dispute,
    (SOURCE, "dispute.evidence.created"): disputes.parse_dispute,
    (SOURCE, "dispute.evidence.deleted"): disputes.parse_dispute,
    (SOURCE, "dispute.evidence.added"): disputes.parse_dispute,
    (SOURCE, "dispute.evidence.removed"): disputes.parse_dispute,
    # auxiliary
    (SOURCE, "customer.created"): auxiliary.parse_customer,
    (SOURCE, "customer.updated"): auxiliary.parse_customer,
    (SOURCE, "customer.deleted"): auxiliary.parse_customer,
    (SOURCE, "gift_card.activity.created"): auxiliary.parse_gift_card_activity,
    (SOURCE, "oauth.authorization.revoked"): auxiliary.parse_revocation,
    (SOURCE, "square.cash_drawer_shift.polled"): drawers.parse_shifts,
    (SOURCE, "square.cash_drawer_shift_event.polled"): drawers.parse_shift_events,
}


def parser_for(source: str, event_type: str) -> Parser | None:
    """The parser of an event type, or None when we do not handle it."""
    return PARSERS.get((source, event_type))
