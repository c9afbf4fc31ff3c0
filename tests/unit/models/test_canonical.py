"""The canonical models: the wire format, the union on ``kind``, the common-fields view."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from canary_stream.models.canonical import (
    CanonicalEvent,
    CanonicalRecordModel,
    Card,
    CustomerEvent,
    LineItem,
    PayoutEvent,
    TransactionEvent,
    decode_canonical,
)

COMMON = {
    "canonical_id": uuid.UUID("6f1c2f7e-52b0-5a37-9d4e-0a3f9f0c1d2e"),
    "event_id": uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057"),
    "merchant_id": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    "source_type": "WEBHOOK",
    "source_event_id": "evt-1",
    "source_event_type": "payment.updated",
    "event_hash": "ab" * 32,
    "received_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "occurred_at": datetime(2025, 1, 6, 15, 0, 1, tzinfo=UTC),
    "location_id": "LOC1",
}


def payment_event(**over) -> TransactionEvent:
    fields = {
        **COMMON,
        "transaction_id": uuid.UUID("aa2e2f33-32d9-5915-ae7a-0378539f8a39"),
        "external_id": "PAY1",
        "transaction_type": "PAYMENT",
        "status": "COMPLETED",
        "amount_cents": 2500,
        "currency": "USD",
        "card": Card(fingerprint_hash="cd" * 32, fingerprint_key_version="k1", brand="VISA"),
        "line_items": (LineItem(line_uid="L1", quantity="1.5", gross_sales_cents=300),),
    }
    fields.update(over)
    return TransactionEvent(**fields)


def test_wire_format_and_headers():
    event = payment_event()
    wire = json.loads(event.to_bytes())
    assert wire["kind"] == "transaction" and wire["schema_version"] == 1
    assert wire["provider"] == "square" and wire["mode"] == "live"
    assert wire["received_at"] == "2026-01-02T03:04:05.678901Z"
    assert wire["occurred_at"] == "2025-01-06T15:00:01.000000Z"
    assert wire["line_items"] == [
        {
            "line_uid": "L1",
            "catalog_object_id": None,
            "name": None,
            "quantity": "1.5",
            "unit_price_cents": None,
            "gross_sales_cents": 300,
            "discount_cents": 0,
            "returned": False,
        }
    ]
    assert event.headers() == [
        ("content-type", b"application/json"),
        ("schema-version", b"1"),
        ("record-type", b"canonical"),
    ]


def test_union_decodes_each_kind_to_its_model():
    records = [
        payment_event(),
        CustomerEvent(**COMMON, customer_id="C1", lifecycle="DELETED"),
        PayoutEvent(**COMMON, payout_id="po_1", status="PAID", amount_cents=-103, currency="USD"),
    ]
    for record in records:
        assert decode_canonical(record.to_bytes()) == record
        common = CanonicalEvent.model_validate_json(record.to_bytes())
        assert (common.kind, common.canonical_id) == (record.kind, record.canonical_id)


def test_consumers_ignore_unknown_fields_and_models_are_frozen():
    wire = json.loads(payment_event().to_bytes())
    wire["added_later"] = {"x": 1}
    assert decode_canonical(json.dumps(wire)) == payment_event()
    with pytest.raises(ValidationError):
        payment_event().amount_cents = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "invoice"},
        {"currency": "usd"},
        {"transaction_type": "CHARGEBACK"},
        {"line_items": [{"line_uid": "L", "quantity": "1e3", "gross_sales_cents": 1}]},
        {"card": {"fingerprint_hash": "raw-fingerprint"}},
        {"occurred_at": "2025-01-06T15:00:01"},
    ],
)
def test_invalid_values_do_not_decode(change):
    wire = json.loads(payment_event().to_bytes())
    wire.update(change)
    with pytest.raises(ValidationError):
        decode_canonical(json.dumps(wire))


def test_schema_is_the_union_on_kind():
    schema = CanonicalRecordModel.model_json_schema(mode="serialization")
    assert schema["discriminator"]["propertyName"] == "kind"
    assert sorted(schema["discriminator"]["mapping"]) == [
        "cash_drawer_shift", "customer", "dispute", "gift_card", "loyalty", "payout", "transaction",
    ]  # fmt: skip
    txn = schema["$defs"]["TransactionEvent"]["properties"]
    for private in ("last_4", "exp_month", "bin", "fingerprint", "buyer_email_address", "note"):
        assert private not in txn
    assert "fingerprint" not in schema["$defs"]["Card"]["properties"]
