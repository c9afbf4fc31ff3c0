"""JSON Schemas of the public topic values, generated from the models the code uses.

``python -m canary_stream.models.schemas`` rewrites ``schemas/*.schema.json``; a test fails
when the committed files drift from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from canary_stream.models.alert import Alert, Case
from canary_stream.models.canonical import CanonicalRecordModel
from canary_stream.models.checkpoint import CheckpointRecord
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.models.envelope import Envelope, SealedEnvelope
from canary_stream.models.merchant_config import MerchantConfig

#: File stem → model, one per public topic value.
PUBLIC_MODELS: dict[str, type[BaseModel]] = {
    "envelope": Envelope,
    "sealed": SealedEnvelope,
    # Every kind (a union told apart by ``kind``): what ``canary.detection`` carries.
    "canonical": CanonicalRecordModel,
    "dead-letter": DeadLetter,
    "merchant-config": MerchantConfig,
    "checkpoint": CheckpointRecord,
    "alert": Alert,
    "case": Case,
}
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def render(model: type[BaseModel]) -> str:
    """The schema of ``model`` as it appears on the wire (serialization mode), pretty JSON."""
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file; return the paths written."""
    written = []
    for stem, model in PUBLIC_MODELS.items():
        path = directory / f"{stem}.schema.json"
        path.write_text(render(model))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(path)
