"""The one place that owns the failure policy of every agent.

An agent hands each ``take_events`` batch to :func:`run_batch`. A batch handler does
*database commit → publish → return*; the runner returns only when that succeeded, so the
events are acked (by Faust, after the batch) only once their effects are durable:

- retriable failures (database, broker) are retried in place with capped backoff — the
  partition waits, nothing is skipped;
- a failure that is not retriable is retried as single records, and a record that still
  fails is dead-lettered with the stage's reason and the agent moves on;
- a stop (cancellation) that arrives while a batch is unfinished waits for it briefly and
  otherwise exits the process without acking, so the batch is redelivered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from sqlalchemy.exc import DBAPIError, OperationalError

from canary_stream.errors import CanaryError

log = logging.getLogger("canary.runner")

BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]
#: ``take_events`` size and wait of the stage agents built by :func:`batch_agent`.
BATCH_SIZE = 500
BATCH_SECONDS = 0.05
RecordFailure = Callable[[Any, BaseException], Awaitable[None]]

#: How long a stopping worker waits for an unfinished batch before exiting without acks.
STOP_GRACE_SECONDS = 10.0
BACKOFF_START = 0.2
BACKOFF_CAP = 5.0
#: A batch failing this many times with a non-retriable error is retried record by record.
SPLIT_AFTER = 3


def is_retriable(exc: BaseException) -> bool:
    """Whether a retry of the same work can succeed (broker or database trouble)."""
    if isinstance(exc, CanaryError):
        return exc.retriable
    if isinstance(exc, OperationalError | KafkaError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, ProducerSendError):  # Faust wraps every KafkaError of a send in it
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    return False


def one_line(exc: BaseException) -> str:
    """A one-line description of an error: its class and first line, nothing else."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


async def _retry(
    work: Callable[[], Awaitable[None]], *, stage: str, what: str
) -> BaseException | None:
    """Run ``work`` until it succeeds or fails with a non-retriable error (returned)."""
    delay = BACKOFF_START
    failures = 0
    while True:
        try:
            await work()
            if failures:
                log.info("recovered", extra={"stage": stage, "outcome": "RECOVERED", "what": what})
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the runner is where every failure ends up
            if not is_retriable(exc):
                return exc
            failures += 1
            if failures == 1 or failures % 20 == 0:
                log.warning(
                    "transient failure, retrying in place: %s",
                    one_line(exc),
                    extra={"stage": stage, "outcome": "RETRY", "attempt": failures},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_CAP)


async def _process(
    events: Sequence[Any], handle: BatchHandler, on_record_failure: RecordFailure, stage: str
) -> None:
    for attempt in range(1, SPLIT_AFTER + 1):
        error = await _retry(functools.partial(handle, events), stage=stage, what="batch")
        if error is None:
            return
        log.error(
            "batch failed (attempt %d/%d): %s",
            attempt,
            SPLIT_AFTER,
            one_line(error),
            extra={"stage": stage, "outcome": "FAILED"},
        )
    for event in events:
        error = await _retry(functools.partial(handle, [event]), stage=stage, what="record")
        if error is not None:
            dead = functools.partial(on_record_failure, event, error)
            await _retry(dead, stage=stage, what="dlq")


async def run_batch(
    events: Sequence[Any],
    handle: BatchHandler,
    *,
    on_record_failure: RecordFailure,
    stage: str,
) -> None:
    """Process one batch to completion; never raises except to stop the agent."""
    task = asyncio.ensure_future(_process(events, handle, on_record_failure, stage))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_SECONDS)
        except (TimeoutError, asyncio.CancelledError):
            log.critical(
                "stopping with an unfinished batch: exiting without acking it",
                extra={"stage": stage, "outcome": "ABORTED"},
            )
            logging.shutdown()
            os._exit(70)
        raise


class BatchWorker(Protocol):
    """What an agent hands its batches to: a handler and its per-record failure policy."""

    async def handle(self, events: Sequence[Any]) -> None: ...

    async def on_record_failure(self, event: Any, error: BaseException) -> None: ...


def batch_agent(
    app: Any, source: Any, name: str, worker: BatchWorker, *, stage: str | None = None
) -> Any:
    """Declare agent ``name`` on ``source`` (concurrency 1) feeding batches to ``worker``."""

    async def agent(stream: Any) -> None:
        async for events in stream.take_events(BATCH_SIZE, BATCH_SECONDS):
            await run_batch(
                events,
                worker.handle,
                on_record_failure=worker.on_record_failure,
                stage=stage or name,
            )

    return app.agent(source, name=name, concurrency=1)(agent)
