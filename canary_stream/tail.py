"""``canary-stream tail TOPIC``: records of a topic as JSON lines, optionally one merchant's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from canary_stream.errors import TransientError
from canary_stream.kafka import partition_for
from canary_stream.settings import Settings


async def tail(
    settings: Settings,
    topic: str,
    *,
    merchant_id: str | None = None,
    from_beginning: bool = False,
    follow: bool = True,
    partitions: int | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield each record's JSON value (with its partition and offset), oldest first per partition.

    With a merchant only that merchant's partition is read and other merchants' records are
    skipped. Without ``follow`` the iteration ends at the end offsets of the start.
    """
    count = partitions or (1 if topic.endswith(".merchant-config") else settings.topic_partitions)
    numbers = [partition_for(merchant_id, count)] if merchant_id else list(range(count))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    try:
        await consumer.start()
        parts = [TopicPartition(topic, n) for n in numbers]
        consumer.assign(parts)
        if from_beginning:
            await consumer.seek_to_beginning(*parts)
        else:
            await consumer.seek_to_end(*parts)
        ends = await consumer.end_offsets(parts)
        while True:
            if not follow:
                positions = [await consumer.position(tp) for tp in parts]
                if all(pos >= ends[tp] for pos, tp in zip(positions, parts, strict=True)):
                    return
            batch = await consumer.getmany(*parts, timeout_ms=500)
            for tp, records in sorted(batch.items(), key=lambda kv: kv[0].partition):
                for record in records:
                    key = record.key.decode("utf-8", "replace") if record.key else None
                    if merchant_id and key != merchant_id:
                        continue
                    try:
                        value = json.loads(record.value or b"null")
                    except ValueError:
                        value = {"undecodable": True}
                    yield {
                        "partition": tp.partition,
                        "offset": record.offset,
                        "key": key,
                        "value": value,
                    }
    except KafkaError as exc:
        raise TransientError(
            f"broker unreachable ({type(exc).__name__}); is the stack up?"
        ) from exc
    finally:
        await consumer.stop()
