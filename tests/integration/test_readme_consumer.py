"""The analysts' consumer in the README is the tested file, and it works on canary.detection."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from harness import produce

from canary_stream.models.canonical import CanonicalEvent
from canary_stream.models.wire import now_utc

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "detection_consumer.py"


def test_readme_shows_the_tested_example():
    assert EXAMPLE.read_text() in (ROOT / "README.md").read_text()


async def test_example_consumes_and_dedupes_canonical_events(pipeline_factory):
    pipe = pipeline_factory()
    merchant = uuid.uuid4()
    events = [
        CanonicalEvent(
            canonical_id=uuid.uuid4(),
            event_id=uuid.uuid4(),
            merchant_id=merchant,
            source_type="WEBHOOK",
            source_event_id=f"e{i}",
            source_event_type="customer.created",
            event_hash="ab" * 32,
            received_at=now_utc(),
            occurred_at=now_utc(),
            kind="customer",
        )
        for i in range(3)
    ]
    key = str(merchant).encode()
    await produce(
        pipe.settings(),
        pipe.topic("detection"),
        [(key, e.to_bytes()) for e in [*events, events[0]]],  # one duplicate
    )
    out = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            str(EXAMPLE),
            pipe.settings().kafka_bootstrap,
            pipe.topic("detection"),
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.splitlines() == [
        f"{merchant} customer {e.model_dump(mode='json')['occurred_at']}" for e in events
    ]
