"""Consumer lag of every stage app's consumer group, per topic and partition.

Definitions (operations.md, "Watching lag"):

- ``committed``: the group's committed offset, i.e. the next record it will read; ``None``
  when the group never committed on that partition (Kafka prints ``-``).
- ``log_end``: the partition's log-end offset (the offset the next produced record gets).
- ``lag`` = ``log_end - committed``. Without a commit the group starts from the log start
  (``auto_offset_reset=earliest``), so ``lag = log_end - log_start``; Kafka's own
  ``kafka-consumer-groups`` prints ``-`` there.
- ``lag_seconds``: the age of the oldest unconsumed record, i.e. now minus the timestamp of
  the first record at or after ``committed`` (or the log start); ``0`` when ``lag`` is 0.

Rows cover every partition of the topics a stage consumes (:data:`STAGE_SOURCES`), of any
other topic the group has committed on, and of Faust's own topics of the group (table
changelogs ``{group}-*-changelog`` and ``{group}-__assignor-__leader``), which Kafka also
lists under the group. Faust reads those for table recovery and never commits them, so
while uncommitted their ``lag`` is 0 by definition: they are not a stage's backlog.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from canary_stream import topics
from canary_stream.apps import STAGES, app_id
from canary_stream.errors import TransientError
from canary_stream.kafka import make_admin
from canary_stream.settings import Settings

#: The topics each stage app's agents read (agents/*.py ``register``): seal also runs the
#: Merkle batcher over ``sealed``; detect and customers both read ``detection``, and detect's
#: escalate agent reads ``alerts``.
STAGE_SOURCES: dict[str, tuple[str, ...]] = {
    "seal": (topics.EVENTS, topics.SEALED),
    "parse": (topics.SEALED,),
    "detect": (topics.DETECTION, topics.ALERTS),
    "customers": (topics.DETECTION,),
}
FETCH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LagRow:
    """The lag of one group on one partition."""

    group: str
    topic: str
    partition: int
    committed: int | None
    log_end: int
    lag: int
    lag_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON row of ``canary-stream lag --json``."""
        return asdict(self)


def stage_groups(settings: Settings) -> list[str]:
    """The consumer group of every stage app, e.g. ``canary-seal``."""
    return [app_id(settings, stage) for stage in STAGES]


def is_internal(group: str, topic: str) -> bool:
    """Faust's own topics of a group: table changelogs and the assignor's leader topic."""
    return topic.startswith(f"{group}-") and (
        topic.endswith("-changelog") or topic.endswith("__assignor-__leader")
    )


@dataclass
class _Groups:
    committed: dict[str, dict[TopicPartition, int]]
    topics_of: dict[str, set[str]]
    counts: dict[str, int]


async def _groups(settings: Settings, wanted: list[str]) -> _Groups:
    """Committed offsets, topics and partition counts of each group (one admin session)."""
    admin = make_admin(settings)
    await admin.start()
    try:
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in wanted:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: m.offset for tp, m in offsets.items() if m.offset >= 0}
        existing = set(await admin.list_topics())
        topics_of = {
            g: (_sources(settings, g) & existing)
            | {tp.topic for tp in committed[g]}
            | {t for t in existing if is_internal(g, t)}
            for g in wanted
        }
        names = sorted(set().union(*topics_of.values()))
        metas = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    counts = {m["topic"]: len(m["partitions"]) for m in metas if m.get("error_code", 0) == 0}
    return _Groups(committed, topics_of, counts)


async def _oldest_timestamps(
    consumer: AIOKafkaConsumer, starts: dict[TopicPartition, int]
) -> dict[TopicPartition, float]:
    """Timestamp (seconds) of the first record at or after each start offset."""
    if not starts:
        return {}
    consumer.assign(list(starts))
    for tp, offset in starts.items():
        consumer.seek(tp, offset)
    found: dict[TopicPartition, float] = {}
    deadline = time.monotonic() + FETCH_TIMEOUT_S
    pending = set(starts)
    while pending and time.monotonic() < deadline:
        batch = await consumer.getmany(*pending, timeout_ms=500, max_records=1)
        for tp, records in batch.items():
            if records and tp in pending:
                found[tp] = records[0].timestamp / 1000.0
                pending.discard(tp)
    return found


async def _stamps(
    consumer: AIOKafkaConsumer, needed: set[tuple[TopicPartition, int]]
) -> dict[tuple[TopicPartition, int], float]:
    """Oldest-record timestamps for (partition, start) pairs, one fetch wave per start."""
    waves: list[dict[TopicPartition, int]] = []
    for tp, start in sorted(needed):
        wave = next((w for w in waves if tp not in w), None)
        if wave is None:
            wave = {}
            waves.append(wave)
        wave[tp] = start
    out: dict[tuple[TopicPartition, int], float] = {}
    for wave in waves:
        for tp, ts in (await _oldest_timestamps(consumer, wave)).items():
            out[(tp, wave[tp])] = ts
    return out


async def collect_lag(settings: Settings, groups: list[str] | None = None) -> list[LagRow]:
    """The lag rows of ``groups`` (default: every stage group), sorted by group/topic/partition."""
    wanted = groups or stage_groups(settings)
    try:
        return await _collect(settings, wanted)
    except (KafkaError, OSError) as exc:
        raise TransientError(
            f"broker unreachable at {settings.kafka_bootstrap} ({type(exc).__name__}); "
            "is the stack up?"
        ) from None


def _sources(settings: Settings, group: str) -> set[str]:
    for stage in STAGES:
        if app_id(settings, stage) == group:
            return {settings.topic(t) for t in STAGE_SOURCES[stage]}
    return set()


async def _collect(settings: Settings, wanted: list[str]) -> list[LagRow]:
    found = await _groups(settings, wanted)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = sorted({TopicPartition(t, p) for t, n in found.counts.items() for p in range(n)})
        ends = await consumer.end_offsets(tps) if tps else {}
        begins = await consumer.beginning_offsets(tps) if tps else {}
        plan: list[tuple[str, TopicPartition, int | None, int, int]] = []
        for group in wanted:
            for tp in tps:
                if tp.topic not in found.topics_of[group]:
                    continue
                done = found.committed[group].get(tp)
                start = done if done is not None else begins[tp]
                if done is None and is_internal(group, tp.topic):
                    start = ends[tp]  # read by recovery, not through the group: no backlog
                plan.append((group, tp, done, start, max(0, ends[tp] - start)))
        needed = {(tp, start) for _, tp, _, start, lag in plan if lag}
        stamps = await _stamps(consumer, needed)
    finally:
        await consumer.stop()
    now = time.time()
    rows = []
    for group, tp, done, start, lag in plan:
        ts = stamps.get((tp, start)) if lag else None
        age = round(max(0.0, now - ts), 3) if ts else 0.0
        rows.append(LagRow(group, tp.topic, tp.partition, done, ends[tp], lag, age))
    return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))
