"""The simulator's world: id formats, synthetic people and places, each merchant's setup.

Everything is drawn from a ``random.Random`` passed in, so the same seed always builds the
same values. Names, addresses and e-mails are synthetic.
"""

from __future__ import annotations

import functools
import math
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Json = dict[str, Any]

UPPER_ALNUM = string.ascii_uppercase + string.digits
BASE62 = string.ascii_letters + string.digits
URLSAFE = BASE62 + "-_"

#: Square's card brands with a rough share of in-store card traffic, and their BIN prefixes.
BRANDS: list[tuple[str, int, tuple[str, ...]]] = [
    ("VISA", 50, ("4",)),
    ("MASTERCARD", 30, ("51", "52", "53", "54", "55", "22")),
    ("AMERICAN_EXPRESS", 12, ("34", "37")),
    ("DISCOVER", 6, ("6011", "65")),
    ("JCB", 2, ("3528", "3589")),
]
#: Card-present entry methods and their shares (KEYED is its own story).
PRESENT_ENTRY: list[tuple[str, int]] = [("CONTACTLESS", 55), ("EMV", 38), ("SWIPED", 7)]
FIRST = ["Ava", "Liam", "Maya", "Noah", "Iris", "Omar", "Zoe", "Ezra", "Lena", "Theo", "Ruth"]
LAST = ["Rivera", "Chen", "Okafor", "Novak", "Haddad", "Larsen", "Moreau", "Silva", "Kim"]
STREETS = ["Maple Ave", "Harbor St", "Elm St", "Mission Blvd", "Cedar Ln", "Orchard Rd"]
CITIES = [("Portland", "OR", "972"), ("Austin", "TX", "787"), ("Denver", "CO", "802")]
NOTES = ["table 12", "no onions", "gift wrap", "pickup at 5", "birthday", "regular"]
STORE_WORDS = ["Canary", "Harbor", "Maple", "Copper", "Juniper", "Lantern", "Birch", "Sparrow"]
STORE_KINDS = ["Coffee", "Books", "Bakery", "Market", "Diner", "Hardware", "Florist"]
DEVICE_NAMES = ["Front Counter", "Register 2", "Bar", "Patio", "Back Office", "Kiosk"]
PRODUCTS = [
    "House Blend", "Croissant", "Sourdough Loaf", "Paperback", "Tulip Bouquet", "Hammer",
    "Gift Mug", "Cold Brew", "Bagel", "Notebook", "Candle", "Olive Oil", "Tote Bag", "Soup",
]  # fmt: skip
#: The sales tax every simulated location charges (additive, on the whole order).
TAX_PERCENT = "8.25"


@functools.cache
def _table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


def rid(rng: random.Random, n: int, alphabet: str = BASE62) -> str:
    """``n`` characters of ``alphabet`` (ASCII), one random byte each (the tiny modulo bias
    is irrelevant for ids that only need to look like Square's)."""
    return rng.randbytes(n).translate(_table(alphabet)).decode("ascii")


def uuid4_like(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def rfc3339(t: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Square writes timestamps (``t`` must be UTC)."""
    return t.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def money(amount: int, currency: str) -> Json:
    """A Square ``Money``: integer minor units and an ISO 4217 currency."""
    return {"amount": amount, "currency": currency}


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    """One name of ``(name, weight)`` pairs."""
    return rng.choices([n for n, _ in weighted], [w for _, w in weighted])[0]


def ticket(rng: random.Random) -> int:
    """A realistic ticket in minor units: log-normal around 25.00, within 1.00..200.00."""
    return max(100, min(20_000, round(rng.lognormvariate(math.log(2500), 0.8))))


def address(rng: random.Random, *, named: bool) -> Json:
    """A synthetic US address."""
    city, state, zip3 = rng.choice(CITIES)
    addr: Json = {
        "address_line_1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
        "locality": city,
        "administrative_district_level_1": state,
        "postal_code": f"{zip3}{rng.randint(0, 99):02d}",
        "country": "US",
    }
    if named:
        addr["first_name"], addr["last_name"] = rng.choice(FIRST), rng.choice(LAST)
    return addr


def phone(rng: random.Random) -> str:
    """A synthetic US phone number in E.164 (555 exchange)."""
    return f"+1{rng.randint(201, 989)}555{rng.randint(0, 9999):04d}"


def email(rng: random.Random, first: str) -> str:
    """A synthetic e-mail address at example.com."""
    return f"{first.lower()}.{rid(rng, 5).lower()}@example.com"


@dataclass(frozen=True)
class Card:
    """A card as Square shows it inside ``card_details.card``."""

    card_brand: str
    last_4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    card_type: str
    prepaid_type: str
    bin: str
    customer_id: str | None = None

    def as_json(self) -> Json:
        """The ``Card`` object of a payment."""
        return {
            "card_brand": self.card_brand,
            "last_4": self.last_4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "fingerprint": self.fingerprint,
            "card_type": self.card_type,
            "prepaid_type": self.prepaid_type,
            "bin": self.bin,
        }


def new_card(rng: random.Random, year: int, customer_id: str | None = None) -> Card:
    """A fresh card: brand by market share, plausible BIN, expiry within five years."""
    brand, _, prefixes = rng.choices(BRANDS, [b[1] for b in BRANDS])[0]
    prefix = rng.choice(prefixes)
    prepaid = "PREPAID" if rng.random() < 0.05 and brand != "AMERICAN_EXPRESS" else "NOT_PREPAID"
    debit = brand in ("VISA", "MASTERCARD") and (prepaid == "PREPAID" or rng.random() < 0.4)
    return Card(
        card_brand=brand,
        last_4=rid(rng, 4, string.digits),
        exp_month=rng.randint(1, 12),
        exp_year=year + rng.randint(0, 5),
        fingerprint="sq-1-" + rid(rng, 86, URLSAFE),
        card_type="DEBIT" if debit else "CREDIT",
        prepaid_type=prepaid,
        bin=prefix + rid(rng, 6 - len(prefix), string.digits),
        customer_id=customer_id,
    )


@dataclass(frozen=True)
class CatalogItem:
    """One sellable item variation of a merchant's catalog."""

    id: str
    version: int
    name: str
    variation: str
    price: int


@dataclass(frozen=True)
class Location:
    """A Square location with its POS devices."""

    id: str
    devices: tuple[Json, ...]


@dataclass
class Merchant:
    """One simulated seller: ids that stay put across runs, plus per-run story state."""

    merchant_id: str
    currency: str
    name: str
    weight: float
    locations: list[Location]
    team: list[str]
    customers: list[str]
    cards: list[Card]
    app_id: str
    catalog: list[CatalogItem] = field(default_factory=list)
    tax_id: str = ""
    loyalty_program_id: str = ""
    bank_account_id: str = ""
    #: Completed payments that may still be refunded (most recent last).
    refundable: list[Json] = field(default_factory=list)
    #: Customer profiles known to the run (created by the run, or drawn when first updated).
    profiles: dict[str, Json] = field(default_factory=dict)
    #: Loyalty accounts by customer id.
    accounts: dict[str, Json] = field(default_factory=dict)
    #: Activated gift cards: ``{"id", "gan", "fingerprint", "balance", "redeeming"?}``.
    gift_cards: list[Json] = field(default_factory=list)
    #: Card money captured and not yet paid out (net of Square's fees and refunds).
    balance: int = 0


def new_merchant(merchant_id: str, currency: str, seed: int, year: int) -> Merchant:
    """A merchant's world, drawn from ``(seed, merchant_id)`` only so it is the same each run."""
    rng = random.Random(f"world:{seed}:{merchant_id}")
    locations = [
        Location(
            id="L" + rid(rng, 12, UPPER_ALNUM),
            devices=tuple(
                {
                    "device_id": rid(rng, 13, UPPER_ALNUM),
                    "device_installation_id": uuid4_like(rng),
                    "device_name": name,
                }
                for name in rng.sample(DEVICE_NAMES, rng.randint(1, 3))
            ),
        )
        for _ in range(rng.randint(1, 3))
    ]
    customers = [rid(rng, 26, UPPER_ALNUM) for _ in range(rng.randint(20, 60))]
    cards = [
        new_card(rng, year, rng.choice(customers) if rng.random() < 0.5 else None)
        for _ in range(rng.randint(40, 120))
    ]
    m = Merchant(
        merchant_id=merchant_id,
        currency=currency,
        name=f"{rng.choice(STORE_WORDS)} {rng.choice(STORE_KINDS)}",
        weight=rng.uniform(0.5, 2.0),
        locations=locations,
        team=["TM" + rid(rng, 14, URLSAFE) for _ in range(rng.randint(3, 8))],
        customers=customers,
        cards=cards,
        app_id="sq0idp-" + rid(rng, 22, URLSAFE),
    )
    m.catalog = [
        CatalogItem(
            id=rid(rng, 24, UPPER_ALNUM),
            version=rng.randint(1_600_000_000_000, 1_700_000_000_000),
            name=name,
            variation=rng.choice(("Regular", "Large", "Small", "Each")),
            price=max(100, round(rng.lognormvariate(math.log(900), 0.7) / 25) * 25),
        )
        for name in rng.sample(PRODUCTS, rng.randint(6, 10))
    ]
    m.tax_id = rid(rng, 24, UPPER_ALNUM)
    m.loyalty_program_id = uuid4_like(rng)
    m.bank_account_id = "bact:" + rid(rng, 20, BASE62)
    return m
