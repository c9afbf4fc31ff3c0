"""The ``canary.checkpoints`` record: wire shape and headers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from canary_stream.models.checkpoint import CheckpointRecord

RECORD = CheckpointRecord(
    merchant_id=uuid.UUID("0190d3a2-7b4c-7def-8a12-3456789abcde"),
    batch_no=2,
    first_seq=6,
    last_seq=10,
    tree_size=5,
    root_hash="f3" * 32,
    prev_root_hash="59" * 32,
    chain_head="7d" * 32,
    checkpoint="note\n",
    key_name="canary-stream",
    key_id="bac97b74",
    closed_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
)


def test_wire_shape() -> None:
    doc = json.loads(RECORD.to_bytes())
    assert doc["merchant_id"] == "0190d3a2-7b4c-7def-8a12-3456789abcde"
    assert doc["closed_at"] == "2026-11-30T12:00:00.000000Z"
    assert doc["schema_version"] == 1
    assert dict(RECORD.headers())["record-type"] == b"checkpoint"
    assert RECORD.kafka_key() == b"0190d3a2-7b4c-7def-8a12-3456789abcde"
    assert CheckpointRecord.model_validate_json(RECORD.to_bytes()) == RECORD


def test_rejects_bad_values() -> None:
    with pytest.raises(ValidationError):
        CheckpointRecord.model_validate(RECORD.model_dump() | {"key_id": "BAC97B74"})
    with pytest.raises(ValidationError):
        CheckpointRecord.model_validate(RECORD.model_dump() | {"batch_no": 0})
