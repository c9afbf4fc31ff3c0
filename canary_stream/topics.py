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


def max_record_bytes(settings: Settings) -> int:
    """Largest record a topic carrying raw bodies must take: a body at the hard cap, base64
    encoded (4/3) inside an envelope or dead letter, with room for the other fields."""
    return settings.ingress_hard_cap_bytes * 4 // 3 + 1024 * 1024


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics of pipeline.md with the partition counts and policies this deployment uses."""
    n = settings.topic_partitions
    big = {"max.message.bytes": str(max_record_bytes(settings))}
    raw = {"cleanup.policy": "delete", "retention.ms": str(settings.raw_retention_ms), **big}
    plain = {"cleanup.policy": "delete"}
    return [
        TopicSpec(settings.topic(EVENTS), n, raw),
        TopicSpec(settings.topic(SEALED), n, raw),
        TopicSpec(settings.topic(DETECTION), n, plain),
        TopicSpec(settings.topic(ALERTS), n, plain),
        TopicSpec(settings.topic(CASES), n, plain),
        TopicSpec(settings.topic(CHECKPOINTS), n, plain),
        TopicSpec(settings.topic(DEAD_LETTER), n, {**plain, **big}),
        TopicSpec(settings.topic(MERCHANT_CONFIG), 1, {"cleanup.policy": "compact"}),
    ]
