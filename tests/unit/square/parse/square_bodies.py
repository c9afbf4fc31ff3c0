"""Bodies and contexts for the parser tests: Square's vectors and hand-built payloads."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from canary_stream.square.parse.base import CardHasher, ParseContext

VECTORS = Path(__file__).resolve().parents[3] / "vectors" / "square" / "webhooks"
M = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
EVENT_ID = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")
RECEIVED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
CARD_KEYS = {"k1": b"\x01" * 32}
FINGERPRINT = "sq-1-Tvruf3vPQxlvI6n0IcKYfBukrcv6IqWr8UyBdViWXU2yzGn5VMJvrsHMKpINMhPmVg"
#: HMAC-SHA256(b"\x01" * 32, f"{M}:{FINGERPRINT}") (customers.md), reproduced by:
#: printf '%s' "0f8fad5b-d9cb-469f-a165-70867728950e:$FINGERPRINT" \
#:   | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf '01%.0s' $(seq 32))
FINGERPRINT_HASH = "07255d65fd3cf5355c6c01348ba1e20299777a5b2f91e69c258d0181123ed0fa"


def ctx(raw: bytes, event_type: str, *, currency: str = "USD", **over: Any) -> ParseContext:
    """The parse context of ``raw`` as merchant :data:`M` received it."""
    fields: dict[str, Any] = {
        "merchant_id": M,
        "currency": currency,
        "event_id": EVENT_ID,
        "source_type": "WEBHOOK",
        "source_event_id": "evt-1",
        "event_type": event_type,
        "event_hash": hashlib.sha256(raw).hexdigest(),
        "received_at": RECEIVED,
        "card_hash": CardHasher(CARD_KEYS),
    }
    fields.update(over)
    return ParseContext(**fields)


def vector(event_type: str) -> tuple[bytes, dict[str, Any]]:
    """Square's example body of ``event_type`` (tests/vectors/square/webhooks) and its source."""
    data = json.loads((VECTORS / f"{event_type}.json").read_text())
    return encode(data["body"]), data


def encode(body: Any) -> bytes:
    """Compact JSON bytes, as Square sends them."""
    return json.dumps(body, separators=(",", ":")).encode()


def webhook(event_type: str, key: str, obj: dict[str, Any], **top: Any) -> bytes:
    """A webhook body carrying ``obj`` at ``data.object.<key>``."""
    body = {
        "merchant_id": "MLTESTMERCHANT",
        **top,
        "type": event_type,
        "event_id": "9d3b8a2e-1111-4c2a-8f00-000000000001",
        "created_at": "2025-01-06T15:00:09.000Z",
        "data": {"type": key, "id": obj.get("id", "x"), "object": {key: obj}},
    }
    return encode(body)


def money(amount: Any, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


CARD_DETAILS: dict[str, Any] = {
    "status": "AUTHORIZED",
    "card": {
        "card_brand": "VISA",
        "last_4": "9876",
        "exp_month": 11,
        "exp_year": 2031,
        "fingerprint": FINGERPRINT,
        "card_type": "DEBIT",
        "prepaid_type": "NOT_PREPAID",
        "bin": "412345",
    },
    "entry_method": "EMV",
    "card_payment_timeline": {"authorized_at": "2025-01-06T15:00:01.000Z"},
    "device_details": {"device_id": "DEVICE-CARD", "device_name": "Counter 1"},
}


def payment(status: str = "APPROVED", **over: Any) -> dict[str, Any]:
    """A card Payment (delayed capture) in ``status``; ``over`` replaces top-level fields."""
    p: dict[str, Any] = {
        "id": "PAY1",
        "created_at": "2025-01-06T15:00:00.500Z",
        "updated_at": "2025-01-06T15:00:01.000Z",
        "amount_money": money(2500),
        "total_money": money(2500),
        "approved_money": money(2500),
        "status": status,
        "delay_duration": "PT36H",
        "delay_action": "CANCEL",
        "delayed_until": "2025-01-08T03:00:00.500Z",
        "source_type": "CARD",
        "card_details": copy.deepcopy(CARD_DETAILS),
        "location_id": "LOC1",
        "order_id": "ORDER1",
        "customer_id": "CUST1",
        "employee_id": "TM1",
        "team_member_id": "TM1",
        "device_details": {"device_id": "DEVICE1", "device_name": "Counter 1"},
        "version_token": "v1",
    }
    p.update(over)
    return p


def refund(status: str = "PENDING", **over: Any) -> dict[str, Any]:
    """A PaymentRefund of 1000 from ``PAY1``."""
    r: dict[str, Any] = {
        "id": "PAY1_R1",
        "status": status,
        "location_id": "LOC1",
        "amount_money": money(1000),
        "payment_id": "PAY1",
        "order_id": "ORDER2",
        "reason": "Returned goods",
        "created_at": "2025-01-06T16:00:00.000Z",
        "updated_at": "2025-01-06T16:00:00.100Z",
        "team_member_id": "TM2",
    }
    r.update(over)
    return r
