"""Square Customer, LoyaltyAccount, LoyaltyEvent and GiftCardActivity objects.

Shapes and field order follow the ``squareup`` SDK models. Customers carry synthetic
personal data (names, e-mail, phone, address, note) on purpose: the parser must drop it.
"""

from __future__ import annotations

import random
import string
from datetime import datetime

from canary_stream.simulate.world import (
    FIRST,
    LAST,
    NOTES,
    UPPER_ALNUM,
    URLSAFE,
    Card,
    Json,
    Merchant,
    address,
    email,
    money,
    phone,
    pick,
    rfc3339,
    rid,
    uuid4_like,
)

HEX = "0123456789abcdef"
#: Points a reward costs, and points per whole currency unit spent.
REWARD_POINTS = 10


def new_customer(rng: random.Random, at: datetime, customer_id: str | None = None) -> Json:
    """A Customer profile as ``customer.created`` carries it (version 0)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    c: Json = {
        "id": customer_id or rid(rng, 26, UPPER_ALNUM),
        "created_at": rfc3339(at),
        "updated_at": rfc3339(at),
        "given_name": first,
        "family_name": last,
        "email_address": email(rng, first),
        "address": address(rng, named=False),
        "phone_number": phone(rng),
    }
    if rng.random() < 0.2:
        c["note"] = rng.choice(NOTES)
    c["preferences"] = {"email_unsubscribed": rng.random() < 0.1}
    c["creation_source"] = pick(rng, [("DIRECTORY", 50), ("THIRD_PARTY", 30), ("LOYALTY", 20)])
    c["version"] = 0
    return c


def update_customer(c: Json, rng: random.Random, at: datetime) -> None:
    """A new version of profile ``c``: a changed e-mail, phone or note."""
    what = rng.choice(("email_address", "phone_number", "note"))
    if what == "email_address":
        c["email_address"] = email(rng, c["given_name"])
    elif what == "phone_number":
        c["phone_number"] = phone(rng)
    else:
        c["note"] = rng.choice(NOTES)
    c["updated_at"] = rfc3339(at)
    c["version"] = int(c["version"]) + 1


def new_account(rng: random.Random, m: Merchant, customer: Json, at: datetime) -> Json:
    """A LoyaltyAccount enrolled by phone for ``customer`` (balance 0)."""
    when = rfc3339(at)
    return {
        "id": uuid4_like(rng),
        "program_id": m.loyalty_program_id,
        "balance": 0,
        "lifetime_points": 0,
        "customer_id": customer["id"],
        "enrolled_at": when,
        "created_at": when,
        "updated_at": when,
        "mapping": {
            "id": uuid4_like(rng),
            "created_at": when,
            "phone_number": customer.get("phone_number") or phone(rng),
        },
    }


def points_for(total: int) -> int:
    """One point per whole currency unit spent."""
    return total // 100


def loyalty_event(
    rng: random.Random,
    account: Json,
    kind: str,
    at: datetime,
    *,
    points: int = 0,
    order_id: str | None = None,
    location_id: str | None = None,
) -> Json:
    """A LoyaltyEvent (ACCUMULATE_POINTS, REDEEM_REWARD or ADJUST_POINTS); moves the balance.

    REDEEM_REWARD spends :data:`REWARD_POINTS`; the event itself carries no points.
    """
    program = account["program_id"]
    e: Json = {"id": uuid4_like(rng), "type": kind, "created_at": rfc3339(at)}
    if kind == "ACCUMULATE_POINTS":
        e["accumulate_points"] = {
            "loyalty_program_id": program,
            "points": points,
            "order_id": order_id,
        }
    elif kind == "REDEEM_REWARD":
        e["redeem_reward"] = {
            "loyalty_program_id": program,
            "reward_id": uuid4_like(rng),
            "order_id": order_id,
        }
        points = -REWARD_POINTS
    else:
        reason = "Complimentary points" if points > 0 else "Correction"
        e["adjust_points"] = {"loyalty_program_id": program, "points": points, "reason": reason}
    e["loyalty_account_id"] = account["id"]
    if location_id is not None:
        e["location_id"] = location_id
    e["source"] = "SQUARE" if kind != "ADJUST_POINTS" else "LOYALTY_API"
    account["balance"] = int(account["balance"]) + points
    if kind == "ACCUMULATE_POINTS" or (kind == "ADJUST_POINTS" and points > 0):
        account["lifetime_points"] = int(account["lifetime_points"]) + points
    account["updated_at"] = rfc3339(at)
    return e


def new_gift_card(rng: random.Random) -> Json:
    """A gift card the merchant sells: Square id, 16-digit GAN, fingerprint, balance 0."""
    return {
        "id": "gftc:" + rid(rng, 32, HEX),
        "gan": "7783" + rid(rng, 12, string.digits),
        "fingerprint": "sq-1-" + rid(rng, 86, URLSAFE),
        "balance": 0,
    }


def gift_card_activity(
    rng: random.Random,
    m: Merchant,
    card: Json,
    kind: str,
    amount: int,
    at: datetime,
    location_id: str,
    *,
    order_id: str | None = None,
    payment_id: str | None = None,
) -> Json:
    """A GiftCardActivity of ``kind`` (ACTIVATE, LOAD, REDEEM); moves the card's balance."""
    card["balance"] = int(card["balance"]) + (-amount if kind == "REDEEM" else amount)
    a: Json = {
        "id": "gcact_" + rid(rng, 32, HEX),
        "type": kind,
        "location_id": location_id,
        "created_at": rfc3339(at),
        "gift_card_id": card["id"],
        "gift_card_gan": card["gan"],
        "gift_card_balance_money": money(card["balance"], m.currency),
    }
    cash = money(amount, m.currency)
    if kind == "REDEEM":
        a["redeem_activity_details"] = {
            "amount_money": cash,
            "payment_id": payment_id,
            "status": "COMPLETED",
        }
    else:
        details = {"amount_money": cash, "order_id": order_id, "line_item_uid": rid(rng, 22)}
        a["activate_activity_details" if kind == "ACTIVATE" else "load_activity_details"] = details
    return a


def gift_card_as_card(card: Json, year: int) -> Card:
    """The gift card as a payment's ``card_details.card`` shows it (brand SQUARE_GIFT_CARD)."""
    return Card(
        card_brand="SQUARE_GIFT_CARD",
        last_4=card["gan"][-4:],
        exp_month=12,
        exp_year=year + 5,
        fingerprint=card["fingerprint"],
        card_type="DEBIT",
        prepaid_type="PREPAID",
        bin=card["gan"][:6],
    )
