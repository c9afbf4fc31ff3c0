"""status/env of a stack that never ran: nothing running, env file written once."""

from __future__ import annotations

import stat
from pathlib import Path

from canary_stream.settings import Settings
from canary_stream.stack import stack


def _settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, kafka_port=1, kafka_controller_port=2, postgres_port=3)


def test_status_of_a_stopped_stack(tmp_path: Path) -> None:
    items = {item.name: item for item in stack.status(_settings(tmp_path))}
    assert set(items) == {"kafka", "postgres"}
    assert not items["kafka"].running and not items["postgres"].running
    assert items["kafka"].render().startswith("kafka: stopped")
    assert "127.0.0.1:3" in items["postgres"].render()


def test_ensure_env_keeps_secrets_and_tracks_ports(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = stack.ensure_env(settings)
    path = stack.env_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first["CANARY_KAFKA_BOOTSTRAP"] == "127.0.0.1:1"
    assert "@127.0.0.1:3/" in first["CANARY_DATABASE_URL"]
    moved = settings.model_copy(update={"postgres_port": 4})
    second = stack.ensure_env(moved)
    assert "@127.0.0.1:4/" in second["CANARY_OWNER_DATABASE_URL"]
    assert second["CANARY_ENCRYPTION_KEYS"] == first["CANARY_ENCRYPTION_KEYS"]
    assert second["CANARY_SQUARE_ACCESS_TOKEN"] == first["CANARY_SQUARE_ACCESS_TOKEN"]
