"""Deterministic Square webhook bodies: store traffic told as interleaved "stories".

Pure: no I/O and no wall clock. ``Traffic(seed, merchants, start=..., rate=...)`` yields the
same :class:`Webhook` bytes for the same arguments. Each tick picks a merchant (weighted by
store size) and either advances one of its open stories or starts a new one:

* ``sale``: a card payment first seen COMPLETED, then a ``payment.updated`` adding its fee;
* ``delayed``: APPROVED (delayed capture), later COMPLETED (often with a tip), then the fee;
* ``void``: APPROVED, then CANCELED (card VOIDED);
* ``keyed``: a KEYED card-not-present sale (billing address, higher fee);
* ``cash``: a CASH payment, sometimes with a later re-versioned ``payment.updated``;
* ``declined``: one to three FAILED card attempts, often followed by a good sale;
* ``refund``: ``refund.created`` PENDING → ``refund.updated`` COMPLETED (rarely FAILED) of an
  earlier completed payment of the same merchant, then that payment's ``payment.updated``
  carrying ``refunded_money`` and ``refund_ids``.

Business time runs at ``rate`` events per second from ``start``: event ``i`` is created at
``start + i / rate``; object timestamps sit slightly before it and never go backwards.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from canary_stream.simulate import objects as o
from canary_stream.simulate.world import (
    PRESENT_ENTRY,
    UPPER_ALNUM,
    Card,
    Json,
    Merchant,
    money,
    new_card,
    new_merchant,
    pick,
    rfc3339,
    rid,
    ticket,
    uuid4_like,
)

#: Business time of event 0 unless told otherwise (tests and reproducible runs).
DEFAULT_START = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
EVENT_TYPES = ("payment.created", "payment.updated", "refund.created", "refund.updated")
#: Story kinds and their weights.
STORIES: list[tuple[str, int]] = [
    ("sale", 45),
    ("delayed", 14),
    ("void", 4),
    ("keyed", 6),
    ("cash", 17),
    ("declined", 5),
    ("refund", 9),
]
#: About how many stories a merchant keeps open at once.
OPEN_TARGET = 6
#: How many completed payments a merchant remembers as refundable.
REFUNDABLE_MEMORY = 200

Step = tuple[str, Json]
Story = Iterator[Step]


def merchant_ids(seed: int, n: int) -> list[str]:
    """``n`` distinct Square-style merchant ids (``ML`` + 13 of A-Z0-9); a prefix for smaller n."""
    rng = random.Random(f"merchants:{seed}")
    ids: list[str] = []
    while len(ids) < n:
        candidate = "ML" + rid(rng, 13, UPPER_ALNUM)
        if candidate not in ids:
            ids.append(candidate)
    return ids


@dataclass(frozen=True)
class Webhook:
    """One webhook delivery: the exact body bytes plus what a sender wants to count."""

    merchant_id: str
    event_type: str
    event_id: str
    object_id: str
    created_at: str
    body: bytes


def encode(body: Json) -> bytes:
    """Compact UTF-8 JSON, keys in the order Square sends them."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _ms(seconds: float) -> timedelta:
    return timedelta(milliseconds=round(seconds * 1000))


class Traffic:
    """An endless, deterministic stream of Square webhooks for a set of merchants (iterate once)."""

    def __init__(
        self,
        seed: int,
        merchants: int | Sequence[str],
        *,
        start: datetime = DEFAULT_START,
        rate: float = 50.0,
        currency: str | Mapping[str, str] = "USD",
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        ids = merchant_ids(seed, merchants) if isinstance(merchants, int) else list(merchants)
        if not ids:
            raise ValueError("at least one merchant is needed")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.start = start.astimezone(UTC)
        self.rate = rate
        self.rng = random.Random(f"traffic:{seed}:{rfc3339(self.start)}")
        self.now = self.start

        def cur(mid: str) -> str:
            return currency if isinstance(currency, str) else currency.get(mid, "USD")

        self.merchants = [new_merchant(mid, cur(mid), seed, self.start.year) for mid in ids]
        self._open: dict[str, list[Story]] = {m.merchant_id: [] for m in self.merchants}
        self._iterated = False

    # The scheduler ------------------------------------------------------------------
    def __iter__(self) -> Iterator[Webhook]:
        if self._iterated:
            raise RuntimeError("a Traffic stream can be iterated once; make a new one")
        self._iterated = True
        return self._generate()

    def _generate(self) -> Iterator[Webhook]:
        rng, weights = self.rng, [m.weight for m in self.merchants]
        i = 0
        while True:
            self.now = self.start + _ms(i / self.rate)
            m = rng.choices(self.merchants, weights)[0]
            stories = self._open[m.merchant_id]
            step: Step | None = None
            if stories and rng.random() < len(stories) / (len(stories) + OPEN_TARGET):
                k = rng.randrange(len(stories))
                step = next(stories[k], None)
                if step is None:
                    stories.pop(k)
            if step is None:
                story = self._story(m, pick(rng, STORIES))
                step = next(story)
                stories.append(story)
            yield self._webhook(m, *step)
            i += 1

    def _webhook(self, m: Merchant, event_type: str, obj: Json) -> Webhook:
        kind = event_type.split(".", 1)[0]
        event_id = uuid4_like(self.rng)
        created_at = rfc3339(self.now)
        body = {
            "merchant_id": m.merchant_id,
            "type": event_type,
            "event_id": event_id,
            "created_at": created_at,
            "data": {"type": kind, "id": obj["id"], "object": {kind: o.ordered(kind, obj)}},
        }
        return Webhook(m.merchant_id, event_type, event_id, obj["id"], created_at, encode(body))

    def _story(self, m: Merchant, kind: str) -> Story:
        if kind == "refund" and m.refundable:
            return self._refund(m)
        if kind == "cash":
            return self._cash(m)
        if kind == "declined":
            return self._declined(m)
        entry = "KEYED" if kind == "keyed" else None
        return self._sale(m, entry=entry, delayed=kind in ("delayed", "void"), void=kind == "void")

    # Helpers --------------------------------------------------------------------------
    def _later(self, last: datetime | None = None) -> datetime:
        """An object time just before the current event, never before ``last``."""
        t = self.now - _ms(self.rng.uniform(0.05, 0.6))
        if last is not None:
            t = max(t, last + _ms(0.001))
        return t

    def _card(self, m: Merchant, returning: float = 0.35) -> Card:
        if self.rng.random() < returning:
            return self.rng.choice(m.cards)
        return new_card(self.rng, self.start.year)

    def _tip(self, amount: int) -> int:
        return round(amount * self.rng.choice((0.1, 0.15, 0.18, 0.2, 0.25)))

    def _remember(self, m: Merchant, p: Json) -> None:
        m.refundable.append(p)
        del m.refundable[:-REFUNDABLE_MEMORY]

    # Stories --------------------------------------------------------------------------
    def _sale(
        self,
        m: Merchant,
        *,
        entry: str | None = None,
        card: Card | None = None,
        delayed: bool = False,
        void: bool = False,
    ) -> Story:
        rng = self.rng
        entry = entry or pick(rng, PRESENT_ENTRY)
        card = card or self._card(m, 0.5 if entry == "KEYED" else 0.35)
        amount = ticket(rng)
        tip = self._tip(amount) if not delayed and rng.random() < 0.25 else 0
        done = self._later()
        authorized = done - (_ms(0) if delayed else _ms(rng.uniform(0.02, 0.2)))
        t = authorized - _ms(rng.uniform(0.4, 1.5))
        p = o.new_payment(rng, m, t, source="CARD", entry=entry, card=card, amount=amount, tip=tip)
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
                return
            o.capture(p, rng, t, tip=self._tip(amount) if rng.random() < 0.6 else 0)
            yield "payment.updated", p
        if rng.random() < 0.05:
            p["app_fee_money"] = money(max(1, amount // 100), m.currency)
        o.add_fee(p, rng, self._later(t))
        yield "payment.updated", p
        self._remember(m, p)

    def _cash(self, m: Merchant) -> Story:
        rng = self.rng
        t = self._later()
        p = o.new_payment(rng, m, t - _ms(rng.uniform(0.3, 2.0)), source="CASH")
        o.capture(p, rng, t)
        yield "payment.created", p
        if rng.random() < 0.25:
            o.stamp(p, rng, self._later(t + _ms(0.2)))
            yield "payment.updated", p
        self._remember(m, p)

    def _declined(self, m: Merchant) -> Story:
        rng = self.rng
        entry = "KEYED" if rng.random() < 0.3 else pick(rng, PRESENT_ENTRY)
        card = self._card(m, 0.2)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            t = self._later()
            p = o.new_payment(
                rng, m, t - _ms(rng.uniform(0.4, 1.5)), source="CARD", entry=entry, card=card
            )
            o.decline(p, rng, t)
            yield "payment.created", p
            if rng.random() < 0.3:
                card = self._card(m, 0.2)
        if rng.random() < 0.6:
            yield from self._sale(m, entry=entry, card=self._card(m, 0.1))

    def _refund(self, m: Merchant) -> Story:
        rng = self.rng
        p = m.refundable.pop(rng.randrange(len(m.refundable)))
        left = p["total_money"]["amount"] - o.refunded_total(p)
        amount = left if rng.random() < 0.75 else max(1, round(left * rng.uniform(0.1, 0.9)))
        t = self._later()
        r = o.new_refund(rng, m, p, t, amount)
        yield "refund.created", r
        ok = rng.random() >= 0.03
        t = self._later(t)
        o.settle_refund(r, p, rng, t, ok=ok)
        yield "refund.updated", r
        if ok:
            o.link_refund(p, r, rng, self._later(t))
            yield "payment.updated", p
        if o.refunded_total(p) < p["total_money"]["amount"]:
            self._remember(m, p)


def webhooks(
    seed: int,
    merchants: int | Sequence[str],
    count: int,
    *,
    start: datetime = DEFAULT_START,
    rate: float = 50.0,
    currency: str | Mapping[str, str] = "USD",
) -> list[Webhook]:
    """The first ``count`` webhooks of :class:`Traffic` (a convenience for tests and tools)."""
    stream = iter(Traffic(seed, merchants, start=start, rate=rate, currency=currency))
    return [next(stream) for _ in range(count)]
