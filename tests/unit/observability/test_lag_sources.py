"""``canary_stream.lag.STAGE_SOURCES`` names exactly the topics each stage app's agents read."""

from __future__ import annotations

import base64

import pytest

from canary_stream.apps import STAGES, make_app
from canary_stream.lag import STAGE_SOURCES
from canary_stream.settings import Settings


@pytest.mark.parametrize("stage", STAGES)
def test_stage_sources_match_the_agents(stage: str, tmp_path) -> None:
    key = base64.b64encode(bytes(32)).decode()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, state_dir=tmp_path, card_hash_keys=f"c1:{key}", encryption_keys=f"k1:{key}"
    )
    app, _ctx = make_app(stage, settings)
    read = {t for agent in app.agents.values() for t in getattr(agent.channel, "topics", ())}
    assert read == {settings.topic(t) for t in STAGE_SOURCES[stage]}
