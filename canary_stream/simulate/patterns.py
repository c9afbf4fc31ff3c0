"""Injected detection patterns: per rule of the catalog, the records that trip exactly it.

Pure: no I/O, no wall clock. :func:`inject` lays the asked-for patterns out over the run's
merchants (round robin) and business time, and returns one :class:`Injection` per pattern:
the signed-webhook bodies to post (or, for C-011 / C-101 and C-006, the canonical NO_SALE
records the cash-drawer poller would publish and the split-tender SALE records parse makes
from fetched orders, to produce straight to ``canary.detection``) and the alerts they must
raise, as data.

The expected alerts follow from each pattern's own definition — how many records, whose,
where and when — never from :mod:`canary_stream.rules`. They hold for a merchant in UTC with
its business day starting at or before 06:00 and the catalog defaults in force. Every
pattern keeps to its own subjects (team members, cards, gift cards and loyalty accounts
minted for it) and stays clear of the other rules: times inside 06:00-22:00 UTC (except
C-004's), amounts below 100.00 and never a multiple of 10.00 (except C-003's and C-007's),
a fresh card per payment (except C-005's), EMV entry (except C-008's), no ``delay_action``
on an authorization (except C-009's), refunds and voids within 120 s of their payment
(except C-502's). Where a pattern cannot help tripping another rule, its expected alerts
say so: C-101's five NO_SALEs each raise C-011, and C-D03's three disputes each raise C-D01.

:func:`quiet_problems` checks that background traffic keeps the constraints that make it
rule-quiet (docs/detection.md, "Injected patterns").
"""

from __future__ import annotations

import fnmatch
import hashlib
import heapq
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from canary_stream.models.canonical import Tender, TransactionEvent
from canary_stream.simulate import accounts as a
from canary_stream.simulate import finance as f
from canary_stream.simulate import objects as o
from canary_stream.simulate.payloads import SHAPES, Webhook, encode
from canary_stream.simulate.stories import ms
from canary_stream.simulate.world import (
    UPPER_ALNUM,
    URLSAFE,
    Json,
    Merchant,
    money,
    new_card,
    rfc3339,
    rid,
    uuid4_like,
)
from canary_stream.square.parse.base import canonical_id, transaction_id

#: Business hours the patterns keep to (C-004's default, UTC).
OPEN, CLOSE = time(6, 0), time(22, 0)
#: Business time one pattern is given; patterns of one merchant follow each other.
SLOT = timedelta(minutes=40)
#: Background story kinds that trip no rule when they keep :func:`quiet_problems`' limits.
QUIET_MIX: dict[str, float] = {
    "sale": 38, "cash": 14, "customer": 3, "payout": 1, "delayed": 0, "void": 0, "keyed": 0,
    "declined": 0, "refund": 0, "order": 0, "exchange": 0, "loyalty": 0, "gift_card": 0,
    "dispute": 0,
}  # fmt: skip


@dataclass(frozen=True)
class ExpectedAlert:
    """One alert a pattern must raise; ``subject`` may hold ``*`` where a keyed hash goes."""

    merchant_id: str
    rule_id: str
    level: int
    mode: str
    subject: str

    def matches(self, merchant_id: str, rule_id: str, level: int, mode: str, subject: str) -> bool:
        """Whether a stored alert (Square merchant id, subject key) is this one."""
        return (merchant_id, rule_id, level, mode) == (
            self.merchant_id,
            self.rule_id,
            self.level,
            self.mode,
        ) and fnmatch.fnmatchcase(subject, self.subject)


@dataclass(frozen=True)
class DrawerNoSale:
    """A cash-drawer NO_SALE event, as the drawer poller would turn it into a record."""

    event_id: str
    location_id: str
    employee_id: str
    shift_id: str
    occurred_at: datetime

    def record(self, merchant_uuid: UUID, currency: str) -> TransactionEvent:
        """The canonical NO_SALE record (source POLLING) for ``canary.detection``."""
        key = (self.event_id, "NO_SALE")
        return TransactionEvent(
            canonical_id=canonical_id(merchant_uuid, "transaction", *key),
            event_id=canonical_id(merchant_uuid, "drawer-event", self.event_id),
            merchant_id=merchant_uuid,
            source_type="POLLING",
            source_event_id=self.event_id,
            source_event_type="cash_drawer.event",
            event_hash=hashlib.sha256(f"{merchant_uuid}|{self.event_id}".encode()).hexdigest(),
            received_at=self.occurred_at + timedelta(minutes=1),
            occurred_at=self.occurred_at,
            location_id=self.location_id,
            transaction_id=transaction_id(merchant_uuid, self.event_id, "NO_SALE"),
            external_id=self.event_id,
            transaction_type="NO_SALE",
            status="COMPLETED",
            employee_id=self.employee_id,
            amount_cents=0,
            currency=currency,
            shift_id=self.shift_id,
        )


@dataclass(frozen=True)
class SplitTenderSale:
    """A SALE paid with two tenders, as parse makes it from a fetched order."""

    order_id: str
    location_id: str
    employee_id: str
    occurred_at: datetime
    amounts: tuple[int, int]

    def record(self, merchant_uuid: UUID, currency: str) -> TransactionEvent:
        """The canonical SALE record (source POLLING) for ``canary.detection``."""
        tenders = tuple(
            Tender(
                payment_id=f"{self.order_id}-p{i}",
                payment_transaction_id=transaction_id(
                    merchant_uuid, f"{self.order_id}-p{i}", "PAYMENT"
                ),
                tender_type="CARD" if i == 0 else "CASH",
                amount_cents=amount,
            )
            for i, amount in enumerate(self.amounts)
        )
        return TransactionEvent(
            canonical_id=canonical_id(merchant_uuid, "transaction", self.order_id, "SALE"),
            event_id=canonical_id(merchant_uuid, "fetched-order", self.order_id),
            merchant_id=merchant_uuid,
            source_type="POLLING",
            source_event_id=f"poll:order:{self.order_id}:1",
            source_event_type="square.order.retrieved",
            event_hash=hashlib.sha256(f"{merchant_uuid}|{self.order_id}".encode()).hexdigest(),
            received_at=self.occurred_at + timedelta(minutes=1),
            occurred_at=self.occurred_at,
            location_id=self.location_id,
            transaction_id=transaction_id(merchant_uuid, self.order_id, "SALE"),
            external_id=self.order_id,
            transaction_type="SALE",
            status="COMPLETED",
            employee_id=self.employee_id,
            amount_cents=sum(self.amounts),
            currency=currency,
            order_id=self.order_id,
            tenders=tenders,
        )


@dataclass(frozen=True)
class Injection:
    """One injected pattern: what to send and the alerts it must raise."""

    rule_id: str
    merchant_id: str
    webhooks: tuple[Webhook, ...] = ()
    drawer: tuple[DrawerNoSale | SplitTenderSale, ...] = ()
    expected: tuple[ExpectedAlert, ...] = ()

    def records(self, merchant_uuid: UUID, currency: str) -> list[TransactionEvent]:
        """The drawer records, for a merchant whose id is ``merchant_uuid``."""
        return [d.record(merchant_uuid, currency) for d in self.drawer]


@dataclass
class _Pattern:
    """Builds one pattern: its clock, its ids and its webhooks."""

    m: Merchant
    rng: random.Random
    at: datetime
    rule_id: str
    webhooks: list[Webhook] = field(default_factory=list)
    drawer: list[DrawerNoSale | SplitTenderSale] = field(default_factory=list)
    expected: list[ExpectedAlert] = field(default_factory=list)

    @property
    def day(self) -> date:
        return self.at.date()

    @property
    def location(self) -> str:
        return self.m.locations[0].id

    def member(self) -> str:
        """A team member minted for this pattern (nobody else's records count for them)."""
        return "TM" + rid(self.rng, 14, URLSAFE)

    def expect(self, subject: str, rule_id: str | None = None, mode: str = "alerting") -> None:
        rule = rule_id or self.rule_id
        self.expected.append(ExpectedAlert(self.m.merchant_id, rule, 1, mode, subject))

    def amount(self) -> int:
        """Below 100.00 and never a multiple of 10.00."""
        cents = self.rng.randrange(300, 9_900)
        return cents + 7 if cents % 1000 == 0 else cents

    def send(self, event_type: str, obj: Json, at: datetime, location: str | None = None) -> None:
        """Append the webhook of ``obj`` at ``at``; ``location`` goes on the envelope."""
        kind, key = SHAPES[event_type]
        if kind in ("payment", "refund"):
            obj = o.ordered(kind, obj)
        body: Json = {"merchant_id": self.m.merchant_id}
        if location:
            body["location_id"] = location
        event_id = uuid4_like(self.rng)
        created = rfc3339(at + ms(0.3))
        body.update(type=event_type, event_id=event_id, created_at=created)
        body["data"] = {"type": kind, "id": obj["id"], "object": {key: obj}}
        hook = Webhook(self.m.merchant_id, event_type, event_id, obj["id"], created, encode(body))
        self.webhooks.append(hook)

    def payment(
        self,
        at: datetime,
        amount: int | None = None,
        *,
        employee: str | None = None,
        card: Any = None,
        entry: str = "EMV",
        location: str | None = None,
        approved: int | None = None,
        delay: bool = False,
        send: bool = True,
    ) -> Json:
        """A card payment, COMPLETED (or left APPROVED when ``approved`` is given)."""
        rng = self.rng
        card = card or new_card(rng, at.year)
        p = o.new_payment(
            rng, self.m, at - ms(1), source="CARD", entry=entry, card=card,
            amount=amount or self.amount(), location_id=location or self.location,
        )  # fmt: skip
        for name in ("customer_id", "buyer_email_address", "employee_id", "team_member_id"):
            p.pop(name, None)
        if employee:
            p["employee_id"] = p["team_member_id"] = employee
        if not delay:
            for name in ("delay_duration", "delay_action", "delayed_until"):
                p.pop(name)
        o.authorize(p, rng, at, delayed=approved is not None)
        if approved is not None:
            p["approved_money"] = money(approved, self.m.currency)
        else:
            o.capture(p, rng, at)
        if send:
            self.send("payment.created", p, at)
        return p

    def refund(self, p: Json, at: datetime, amount: int, employee: str | None = None) -> None:
        r = o.new_refund(self.rng, self.m, p, at, amount)
        r.pop("team_member_id", None)
        if employee:
            r["team_member_id"] = employee
        o.settle_refund(r, p, self.rng, at, ok=True)
        r["created_at"] = rfc3339(at)
        self.send("refund.updated", r, at)

    def dispute(self, at: datetime, state: str = "EVIDENCE_REQUIRED") -> None:
        p = self.payment(at - timedelta(minutes=5))
        d = f.new_dispute(self.rng, p, at)
        if state == "EVIDENCE_REQUIRED":
            self.send("dispute.created", d, at, d["location_id"])
        else:
            f.move_dispute(d, self.rng, state, at)
            self.send("dispute.state.updated", d, at, d["location_id"])

    def account(self) -> Json:
        customer = {"id": rid(self.rng, 26, UPPER_ALNUM)}
        return a.new_account(self.rng, self.m, customer, self.at)

    def accumulate(self, account: Json, at: datetime, location: str) -> None:
        points = self.rng.randint(5, 40)
        e = a.loyalty_event(
            self.rng, account, "ACCUMULATE_POINTS", at, points=points, location_id=location
        )
        e["accumulate_points"]["order_id"] = rid(self.rng, 29)
        self.send("loyalty.event.created", e, at)

    def employee_day(self, employee: str) -> str:
        return f"employee:{employee}|day:{self.day.isoformat()}"

    def step(self, i: int, minutes: float = 5) -> datetime:
        return self.at + timedelta(minutes=minutes * i)


# One builder per rule: (pattern) -> None, appending webhooks, drawer records and alerts.
def _c002(b: _Pattern) -> None:
    e = b.member()
    pays = [b.payment(b.step(i, 3), employee=e) for i in range(4)]
    b.refund(pays[-1], b.step(3, 3) + timedelta(seconds=60), 250, employee=e)
    b.expect(b.employee_day(e))  # 1 refund of 5 records: 20 % ≥ 15 %, below 30 %


def _c003(b: _Pattern) -> None:
    e = b.member()
    for i in range(5):
        b.payment(b.step(i), (i + 2) * 1000, employee=e)
    b.expect(f"employee:{e}")


def _c004(b: _Pattern) -> None:
    b.payment(datetime.combine(b.day, time(23, 30), UTC))
    b.expect(f"location:{b.location}")


def _c005(b: _Pattern) -> None:
    card = new_card(b.rng, b.at.year)
    for i in range(5):
        b.payment(b.step(i, 6), card=card)
    b.expect("card:*")


def _c007(b: _Pattern) -> None:
    p = b.payment(b.at, 12_345)
    b.refund(p, b.at + timedelta(seconds=60), 12_345)
    b.expect(f"location:{b.location}")


def _c008(b: _Pattern) -> None:
    e = b.member()
    for i in range(5):
        b.payment(b.step(i), employee=e, entry="KEYED")
    b.expect(b.employee_day(e))


def _c009(b: _Pattern) -> None:
    amount = b.amount()
    b.payment(b.at, amount, approved=amount, delay=True)
    b.expect(f"location:{b.location}", mode="dry_run")  # C-009's default mode


def _c010(b: _Pattern) -> None:
    amount = b.amount() + 600
    b.payment(b.at, amount, approved=amount - 500)
    b.expect(f"location:{b.location}")


def _no_sales(b: _Pattern, n: int) -> str:
    e, shift = b.member(), uuid4_like(b.rng)
    for i in range(n):
        event_id = rid(b.rng, 22)
        b.drawer.append(DrawerNoSale(event_id, b.location, e, shift, b.step(i, 4)))
        b.expect(b.employee_day(e), "C-011")
    return f"employee:{e}|shift:{shift}"


def _c011(b: _Pattern) -> None:
    _no_sales(b, 1)


def _c101(b: _Pattern) -> None:
    b.expect(_no_sales(b, 5))  # and each NO_SALE is a C-011


def _c006(b: _Pattern) -> None:
    e = b.member()
    for i in range(3):  # three split-tender SALEs of one employee within the hour
        order_id = rid(b.rng, 29)
        amounts = (b.amount(), b.amount())
        b.drawer.append(SplitTenderSale(order_id, b.location, e, b.step(i, 12), amounts))
    b.expect(f"employee:{e}")


def _c501(b: _Pattern) -> None:
    e = b.member()
    for i in range(5):
        amount = b.amount()
        p = b.payment(b.step(i), amount, employee=e, approved=amount)
        voided = b.step(i) + timedelta(seconds=30)
        o.void(p, b.rng, voided)
        b.send("payment.updated", p, voided)
    b.expect(b.employee_day(e))


def _c502(b: _Pattern) -> None:
    seller, refunder = b.member(), b.member()
    p = b.payment(b.at, employee=seller)
    b.refund(p, b.at + timedelta(seconds=1_800), 400, employee=refunder)  # SUSPICIOUS band
    b.expect(b.employee_day(refunder))


def _c601(b: _Pattern) -> None:
    g = a.new_gift_card(b.rng)
    for i, kind in enumerate(("ACTIVATE", "LOAD", "LOAD")):
        activity = a.gift_card_activity(
            b.rng, b.m, g, kind, 2_500, b.step(i), b.location, order_id=rid(b.rng, 29)
        )
        b.send("gift_card.activity.created", activity, b.step(i))
    b.expect(f"gift_card:{g['id']}")


def _c801(b: _Pattern) -> None:
    account = b.account()
    for i in range(5):
        b.accumulate(account, b.step(i), b.location)
    b.expect(f"loyalty:{account['id']}")


def _c803(b: _Pattern) -> None:
    account = b.account()
    places = [loc.id for loc in b.m.locations]
    while len(places) < 3:
        places.append("L" + rid(b.rng, 12, UPPER_ALNUM))
    for i, place in enumerate(places[:3]):
        b.accumulate(account, b.step(i, 10), place)
    b.expect(f"loyalty:{account['id']}")


def _c804(b: _Pattern) -> None:
    for i in range(10):
        account = b.account()
        when = rfc3339(b.step(i, 2))
        account["enrolled_at"] = account["created_at"] = account["updated_at"] = when
        b.send("loyalty.account.created", account, b.step(i, 2), b.location)
    b.expect(f"location:{b.location}")


def _c_d01(b: _Pattern) -> None:
    b.dispute(b.at + timedelta(minutes=10))
    b.expect("merchant")


def _c_d02(b: _Pattern) -> None:
    b.dispute(b.at + timedelta(minutes=10), "LOST")  # created before the run: only LOST
    b.expect("merchant")


def _c_d03(b: _Pattern) -> None:
    for i in range(3):
        b.dispute(b.at + timedelta(minutes=10 + 5 * i))
        b.expect("merchant", "C-D01")
    b.expect("merchant")


PATTERNS: dict[str, Callable[[_Pattern], None]] = {
    "C-002": _c002, "C-003": _c003, "C-004": _c004, "C-005": _c005, "C-006": _c006,
    "C-007": _c007,
    "C-008": _c008, "C-009": _c009, "C-010": _c010, "C-011": _c011, "C-101": _c101,
    "C-501": _c501, "C-502": _c502, "C-601": _c601, "C-801": _c801, "C-803": _c803,
    "C-804": _c804, "C-D01": _c_d01, "C-D02": _c_d02, "C-D03": _c_d03,
}  # fmt: skip


def parse_ids(text: str) -> list[str]:
    """``C-005,c-502`` → ``["C-005", "C-502"]``; ``all`` → every pattern; ValueError otherwise."""
    if text.strip().lower() == "all":
        return list(PATTERNS)
    ids = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [i for i in ids if i not in PATTERNS]
    if unknown or not ids:
        known = ", ".join(PATTERNS)
        raise ValueError(f"no pattern for {', '.join(unknown) or '(none)'}; known: {known}, all")
    return list(dict.fromkeys(ids))


def _slot(at: datetime) -> datetime:
    """``at``, or the next time a whole slot fits inside business hours."""
    at = at.astimezone(UTC)
    opening = datetime.combine(at.date(), OPEN, UTC) + timedelta(minutes=10)
    if at < opening:
        return opening
    if at + SLOT > datetime.combine(at.date(), CLOSE, UTC) - timedelta(minutes=10):
        return opening + timedelta(days=1)
    return at


def inject(
    rule_ids: Sequence[str], merchants: Sequence[Merchant], start: datetime, seed: int = 1
) -> list[Injection]:
    """The patterns of ``rule_ids``, dealt round robin to ``merchants`` from ``start``."""
    if not merchants:
        raise ValueError("at least one merchant is needed")
    clocks = {m.merchant_id: _slot(start + timedelta(minutes=10)) for m in merchants}
    out: list[Injection] = []
    for i, rule_id in enumerate(rule_ids):
        m = merchants[i % len(merchants)]
        at = clocks[m.merchant_id]
        rng = random.Random(f"pattern:{seed}:{m.merchant_id}:{rule_id}:{rfc3339(at)}")
        b = _Pattern(m, rng, at, rule_id)
        PATTERNS[rule_id](b)
        clocks[m.merchant_id] = _slot(at + SLOT)
        hooks = sorted(b.webhooks, key=lambda h: h.created_at)
        out.append(
            Injection(rule_id, m.merchant_id, tuple(hooks), tuple(b.drawer), tuple(b.expected))
        )
    return out


def interleave(background: Iterable[Webhook], injections: Sequence[Injection]) -> Iterator[Webhook]:
    """Background and injected webhooks merged by business time (each stream in its order)."""
    extra = sorted((h for i in injections for h in i.webhooks), key=lambda h: h.created_at)
    return heapq.merge(background, extra, key=lambda h: h.created_at)


def expected_alerts(injections: Iterable[Injection]) -> list[ExpectedAlert]:
    """Every expected alert of ``injections``."""
    return [e for i in injections for e in i.expected]


AlertKey = tuple[str, str, int, str, str]
"""A stored alert as compared: (Square merchant id, rule id, level, mode, subject key)."""


def match_alerts(
    expected: Iterable[ExpectedAlert], actual: Iterable[AlertKey]
) -> tuple[list[ExpectedAlert], list[AlertKey]]:
    """(expected alerts nobody raised, raised alerts nobody expected), counting each once."""
    left = sorted(actual)
    missing: list[ExpectedAlert] = []
    # exact subjects first, so a pattern never takes an alert an exact one needs
    for e in sorted(expected, key=lambda e: "*" in e.subject):
        hit = next((k for k in left if e.matches(*k)), None)
        if hit is None:
            missing.append(e)
        else:
            left.remove(hit)
    return missing, left


def readdress(hook: Webhook, merchant_id: str) -> Webhook:
    """``hook`` sent for another merchant (the body's ``merchant_id`` replaced)."""
    old = f'"merchant_id":"{hook.merchant_id}"'.encode()
    body = hook.body.replace(old, f'"merchant_id":"{merchant_id}"'.encode(), 1)
    if body == hook.body and merchant_id != hook.merchant_id:
        raise ValueError(f"webhook {hook.event_id} does not name merchant {hook.merchant_id}")
    return replace(hook, merchant_id=merchant_id, body=body)


def with_merchant(injection: Injection, merchant_id: str) -> Injection:
    """``injection`` for another merchant id: the same world under a name no run used yet."""
    hooks = tuple(readdress(h, merchant_id) for h in injection.webhooks)
    expected = tuple(replace(e, merchant_id=merchant_id) for e in injection.expected)
    return replace(injection, merchant_id=merchant_id, webhooks=hooks, expected=expected)


def quiet_problems(hooks: Iterable[Webhook]) -> list[str]:
    """Where background webhooks break the limits that keep them rule-quiet ([] when none).

    Deliberately stricter than the rules, and counted over the whole run rather than in
    windows: only payments, refund-free; every object time inside 06:00-22:00 UTC; no
    APPROVED, CANCELED or KEYED payment; no round amount (multiple of 10.00, at least
    20.00) twice by one team member; no card fingerprint four times
    within two hours; no loyalty account
    with four events or at two locations; no loyalty enrolment at a location (C-804 counts
    by location), no gift card, dispute, refund or order.
    """
    import json

    problems: list[str] = []
    cards: dict[str, dict[str, datetime]] = defaultdict(dict)
    rounds: dict[str, set[str]] = defaultdict(set)
    loyalty: dict[str, list[str | None]] = defaultdict(list)
    allowed = {"payment.created", "payment.updated", "customer.created", "customer.updated",
               "customer.deleted", "loyalty.account.created", "loyalty.event.created",
               "payout.sent", "payout.paid", "payout.failed"}  # fmt: skip
    for hook in hooks:
        body = json.loads(hook.body)
        if hook.event_type not in allowed:
            problems.append(f"{hook.event_type} {hook.object_id}: not a quiet event type")
            continue
        if hook.event_type == "loyalty.account.created" and "location_id" in body:
            problems.append(f"enrolment {hook.object_id} at a location")
        obj = next(iter(body["data"]["object"].values()))
        stamp = obj.get("updated_at") or obj.get("created_at")
        if stamp is not None:
            t = datetime.fromisoformat(stamp.replace("Z", "+00:00")).time()
            if not OPEN <= t < CLOSE:
                problems.append(f"{hook.event_type} {hook.object_id}: at {stamp}")
        if hook.event_type.startswith("payment."):
            if obj["status"] in ("APPROVED", "CANCELED", "FAILED"):
                problems.append(f"payment {obj['id']}: {obj['status']}")
            card = obj.get("card_details")
            if card is not None:
                if card["entry_method"] == "KEYED":
                    problems.append(f"payment {obj['id']}: KEYED")
                first = obj["created_at"].replace("Z", "+00:00")
                cards[card["card"]["fingerprint"]][obj["id"]] = datetime.fromisoformat(first)
            amount = int(obj["amount_money"]["amount"])
            if amount >= 2000 and amount % 1000 == 0:
                rounds[obj.get("team_member_id") or ""].add(obj["id"])
        elif hook.event_type == "loyalty.event.created":
            loyalty[obj["loyalty_account_id"]].append(obj.get("location_id"))
    for uses in cards.values():
        times = sorted(uses.values())
        if any(b - a < timedelta(hours=2) for a, b in zip(times, times[3:], strict=False)):
            problems.append(f"a card used 4 times within 2 hours: {times}")
    problems += [f"{len(p)} round amounts by {e!r}" for e, p in rounds.items() if len(p) >= 2]
    for account, places in loyalty.items():
        if len(places) >= 4 or len(set(places)) >= 2:
            problems.append(f"loyalty account {account}: {len(places)} events at {set(places)}")
    return problems
