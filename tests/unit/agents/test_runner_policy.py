"""The runner's failure policy and the Faust recovery fix, without a broker."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaTimeoutError
from faust.exceptions import ProducerSendError
from faust.transport import consumer as faust_consumer

from agents._runner import is_retriable
from canary_stream import faust_fixes
from canary_stream.errors import DecodeError, TransientError


def test_retriable_errors() -> None:
    assert is_retriable(TransientError("db down")) is True
    assert is_retriable(KafkaTimeoutError()) is True
    assert is_retriable(ProducerSendError("broker hiccup")) is True
    assert is_retriable(DecodeError("bad json")) is False
    assert is_retriable(ValueError("bad data")) is False


def test_perform_seek_stops_the_flow_before_seeking() -> None:
    faust_fixes.install()
    faust_fixes.install()  # idempotent: one wrapper, not two
    seen: list[str] = []

    class Probe:
        flow_active = True

        def stop_flow(self) -> None:
            seen.append("stop_flow")
            self.flow_active = False

        async def seek_to_committed(self) -> dict[Any, int]:
            seen.append(f"seek with flow_active={self.flow_active}")
            return {}

    probe: Any = Probe()
    probe._read_offset = {}
    probe._committed_offset = {}
    asyncio.run(faust_consumer.Consumer.perform_seek(probe))
    assert seen == ["stop_flow", "seek with flow_active=False"]
