"""The ledger the parse stage should build from simulated traffic, computed independently.

Written straight from square.md's ledger model, without the project's parsers, so an
end-to-end test can compare ``sales.*`` against it:

* one record per (transaction, type), the first time the type is observed across a
  payment's versions: AUTHORIZATION only when APPROVED was observed; PAYMENT at the first
  COMPLETED version (a payment first seen COMPLETED yields a PAYMENT only); VOID when an
  approved payment is CANCELED (APPROVED was observed, or the object shows the approval:
  card ``VOIDED``, ``authorized_at`` or ``approved_money``; otherwise nothing); REFUND at
  a refund's first COMPLETED version (PENDING and FAILED refunds are no ledger rows);
* FAILED payments are canonical only: counted apart, never transactions;
* processing fees are rows per (transaction, fee type, ``effective_at``), from COMPLETED
  versions of payments and refunds (a refund's fee share comes back negative);
* a ``refund_links`` row per REFUND; disputes a row per (dispute, state); payouts a row
  per (payout, status); loyalty events and gift-card activities a row per id;
* deliveries repeating an ``event_id`` count once (the seal stage drops them).

SALE / EXCHANGE (from fetched orders) and drawer NO_SALE / PAID_IN / PAID_OUT (from
polled drawers) are not in webhooks: :func:`expected_api_ledger` computes them from what
the fake Square will serve.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from canary_stream.simulate.payloads import Traffic, Webhook

TRANSACTION_TYPES = ("AUTHORIZATION", "PAYMENT", "VOID", "REFUND")
DISPUTE_STATES = ("EVIDENCE_REQUIRED", "PROCESSING", "WON", "LOST", "ACCEPTED")
LOYALTY = {"ACCUMULATE_POINTS": "ACCUMULATE", "REDEEM_REWARD": "REDEEM", "ADJUST_POINTS": "ADJUST"}
GIFT_CARD_ACTIVITIES = ("ACTIVATE", "LOAD", "REDEEM")
PAYOUT_STATUSES = ("SENT", "PAID", "FAILED")
LIFECYCLE = {
    "customer.created": "CREATED",
    "customer.updated": "UPDATED",
    "customer.deleted": "DELETED",
}
DRAWER_TYPES = ("NO_SALE", "PAID_IN", "PAID_OUT")

Json = dict[str, Any]


def _amount(obj: Json, name: str) -> int:
    return int(obj.get(name, {}).get("amount", 0))


def _shows_approval(p: Json) -> bool:
    """A CANCELED payment that carries the marks of its approval."""
    card = p.get("card_details") or {}
    timeline = card.get("card_payment_timeline") or {}
    return card.get("status") == "VOIDED" or "authorized_at" in timeline or "approved_money" in p


def _count_sum() -> dict[str, int]:
    return {"count": 0, "sum": 0}


def empty_ledger() -> Json:
    """One merchant's expected ledger with every counter at zero (the shape, documented).

    ``transactions[type]``: ``count`` and the sums of Square's ``amount_money``
    (``amount``), ``tip_money`` (``tip``), ``total_money`` (``total``) and
    ``approved_money`` (``approved``) of the version that created the record (for REFUND:
    the refund's ``amount_money``, ``total`` equal to it, ``tip`` and ``approved`` 0).
    ``fees``: ``count`` / ``sum`` over all fee rows, and the same per ``PAYMENT`` /
    ``REFUND``. ``refund_links``, ``disputes[state]``, ``gift_cards[activity]`` and
    ``payouts[status]``: ``count`` / ``sum`` of the amounts. ``loyalty[kind]``: ``count``
    and ``points`` (ENROLL from ``loyalty.account.created``; REDEEM carries no points).
    ``customers[lifecycle]`` and ``failed_payments`` are counts.
    """
    tally = {"count": 0, "amount": 0, "tip": 0, "total": 0, "approved": 0}
    return {
        "transactions": {t: dict(tally) for t in TRANSACTION_TYPES},
        "failed_payments": 0,
        "fees": {"count": 0, "sum": 0, "PAYMENT": _count_sum(), "REFUND": _count_sum()},
        "refund_links": _count_sum(),
        "disputes": {s: _count_sum() for s in DISPUTE_STATES},
        "loyalty": {k: {"count": 0, "points": 0} for k in ("ENROLL", *LOYALTY.values())},
        "gift_cards": {a: _count_sum() for a in GIFT_CARD_ACTIVITIES},
        "payouts": {s: _count_sum() for s in PAYOUT_STATUSES},
        "customers": dict.fromkeys(LIFECYCLE.values(), 0),
    }


class _Books:
    """One merchant's ledger under construction, with the keys already seen."""

    def __init__(self) -> None:
        self.ledger = empty_ledger()
        self.seen: set[tuple[str, ...]] = set()
        self.approved: set[str] = set()
        self.failed: set[str] = set()

    def first(self, *key: str) -> bool:
        """True the first time ``key`` is seen (a row would be inserted)."""
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def add(self, tally: dict[str, int], amount: int, name: str = "sum") -> None:
        tally["count"] += 1
        tally[name] += amount

    def transaction(self, kind: str, external_id: str, obj: Json, *, refund: bool = False) -> None:
        if not self.first("txn", external_id, kind):
            return
        t = self.ledger["transactions"][kind]
        t["count"] += 1
        t["amount"] += _amount(obj, "amount_money")
        t["total"] += _amount(obj, "amount_money" if refund else "total_money")
        if not refund:
            t["tip"] += _amount(obj, "tip_money")
            t["approved"] += _amount(obj, "approved_money")

    def fees(self, kind: str, external_id: str, obj: Json) -> None:
        for fee in obj.get("processing_fee") or []:
            if self.first("fee", external_id, str(fee.get("type")), str(fee.get("effective_at"))):
                amount = _amount(fee, "amount_money")
                self.add(self.ledger["fees"][kind], amount)
                self.ledger["fees"]["count"] += 1
                self.ledger["fees"]["sum"] += amount

    def payment(self, p: Json) -> None:
        pid, status = p["id"], p.get("status")
        if status == "APPROVED":
            self.approved.add(pid)
            self.transaction("AUTHORIZATION", pid, p)
        elif status == "COMPLETED":
            self.transaction("PAYMENT", pid, p)
            self.fees("PAYMENT", pid, p)
        elif status == "CANCELED" and (pid in self.approved or _shows_approval(p)):
            self.transaction("VOID", pid, p)
        elif status == "FAILED":
            self.failed.add(pid)

    def refund(self, r: Json) -> None:
        if r.get("status") != "COMPLETED":
            return
        rid = r["id"]
        if self.first("link", rid):
            self.add(self.ledger["refund_links"], _amount(r, "amount_money"))
        self.transaction("REFUND", rid, r, refund=True)
        self.fees("REFUND", rid, r)

    def other(self, event_type: str, obj: Json) -> None:
        led = self.ledger
        if event_type.startswith("dispute."):
            state = str(obj["state"])
            if self.first("dispute", obj["id"], state):
                tally = led["disputes"].setdefault(state, _count_sum())
                self.add(tally, _amount(obj, "amount_money"))
        elif event_type.startswith("payout."):
            status = str(obj["status"])
            if self.first("payout", obj["id"], status):
                self.add(led["payouts"][status], _amount(obj, "amount_money"))
        elif event_type == "gift_card.activity.created":
            kind = str(obj["type"])
            details = obj.get(f"{kind.lower()}_activity_details", {})
            if self.first("gift", obj["id"]):
                self.add(led["gift_cards"][kind], _amount(details, "amount_money"))
        elif event_type == "loyalty.account.created":
            if self.first("loyalty", obj["id"]):
                led["loyalty"]["ENROLL"]["count"] += 1
        elif event_type == "loyalty.event.created":
            kind = LOYALTY[str(obj["type"])]
            details = obj.get(str(obj["type"]).lower(), {})
            if self.first("loyalty", obj["id"]):
                self.add(led["loyalty"][kind], int(details.get("points", 0)), "points")
        elif event_type in LIFECYCLE:
            led["customers"][LIFECYCLE[event_type]] += 1


def delivered_once(
    webhooks: Iterable[Webhook | bytes],
) -> Iterator[tuple[str, str, str, Json]]:
    """``(merchant, event type, data type, object)`` of each webhook, redeliveries skipped."""
    delivered: set[tuple[str, str]] = set()
    for hook in webhooks:
        body = json.loads(hook.body if isinstance(hook, Webhook) else hook)
        merchant = str(body["merchant_id"])
        if (merchant, body["event_id"]) in delivered:
            continue
        delivered.add((merchant, body["event_id"]))
        data = body["data"]
        yield merchant, str(body["type"]), str(data["type"]), next(iter(data["object"].values()))


def expected_ledger(webhooks: Iterable[Webhook | bytes]) -> dict[str, Json]:
    """``{square merchant id: ledger}`` (the shape of :func:`empty_ledger`) for ``webhooks``,
    processed in the given order (Square's order per object, as the simulator sends them)."""
    books: dict[str, _Books] = {}
    for merchant, event_type, data_type, obj in delivered_once(webhooks):
        b = books.setdefault(merchant, _Books())
        if data_type == "payment":
            b.payment(obj)
        elif data_type == "refund":
            b.refund(obj)
        else:
            b.other(event_type, obj)
    for b in books.values():
        b.ledger["failed_payments"] = len(b.failed)
    return {m: b.ledger for m, b in books.items()}


def expected_api_ledger(traffic: Traffic) -> dict[str, Json]:
    """What fetched orders and polled drawers add to each merchant's ledger, so far.

    Per merchant: ``transactions`` SALE and EXCHANGE (completed orders without / with
    returns: ``count``, ``total`` = ``total_money``, ``net`` = ``net_amounts.total_money``,
    ``tip``, ``tax``) and NO_SALE / PAID_IN / PAID_OUT (``count``, ``amount``);
    ``line_items`` and ``tenders`` row counts; ``cash_drawer_events`` per event type.
    """
    result: dict[str, Json] = {}
    for m in traffic.merchants:
        order_tally = {"count": 0, "total": 0, "net": 0, "tip": 0, "tax": 0}
        ledger: Json = {
            "transactions": {
                "SALE": dict(order_tally),
                "EXCHANGE": dict(order_tally),
                **{t: {"count": 0, "amount": 0} for t in DRAWER_TYPES},
            },
            "line_items": 0,
            "tenders": 0,
            "cash_drawer_events": {},
        }
        for order_id in traffic.order_ids(m.merchant_id):
            order = traffic.orders[order_id]
            t = ledger["transactions"]["EXCHANGE" if order.get("returns") else "SALE"]
            t["count"] += 1
            t["total"] += _amount(order, "total_money")
            t["net"] += _amount(order["net_amounts"], "total_money")
            t["tip"] += _amount(order, "total_tip_money")
            t["tax"] += _amount(order, "total_tax_money")
            returned = sum(len(r["return_line_items"]) for r in order.get("returns", []))
            ledger["line_items"] += len(order["line_items"]) + returned
            ledger["tenders"] += len(order.get("tenders", []))
        events = ledger["cash_drawer_events"]
        for shift in traffic.drawer_shifts(m.merchant_id):
            for e in traffic.drawer_events(m.merchant_id, shift["id"]):
                kind = str(e["event_type"])
                events[kind] = events.get(kind, 0) + 1
                if kind in DRAWER_TYPES:
                    ledger["transactions"][kind]["count"] += 1
                    ledger["transactions"][kind]["amount"] += _amount(e, "event_money")
        result[m.merchant_id] = ledger
    return result
