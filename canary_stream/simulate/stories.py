"""What every story needs: the story types, the default mix, and shared helpers.

A story is a generator of ``(event_type, object)`` steps; the scheduler serialises each
step at once (objects change in place between steps). The story mixins
(:mod:`payment_stories`, :mod:`account_stories`, :mod:`fraud`) build on
:class:`StoryBase`, which :class:`~canary_stream.simulate.payloads.Traffic` completes.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Iterator, Mapping
from datetime import datetime, timedelta

from canary_stream.simulate.drawer import Drawer
from canary_stream.simulate.world import Card, Json, Merchant, new_card

Step = tuple[str, Json]
Story = Iterator[Step]
#: A story that hands back the payment it told (``p = yield from ...``).
PaymentStory = Generator[Step, None, Json]

#: Story kinds of ordinary store traffic and their default weights.
DEFAULT_MIX: dict[str, float] = {
    "sale": 38,  # card sale first seen COMPLETED, then its fee
    "delayed": 12,  # APPROVED (delayed capture), later COMPLETED, then the fee
    "void": 4,  # APPROVED, then CANCELED
    "keyed": 5,  # card-not-present KEYED sale
    "cash": 14,  # CASH payment (and its drawer event)
    "declined": 5,  # FAILED attempts, often followed by a good sale
    "refund": 8,  # refund of an earlier completed payment
    "order": 7,  # thin order webhooks around one to three tenders (split tender)
    "exchange": 1,  # an order returning a line of an earlier order and selling others
    "customer": 3,  # customer.created / updated / deleted
    "loyalty": 3,  # loyalty.account.created, or ADJUST_POINTS
    "gift_card": 3,  # ACTIVATE, LOAD, or a gift-card payment and its REDEEM
    "dispute": 1,  # dispute.created, then dispute.state.updated to WON / LOST / ACCEPTED
    "payout": 1,  # payout.sent, then payout.paid (rarely payout.failed)
}
#: Fraud patterns (weight 0 unless asked for).
FRAUD_PATTERNS = ("card_testing", "refund_burst")
#: How many completed payments a merchant remembers as refundable.
REFUNDABLE_MEMORY = 200


def weights(mix: Mapping[str, float] | None, fraud: Mapping[str, float] | None) -> dict[str, float]:
    """The default mix with ``mix`` overriding some weights and ``fraud`` adding patterns."""
    result = dict(DEFAULT_MIX)
    for name, weight in (mix or {}).items():
        if name not in DEFAULT_MIX:
            raise ValueError(f"unknown story {name!r}; known: {', '.join(DEFAULT_MIX)}")
        result[name] = weight
    for name, weight in (fraud or {}).items():
        if name not in FRAUD_PATTERNS:
            raise ValueError(f"unknown fraud pattern {name!r}; known: {', '.join(FRAUD_PATTERNS)}")
        result[name] = weight
    if any(w < 0 for w in result.values()) or sum(result.values()) <= 0:
        raise ValueError("story weights must be ≥ 0 and not all 0")
    return {name: w for name, w in result.items() if w > 0}


def ms(seconds: float) -> timedelta:
    """``seconds`` rounded to whole milliseconds (Square's timestamp resolution)."""
    return timedelta(milliseconds=round(seconds * 1000))


class StoryBase:
    """State and helpers shared by the story mixins."""

    rng: random.Random
    now: datetime
    start: datetime
    _drawers: dict[str, dict[str, Drawer]]

    def _later(self, last: datetime | None = None) -> datetime:
        """An object time just before the current event, never before ``last``."""
        t = self.now - ms(self.rng.uniform(0.05, 0.6))
        if last is not None:
            t = max(t, last + ms(0.001))
        return t

    def _card(self, m: Merchant, returning: float = 0.35) -> Card:
        """A card on file at the store (a returning buyer) or a new one."""
        if self.rng.random() < returning:
            return self.rng.choice(m.cards)
        return new_card(self.rng, self.start.year)

    def _tip(self, amount: int) -> int:
        return round(amount * self.rng.choice((0.1, 0.15, 0.18, 0.2, 0.25)))

    def _remember(self, m: Merchant, p: Json) -> None:
        """``p`` may be refunded (or disputed) later."""
        m.refundable.append(p)
        del m.refundable[:-REFUNDABLE_MEMORY]

    def _drawer(self, m: Merchant, location_id: str) -> Drawer:
        return self._drawers[m.merchant_id][location_id]
