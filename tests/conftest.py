"""Shared fixtures. Integration tests need the local stack; under ``make test`` a missing
stack is a failure, never a skip."""

from __future__ import annotations

import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).parent))

from harness import Pipeline, engine_for

from canary_stream.settings import Settings


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """Settings of the running local stack, migrated; fails (never skips) when it is down."""
    settings = Settings()
    if not _reachable(settings.kafka_bootstrap):
        pytest.fail(
            f"Kafka is not reachable at {settings.kafka_bootstrap}: run 'canary-stream stack up' "
            "(make test does it)"
        )
    db_host = settings.database_url.get_secret_value().rsplit("@", 1)[-1].split("/")[0]
    if not _reachable(db_host):
        pytest.fail(f"PostgreSQL is not reachable at {db_host}: run 'canary-stream stack up'")
    if not settings.encryption_keys.get_secret_value():
        pytest.fail(
            "CANARY_ENCRYPTION_KEYS is empty: run 'canary-stream stack up' to write local keys"
        )
    from canary_stream.db.migrate import upgrade

    upgrade(settings)
    return settings


@pytest.fixture
async def engine(stack_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An application-role engine on the stack's database."""
    eng = engine_for(stack_settings)
    yield eng
    await eng.dispose()


@pytest.fixture
async def owner_engine(stack_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An owner-role engine (to tamper with stored evidence in tests)."""
    eng = engine_for(stack_settings, owner=True)
    yield eng
    await eng.dispose()


def _pipelines(settings: Settings, tmp: pytest.TempPathFactory) -> Iterator[object]:
    made: list[Pipeline] = []

    def make(**overrides: str) -> Pipeline:
        pipe = Pipeline(settings, tmp.mktemp("pipe"), overrides=overrides)
        pipe.cli("topics", "create")
        made.append(pipe)
        return pipe

    yield make
    for pipe in made:
        pipe.stop_all()


@pytest.fixture
def pipeline_factory(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """Make isolated pipelines (own topics, groups, stores, ports); stops their processes."""
    yield from _pipelines(stack_settings, tmp_path_factory)


@pytest.fixture(scope="module")
def module_pipeline_factory(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """Like ``pipeline_factory``, but its pipelines (and processes) last for the whole module,
    so many cases can share one set of started processes."""
    yield from _pipelines(stack_settings, tmp_path_factory)
