"""The status page's sections escape what they show and keep Faust's topics out."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from canary_stream.ingress.status import dead_letter_section, lag_section
from canary_stream.lag import LagRow, is_internal
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.observability.lag_gauges import LagMonitor
from canary_stream.settings import Settings


def test_lag_section_sums_per_group_and_escapes() -> None:
    monitor = LagMonitor(Settings(_env_file=None))  # type: ignore[call-arg]
    monitor.updated = time.time()
    monitor.rows = [
        LagRow("c-seal", "c.events", 0, 5, 9, 4, 2.5),
        LagRow("c-seal", "c.events", 1, None, 3, 3, 7.0),
        LagRow("c-seal", "c-seal-seal-idempotency-changelog", 0, None, 50, 0, 0.0),
        LagRow("<x>", "c.sealed", 0, 1, 1, 0, 0.0),
    ]
    html = lag_section(monitor)
    assert "<td>c-seal</td><td>c.events</td><td>2</td><td>7</td><td>7.0</td>" in html
    assert "changelog" not in html
    assert "&lt;x&gt;" in html and "<x>" not in html


def test_lag_section_before_first_read() -> None:
    assert "not read yet" in lag_section(LagMonitor(Settings(_env_file=None)))  # type: ignore[call-arg]


def test_dead_letter_counts_without_errors() -> None:
    at = datetime.now(UTC)
    letters = [
        DeadLetter(stage="parse", reason="parse_error", error="<b>jane@example.com</b>", at=at),
        DeadLetter(stage="parse", reason="parse_error", error="x", at=at),
    ]
    html = dead_letter_section(letters)
    assert "<td>parse</td><td>parse_error</td><td>2</td>" in html
    assert "jane@example.com" not in html
    assert "no dead letters" in dead_letter_section([])


def test_is_internal() -> None:
    assert is_internal("canary-seal", "canary-seal-seal-idempotency-changelog")
    assert is_internal("canary-seal", "canary-seal-__assignor-__leader")
    assert not is_internal("canary-seal", "canary.events")
    assert not is_internal("canary-parse", "canary-seal-seal-idempotency-changelog")
