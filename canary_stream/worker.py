"""Start one stage app: check its topics, then hand over to Faust's worker."""

from __future__ import annotations

import asyncio
import logging

import faust

from canary_stream.apps import make_app
from canary_stream.kafka import require_topics
from canary_stream.observability.logging import faust_logging_config
from canary_stream.settings import Settings


def run_worker(stage: str, settings: Settings) -> None:
    """Run the Faust worker of ``stage`` until it is stopped (blocks)."""
    if stage == "seal":
        settings.encryption_ring()  # a missing key ring stops the process with one line
    app, ctx = make_app(stage, settings)
    asyncio.run(require_topics(settings, sorted(ctx.used_topics)))
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.state_dir.joinpath("faust").mkdir(parents=True, exist_ok=True)
    worker = faust.Worker(
        app,
        loglevel=logging.INFO,
        override_logging=True,
        logging_config=faust_logging_config(stage),
    )
    worker.execute_from_commandline()
