"""Seeded sellers of the fake Square, drawn from the simulator's world and traffic.

:func:`seed_merchants` runs :class:`~canary_stream.simulate.payloads.Traffic` (same seed,
same merchants as ``canary-stream simulate``) and keeps what Square's API would serve after
those webhooks: the last version of each payment, refund, dispute and payout, the loyalty
events, the completed orders, the live customers, each location's drawer shifts and their
events. Locations and team members are built from the same world (its ids). So a webhook
the simulator sent and the object the fake serves agree.

:meth:`MerchantData.new_order` tells one more order story (``order.created``, its payments,
``order.updated``) at run time and returns its webhooks for delivery.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice

from canary_stream.simulate import accounts
from canary_stream.simulate.payloads import DEFAULT_START, Traffic, Webhook
from canary_stream.simulate.stories import DEFAULT_MIX
from canary_stream.simulate.world import (
    CITIES,
    FIRST,
    LAST,
    Json,
    Merchant,
    address,
    rfc3339,
    rid,
)

#: Webhooks the seeding traffic tells (across all merchants) unless told otherwise.
DEFAULT_SEED_EVENTS = 3000
#: Order stories tried before a run-time order gives up (one may end OPEN or CANCELED).
STORY_ATTEMPTS = 20
#: Business events per second of the seeding traffic (spreads the history over time).
SEED_RATE = 0.05
TIMEZONES = {"OR": "America/Los_Angeles", "TX": "America/Chicago", "CO": "America/Denver"}
#: Story weights of a run-time sale: only orders (one to three tenders).
ORDER_ONLY = {name: 0.0 for name in DEFAULT_MIX} | {"order": 1.0}


@dataclass
class MerchantData:
    """What the fake serves one seller; route handlers read and extend it."""

    merchant_id: str
    seed: int
    world: Merchant
    locations: list[Json] = field(default_factory=list)
    team_members: list[Json] = field(default_factory=list)
    customers: dict[str, Json] = field(default_factory=dict)
    orders: dict[str, Json] = field(default_factory=dict)
    payments: dict[str, Json] = field(default_factory=dict)
    refunds: dict[str, Json] = field(default_factory=dict)
    loyalty_events: list[Json] = field(default_factory=list)
    disputes: dict[str, Json] = field(default_factory=dict)
    payouts: dict[str, Json] = field(default_factory=dict)
    #: Full ``CashDrawerShift`` objects by location id, by ``opened_at``.
    shifts: dict[str, list[Json]] = field(default_factory=dict)
    #: ``CashDrawerShiftEvent`` objects by shift id, in time order.
    shift_events: dict[str, list[Json]] = field(default_factory=dict)
    #: Business time of the last run-time story (each new one starts at least 1 ms later).
    last_story_at: datetime | None = None

    @property
    def currency(self) -> str:
        return self.world.currency

    def absorb(self, body: Json) -> None:
        """Keep the object of one webhook body (its latest version wins)."""
        event_type, obj = body["type"], next(iter(body["data"]["object"].values()))
        family, _, action = event_type.partition(".")
        if family == "payment":
            self.payments[obj["id"]] = obj
        elif family == "refund":
            self.refunds[obj["id"]] = obj
        elif family == "dispute":
            self.disputes[obj["id"]] = obj
        elif family == "payout":
            self.payouts[obj["id"]] = obj
        elif event_type == "loyalty.event.created":
            self.loyalty_events.append(obj)
        elif family == "customer":
            if action == "deleted":
                self.customers.pop(obj["id"], None)
            else:
                self.customers[obj["id"]] = obj

    def new_order(self, now: datetime) -> tuple[Json, list[Webhook]]:
        """One more completed order (and its payments) at ``now``; the webhooks it caused.

        The story comes from a one-merchant :class:`Traffic` of the same world (so its
        location, team members and catalog are the seller's own); only the webhooks of the
        first order are kept, up to its ``order.updated`` (COMPLETED).
        """
        start = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
        for _ in range(STORY_ATTEMPTS):  # a story may end OPEN or CANCELED: tell another
            if self.last_story_at is not None and start <= self.last_story_at:
                start = self.last_story_at + timedelta(milliseconds=1)
            self.last_story_at = start
            found = self._order_story(start)
            if found is not None:
                order_id, traffic, hooks = found
                break
        else:
            raise RuntimeError(f"no order story completed in {STORY_ATTEMPTS} tries")
        order = copy.deepcopy(dict(traffic.orders[order_id]))
        self.orders[order_id] = order
        return order, hooks

    def _order_story(self, start: datetime) -> tuple[str, Traffic, list[Webhook]] | None:
        """The webhooks of the first order told from ``start``, if it completed."""
        traffic = Traffic(
            self.seed, [self.merchant_id], start=start, currency=self.currency, mix=ORDER_ONLY
        )
        order_id: str | None = None
        hooks: list[Webhook] = []
        bodies: list[Json] = []
        for hook in islice(traffic, 200):
            body = json.loads(hook.body)
            obj = next(iter(body["data"]["object"].values()))
            if hook.event_type == "order.created" and order_id is None:
                order_id = obj["order_id"]
            mine = order_id is not None and (
                hook.object_id == order_id or obj.get("order_id") == order_id
            )
            if not mine:
                continue
            hooks.append(hook)
            bodies.append(body)
            if hook.event_type == "order.updated":
                break
        if order_id is None or order_id not in traffic.orders:
            return None
        for body in bodies:
            self.absorb(body)
        return order_id, traffic, hooks


def seed_merchants(
    seed: int,
    merchants: int | Sequence[str],
    *,
    events: int = DEFAULT_SEED_EVENTS,
    start: datetime = DEFAULT_START,
    rate: float = SEED_RATE,
) -> list[MerchantData]:
    """The sellers of a simulated run of ``events`` webhooks, as Square's API would serve them."""
    traffic = Traffic(seed, merchants, start=start, rate=rate)
    data = {m.merchant_id: MerchantData(m.merchant_id, seed, m) for m in traffic.merchants}
    for hook in islice(traffic, events):
        data[hook.merchant_id].absorb(json.loads(hook.body))
    for m in traffic.merchants:
        d = data[m.merchant_id]
        d.orders = {
            oid: copy.deepcopy(dict(traffic.orders[oid]))
            for oid in traffic.order_ids(m.merchant_id)
        }
        d.customers = _customers(seed, m, start, d.customers)
        d.locations = _locations(seed, m, start)
        d.team_members = _team(seed, m, start)
        for loc in m.locations:
            summaries = traffic.drawer_shifts(m.merchant_id, loc.id)
            shifts = [traffic.drawer_shift(m.merchant_id, s["id"]) for s in summaries]
            d.shifts[loc.id] = [s for s in shifts if s is not None]
            for s in summaries:
                d.shift_events[s["id"]] = traffic.drawer_events(m.merchant_id, s["id"])
    return list(data.values())


def _customers(seed: int, m: Merchant, start: datetime, seen: dict[str, Json]) -> dict[str, Json]:
    """Every live customer: the run's profiles, else one drawn from the customer id alone."""
    out: dict[str, Json] = {}
    for cid in m.customers:
        profile = m.profiles.get(cid) or seen.get(cid)
        if profile is None:
            rng = random.Random(f"fake-customer:{seed}:{cid}")
            profile = accounts.new_customer(rng, start - timedelta(days=rng.randint(10, 900)), cid)
        out[cid] = copy.deepcopy(profile)
    return out


def _locations(seed: int, m: Merchant, start: datetime) -> list[Json]:
    """Square ``Location`` objects of the world's locations, alphabetically by name."""
    rng = random.Random(f"fake-locations:{seed}:{m.merchant_id}")
    out: list[Json] = []
    for i, loc in enumerate(m.locations):
        addr = address(rng, named=False)
        _, state, _ = next(c for c in CITIES if c[0] == addr["locality"])
        out.append(
            {
                "id": loc.id,
                "name": f"{m.name} #{i + 1}",
                "address": addr,
                "timezone": TIMEZONES[state],
                "capabilities": ["CREDIT_CARD_PROCESSING", "AUTOMATIC_TRANSFERS"],
                "status": "ACTIVE",
                "created_at": rfc3339(start - timedelta(days=rng.randint(200, 2000))),
                "merchant_id": m.merchant_id,
                "country": "US",
                "language_code": "en-US",
                "currency": m.currency,
                "business_name": m.name,
                "type": "PHYSICAL",
                "business_email": f"hello@{m.name.lower().replace(' ', '')}.example.com",
                "mcc": "5812",
            }
        )
    return sorted(out, key=lambda loc: str(loc["name"]))


def _team(seed: int, m: Merchant, start: datetime) -> list[Json]:
    """Square ``TeamMember`` objects: the world's team (ACTIVE, the first is the owner) plus
    one former member (INACTIVE)."""
    rng = random.Random(f"fake-team:{seed}:{m.merchant_id}")
    ids: Iterable[tuple[str, str]] = [(tid, "ACTIVE") for tid in m.team]
    ids = [*ids, ("TM" + rid(rng, 14), "INACTIVE")]
    out: list[Json] = []
    for i, (tid, status) in enumerate(ids):
        created = rfc3339(start - timedelta(days=rng.randint(30, 1500)))
        out.append(
            {
                "id": tid,
                "is_owner": i == 0,
                "status": status,
                "given_name": rng.choice(FIRST),
                "family_name": rng.choice(LAST),
                "created_at": created,
                "updated_at": created,
                "assigned_locations": {"assignment_type": "ALL_CURRENT_AND_FUTURE_LOCATIONS"},
            }
        )
    return out
