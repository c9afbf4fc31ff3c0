"""No personal data leaves the parser (square.md, issue 5 item 4).

Payloads carry buyer email, names, phone, addresses, notes, birthday, card last 4, expiry,
BIN, cardholder name and the raw fingerprint, gift-card GANs and staff-typed drawer
descriptions; none of those values may appear in any canonical event or ledger row value.
"""

from __future__ import annotations

import json

from square_bodies import FINGERPRINT, ctx, money, payment, refund, vector, webhook

from canary_stream.square.parse.base import ParsedRecord
from canary_stream.square.registry import PARSERS

ADDRESS = {
    "address_line_1": "77 Privet Lane",
    "address_line_2": "Flat 9Q",
    "locality": "Quuxville",
    "administrative_district_level_1": "ZZ",
    "postal_code": "99887",
    "country": "US",
    "first_name": "Zebedee",
    "last_name": "Quuxington",
}
SECRETS = [
    "zed.quux@example.org",
    "77 Privet Lane",
    "Flat 9Q",
    "Quuxville",
    "99887",
    "Zebedee",
    "Quuxington",
    "Please call 555-0199",
    "9876",  # last 4
    "2031",  # expiry year
    "412345",  # BIN
    "ZED Q QUUXINGTON",  # cardholder name
    FINGERPRINT,
    # Square's customer example, gift card example and drawer example
    "jenkins+smorly@squareup.com",
    "Jenkins",
    "Smorly",
    "+12126668929",
    "1018 40th Street",
    "Oakland",
    "94608",
    "1962-03-04",
    "7783320007480908",  # the gift card's GAN
    "Transfer from another drawer",
    "Misplaced some change",
]
FORBIDDEN_KEYS = ["last_4", "last4", "exp_month", "exp_year", "bin", "cardholder_name", "note"]


def pii_payment(status: str) -> dict:
    p = payment(
        status,
        buyer_email_address="zed.quux@example.org",
        billing_address=ADDRESS,
        shipping_address=ADDRESS,
        note="Please call 555-0199",
        processing_fee=[
            {"effective_at": "2025-01-06T17:00:00Z", "type": "INITIAL", "amount_money": money(9)}
        ],
    )
    p["card_details"]["card"]["cardholder_name"] = "ZED Q QUUXINGTON"
    p["card_details"]["card"]["billing_address"] = ADDRESS
    return p


def everything(records: list[ParsedRecord]) -> str:
    """Every canonical event and row value, serialized."""
    out = []
    for rec in records:
        c = rec.canonical
        out.append(c.model_dump_json() if hasattr(c, "model_dump_json") else repr(c))
        out.extend(repr(sorted(r.values.items())) for r in rec.rows)
    return "\n".join(out)


def parse(event_type: str, raw: bytes) -> list[ParsedRecord]:
    return list(PARSERS[("square", event_type)](raw, ctx(raw, event_type)))


def test_no_personal_data_reaches_canonical_events_or_rows():
    records: list[ParsedRecord] = []
    for status in ("APPROVED", "COMPLETED", "CANCELED", "FAILED"):
        p = pii_payment(status)
        if status == "CANCELED":
            p["card_details"]["status"] = "VOIDED"
        records += parse("payment.updated", webhook("payment.updated", "payment", p))
    for status in ("PENDING", "COMPLETED"):
        r = refund(status, note="Please call 555-0199")
        records += parse("refund.updated", webhook("refund.updated", "refund", r))
    for event_type in (
        "customer.created",
        "customer.updated",
        "gift_card.activity.created",
        "square.cash_drawer_shift.polled",
        "square.cash_drawer_shift_event.polled",
    ):
        raw, _ = vector(event_type)
        records += parse(event_type, raw)
    assert len(records) == 16
    text = everything(records)
    leaked = [s for s in SECRETS if s in text]
    assert leaked == []
    dumped = [
        json.loads(r.canonical.model_dump_json())
        for r in records
        if hasattr(r.canonical, "model_dump_json")
    ]
    keys = {k for d in dumped for k in _keys(d)} | {
        k for r in records for row in r.rows for k in row.values
    }
    assert sorted(k for k in FORBIDDEN_KEYS if k in keys) == []


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()
