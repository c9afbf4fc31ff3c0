"""One Faust app per stage (its own process and consumer group), built by a factory.

Agents and tables are discovered from the ``agents`` and ``tables`` packages: every module
there names the ``STAGE`` it belongs to and has a ``register(app, ctx)`` function. We do
not use Faust's venusian autodiscovery because it needs a module-level app, which would read
settings at import time (docs/decisions.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream.errors import ConfigError
from canary_stream.settings import Settings
from canary_stream.topics import max_record_bytes

STAGES: tuple[str, ...] = ("seal", "parse", "detect", "customers")


def app_id(settings: Settings, stage: str) -> str:
    """The app id and consumer group of a stage, e.g. ``canary-seal``."""
    return f"{settings.topic_prefix}-{stage}"


def web_port(settings: Settings, stage: str) -> int:
    """The health/metrics port of a stage app."""
    port: int = getattr(settings, f"{stage}_web_port")
    return port


@dataclass
class StageContext:
    """What the agents of one stage share: settings, the app, the database engine, topics."""

    stage: str
    settings: Settings
    app: faust.App
    engine: AsyncEngine
    topics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    used_topics: set[str] = field(default_factory=set)
    #: Extra readiness conditions of the stage (name → holds now), e.g. the config snapshot.
    ready_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)

    def topic(self, short_name: str) -> Any:
        """A raw-serialized Faust topic for a short name, created once per context."""
        if short_name not in self.topics:
            self.topics[short_name] = self.app.topic(
                self.settings.topic(short_name),
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                partitions=None,
            )
        self.used_topics.add(short_name)
        return self.topics[short_name]


def _stage_modules(package: str, stage: str) -> list[ModuleType]:
    pkg = importlib.import_module(package)
    found = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        if getattr(module, "STAGE", None) == stage:
            found.append(module)
    return found


def make_app(stage: str, settings: Settings) -> tuple[faust.App, StageContext]:
    """Build the Faust app of ``stage`` with its tables and agents registered."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    from canary_stream import faust_fixes
    from canary_stream.db.engine import make_engine

    faust_fixes.install()

    ident = app_id(settings, stage)
    app = faust.App(
        ident,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="rocksdb://",
        datadir=str(settings.state_dir / "faust" / ident),
        web_enabled=True,
        web_host=settings.web_host,
        web_port=web_port(settings, stage),
        web_bind=settings.web_host,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=0,
        producer_max_request_size=max_record_bytes(settings),
        table_cleanup_interval=60.0,
        stream_buffer_maxsize=4096,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.consumer_session_timeout_seconds,
        broker_heartbeat_interval=settings.consumer_session_timeout_seconds / 10,
        worker_redirect_stdouts=False,
    )
    # Table writes go through Faust's producer buffer (100 messages by default); a stage that
    # writes a table entry per event fills it on every backlog (faust-streaming#173).
    app.producer.buffer.max_messages = 10_000
    ctx = StageContext(stage=stage, settings=settings, app=app, engine=make_engine(settings))
    for module in _stage_modules("tables", stage):
        module.register(app, ctx)
    for module in _stage_modules("agents", stage):
        module.register(app, ctx)
    from canary_stream.stage_web import install_health

    install_health(app, ctx)
    return app, ctx
