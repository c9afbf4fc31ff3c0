"""Read canonical events from canary.detection with plain aiokafka, deduplicated on canonical_id.

    python docs/examples/detection_consumer.py [BOOTSTRAP] [TOPIC] [MAX_RECORDS]
"""

import asyncio
import json
import sys

from aiokafka import AIOKafkaConsumer


async def main(bootstrap: str, topic: str, max_records: int) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="my-dashboard",          # your own consumer group
        auto_offset_reset="earliest",
        enable_auto_commit=True,
    )
    await consumer.start()
    seen: set[str] = set()                # at-least-once delivery: dedupe on canonical_id
    try:
        async for record in consumer:
            event = json.loads(record.value)  # UTF-8 JSON; unknown fields may appear: ignore them
            if event["canonical_id"] in seen:
                continue
            seen.add(event["canonical_id"])
            if event["kind"] == "transaction":
                print(event["merchant_id"], event["transaction_type"], event["status"],
                      event["amount_cents"], event["currency"], event["occurred_at"])
            else:
                print(event["merchant_id"], event["kind"], event["occurred_at"])
            if len(seen) >= max_records:
                break
    finally:
        await consumer.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(
        args[0] if args else "127.0.0.1:19092",
        args[1] if len(args) > 1 else "canary.detection",
        int(args[2]) if len(args) > 2 else 1_000_000,
    ))
