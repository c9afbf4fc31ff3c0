"""Injected fraud patterns (off unless a run asks for them by weight).

* ``card_testing``: one stolen card number KEYED again and again at a virtual terminal
  for small amounts: six to fifteen FAILED attempts sharing one fingerprint and one team
  member, sometimes ending in a small approved sale.
* ``refund_burst``: one team member refunds three to seven earlier payments in full, one
  right after the other.
"""

from __future__ import annotations

from canary_stream.simulate import objects as o
from canary_stream.simulate.payment_stories import PaymentStories
from canary_stream.simulate.stories import Story, ms
from canary_stream.simulate.world import Merchant, new_card

#: Decline codes of a card being tested (mostly wrong CVV or expiry guesses).
TESTING_DECLINES = ("CVV_FAILURE", "GENERIC_DECLINE", "CARD_EXPIRED", "INVALID_EXPIRATION")


class FraudStories(PaymentStories):
    """Stories that should trip the detection rules."""

    def _card_testing(self, m: Merchant) -> Story:
        rng = self.rng
        card = new_card(rng, self.start.year)
        member = rng.choice(m.team)
        location = rng.choice(m.locations).id
        for _ in range(rng.randint(6, 15)):
            t = self._later()
            p = o.new_payment(
                rng, m, t - ms(rng.uniform(0.2, 0.8)), source="CARD", entry="KEYED", card=card,
                amount=rng.randint(1, 5) * 100 + rng.choice((0, 0, 1, 99)), location_id=location,
            )  # fmt: skip
            p["employee_id"] = p["team_member_id"] = member
            o.decline(p, rng, t)
            errors = p["card_details"]["errors"]
            errors[0]["code"] = code = rng.choice(TESTING_DECLINES)
            errors[0]["detail"] = f"Authorization error: {code!r}"
            yield "payment.created", p
        if rng.random() < 0.3:
            yield from self._sale(m, entry="KEYED", card=card, amount=rng.randint(1, 5) * 100)

    def _refund_burst(self, m: Merchant) -> Story:
        member = self.rng.choice(m.team)
        for _ in range(self.rng.randint(3, 7)):
            if not m.refundable:
                return
            yield from self._refund(m, employee=member, full=True)
