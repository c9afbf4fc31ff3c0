"""Anchor backends: the deterministic mock, the failing backend, the registry."""

from __future__ import annotations

import hashlib

import pytest

from canary_stream.errors import ConfigError
from canary_stream.evidence.anchor import AnchorUnavailable, make_anchor_backend, mock_reference
from canary_stream.evidence.checkpoint import ZERO_ROOT, Checkpoint

CP = Checkpoint("0190d3a2-7b4c-7def-8a12-3456789abcde", 1, bytes(32), 1, 1, 1, ZERO_ROOT, bytes(32))
NOTE = "a signed note\n"


async def test_mock_is_deterministic() -> None:
    backend = make_anchor_backend("mock")
    assert backend.name == "mock"
    ref = await backend.anchor(CP, NOTE)
    assert ref == "mock:" + hashlib.sha256(NOTE.encode()).hexdigest() == mock_reference(NOTE)
    assert await backend.anchor(CP, NOTE) == ref


async def test_failing_always_raises_a_retriable_error() -> None:
    backend = make_anchor_backend("failing")
    with pytest.raises(AnchorUnavailable, match="refused batch 1") as info:
        await backend.anchor(CP, NOTE)
    assert info.value.retriable


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="choose one of failing, mock"):
        make_anchor_backend("opentimestamps")
