"""The customer registry the pipeline should keep for simulated webhooks, computed independently.

Written straight from customers.md and square.md's ledger model, without the project's parsers
or the registry, so an end-to-end test can compare ``app.customers`` against it:

* a ledger transaction is one (object, type), created by the first version that shows it:
  AUTHORIZATION at an APPROVED version (time ``card_payment_timeline.authorized_at``, else
  ``created_at``); PAYMENT at the first COMPLETED version (``captured_at``, else
  ``updated_at``); VOID at a CANCELED version of an approved payment (APPROVED observed, or the
  object shows the approval: card ``VOIDED``, ``authorized_at`` or ``approved_money``;
  ``voided_at``, else ``updated_at``); REFUND at a refund's first COMPLETED version (refund
  ``created_at``). PENDING and FAILED versions are no ledger transactions;
* the customer a transaction names is the ``customer_id`` of that first version;
* PAYMENT naming a customer: LTV += ``amount_money``, count += 1; a completed REFUND of a
  payment naming a customer: LTV -= refunded amount; the first LOST dispute state of such a
  payment: LTV -= disputed amount (later LOST states of the same payment change nothing);
* first / last seen: min / max business time over the ledger transactions naming the
  customer, its refunds and its lost disputes (dispute time: ``updated_at``, else
  ``created_at``); ``customer.*`` lifecycle events create the row but are not "seen";
* every customer named by a lifecycle event or a ledger transaction has a row; one named only
  by lifecycle events keeps the zero aggregates and no first / last seen;
* deliveries repeating an ``event_id`` count once (the seal stage drops them).

Only webhooks: SALE / EXCHANGE from fetched orders are not covered (the caller runs no fetch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canary_stream.simulate.expected import delivered_once
from canary_stream.simulate.payloads import Webhook

Json = dict[str, Any]


@dataclass(frozen=True)
class ExpectedCustomer:
    """One ``app.customers`` row's aggregates (``None`` times: never seen in a transaction)."""

    lifetime_value_cents: int
    transaction_count: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None


def _when(*candidates: tuple[Json, str]) -> datetime:
    """The first ``(object, field)`` present, as an aware datetime (RFC 3339, ``Z``)."""
    for obj, name in candidates:
        value = obj.get(name)
        if value:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    raise KeyError(f"none of {[name for _, name in candidates]}")


def _amount(obj: Json) -> int:
    return int((obj.get("amount_money") or {}).get("amount", 0))


def _timeline(p: Json) -> Json:
    return (p.get("card_details") or {}).get("card_payment_timeline") or {}


def _shows_approval(p: Json) -> bool:
    card = p.get("card_details") or {}
    return (
        card.get("status") == "VOIDED" or "authorized_at" in _timeline(p) or "approved_money" in p
    )


class _Registry:
    """One merchant's customers under construction."""

    def __init__(self) -> None:
        self.ltv: dict[str, int] = {}
        self.count: dict[str, int] = {}
        self.seen: dict[str, tuple[datetime, datetime]] = {}
        self.rows: set[tuple[str, str]] = set()  # (external id, type) already created
        self.approved: set[str] = set()
        self.payment_owner: dict[str, str | None] = {}  # payment id → customer of its PAYMENT
        self.lost: set[str] = set()  # payment ids with a lost dispute counted

    def name(self, customer: str) -> None:
        self.ltv.setdefault(customer, 0)
        self.count.setdefault(customer, 0)

    def see(self, customer: str, at: datetime) -> None:
        self.name(customer)
        first, last = self.seen.get(customer, (at, at))
        self.seen[customer] = (min(first, at), max(last, at))

    def transaction(self, external_id: str, kind: str, customer: str | None, at: datetime) -> bool:
        """Create the (object, type) row once; ``True`` when this version created it."""
        if (external_id, kind) in self.rows:
            return False
        self.rows.add((external_id, kind))
        if customer:
            self.see(customer, at)
        return True

    def payment(self, p: Json) -> None:
        pid, status, customer = p["id"], p.get("status"), p.get("customer_id") or None
        timeline = _timeline(p)
        if status == "APPROVED":
            self.approved.add(pid)
            at = _when((timeline, "authorized_at"), (p, "created_at"))
            self.transaction(pid, "AUTHORIZATION", customer, at)
        elif status == "COMPLETED":
            at = _when((timeline, "captured_at"), (p, "updated_at"))
            if self.transaction(pid, "PAYMENT", customer, at):
                self.payment_owner[pid] = customer
                if customer:
                    self.ltv[customer] += _amount(p)
                    self.count[customer] += 1
        elif status == "CANCELED" and (pid in self.approved or _shows_approval(p)):
            at = _when((timeline, "voided_at"), (p, "updated_at"))
            self.transaction(pid, "VOID", customer, at)

    def refund(self, r: Json) -> None:
        if r.get("status") != "COMPLETED":
            return
        at = _when((r, "created_at"))
        if not self.transaction(r["id"], "REFUND", None, at):  # a refund names no customer
            return
        owner = self.payment_owner.get(str(r.get("payment_id")))
        if owner:
            self.see(owner, at)
            self.ltv[owner] -= _amount(r)

    def dispute(self, d: Json) -> None:
        if d.get("state") != "LOST":
            return
        pid = str((d.get("disputed_payment") or {}).get("payment_id"))
        owner = self.payment_owner.get(pid)
        if owner and pid not in self.lost:
            self.lost.add(pid)
            self.see(owner, _when((d, "updated_at"), (d, "created_at")))
            self.ltv[owner] -= _amount(d)

    def result(self) -> dict[str, ExpectedCustomer]:
        out = {}
        for customer in sorted(self.ltv):
            first, last = self.seen.get(customer, (None, None))
            out[customer] = ExpectedCustomer(self.ltv[customer], self.count[customer], first, last)
        return out


def expected_customers(
    webhooks: Iterable[Webhook | bytes],
) -> dict[str, dict[str, ExpectedCustomer]]:
    """``{square merchant id: {square customer id: aggregates}}`` for ``webhooks``, processed in
    the given order (Square's order per object, as the simulator sends them)."""
    registries: dict[str, _Registry] = {}
    for merchant, event_type, data_type, obj in delivered_once(webhooks):
        registry = registries.setdefault(merchant, _Registry())
        if data_type == "payment":
            registry.payment(obj)
        elif data_type == "refund":
            registry.refund(obj)
        elif event_type.startswith("dispute."):
            registry.dispute(obj)
        elif event_type.startswith("customer."):
            registry.name(str(obj["id"]))
    return {m: r.result() for m, r in registries.items()}
