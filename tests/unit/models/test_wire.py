"""Wire format: timestamps, base64 bytes, headers, unknown fields."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from canary_stream.models.dead_letter import DeadLetter
from canary_stream.models.envelope import Envelope
from canary_stream.models.wire import format_timestamp

EVENT = uuid.UUID("01a22c0b-08d5-7a22-98ca-dd64a5d4f0c9")
MERCHANT = uuid.UUID("6bfba519-063b-4e8c-95ca-f0d7a90a43c1")


def envelope(**kw) -> Envelope:
    base = dict(
        event_id=EVENT,
        merchant_id=MERCHANT,
        provider_merchant_id="ML1",
        source_event_id="e1",
        event_type="payment.created",
        event_hash="ab" * 32,
        raw_payload=b"\xff\x00raw",
        received_at=datetime(2026, 11, 30, 10, 0, 0, 5, tzinfo=UTC),
    )
    base.update(kw)
    return Envelope(**base)


def test_timestamps_are_utc_z_with_six_digits():
    local = datetime(2026, 11, 30, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(local) == "2026-11-30T10:00:00.000000Z"
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 1, 1))


def test_envelope_bytes_exactly():
    doc = json.loads(envelope().to_bytes())
    assert doc["raw_payload"] == "/wByYXc="
    assert doc["received_at"] == "2026-11-30T10:00:00.000005Z"
    assert doc["event_id"] == str(EVENT)
    assert doc["merchant_id"] == str(MERCHANT)
    assert doc["signature_key_id"] is None and doc["source_type"] == "WEBHOOK"


def test_round_trip_and_unknown_fields_ignored():
    doc = json.loads(envelope().to_bytes())
    doc["added_later"] = {"x": 1}
    assert Envelope.model_validate_json(json.dumps(doc)) == envelope()


def test_bad_base64_and_naive_timestamps_are_rejected():
    doc = json.loads(envelope().to_bytes())
    with pytest.raises(ValidationError):
        Envelope.model_validate({**doc, "raw_payload": "not base64!"})
    with pytest.raises(ValidationError):
        Envelope.model_validate({**doc, "received_at": "2026-11-30T10:00:00"})
    with pytest.raises(ValidationError):
        Envelope.model_validate({**doc, "event_hash": "AB" * 32})


def test_headers():
    assert envelope().headers() == [
        ("content-type", b"application/json"),
        ("schema-version", b"1"),
        ("record-type", b"envelope"),
    ]


def test_dead_letter_key_and_replayability():
    at = datetime(2026, 11, 30, tzinfo=UTC)
    anonymous = DeadLetter(stage="ingress", reason="signature_invalid", error="x", at=at)
    assert anonymous.kafka_key() == b"unknown" and anonymous.replayable is False
    known = DeadLetter(
        stage="seal", reason="unknown_merchant", error="x", at=at, merchant_id=MERCHANT
    )
    assert known.kafka_key() == str(MERCHANT).encode() and known.replayable is True
    with pytest.raises(ValidationError):
        DeadLetter(stage="seal", reason="made_up", error="x", at=at)
