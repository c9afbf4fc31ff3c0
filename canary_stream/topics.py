"""Every topic of the pipeline, its partition count and its cleanup policy, defined once."""

from __future__ import annotations

from dataclasses import dataclass

from canary_stream.settings import Settings

EVENTS = "events"
SEALED = "sealed"
DETECTION = "detection"
ALERTS = "alerts"
CASES = "cases"
CHECKPOINTS = "checkpoints"
DEAD_LETTER = "dead-letter"
MERCHANT_CONFIG = "merchant-config"


@dataclass(frozen=True)
class TopicSpec:
    """What a topic must look like on the broker."""

    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics of pipeline.md with the partition counts and policies this deployment uses."""
    n = settings.topic_partitions
    raw = {"cleanup.policy": "delete", "retention.ms": str(settings.raw_retention_ms)}
    plain = {"cleanup.policy": "delete"}
    return [
        TopicSpec(settings.topic(EVENTS), n, raw),
        TopicSpec(settings.topic(SEALED), n, raw),
        TopicSpec(settings.topic(DETECTION), n, plain),
        TopicSpec(settings.topic(ALERTS), n, plain),
        TopicSpec(settings.topic(CASES), n, plain),
        TopicSpec(settings.topic(CHECKPOINTS), n, plain),
        TopicSpec(settings.topic(DEAD_LETTER), n, plain),
        TopicSpec(settings.topic(MERCHANT_CONFIG), 1, {"cleanup.policy": "compact"}),
    ]
