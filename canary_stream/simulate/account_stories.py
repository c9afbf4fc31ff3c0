"""Stories beside payments: customers, loyalty, gift cards, disputes, payouts."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from canary_stream.simulate import accounts as a
from canary_stream.simulate import finance as f
from canary_stream.simulate import objects as o
from canary_stream.simulate.stories import Story, StoryBase, ms
from canary_stream.simulate.world import Json, Merchant, new_card, pick, rfc3339, rid, ticket

#: The smallest balance worth a payout (minor units).
MIN_PAYOUT = 1_000


class AccountStories(StoryBase):
    """Stories told through customer, loyalty, gift-card, dispute and payout webhooks."""

    def _profile(self, m: Merchant, customer_id: str) -> Json:
        """The profile of a customer the run has not created (drawn on first need)."""
        if customer_id not in m.profiles:
            since = self.start - timedelta(days=self.rng.randint(10, 900))
            m.profiles[customer_id] = a.new_customer(self.rng, since, customer_id)
        return m.profiles[customer_id]

    def _customer(self, m: Merchant) -> Story:
        """A new customer (maybe enrolling in loyalty at once), an update, or a deletion."""
        rng = self.rng
        what = pick(rng, [("created", 60), ("updated", 32), ("deleted", 8)])
        if what == "created" or len(m.customers) < 5:
            c = a.new_customer(rng, self._later())
            m.profiles[c["id"]] = c
            m.customers.append(c["id"])
            m.cards.append(new_card(rng, self.start.year, c["id"]))
            yield "customer.created", c
            if rng.random() < 0.4:
                yield from self._enroll(m, c)
            return
        customer_id = rng.choice(m.customers)
        c = self._profile(m, customer_id)
        if what == "updated":
            a.update_customer(c, rng, self._later())
            yield "customer.updated", c
            return
        m.customers.remove(customer_id)
        m.accounts.pop(customer_id, None)
        m.cards = [
            dataclasses.replace(card, customer_id=None) if card.customer_id == customer_id else card
            for card in m.cards
        ]
        c["updated_at"] = rfc3339(self._later())
        c["version"] = int(c["version"]) + 1
        del m.profiles[customer_id]
        yield "customer.deleted", c

    def _enroll(self, m: Merchant, customer: Json) -> Story:
        account = a.new_account(self.rng, m, customer, self._later())
        m.accounts[customer["id"]] = account
        yield "loyalty.account.created", account

    def _loyalty(self, m: Merchant) -> Story:
        """An enrolment, or a manual ADJUST_POINTS (accruals and rewards ride on sales)."""
        rng = self.rng
        outside = [c for c in m.customers if c not in m.accounts]
        if outside and (not m.accounts or rng.random() < 0.6):
            yield from self._enroll(m, self._profile(m, rng.choice(outside)))
            return
        account = m.accounts[rng.choice(sorted(m.accounts))]
        points = rng.choice((5, 10, 20, 25, -5, -10))
        points = max(points, -int(account["balance"])) or 5
        yield (
            "loyalty.event.created",
            a.loyalty_event(rng, account, "ADJUST_POINTS", self._later(), points=points),
        )

    def _gift_card(self, m: Merchant) -> Story:
        """ACTIVATE a new card, LOAD one, or pay with one (payment, then its REDEEM)."""
        rng = self.rng
        location = rng.choice(m.locations).id
        # A card being redeemed is spoken for until its REDEEM is told.
        funded = [g for g in m.gift_cards if g["balance"] > 0 and not g.get("redeeming")]
        what = pick(rng, [("ACTIVATE", 40), ("LOAD", 25), ("REDEEM", 35)])
        if what == "ACTIVATE" or not m.gift_cards or (what == "REDEEM" and not funded):
            g = a.new_gift_card(rng)
            m.gift_cards.append(g)
            amount = rng.choice((2_500, 5_000, 5_000, 10_000))
            yield (
                "gift_card.activity.created",
                a.gift_card_activity(
                    rng, m, g, "ACTIVATE", amount, self._later(), location, order_id=rid(rng, 29)
                ),
            )
            return
        if what == "LOAD":
            g = rng.choice(m.gift_cards)
            amount = rng.choice((2_000, 2_500, 5_000))
            yield (
                "gift_card.activity.created",
                a.gift_card_activity(
                    rng, m, g, "LOAD", amount, self._later(), location, order_id=rid(rng, 29)
                ),
            )
            return
        g = rng.choice(funded)
        g["redeeming"] = True
        amount = min(int(g["balance"]), ticket(rng))
        t = self._later()
        card = a.gift_card_as_card(g, self.start.year)
        p = o.new_payment(
            rng, m, t - ms(rng.uniform(0.4, 1.5)), source="CARD", entry="SWIPED", card=card,
            amount=amount, location_id=location,
        )  # fmt: skip
        for name in ("exp_month", "exp_year"):
            p["card_details"]["card"].pop(name)
        o.authorize(p, rng, t - ms(0.05), delayed=False)
        o.capture(p, rng, t)
        yield "payment.created", p
        activity = a.gift_card_activity(
            rng, m, g, "REDEEM", amount, self._later(t), location, payment_id=p["id"]
        )
        g["redeeming"] = False
        yield "gift_card.activity.created", activity

    def _disputable(self, m: Merchant) -> list[Json]:
        return [
            p
            for p in m.refundable
            if p["source_type"] == "CARD" and p["status"] == "COMPLETED" and "refund_ids" not in p
        ]

    def _dispute(self, m: Merchant) -> Story:
        """A chargeback of an earlier card payment: created, then its state changes."""
        rng = self.rng
        p = rng.choice(self._disputable(m))
        m.refundable.remove(p)
        d = f.new_dispute(rng, p, self._later())
        yield "dispute.created", d
        if rng.random() < 0.1:
            path = ["ACCEPTED"]
        else:
            path = ["PROCESSING", pick(rng, [("WON", 55), ("LOST", 45)])]
        for state in path:
            f.move_dispute(d, rng, state, self._later())
            yield "dispute.state.updated", d

    def _payout(self, m: Merchant) -> Story:
        """What card sales left on the Square balance goes to the bank: SENT, then PAID."""
        rng = self.rng
        po = f.new_payout(rng, m, self._later(), m.balance)
        m.balance = 0
        yield "payout.sent", po
        ok = rng.random() >= 0.04
        f.settle_payout(po, "PAID" if ok else "FAILED", self._later())
        if not ok:
            m.balance += int(po["amount_money"]["amount"])
        yield "payout.paid" if ok else "payout.failed", po
