"""Square Dispute and Payout objects and their state changes.

A dispute references an earlier completed card payment (``disputed_payment.payment_id``)
and moves EVIDENCE_REQUIRED → PROCESSING → WON / LOST (or straight to ACCEPTED); a payout
is SENT, then PAID (or, rarely, FAILED). Each change bumps ``version`` and ``updated_at``.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from canary_stream.simulate.world import (
    BASE62,
    Json,
    Merchant,
    money,
    pick,
    rfc3339,
    rid,
    uuid4_like,
)

REASONS: list[tuple[str, int]] = [
    ("NO_KNOWLEDGE", 35),
    ("NOT_RECEIVED", 15),
    ("NOT_AS_DESCRIBED", 15),
    ("DUPLICATE", 10),
    ("AMOUNT_DIFFERS", 10),
    ("CANCELLED", 5),
    ("PAID_BY_OTHER_MEANS", 5),
    ("CUSTOMER_REQUESTS_CREDIT", 5),
]


def _midnight(at: datetime) -> datetime:
    return datetime.combine(at.date(), time(0), tzinfo=at.tzinfo)


def new_dispute(rng: random.Random, p: Json, at: datetime) -> Json:
    """A Dispute in EVIDENCE_REQUIRED for the whole of completed card payment ``p``."""
    return {
        "id": rid(rng, 20, BASE62),
        "amount_money": dict(p["total_money"]),
        "reason": pick(rng, REASONS),
        "state": "EVIDENCE_REQUIRED",
        "due_at": rfc3339(_midnight(at) + timedelta(days=14)),
        "disputed_payment": {"payment_id": p["id"]},
        "card_brand": p["card_details"]["card"]["card_brand"],
        "created_at": rfc3339(at),
        "updated_at": rfc3339(at),
        "brand_dispute_id": rid(rng, 22, BASE62),
        "reported_at": rfc3339(_midnight(at)),
        "version": 1,
        "location_id": p["location_id"],
    }


def move_dispute(d: Json, rng: random.Random, state: str, at: datetime) -> None:
    """The dispute's next state (PROCESSING records the evidence submitted)."""
    if state == "PROCESSING":
        d["evidence_ids"] = [rid(rng, 22, BASE62) for _ in range(rng.randint(1, 3))]
        _reorder(d)
    d["state"] = state
    d["updated_at"] = rfc3339(at)
    d["version"] = int(d["version"]) + 1


DISPUTE_FIELDS = (
    "id", "amount_money", "reason", "state", "due_at", "disputed_payment", "evidence_ids",
    "card_brand", "created_at", "updated_at", "brand_dispute_id", "reported_at", "version",
    "location_id",
)  # fmt: skip


def _reorder(d: Json) -> None:
    """Put ``d``'s keys back in Square's order, in place (so its serialisation matches)."""
    items = sorted(d.items(), key=lambda kv: DISPUTE_FIELDS.index(kv[0]))
    d.clear()
    d.update(items)


def new_payout(rng: random.Random, m: Merchant, at: datetime, amount: int) -> Json:
    """A Payout of ``amount`` to the merchant's bank account, just SENT."""
    return {
        "id": "po_" + uuid4_like(rng),
        "status": "SENT",
        "location_id": m.locations[0].id,
        "created_at": rfc3339(at),
        "updated_at": rfc3339(at),
        "amount_money": money(amount, m.currency),
        "destination": {"type": "BANK_ACCOUNT", "id": m.bank_account_id},
        "version": 1,
        "type": "BATCH",
        "arrival_date": (at + timedelta(days=1)).date().isoformat(),
    }


def settle_payout(po: Json, status: str, at: datetime) -> None:
    """PAID (the bank took it) or FAILED."""
    po["status"] = status
    po["updated_at"] = rfc3339(at)
    po["version"] = int(po["version"]) + 1
