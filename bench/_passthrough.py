"""The Faust anchor of bench/seal.py: a pass-through app, run as its own process.

    python bench/_passthrough.py SOURCE_TOPIC SINK_TOPIC APP_ID

Configured like the stage apps (``canary_stream.apps.make_app``: raw serializers,
``acks=-1``, ``linger_ms=0``, the same stream buffer and commit interval) but with no table
and no database: one agent takes ``take_events(500, 0.05)`` batches of the source and
forwards each record (key, value, headers) through ``app.producer.send``, gathering the
batch's acks before the next batch, exactly as the seal agent publishes.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import faust

from canary_stream.settings import Settings


def make_app(source: str, sink: str, app_id: str, settings: Settings) -> faust.App:
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.state_dir / "faust" / app_id),
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=0,
        stream_buffer_maxsize=4096,
        broker_commit_interval=1.0,
        worker_redirect_stdouts=False,
    )
    topic = app.topic(source, key_type=bytes, value_type=bytes, partitions=None)

    @app.agent(topic, name="passthrough", concurrency=1)
    async def forward(stream: faust.StreamT) -> None:
        batches = stream.take_events(settings.seal_batch_size, settings.seal_batch_seconds)
        async for events in batches:
            futures = [
                await app.producer.send(
                    sink, e.message.key, e.message.value, None, None, list(e.message.headers)
                )
                for e in events
            ]
            await asyncio.gather(*futures)

    return app


def main() -> None:
    source, sink, app_id = sys.argv[1:4]
    settings = Settings()
    app = make_app(source, sink, app_id, settings)
    settings.state_dir.joinpath("faust").mkdir(parents=True, exist_ok=True)
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = faust.Worker(app, loglevel=logging.INFO, override_logging=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
