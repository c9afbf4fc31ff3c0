"""Square Payment and PaymentRefund objects for the simulator, and their state transitions.

Shapes follow Square's Payment and PaymentRefund objects (field names as the ``squareup`` SDK
models them, with wire aliases such as ``last_4`` and ``address_line_1``). Each transition
mutates the object in place and stamps a new version (``updated_at``, ``version_token``);
callers serialise it at once, so every version keeps its own bytes.
"""

from __future__ import annotations

import math
import random
import string
from datetime import datetime, timedelta

from canary_stream.simulate.world import (
    FIRST,
    NOTES,
    UPPER_ALNUM,
    Card,
    Json,
    Merchant,
    address,
    email,
    money,
    pick,
    rfc3339,
    rid,
    ticket,
)

#: Field order of Square's Payment and PaymentRefund (as the SDK models list them).
FIELD_ORDER: dict[str, tuple[str, ...]] = {
    "payment": (
        "id", "created_at", "updated_at", "amount_money", "tip_money", "total_money",
        "app_fee_money", "approved_money", "processing_fee", "refunded_money", "status",
        "delay_duration", "delay_action", "delayed_until", "source_type", "card_details",
        "cash_details", "location_id", "order_id", "customer_id", "employee_id",
        "team_member_id", "refund_ids", "risk_evaluation", "buyer_email_address",
        "billing_address", "shipping_address", "note", "capabilities", "receipt_number",
        "receipt_url", "device_details", "application_details", "version_token",
    ),
    "refund": (
        "id", "status", "location_id", "unlinked", "destination_type", "amount_money",
        "processing_fee", "payment_id", "order_id", "reason", "created_at", "updated_at",
        "team_member_id",
    ),
}  # fmt: skip


def ordered(kind: str, obj: Json) -> Json:
    """A copy of ``obj`` with its keys in Square's order (unknown keys last)."""
    order = FIELD_ORDER[kind]
    rank = {name: i for i, name in enumerate(order)}
    return {k: obj[k] for k in sorted(obj, key=lambda k: rank.get(k, len(order)))}


def card_fee(total: int, keyed: bool) -> int:
    """Square's US processing fee: 2.6% + 15¢ in person, 3.5% + 15¢ keyed."""
    return math.floor(total * (0.035 if keyed else 0.026) + 15 + 0.5)


def stamp(payment: Json, rng: random.Random, at: datetime) -> None:
    """A new version of an object: ``updated_at`` and (payments) a fresh ``version_token``."""
    payment["updated_at"] = rfc3339(at)
    if "version_token" in payment:
        payment["version_token"] = rid(rng, 36)


def new_payment(
    rng: random.Random,
    m: Merchant,
    at: datetime,
    *,
    source: str,
    entry: str | None = None,
    card: Card | None = None,
    amount: int | None = None,
    tip: int = 0,
    order_id: str | None = None,
    location_id: str | None = None,
) -> Json:
    """A Payment as first created (status set by the caller's transition helpers)."""
    loc = next((x for x in m.locations if x.id == location_id), None) or rng.choice(m.locations)
    member = rng.choice(m.team)
    amount = amount if amount is not None else ticket(rng)
    pid = rid(rng, 29)
    cur = m.currency
    p: Json = {
        "id": pid,
        "created_at": rfc3339(at),
        "updated_at": rfc3339(at),
        "amount_money": money(amount, cur),
    }
    if tip:
        p["tip_money"] = money(tip, cur)
    p["total_money"] = money(amount + tip, cur)
    p["status"] = "PENDING"
    p["source_type"] = source
    if source == "CARD":
        assert card is not None and entry is not None
        keyed = entry == "KEYED"
        p["delay_duration"] = "PT168H" if keyed else "PT36H"
        p["delay_action"] = "CANCEL"
        p["delayed_until"] = rfc3339(at + timedelta(hours=168 if keyed else 36))
        p["card_details"] = card_details(rng, m, card, entry)
    else:
        given = amount + tip if rng.random() < 0.3 else -(-(amount + tip) // 500) * 500
        p["cash_details"] = {
            "buyer_supplied_money": money(given, cur),
            "change_back_money": money(given - amount - tip, cur),
        }
    p["location_id"] = loc.id
    p["order_id"] = order_id or rid(rng, 29)
    customer = card.customer_id if card is not None else None
    if customer is None and rng.random() < 0.15:
        customer = rng.choice(m.customers)
    if customer is not None:
        p["customer_id"] = customer
        if rng.random() < 0.5:
            p["buyer_email_address"] = email(rng, rng.choice(FIRST))
    p["employee_id"] = member
    p["team_member_id"] = member
    if entry == "KEYED":
        p["billing_address"] = address(rng, named=False)
        if rng.random() < 0.2:
            p["shipping_address"] = address(rng, named=True)
    if rng.random() < 0.08:
        p["note"] = rng.choice(NOTES)
    p["device_details"] = dict(rng.choice(loc.devices))
    p["application_details"] = {
        "square_product": "VIRTUAL_TERMINAL" if entry == "KEYED" else "SQUARE_POS",
        "application_id": m.app_id,
    }
    p["version_token"] = rid(rng, 36)
    return p


def card_details(rng: random.Random, m: Merchant, card: Card, entry: str) -> Json:
    """``card_details`` in state AUTHORIZED (callers move it on)."""
    d: Json = {"status": "AUTHORIZED", "card": card.as_json(), "entry_method": entry}
    if entry == "KEYED":
        d["cvv_status"], d["avs_status"] = "CVV_ACCEPTED", "AVS_ACCEPTED"
    else:
        d["cvv_status"], d["avs_status"] = "CVV_NOT_CHECKED", "AVS_NOT_CHECKED"
    d["auth_result_code"] = rid(rng, 6, UPPER_ALNUM)
    if entry in ("EMV", "CONTACTLESS"):
        d["application_identifier"] = "A00000000" + rid(rng, 5, string.digits)
        d["application_name"] = f"{card.card_brand.replace('_', ' ')} {card.card_type}"
        d["application_cryptogram"] = rid(rng, 16, "0123456789ABCDEF")
        d["verification_method"] = "ON_DEVICE" if entry == "CONTACTLESS" else "PIN"
        d["verification_results"] = "SUCCESS"
    d["statement_description"] = ("SQ *" + m.name.upper())[:22]
    d["card_payment_timeline"] = {}
    return d


def authorize(p: Json, rng: random.Random, at: datetime, *, delayed: bool) -> None:
    """APPROVED: the card was authorized for the amount (and any tip given at the terminal)."""
    p["approved_money"] = dict(p["total_money"])
    p["status"] = "APPROVED"
    p["card_details"]["card_payment_timeline"]["authorized_at"] = rfc3339(at)
    if delayed:
        p["capabilities"] = [
            "EDIT_AMOUNT_UP", "EDIT_AMOUNT_DOWN", "EDIT_TIP_AMOUNT_UP", "EDIT_TIP_AMOUNT_DOWN",
        ]  # fmt: skip
    p["risk_evaluation"] = {
        "created_at": rfc3339(at),
        "risk_level": pick(rng, [("NORMAL", 95), ("MODERATE", 4), ("HIGH", 1)]),
    }
    p["receipt_number"] = p["id"][:4]
    p["receipt_url"] = f"https://squareup.com/receipt/preview/{p['id']}"
    stamp(p, rng, at)


def capture(p: Json, rng: random.Random, at: datetime, *, tip: int = 0) -> None:
    """COMPLETED: captured (a delayed capture may add a tip on top of what was approved)."""
    cur = p["amount_money"]["currency"]
    if tip:
        p["tip_money"] = money(tip, cur)
        p["total_money"] = money(p["amount_money"]["amount"] + tip, cur)
    p["status"] = "COMPLETED"
    p.pop("capabilities", None)
    if "card_details" in p:
        p["card_details"]["status"] = "CAPTURED"
        p["card_details"]["card_payment_timeline"]["captured_at"] = rfc3339(at)
    else:
        p["approved_money"] = dict(p["total_money"])
        p["receipt_number"] = p["id"][:4]
        p["receipt_url"] = f"https://squareup.com/receipt/preview/{p['id']}"
    stamp(p, rng, at)


def void(p: Json, rng: random.Random, at: datetime) -> None:
    """CANCELED: an approved payment voided before capture."""
    p["status"] = "CANCELED"
    p.pop("capabilities", None)
    p["card_details"]["status"] = "VOIDED"
    p["card_details"]["card_payment_timeline"]["voided_at"] = rfc3339(at)
    stamp(p, rng, at)


def decline(p: Json, rng: random.Random, at: datetime) -> None:
    """FAILED: the issuer declined the card."""
    code = pick(
        rng,
        [("GENERIC_DECLINE", 60), ("INSUFFICIENT_FUNDS", 20), ("CVV_FAILURE", 10),
         ("CARD_EXPIRED", 5), ("ADDRESS_VERIFICATION_FAILURE", 5)],
    )  # fmt: skip
    p["status"] = "FAILED"
    d = p["card_details"]
    d["status"] = "FAILED"
    d.pop("auth_result_code", None)
    d["errors"] = [
        {
            "category": "PAYMENT_METHOD_ERROR",
            "code": code,
            "detail": f"Authorization error: {code!r}",
        }
    ]
    stamp(p, rng, at)


def add_fee(p: Json, rng: random.Random, at: datetime) -> None:
    """Square posts the processing fee in a later ``payment.updated``."""
    keyed = p["card_details"]["entry_method"] == "KEYED"
    fee = card_fee(p["total_money"]["amount"], keyed)
    p["processing_fee"] = [
        {
            "effective_at": p["card_details"]["card_payment_timeline"].get("captured_at")
            or p["updated_at"],
            "type": "INITIAL",
            "amount_money": money(fee, p["total_money"]["currency"]),
        }
    ]
    stamp(p, rng, at)


def refunded_total(p: Json) -> int:
    """What has been refunded so far, in minor units."""
    return int(p.get("refunded_money", {}).get("amount", 0))


def new_refund(rng: random.Random, m: Merchant, p: Json, at: datetime, amount: int) -> Json:
    """A PENDING PaymentRefund of ``amount`` from payment ``p``."""
    reason = pick(
        rng,
        [("Returned goods", 40), ("Wrong item", 15), ("Damaged item", 15),
         ("Customer complaint", 15), ("Accidental charge", 15)],
    )  # fmt: skip
    return {
        "id": f"{p['id']}_{rid(rng, 43)}",
        "status": "PENDING",
        "location_id": p["location_id"],
        "unlinked": False,
        "destination_type": p["source_type"],
        "amount_money": money(amount, p["amount_money"]["currency"]),
        "payment_id": p["id"],
        "order_id": rid(rng, 29),
        "reason": reason,
        "created_at": rfc3339(at),
        "updated_at": rfc3339(at),
        "team_member_id": rng.choice(m.team),
    }


def settle_refund(r: Json, p: Json, rng: random.Random, at: datetime, *, ok: bool) -> None:
    """COMPLETED (with the share of the fee Square gives back) or FAILED."""
    r["status"] = "COMPLETED" if ok else "FAILED"
    fees = p.get("processing_fee") or []
    if ok and fees:
        fee = sum(int(f["amount_money"]["amount"]) for f in fees)
        back = -round(fee * r["amount_money"]["amount"] / p["total_money"]["amount"])
        r["processing_fee"] = [
            {
                "effective_at": rfc3339(at),
                "type": "INITIAL",
                "amount_money": money(back, currency_of(r)),
            }
        ]
    stamp(r, rng, at)


def currency_of(obj: Json) -> str:
    """The currency of an object's ``amount_money``."""
    return str(obj["amount_money"]["currency"])


def link_refund(p: Json, r: Json, rng: random.Random, at: datetime) -> None:
    """The payment's own update once a refund completed: ``refunded_money`` and ``refund_ids``."""
    p["refunded_money"] = money(refunded_total(p) + r["amount_money"]["amount"], currency_of(p))
    p["refund_ids"] = [*p.get("refund_ids", []), r["id"]]
    stamp(p, rng, at)
