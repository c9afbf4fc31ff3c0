"""The committed JSON Schemas match the models.

Regenerate with: python -m canary_stream.models.schemas
"""

from __future__ import annotations

import json

import pytest

from canary_stream.models.schemas import PUBLIC_MODELS, SCHEMA_DIR, render


@pytest.mark.parametrize("stem", sorted(PUBLIC_MODELS))
def test_committed_schema_matches_model(stem):
    committed = (SCHEMA_DIR / f"{stem}.schema.json").read_text()
    assert committed == render(PUBLIC_MODELS[stem]), (
        f"schemas/{stem}.schema.json drifted: run 'python -m canary_stream.models.schemas'"
    )


def test_envelope_schema_lists_every_pipeline_field():
    schema = json.loads((SCHEMA_DIR / "envelope.schema.json").read_text())
    assert set(schema["properties"]) == {
        "schema_version",
        "event_id",
        "merchant_id",
        "provider_merchant_id",
        "source",
        "source_event_id",
        "event_type",
        "event_hash",
        "raw_payload",
        "received_at",
        "parse_failed",
        "oversize",
        "source_type",
        "signature_key_id",
    }
    assert schema["properties"]["raw_payload"]["type"] == "string"
