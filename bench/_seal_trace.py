"""Where the seal worker's wall time goes: run ``canary-stream ARGS`` with timers wrapped
around the steps of a seal batch (bench/seal.py ``--trace``; production code unchanged).

    CANARY_BENCH_TRACE=out.json python bench/_seal_trace.py worker --app seal

Each step's wall time is summed (an awaited step also counts time the event loop spent on
other tasks meanwhile, e.g. the merkle agent of the same app). At exit the totals, call
counts and batch sizes are written to ``$CANARY_BENCH_TRACE`` as JSON.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import json
import os
import time
from collections import defaultdict
from typing import Any

totals: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
batch_sizes: list[int] = []


def timed(owner: Any, attr: str, label: str) -> None:
    """Replace ``owner.attr`` (sync or async) with a version that adds its wall time."""
    original = getattr(owner, attr)
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - t0
                calls[label] += 1
    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - t0
                calls[label] += 1

    setattr(owner, attr, wrapper)


def install() -> None:
    import agents.merkle
    import agents.seal
    import tables.seal
    from canary_stream.db import evidence

    handle = agents.seal.Sealer.handle

    async def counted(self: Any, events: Any) -> None:
        batch_sizes.append(len(events))
        await handle(self, events)

    agents.seal.Sealer.handle = counted  # type: ignore[method-assign]
    timed(agents.seal.Sealer, "handle", "seal batch (whole)")
    timed(agents.seal, "decode_batch", "decode + re-hash")
    timed(tables.seal.IdempotencyIndex, "lookup", "table lookup")
    for name in (
        "lock_merchants",
        "existing_events",
        "chain_heads",
        "insert_sealed",
        "log_ingestion",
    ):
        timed(evidence, name, f"db {name}")
    timed(agents.seal, "plan_batch", "plan_batch (chain hashes)")
    timed(tables.seal.IdempotencyIndex, "remember", "table remember")
    timed(tables.seal.IdempotencyIndex, "sweep", "table sweep")
    timed(agents.seal, "publish", "publish sealed (acks)")
    timed(agents.seal, "publish_dead", "publish dead letters")
    timed(agents.merkle.Closer, "handle", "merkle batch (same app)")


def dump() -> None:
    out = {"totals_s": dict(totals), "calls": dict(calls), "batch_sizes": batch_sizes}
    with open(os.environ["CANARY_BENCH_TRACE"], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    import sys

    from canary_stream.cli.main import main

    install()
    atexit.register(dump)
    sys.argv[0] = "canary-stream"
    main()
