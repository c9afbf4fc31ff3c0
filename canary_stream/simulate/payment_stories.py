"""Payment stories: sales, delayed captures, voids, cash, declines, refunds and orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canary_stream.simulate import accounts as a
from canary_stream.simulate import objects as o
from canary_stream.simulate import orders as od
from canary_stream.simulate.stories import PaymentStory, Story, StoryBase, ms
from canary_stream.simulate.world import PRESENT_ENTRY, Card, Json, Merchant, money, pick, ticket


def _opened(order: Json | None) -> datetime | None:
    """When ``order`` was opened (its payments come after), or None."""
    return None if order is None else datetime.fromisoformat(order["created_at"])


def _closed(order: Json) -> datetime:
    return datetime.fromisoformat(order["closed_at"])


class PaymentStories(StoryBase):
    """Stories told through ``payment.*``, ``refund.*`` and thin ``order.*`` webhooks."""

    _orders: dict[str, Json]
    _orders_of: dict[str, list[str]]

    def _sale(
        self,
        m: Merchant,
        *,
        entry: str | None = None,
        card: Card | None = None,
        delayed: bool = False,
        void: bool = False,
        amount: int | None = None,
        order: Json | None = None,
    ) -> PaymentStory:
        """A card payment; hands back its last version."""
        rng = self.rng
        entry = entry or pick(rng, PRESENT_ENTRY)
        card = card or self._card(m, 0.5 if entry == "KEYED" else 0.35)
        amount = amount if amount is not None else ticket(rng)
        tip = self._tip(amount) if not delayed and rng.random() < 0.25 else 0
        floor = _opened(order)
        done = self._later(floor)
        authorized = done - (ms(0) if delayed else ms(rng.uniform(0.02, 0.2)))
        t = authorized - ms(rng.uniform(0.4, 1.5))
        where: dict[str, Any] = {}
        if order is not None and floor is not None:  # paid after the order was opened
            where = {"order_id": order["id"], "location_id": order["location_id"]}
            t = max(t, floor + ms(0.001))
            authorized = max(authorized, t)
        p = o.new_payment(
            rng, m, t, source="CARD", entry=entry, card=card, amount=amount, tip=tip, **where
        )
        o.authorize(p, rng, authorized, delayed=delayed)
        t = done
        if not delayed:
            o.capture(p, rng, done)
            yield "payment.created", p
        else:
            yield "payment.created", p
            t = self._later(t)
            if void:
                o.void(p, rng, t)
                yield "payment.updated", p
                return p
            o.capture(p, rng, t, tip=self._tip(amount) if rng.random() < 0.6 else 0)
            yield "payment.updated", p
        if rng.random() < 0.05:
            p["app_fee_money"] = money(max(1, amount // 100), m.currency)
        o.add_fee(p, rng, self._later(t))
        yield "payment.updated", p
        fee = sum(int(f["amount_money"]["amount"]) for f in p["processing_fee"])
        m.balance += int(p["total_money"]["amount"]) - fee
        self._remember(m, p)
        if order is None:
            yield from self._loyalty_for(m, p)
        return p

    def _loyalty_for(self, m: Merchant, p: Json) -> Story:
        """A loyalty member's purchase: maybe a reward redeemed, then points accumulated."""
        account = m.accounts.get(p.get("customer_id", ""))
        if account is None:
            return
        rng, loc = self.rng, p["location_id"]
        if account["balance"] >= a.REWARD_POINTS and rng.random() < 0.3:
            e = a.loyalty_event(
                rng,
                account,
                "REDEEM_REWARD",
                self._later(),
                order_id=p["order_id"],
                location_id=loc,
            )
            yield "loyalty.event.created", e
        if rng.random() < 0.85:
            points = a.points_for(int(p["amount_money"]["amount"]))
            if points > 0:
                e = a.loyalty_event(
                    rng,
                    account,
                    "ACCUMULATE_POINTS",
                    self._later(),
                    points=points,
                    order_id=p["order_id"],
                    location_id=loc,
                )
                yield "loyalty.event.created", e

    def _cash(
        self, m: Merchant, *, amount: int | None = None, order: Json | None = None
    ) -> PaymentStory:
        """A CASH payment (and the drawer's CASH_TENDER_PAYMENT); hands it back."""
        rng = self.rng
        floor = _opened(order)
        t = self._later(floor)
        created = t - ms(rng.uniform(0.3, 2.0))
        where: dict[str, Any] = {}
        if order is not None and floor is not None:  # paid after the order was opened
            where = {"order_id": order["id"], "location_id": order["location_id"]}
            created = max(created, floor + ms(0.001))
        p = o.new_payment(rng, m, created, source="CASH", amount=amount, **where)
        o.capture(p, rng, t)
        self._drawer(m, p["location_id"]).record(
            "CASH_TENDER_PAYMENT", int(p["total_money"]["amount"]), t, p["team_member_id"]
        )
        yield "payment.created", p
        if order is None and rng.random() < 0.25:
            o.stamp(p, rng, self._later(t))
            yield "payment.updated", p
        self._remember(m, p)
        return p

    def _declined(self, m: Merchant) -> Story:
        rng = self.rng
        entry = "KEYED" if rng.random() < 0.3 else pick(rng, PRESENT_ENTRY)
        card = self._card(m, 0.2)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            t = self._later()
            p = o.new_payment(
                rng, m, t - ms(rng.uniform(0.4, 1.5)), source="CARD", entry=entry, card=card
            )
            o.decline(p, rng, t)
            yield "payment.created", p
            if rng.random() < 0.3:
                card = self._card(m, 0.2)
        if rng.random() < 0.6:
            yield from self._sale(m, entry=entry, card=self._card(m, 0.1))

    def _refund(self, m: Merchant, *, employee: str | None = None, full: bool = False) -> Story:
        """``refund.created`` PENDING → ``refund.updated`` COMPLETED (rarely FAILED), then the
        payment's ``payment.updated`` with ``refunded_money`` and ``refund_ids``."""
        rng = self.rng
        p = m.refundable.pop(rng.randrange(len(m.refundable)))
        left = p["total_money"]["amount"] - o.refunded_total(p)
        partial = not full and rng.random() >= 0.75
        amount = max(1, round(left * rng.uniform(0.1, 0.9))) if partial else left
        t = self._later()
        r = o.new_refund(rng, m, p, t, amount)
        if employee is not None:
            r["team_member_id"] = employee
        yield "refund.created", r
        ok = rng.random() >= 0.03
        t = self._later(t)
        o.settle_refund(r, p, rng, t, ok=ok)
        if ok and p["source_type"] == "CASH":
            self._drawer(m, p["location_id"]).record(
                "CASH_TENDER_REFUND", amount, t, r["team_member_id"]
            )
        elif ok:
            back = sum(int(f["amount_money"]["amount"]) for f in r.get("processing_fee", []))
            m.balance -= amount + back
        yield "refund.updated", r
        if ok:
            o.link_refund(p, r, rng, self._later(t))
            yield "payment.updated", p
        if o.refunded_total(p) < p["total_money"]["amount"]:
            self._remember(m, p)

    def _order(self, m: Merchant, *, exchange_of: Json | None = None) -> Story:
        """``order.created`` (OPEN), its tenders' payments, ``order.updated`` (COMPLETED).

        One to three tenders (two or three = split tender), card or cash; an exchange
        returns one line of ``exchange_of`` and is paid by one card.
        """
        rng = self.rng
        location = rng.choice(m.locations).id
        t = self._later(None if exchange_of is None else _closed(exchange_of))
        minimum = 0
        if exchange_of is not None:
            location = exchange_of["location_id"]
            minimum = (
                max(int(li["total_money"]["amount"]) for li in exchange_of["line_items"]) + 100
            )
        draft = od.draft_order(rng, m, t, location, min_total=minimum)
        if exchange_of is not None:
            od.add_returns(rng, draft, exchange_of)
        yield "order.created", od.order_created(draft)
        total = od.due(draft)
        parts = 1 if exchange_of is not None else int(pick(rng, [("1", 30), ("2", 55), ("3", 15)]))
        payments: list[Json] = []
        for share in od.split(rng, total, parts):
            if parts > 1 and rng.random() < 0.35:
                p = yield from self._cash(m, amount=share, order=draft)
            else:
                delayed = rng.random() < 0.2
                p = yield from self._sale(m, amount=share, order=draft, delayed=delayed)
            payments.append(p)
        done = self._later(max(datetime.fromisoformat(p["updated_at"]) for p in payments))
        order = od.completed_order(draft, payments, done)
        self._orders[order["id"]] = order
        self._orders_of.setdefault(m.merchant_id, []).append(order["id"])
        yield "order.updated", od.order_updated(order)
