"""Broker plumbing shared by every process: topics, producers, the merchant partitioner."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from canary_stream.errors import TopicError, TransientError
from canary_stream.settings import Settings
from canary_stream.topics import TopicSpec, max_record_bytes, topic_specs


def partition_for(merchant_id: str, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner picks for a merchant's key."""
    return (murmur2(merchant_id.encode()) & 0x7FFFFFFF) % partitions


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent, acks=all producer with ``linger_ms=0`` (awaited sends must not linger)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 0,
        "request_timeout_ms": int(settings.ingress_deadline_seconds * 1000),
        "max_request_size": max_record_bytes(settings),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_admin(settings: Settings) -> AIOKafkaAdminClient:
    """An admin client for topic management; the caller starts and closes it."""
    return AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10000)


@dataclass(frozen=True)
class TopicProblem:
    """One way a topic on the broker differs from its spec."""

    topic: str
    problem: str

    def line(self) -> str:
        """One line for a person."""
        return f"{self.topic}: {self.problem}"


async def _describe(
    admin: AIOKafkaAdminClient, names: Sequence[str]
) -> tuple[dict[str, int], dict[str, dict[str, str]]]:
    partitions: dict[str, int] = {}
    for meta in await admin.describe_topics(list(names)):
        if meta.get("error_code", 0) == 0:
            partitions[meta["topic"]] = len(meta["partitions"])
    configs: dict[str, dict[str, str]] = {}
    existing = [n for n in names if n in partitions]
    if existing:
        resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in existing]
        for response in await admin.describe_configs(resources):
            for resource in response.resources:
                name = resource[3]
                configs[name] = {entry[0]: entry[1] for entry in resource[4]}
    return partitions, configs


def compare_topics(
    specs: Sequence[TopicSpec],
    partitions: dict[str, int],
    configs: dict[str, dict[str, str]],
) -> list[TopicProblem]:
    """Every difference between the specs and what the broker reported."""
    problems: list[TopicProblem] = []
    for spec in specs:
        have = partitions.get(spec.name)
        if have is None:
            problems.append(TopicProblem(spec.name, "missing (run 'canary-stream topics create')"))
            continue
        if have != spec.partitions:
            problems.append(
                TopicProblem(
                    spec.name,
                    f"has {have} partitions, expected {spec.partitions}; partition counts "
                    "cannot change once merchants have chains",
                )
            )
        have_config = configs.get(spec.name, {})
        for name, want in spec.config.items():
            value = have_config.get(name)
            if value is not None and value != want:
                problems.append(
                    TopicProblem(
                        spec.name,
                        f"{name} is {value}, expected {want} (run 'canary-stream topics create')",
                    )
                )
    return problems


async def check_topics(
    settings: Settings, names: Sequence[str] | None = None
) -> list[TopicProblem]:
    """Compare the broker's topics with the spec (only ``names`` when given)."""
    specs = [s for s in topic_specs(settings) if names is None or s.name in names]
    admin = make_admin(settings)
    try:
        await admin.start()
        partitions, configs = await _describe(admin, [s.name for s in specs])
    except KafkaError as exc:
        raise TransientError(
            f"broker {settings.kafka_bootstrap} unreachable ({type(exc).__name__}); "
            "start it with 'canary-stream stack up'"
        ) from exc
    finally:
        await admin.close()
    return compare_topics(specs, partitions, configs)


async def create_topics(settings: Settings) -> tuple[list[str], list[TopicProblem]]:
    """Create every missing topic; return the names created and any remaining problems."""
    specs = topic_specs(settings)
    admin = make_admin(settings)
    created: list[str] = []
    try:
        await admin.start()
        partitions, configs = await _describe(admin, [s.name for s in specs])
        drifted = [
            s
            for s in specs
            if s.name in partitions
            and any(configs.get(s.name, {}).get(k, v) != v for k, v in s.config.items())
        ]
        if drifted:  # configs other than partitions can be set in place
            await admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.config)
                    for s in drifted
                ]
            )
        missing = [s for s in specs if s.name not in partitions]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name,
                        num_partitions=s.partitions,
                        replication_factor=settings.replication_factor,
                        topic_configs=s.config,
                    )
                    for s in missing
                ]
            )
            created = [s.name for s in missing]
            await _wait_for_metadata(admin, created)
    except KafkaError as exc:
        raise TransientError(
            f"broker {settings.kafka_bootstrap} unreachable ({type(exc).__name__}); "
            "start it with 'canary-stream stack up'"
        ) from exc
    finally:
        await admin.close()
    return created, await check_topics(settings)


#: How long ``topics create`` waits for new topics to show in the broker's metadata: seconds
#: on a fresh broker, longer on one still loading many partitions after a restart.
TOPIC_METADATA_WAIT_SECONDS = 60.0


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Wait until every topic of ``names`` is described (the check after reports the rest)."""
    deadline = time.monotonic() + TOPIC_METADATA_WAIT_SECONDS
    while time.monotonic() < deadline:
        partitions, _ = await _describe(admin, names)
        if all(n in partitions for n in names):
            return
        await asyncio.sleep(0.2)


async def require_topics(settings: Settings, short_names: Sequence[str]) -> None:
    """Refuse to start (``TopicError``, one line) when a topic this process uses is wrong."""
    problems = await check_topics(settings, [settings.topic(n) for n in short_names])
    if problems:
        raise TopicError("; ".join(p.line() for p in problems))


async def publish(settings: Settings, topic: str, key: bytes, records: Sequence[Any]) -> None:
    """Send records with a short-lived idempotent producer and wait for every ack (CLI use)."""
    producer = make_producer(settings, request_timeout_ms=15000)
    try:
        await producer.start()
        futures = [
            await producer.send(topic, r.to_bytes(), key=key, headers=r.headers()) for r in records
        ]
        await asyncio.gather(*futures)
    except KafkaError as exc:
        raise TransientError(
            f"broker {settings.kafka_bootstrap} did not take the records ({type(exc).__name__}); "
            "is the stack up?"
        ) from exc
    finally:
        await producer.stop()
