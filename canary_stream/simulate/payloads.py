"""Deterministic Square webhook bodies: store traffic told as interleaved "stories".

Pure: no I/O and no wall clock. ``Traffic(seed, merchants, start=..., rate=...)`` yields the
same :class:`Webhook` bytes for the same arguments. Each tick picks a merchant (weighted by
store size) and either advances one of its open stories or starts a new one, its kind drawn
from the mix (:data:`~canary_stream.simulate.stories.DEFAULT_MIX`, overridable, plus any
fraud patterns asked for): card sales, delayed captures, voids, keyed entries, cash,
declined attempts, refunds, orders with split tender (thin ``order.*`` webhooks), exchanges,
customers, loyalty, gift cards, disputes and payouts.

Business time runs at ``rate`` events per second from ``start``: event ``i`` is created at
``start + i / rate``; object timestamps sit slightly before it and never go backwards.

Besides the webhooks, a run keeps what Square's API would serve for it (never POSTed):
``traffic.orders`` (the full Order of every completed order, for RetrieveOrder) and each
location's cash-drawer shifts and events (``drawer_shifts``, ``drawer_events`` and their
``*_page`` forms), all as of the webhooks generated so far.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from canary_stream.simulate import api
from canary_stream.simulate import objects as o
from canary_stream.simulate.account_stories import MIN_PAYOUT, AccountStories
from canary_stream.simulate.drawer import Drawer
from canary_stream.simulate.fraud import FraudStories
from canary_stream.simulate.stories import Step, Story, ms, weights
from canary_stream.simulate.world import (
    UPPER_ALNUM,
    Json,
    Merchant,
    new_merchant,
    rfc3339,
    rid,
    uuid4_like,
)

#: Business time of event 0 unless told otherwise (tests and reproducible runs).
DEFAULT_START = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
#: Every webhook type the simulator sends: its ``data.type`` and ``data.object`` key.
SHAPES: dict[str, tuple[str, str]] = {
    "payment.created": ("payment", "payment"),
    "payment.updated": ("payment", "payment"),
    "refund.created": ("refund", "refund"),
    "refund.updated": ("refund", "refund"),
    "order.created": ("order", "order_created"),
    "order.updated": ("order", "order_updated"),
    "customer.created": ("customer", "customer"),
    "customer.updated": ("customer", "customer"),
    "customer.deleted": ("customer", "customer"),
    "loyalty.account.created": ("loyalty_account", "loyalty_account"),
    "loyalty.event.created": ("loyalty_event", "loyalty_event"),
    "gift_card.activity.created": ("gift_card_activity", "gift_card_activity"),
    "dispute.created": ("dispute", "dispute"),
    "dispute.state.updated": ("dispute", "dispute"),
    "payout.sent": ("payout", "payout"),
    "payout.paid": ("payout", "payout"),
    "payout.failed": ("payout", "payout"),
}
EVENT_TYPES = tuple(SHAPES)
#: Event types whose envelope also names the location (as Square sends them).
WITH_LOCATION = {"dispute", "payout"}
#: About how many stories a merchant keeps open at once.
OPEN_TARGET = 6


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


class Traffic(FraudStories, AccountStories):
    """An endless, deterministic stream of Square webhooks for a set of merchants (iterate once).

    ``mix`` overrides story weights of :data:`~canary_stream.simulate.stories.DEFAULT_MIX`
    (0 drops a story); ``fraud`` adds fraud patterns by weight (``card_testing``,
    ``refund_burst``).
    """

    def __init__(
        self,
        seed: int,
        merchants: int | Sequence[str],
        *,
        start: datetime = DEFAULT_START,
        rate: float = 50.0,
        currency: str | Mapping[str, str] = "USD",
        mix: Mapping[str, float] | None = None,
        fraud: Mapping[str, float] | None = None,
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
        self.mix = weights(mix, fraud)
        self.rng = random.Random(f"traffic:{seed}:{rfc3339(self.start)}")
        self.now = self.start

        def cur(mid: str) -> str:
            return currency if isinstance(currency, str) else currency.get(mid, "USD")

        self.merchants = [new_merchant(mid, cur(mid), seed, self.start.year) for mid in ids]
        self._by_id = {m.merchant_id: m for m in self.merchants}
        self._open: dict[str, list[Story]] = {m.merchant_id: [] for m in self.merchants}
        self._orders: dict[str, Json] = {}
        self._orders_of: dict[str, list[str]] = {}
        self._drawers = {m.merchant_id: self._new_drawers(seed, m) for m in self.merchants}
        self._iterated = False

    def _new_drawers(self, seed: int, m: Merchant) -> dict[str, Drawer]:
        rng = random.Random(f"drawer:{seed}:{rfc3339(self.start)}:{m.merchant_id}")
        return {
            loc.id: Drawer(rng, m, loc, self.start - ms(rng.randint(0, 6 * 3600)))
            for loc in m.locations
        }

    # The scheduler ------------------------------------------------------------------
    def __iter__(self) -> Iterator[Webhook]:
        if self._iterated:
            raise RuntimeError("a Traffic stream can be iterated once; make a new one")
        self._iterated = True
        return self._generate()

    def _generate(self) -> Iterator[Webhook]:
        rng, weights = self.rng, [m.weight for m in self.merchants]
        kinds, kind_weights = list(self.mix), list(self.mix.values())
        i = 0
        while True:
            self.now = self.start + ms(i / self.rate)
            m = rng.choices(self.merchants, weights)[0]
            for drawer in self._drawers[m.merchant_id].values():
                drawer.rotate(self.now)
                drawer.activity(self.now)
            stories = self._open[m.merchant_id]
            step: Step | None = None
            if stories and rng.random() < len(stories) / (len(stories) + OPEN_TARGET):
                # An ended story found on the way is dropped and another one advanced, so
                # about OPEN_TARGET stories stay open (a new story per ended one let the
                # count grow with the square root of the stream, stretching every story).
                while stories and step is None:
                    k = rng.randrange(len(stories))
                    step = next(stories[k], None)
                    if step is None:
                        stories.pop(k)
            while step is None:
                story = self._story(m, rng.choices(kinds, kind_weights)[0])
                step = next(story, None)
                if step is not None:
                    stories.append(story)
            yield self._webhook(m, *step)
            i += 1

    def _webhook(self, m: Merchant, event_type: str, obj: Json) -> Webhook:
        kind, key = SHAPES[event_type]
        if kind in ("payment", "refund"):
            obj = o.ordered(kind, obj)
        object_id = obj["order_id"] if kind == "order" else obj["id"]
        event_id = uuid4_like(self.rng)
        created_at = rfc3339(self.now)
        body: Json = {"merchant_id": m.merchant_id}
        if kind in WITH_LOCATION:
            body["location_id"] = obj["location_id"]
        body["type"] = event_type
        body["event_id"] = event_id
        body["created_at"] = created_at
        body["data"] = {"type": kind, "id": object_id, "object": {key: obj}}
        return Webhook(m.merchant_id, event_type, event_id, object_id, created_at, encode(body))

    def _story(self, m: Merchant, kind: str) -> Story:
        """A new story of ``kind``, or a plain sale when ``kind`` cannot happen yet."""
        mid = m.merchant_id
        ready: dict[str, Callable[[], bool]] = {
            "refund": lambda: bool(m.refundable),
            "refund_burst": lambda: len(m.refundable) >= 3,
            "dispute": lambda: bool(self._disputable(m)),
            "payout": lambda: m.balance >= MIN_PAYOUT,
            "exchange": lambda: bool(self._orders_of.get(mid)),
        }
        if not ready.get(kind, lambda: True)():
            kind = "sale"
        if kind == "exchange":
            source = self._orders[self.rng.choice(self._orders_of[mid])]
            return self._order(m, exchange_of=source)
        if kind in ("sale", "delayed", "void", "keyed"):
            return self._sale(
                m,
                entry="KEYED" if kind == "keyed" else None,
                delayed=kind in ("delayed", "void"),
                void=kind == "void",
            )
        story: Callable[[Merchant], Story] = getattr(self, f"_{kind}")
        return story(m)

    # What Square's API would serve for this traffic ------------------------------------
    @property
    def orders(self) -> Mapping[str, Json]:
        """Every completed order so far by id: the full ``Order`` (do not mutate)."""
        return MappingProxyType(self._orders)

    def order_ids(self, merchant_id: str) -> list[str]:
        """The merchant's completed order ids so far, oldest first."""
        return list(self._orders_of.get(merchant_id, ()))

    def retrieve_order(self, merchant_id: str, order_id: str) -> Json | None:
        """RetrieveOrder's body ``{"order": {...}}``; None for another merchant's or no order."""
        if order_id not in self._orders_of.get(merchant_id, ()):
            return None
        return api.retrieve_order(json.loads(json.dumps(self._orders[order_id])))

    def _location_drawers(self, merchant_id: str, location_id: str | None) -> list[Drawer]:
        drawers = self._drawers.get(merchant_id, {})
        if location_id is None:
            return list(drawers.values())
        return [drawers[location_id]] if location_id in drawers else []

    def drawer_shifts(self, merchant_id: str, location_id: str | None = None) -> list[Json]:
        """``CashDrawerShiftSummary`` objects of the merchant (or one location), by open time."""
        found = [s for d in self._location_drawers(merchant_id, location_id) for s in d.summaries()]
        return sorted(found, key=lambda s: (s["opened_at"], s["id"]))

    def drawer_shift(self, merchant_id: str, shift_id: str) -> Json | None:
        """The full ``CashDrawerShift`` (RetrieveCashDrawerShift), None when unknown."""
        for d in self._location_drawers(merchant_id, None):
            if (shift := d.shift(shift_id)) is not None:
                return shift
        return None

    def drawer_events(self, merchant_id: str, shift_id: str) -> list[Json]:
        """The shift's ``CashDrawerShiftEvent`` objects in time order ([] when unknown)."""
        for d in self._location_drawers(merchant_id, None):
            if shift_id in d.events:
                return d.shift_events(shift_id)
        return []

    def drawer_shifts_page(
        self,
        merchant_id: str,
        location_id: str,
        *,
        cursor: str | None = None,
        limit: int = api.DEFAULT_LIMIT,
        begin_time: datetime | None = None,
        end_time: datetime | None = None,
        sort_order: str = "ASC",
    ) -> Json:
        """ListCashDrawerShifts' body: ``{"cash_drawer_shifts": [...], "cursor"?}``.

        As Square filters: ``begin_time`` inclusive and ``end_time`` exclusive on
        ``opened_at``, sorted by ``opened_at`` (``sort_order`` ASC or DESC).
        """
        shifts = [
            s
            for s in self.drawer_shifts(merchant_id, location_id)
            if (begin_time is None or datetime.fromisoformat(s["opened_at"]) >= begin_time)
            and (end_time is None or datetime.fromisoformat(s["opened_at"]) < end_time)
        ]
        if sort_order == "DESC":
            shifts.reverse()
        return api.page(shifts, "cash_drawer_shifts", cursor=cursor, limit=limit)

    def drawer_events_page(
        self,
        merchant_id: str,
        shift_id: str,
        *,
        cursor: str | None = None,
        limit: int = api.DEFAULT_LIMIT,
    ) -> Json:
        """ListCashDrawerShiftEvents' body: ``{"cash_drawer_shift_events": [...], "cursor"?}``."""
        events = self.drawer_events(merchant_id, shift_id)
        return api.page(events, "cash_drawer_shift_events", cursor=cursor, limit=limit)


def webhooks(
    seed: int,
    merchants: int | Sequence[str],
    count: int,
    *,
    start: datetime = DEFAULT_START,
    rate: float = 50.0,
    currency: str | Mapping[str, str] = "USD",
    mix: Mapping[str, float] | None = None,
    fraud: Mapping[str, float] | None = None,
) -> list[Webhook]:
    """The first ``count`` webhooks of :class:`Traffic` (a convenience for tests and tools)."""
    traffic = Traffic(
        seed, merchants, start=start, rate=rate, currency=currency, mix=mix, fraud=fraud
    )
    stream = iter(traffic)
    return [next(stream) for _ in range(count)]
